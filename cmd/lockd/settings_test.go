package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "lockd.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConfigFile: the file sets what neither a flag nor a variable does;
// variables win over it and flags over both.
func TestConfigFile(t *testing.T) {
	p := writeFile(t, `
addr: 127.0.0.1:7000
redis: [a:6379, b:6379, c:6379]
log-level: warn
log-format: json
node-timeout: 150ms
redis-allow-eviction: true
shutdown-timeout: 5s
`)
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want config
	}{
		{"FileOnly", []string{"--config", p}, nil,
			config{addr: "127.0.0.1:7000", redis: []string{"a:6379", "b:6379", "c:6379"}, logFormat: "json", logLevel: 4, shutdownTimeout: 5 * time.Second, nodeTimeout: 150 * time.Millisecond, allowEviction: true}},
		{"ConfigFromEnv", nil, map[string]string{"LOCKD_CONFIG": p},
			config{addr: "127.0.0.1:7000", redis: []string{"a:6379", "b:6379", "c:6379"}, logFormat: "json", logLevel: 4, shutdownTimeout: 5 * time.Second, nodeTimeout: 150 * time.Millisecond, allowEviction: true}},
		{"EnvOverFile", []string{"--config", p}, map[string]string{"LOCKD_LOG_LEVEL": "debug", "LOCKD_REDIS": "x:1"},
			config{addr: "127.0.0.1:7000", redis: []string{"x:1"}, logFormat: "json", logLevel: -4, shutdownTimeout: 5 * time.Second, nodeTimeout: 150 * time.Millisecond, allowEviction: true}},
		{"FlagOverEnvOverFile", []string{"--config", p, "--log-level", "error", "--redis-allow-eviction=false"}, map[string]string{"LOCKD_LOG_LEVEL": "debug"},
			config{addr: "127.0.0.1:7000", redis: []string{"a:6379", "b:6379", "c:6379"}, logFormat: "json", logLevel: 8, shutdownTimeout: 5 * time.Second, nodeTimeout: 150 * time.Millisecond}},
		{"DefaultsUnderFile", []string{"--config", writeFile(t, "log-level: info\n")}, nil,
			config{addr: "127.0.0.1:3000", logFormat: "text", shutdownTimeout: 10 * time.Second, nodeTimeout: 200 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseConfig(tc.args, envOf(tc.env), io.Discard, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			w := tc.want
			if got.addr != w.addr || strings.Join(got.redis, ",") != strings.Join(w.redis, ",") || got.logFormat != w.logFormat || got.logLevel != w.logLevel ||
				got.shutdownTimeout != w.shutdownTimeout || got.nodeTimeout != w.nodeTimeout || got.allowEviction != w.allowEviction {
				t.Errorf("got %+v, want %+v", got, w)
			}
		})
	}
}

// TestBadConfigFile: every mistake in the file stops lockd with a usage
// error that names the setting and the file.
func TestBadConfigFile(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"UnknownKey", "bogus: 1\n", `unknown setting "bogus"`},
		{"ConfigInConfig", "config: other.yaml\n", `unknown setting "config"`},
		{"NotYAML", "addr: [\n", "is not valid YAML"},
		{"BadValue", "log-format: xml\n", `log-format in %s "xml": want text or json`},
		{"BadDuration", "max-ttl: 30\n", `max-ttl in %s "30": want a duration in [100ms, 1h0m0s]`},
		{"Nested", "redis:\n  a: b\n", `redis in %s: want a plain value or a list`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, tc.body)
			_, err := parseConfig([]string{"--config", p}, envOf(nil), io.Discard, io.Discard)
			var ue *usageError
			want := strings.ReplaceAll(tc.want, "%s", p)
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), want) {
				t.Errorf("got %v, want a usage error containing %q", err, want)
			}
		})
	}
	t.Run("Missing", func(t *testing.T) {
		_, err := parseConfig([]string{"--config", filepath.Join(t.TempDir(), "none.yaml")}, envOf(nil), io.Discard, io.Discard)
		var ue *usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "--config (LOCKD_CONFIG)") {
			t.Errorf("got %v, want a usage error naming --config", err)
		}
	})
}

// TestConfigPrint: lockd config print shows every effective setting with
// its source, hides passwords, and is a config file lockd reads back to
// the same settings.
func TestConfigPrint(t *testing.T) {
	p := writeFile(t, "mongo: mongodb://app:hunter2@db:27017/?replicaSet=rs0\nlog-level: warn\n")
	var out bytes.Buffer
	err := run(t.Context(), []string{"config", "print", "--config", p, "--addr", "127.0.0.1:7001"}, envOf(map[string]string{"LOCKD_LOG_FORMAT": "json"}), &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{
		`addr: "127.0.0.1:7001" # flag`, `log-format: "json" # env`, `log-level: "warn" # file`, `node-timeout: "200ms" # default`,
		`mongo: "mongodb://app:xxxxx@db:27017/?replicaSet=rs0" # file`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("config print lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "hunter2") {
		t.Errorf("config print shows the password:\n%s", text)
	}
	again := writeFile(t, text)
	var out2 bytes.Buffer
	if err := run(t.Context(), []string{"config", "print", "--config", again}, envOf(nil), &out2, io.Discard); err != nil {
		t.Fatalf("reading config print's output back: %v", err)
	}
	strip := func(s string) string {
		var lines []string
		for _, l := range strings.Split(s, "\n") {
			if i := strings.Index(l, " # "); i >= 0 && !strings.HasPrefix(l, "#") {
				lines = append(lines, l[:i])
			}
		}
		return strings.Join(lines, "\n")
	}
	if strip(out2.String()) != strip(text) {
		t.Errorf("read back:\n%s\nwant the settings of:\n%s", out2.String(), text)
	}
	if err := run(t.Context(), []string{"config"}, envOf(nil), io.Discard, io.Discard); err == nil {
		t.Error("lockd config without print: no error")
	}
}

func TestMaskedRedis(t *testing.T) {
	got := masked("redis", "redis://lockd:pw1@a:1, b:2,rediss://:pw2@c:3")
	if strings.Contains(got, "pw1") || strings.Contains(got, "pw2") || !strings.Contains(got, "b:2") || !strings.Contains(got, "lockd:xxxxx@a:1") {
		t.Errorf("masked %q", got)
	}
}

func TestRedisTLS(t *testing.T) {
	certFile, _, _ := testCert(t)
	if tc, err := redisTLS(certFile); err != nil || tc.RootCAs == nil {
		t.Errorf("redisTLS(a PEM certificate): %v, %v", tc, err)
	}
	if _, err := redisTLS(writeFile(t, "not a certificate")); err == nil || !strings.Contains(err.Error(), "--redis-tls-ca") {
		t.Errorf("redisTLS(a file without PEM): %v, want an error naming --redis-tls-ca", err)
	}
	if _, err := redisTLS(filepath.Join(t.TempDir(), "none.pem")); err == nil {
		t.Error("redisTLS(a missing file): no error")
	}
}
