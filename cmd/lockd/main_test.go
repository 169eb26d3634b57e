package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/syncbuf"
	"github.com/lockd/lockd/internal/testenv"
)

// envOf returns an env lookup over m.
func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// started is a lockd run in the background.
type started struct {
	addr   string
	logs   *syncbuf.Buffer
	cancel context.CancelFunc
	done   chan error
}

// start runs lockd on a free loopback port with JSON logs and waits for
// its "listening" line.
func start(t *testing.T, args ...string) *started {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &started{logs: &syncbuf.Buffer{}, cancel: cancel, done: make(chan error, 1)}
	args = append([]string{"--addr", "127.0.0.1:0", "--log-format", "json"}, args...)
	go func() { s.done <- run(ctx, args, envOf(nil), io.Discard, s.logs) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(15 * time.Second):
			t.Error("run did not return after cancel")
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range logLines(t, s.logs.String()) {
			if line["msg"] == "listening" {
				s.addr, _ = line["addr"].(string)
				return s
			}
		}
		select {
		case err := <-s.done:
			t.Fatalf("run returned early: %v; logs:\n%s", err, s.logs)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("no listening line; logs:\n%s", s.logs)
	return nil
}

// stop cancels run's context and returns what run returned.
func (s *started) stop(t *testing.T) error {
	t.Helper()
	s.cancel()
	select {
	case err := <-s.done:
		s.done <- err // for the cleanup
		return err
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after cancel")
		return nil
	}
}

func logLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	return lines
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

func post(t *testing.T, url, body string) (int, map[string]any) {
	t.Helper()
	resp, err := httpClient.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("POST %s: decoding: %v", url, err)
	}
	return resp.StatusCode, m
}

func TestRunDevMode(t *testing.T) {
	s := start(t)
	if !strings.HasPrefix(s.addr, "127.0.0.1:") {
		t.Fatalf("got addr %q, want 127.0.0.1:port", s.addr)
	}
	base := "http://" + s.addr

	resp, err := httpClient.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&root)
	resp.Body.Close()
	if resp.StatusCode != 200 || root["message"] != "lockd is healthy" || root["mode"] != "dev" || root["version"] == "" {
		t.Errorf("GET /: got %d %v, want 200 healthy dev with a version", resp.StatusCode, root)
	}

	status, lease := post(t, base+"/v1/locks/job/acquire", `{"owner":"a","ttl_ms":5000}`)
	if status != 200 || lease["owner"] != "a" || lease["fence"] != 1.0 {
		t.Errorf("acquire: got %d %v, want 200 owner a fence 1", status, lease)
	}
	status, _ = post(t, base+"/v1/locks/job/acquire", `{"owner":"b"}`)
	if status != http.StatusConflict {
		t.Errorf("second acquire: got %d, want 409", status)
	}

	if err := s.stop(t); err != nil {
		t.Errorf("run returned %v after cancel, want nil", err)
	}
	lines := logLines(t, s.logs.String())
	if last := lines[len(lines)-1]; last["msg"] != "stopped" {
		t.Errorf("got last log line %v, want stopped", last)
	}
	if _, err := net.DialTimeout("tcp", s.addr, time.Second); err == nil {
		t.Errorf("%s still accepts connections after shutdown", s.addr)
	}
}

func TestFirstLogLineWarnsOfDevMode(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			logs := &syncbuf.Buffer{}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				done <- run(ctx, []string{"--addr", "127.0.0.1:0"}, envOf(map[string]string{"LOCKD_LOG_FORMAT": format}), io.Discard, logs)
			}()
			deadline := time.Now().Add(10 * time.Second)
			for !strings.Contains(logs.String(), "listening") && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("run: %v", err)
			}
			first, _, _ := strings.Cut(logs.String(), "\n")
			for _, want := range []string{"dev mode: not highly available, state is lost on exit", "listening on 127.0.0.1:0, loopback only"} {
				if !strings.Contains(first, want) {
					t.Errorf("got first log line %q, want it to say %q", first, want)
				}
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, arg := range []string{"--help", "-h", "-help"} {
		t.Run(arg, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if err := run(context.Background(), []string{arg}, envOf(nil), &stdout, &stderr); err != nil {
				t.Fatalf("run %s: %v", arg, err)
			}
			help := stdout.String()
			for _, want := range []string{
				"LOCKD_ADDR", "LOCKD_REDIS", "LOCKD_LOG_FORMAT", "LOCKD_LOG_LEVEL", "LOCKD_SHUTDOWN_TIMEOUT",
				"--addr", "--redis", "--log-format", "--log-level", "--shutdown-timeout", "--version",
				"Usage: lockd [flags]\n       lockd version\n",
			} {
				if !strings.Contains(help, want) {
					t.Errorf("help does not mention %s:\n%s", want, help)
				}
			}
			for _, s := range command.Settings {
				if !strings.Contains(help, s.Env) || !strings.Contains(help, "--"+s.Flag) {
					t.Errorf("help does not mention --%s and %s", s.Flag, s.Env)
				}
			}
			if stderr.Len() != 0 {
				t.Errorf("got stderr %q, want nothing", stderr.String())
			}
		})
	}
}

func TestVersion(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"Flag", []string{"--version"}, nil},
		{"FlagOneDash", []string{"-version"}, nil},
		{"Subcommand", []string{"version"}, nil},
		{"SubcommandWithBadEnv", []string{"version"}, map[string]string{"LOCKD_REDIS_ALLOW_EVICTION": "maybe"}},
	}
	want := "lockd " + buildVersion() + "\n"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if err := run(context.Background(), tt.args, envOf(tt.env), &stdout, &stderr); err != nil {
				t.Fatal(err)
			}
			if got := stdout.String(); got != want || len(got) < len("lockd x\n") {
				t.Errorf("got %q, want %q", got, want)
			}
			if stderr.Len() != 0 {
				t.Errorf("got stderr %q, want nothing", stderr.String())
			}
		})
	}
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want config
	}{
		{"Defaults", nil, nil, config{addr: "127.0.0.1:3000", addrDefaulted: true, logFormat: "text", shutdownTimeout: 10 * time.Second}},
		{"RedisModeDefaultAddr", []string{"--redis", "r1:6379,r2:6379,r3:6379"}, nil,
			config{addr: ":3000", addrDefaulted: true, redis: []string{"r1:6379", "r2:6379", "r3:6379"}, logFormat: "text", shutdownTimeout: 10 * time.Second}},
		{"DevModeAddrOverride", []string{"--addr", ":3000"}, nil, config{addr: ":3000", logFormat: "text", shutdownTimeout: 10 * time.Second}},
		{"Env", nil, map[string]string{
			"LOCKD_ADDR": "127.0.0.1:4000", "LOCKD_REDIS": "r1:6379, r2:6379,r3:6379", "LOCKD_LOG_FORMAT": "json",
			"LOCKD_LOG_LEVEL": "debug", "LOCKD_SHUTDOWN_TIMEOUT": "3s",
		}, config{addr: "127.0.0.1:4000", redis: []string{"r1:6379", "r2:6379", "r3:6379"}, logFormat: "json", logLevel: -4, shutdownTimeout: 3 * time.Second}},
		{"FlagsOverrideEnv",
			[]string{"--addr", ":5000", "--log-level", "error", "--shutdown-timeout=1m", "--redis", "h:1"},
			map[string]string{"LOCKD_ADDR": ":4000", "LOCKD_LOG_LEVEL": "debug", "LOCKD_REDIS": "x:1"},
			config{addr: ":5000", redis: []string{"h:1"}, logFormat: "text", logLevel: 8, shutdownTimeout: time.Minute}},
		{"OneDash",
			[]string{"-addr", ":5000", "-log-level=error", "-shutdown-timeout", "1m", "-redis", "h:1", "-redis-allow-eviction"}, nil,
			config{addr: ":5000", redis: []string{"h:1"}, logFormat: "text", logLevel: 8, shutdownTimeout: time.Minute, allowEviction: true}},
		{"AllowEvictionEnv", nil, map[string]string{"LOCKD_REDIS_ALLOW_EVICTION": "true"},
			config{addr: "127.0.0.1:3000", addrDefaulted: true, logFormat: "text", shutdownTimeout: 10 * time.Second, allowEviction: true}},
		{"AllowEvictionFlagOverridesEnv", []string{"--redis-allow-eviction=false"}, map[string]string{"LOCKD_REDIS_ALLOW_EVICTION": "true"},
			config{addr: "127.0.0.1:3000", addrDefaulted: true, logFormat: "text", shutdownTimeout: 10 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseConfig(tt.args, envOf(tt.env), io.Discard, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if got.addr != tt.want.addr || got.addrDefaulted != tt.want.addrDefaulted || strings.Join(got.redis, ",") != strings.Join(tt.want.redis, ",") || got.logFormat != tt.want.logFormat ||
				got.logLevel != tt.want.logLevel || got.shutdownTimeout != tt.want.shutdownTimeout || got.allowEviction != tt.want.allowEviction {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestBadConfig(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string // the whole message
	}{
		{"UnknownFlag", []string{"--bogus"}, nil, "unknown flag --bogus"},
		{"UnknownFlagOneDash", []string{"-x"}, nil, "unknown flag --x"},
		{"MissingValue", []string{"--redis"}, nil, "--redis needs a value"},
		{"Positional", []string{"serve"}, nil, `unexpected arguments ["serve"]: lockd takes flags only, or the single argument version; see lockd --help`},
		{"VersionWithArguments", []string{"version", "--json"}, nil, `lockd version takes no arguments, got ["--json"]`},
		{"LogFormat", []string{"--log-format", "xml"}, nil, `--log-format (LOCKD_LOG_FORMAT) "xml": want text or json`},
		{"LogFormatEnv", nil, map[string]string{"LOCKD_LOG_FORMAT": "xml"}, `--log-format (LOCKD_LOG_FORMAT) "xml": want text or json`},
		{"LogLevel", []string{"--log-level", "loud"}, nil, `--log-level (LOCKD_LOG_LEVEL) "loud": want debug, info, warn or error`},
		{"ShutdownTimeout", nil, map[string]string{"LOCKD_SHUTDOWN_TIMEOUT": "soon"}, `--shutdown-timeout (LOCKD_SHUTDOWN_TIMEOUT) "soon": want a positive duration like 10s`},
		{"NegativeShutdownTimeout", []string{"--shutdown-timeout", "-1s"}, nil, `--shutdown-timeout (LOCKD_SHUTDOWN_TIMEOUT) "-1s": want a positive duration like 10s`},
		{"NodeTimeoutOneDash", []string{"-node-timeout=0"}, nil, `--node-timeout (LOCKD_NODE_TIMEOUT) "0": want a positive duration like 200ms`},
		{"JournalRetention", []string{"--journal-retention", "1.5s"}, nil, `--journal-retention (LOCKD_JOURNAL_RETENTION) "1.5s": want whole seconds, at least 1s, like 168h`},
		{"EmptyMongoDB", []string{"--mongo-db="}, nil, "--mongo-db (LOCKD_MONGO_DB) is empty"},
		{"EmptyRedisAddr", []string{"--redis", "a:1,,b:2"}, nil, `--redis (LOCKD_REDIS) "a:1,,b:2" has an empty address`},
		{"AllowEviction", []string{"--redis-allow-eviction=maybe"}, nil, `--redis-allow-eviction "maybe": want true or false`},
		{"AllowEvictionEnv", nil, map[string]string{"LOCKD_REDIS_ALLOW_EVICTION": "maybe"}, `LOCKD_REDIS_ALLOW_EVICTION (--redis-allow-eviction) "maybe": want true or false`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), tt.args, envOf(tt.env), io.Discard, io.Discard)
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("got %v, want a *usageError", err)
			}
			if err.Error() != tt.want {
				t.Errorf("got %q, want %q", err.Error(), tt.want)
			}
		})
	}
}

// TestRunRedisMode runs lockd over three real Redis nodes: it grants and
// releases over HTTP, and with two nodes killed it answers 503
// quorum_unavailable and is not ready, never granting.
func TestRunRedisMode(t *testing.T) {
	nodes := testenv.StartRedis(t, 3)
	s := start(t, "--redis", strings.Join(testenv.Addrs(nodes), ","))
	base := "http://" + s.addr
	code, body := get(t, base+"/")
	if code != http.StatusOK || body["mode"] != "redis" {
		t.Fatalf("GET /: got %d %v, want 200 mode redis", code, body)
	}
	code, body = post(t, base+"/v1/locks/jobs:1/acquire", `{"owner":"a","ttl_ms":5000}`)
	if code != http.StatusOK || body["fence"] == nil {
		t.Fatalf("acquire: got %d %v, want 200 with a fence", code, body)
	}
	code, body = post(t, base+"/v1/locks/jobs:1/release", `{"lease":"`+body["lease"].(string)+`"}`)
	if code != http.StatusOK || body["released"] != true {
		t.Fatalf("release: got %d %v, want released", code, body)
	}
	nodes[1].Kill()
	nodes[2].Kill()
	code, body = post(t, base+"/v1/locks/jobs:1/acquire", `{"owner":"a","ttl_ms":5000}`)
	errBody, _ := body["error"].(map[string]any)
	if code != http.StatusServiceUnavailable || errBody["code"] != "quorum_unavailable" {
		t.Fatalf("acquire with 2 of 3 down: got %d %v, want 503 quorum_unavailable", code, body)
	}
	if code, body := get(t, base+"/readyz"); code != http.StatusServiceUnavailable || body["ready"] != false {
		t.Errorf("readyz with 2 of 3 down: got %d %v, want 503 not ready", code, body)
	}
	if err := s.stop(t); err != nil {
		t.Errorf("run: got %v, want a clean stop", err)
	}
	if strings.Contains(s.logs.String(), "fewer than 3 Redis nodes") {
		t.Errorf("warned of too few nodes with 3; logs:\n%s", s.logs)
	}
}

// TestFewRedisNodesWarns checks that Redis mode with fewer than 3 nodes,
// where a quorum is every node, says so in the log.
func TestFewRedisNodesWarns(t *testing.T) {
	for _, n := range []int{1, 2} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			nodes := testenv.StartRedis(t, n)
			s := start(t, "--redis", strings.Join(testenv.Addrs(nodes), ","))
			var warned bool
			for _, line := range logLines(t, s.logs.String()) {
				if strings.HasPrefix(fmt.Sprint(line["msg"]), "fewer than 3 Redis nodes") && line["level"] == "WARN" && line["nodes"] == float64(n) {
					warned = true
				}
			}
			if !warned {
				t.Errorf("no warning of %d nodes; logs:\n%s", n, s.logs)
			}
			if err := s.stop(t); err != nil {
				t.Errorf("run: got %v, want a clean stop", err)
			}
		})
	}
}

func get(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	resp, err := httpClient.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("GET %s: decoding: %v", url, err)
	}
	return resp.StatusCode, m
}

func TestRedisBadNodeList(t *testing.T) {
	err := run(context.Background(), []string{"--addr", "127.0.0.1:0", "--redis", "127.0.0.1:1,127.0.0.1:1"}, envOf(nil), io.Discard, io.Discard)
	if !errors.Is(err, lockd.ErrInvalidArgument) {
		t.Errorf("got %v, want ErrInvalidArgument for a repeated node", err)
	}
}

func TestAddrInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = run(context.Background(), []string{"--addr", ln.Addr().String()}, envOf(nil), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "listening") {
		t.Errorf("got %v, want a listening error", err)
	}
}

// TestShutdownEndsWaits checks that an acquire waiting past the shutdown
// timeout is ended, answered 503 unavailable (retry on another lockd, not
// lock_held), and run still returns nil promptly.
func TestShutdownEndsWaits(t *testing.T) {
	s := start(t, "--shutdown-timeout", "300ms")
	base := "http://" + s.addr
	if status, _ := post(t, base+"/v1/locks/w/acquire", `{"owner":"a","ttl_ms":60000}`); status != 200 {
		t.Fatalf("acquire: got %d", status)
	}
	type answer struct {
		status int
		code   any
		err    error
	}
	waiting := make(chan answer, 1)
	go func() {
		resp, err := httpClient.Post(base+"/v1/locks/w/acquire", "application/json", strings.NewReader(`{"owner":"b","wait_ms":60000}`))
		if err != nil {
			waiting <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		var body struct {
			Error map[string]any `json:"error"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		waiting <- answer{status: resp.StatusCode, code: body.Error["code"], err: err}
	}()
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	if err := s.stop(t); err != nil {
		t.Errorf("run returned %v, want nil", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("shutdown took %v with a 300ms timeout", el)
	}
	select {
	case a := <-waiting:
		if a.err != nil || a.status != http.StatusServiceUnavailable || a.code != lockd.CodeUnavailable {
			t.Errorf("waiting acquire got %d %v, %v; want 503 %s", a.status, a.code, a.err, lockd.CodeUnavailable)
		}
	case <-time.After(5 * time.Second):
		t.Error("waiting acquire never answered")
	}
	if !strings.Contains(s.logs.String(), "cancelling in-flight requests") {
		t.Errorf("no warning about cancelled requests; logs:\n%s", s.logs)
	}
}

// TestEvictingNodeNotCounted gives one of three nodes an eviction policy:
// lockd logs that it does not count it and /readyz names the policy; with
// --redis-allow-eviction it counts.
func TestEvictingNodeNotCounted(t *testing.T) {
	nodes := testenv.StartRedis(t, 3)
	if !testenv.Real() {
		t.Skip("miniredis has no maxmemory-policy; install redis-server to run this test")
	}
	cmd := exec.Command("redis-cli", "-h", "127.0.0.1", "-p", strings.Split(nodes[2].Addr(), ":")[1], "CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("redis-cli: %v: %s", err, out)
	}
	for _, tc := range []struct {
		name    string
		args    []string
		counted bool
	}{
		{"Refused", nil, false},
		{"Allowed", []string{"--redis-allow-eviction"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, append([]string{"--redis", strings.Join(testenv.Addrs(nodes), ",")}, tc.args...)...)
			code, body := get(t, "http://"+s.addr+"/readyz")
			if code != http.StatusOK {
				t.Fatalf("readyz: got %d %v, want 200 (two nodes suffice)", code, body)
			}
			list, _ := body["nodes"].([]any)
			if len(list) != 3 {
				t.Fatalf("readyz nodes: %v", body)
			}
			third, _ := list[2].(map[string]any)
			if ok := third["ok"] == true; ok != tc.counted || !tc.counted && !strings.Contains(fmt.Sprint(third["error"]), "maxmemory-policy is allkeys-lru") {
				t.Errorf("third node in readyz: %v, want counted=%v", third, tc.counted)
			}
			logged := strings.Contains(s.logs.String(), "maxmemory-policy is allkeys-lru")
			if err := s.stop(t); err != nil {
				t.Errorf("run: %v", err)
			}
			if logged == tc.counted {
				t.Errorf("log names the policy: %v, want %v; logs:\n%s", logged, !tc.counted, s.logs)
			}
		})
	}
}

// TestPprof: --pprof serves Go's profiles on a listener of its own; the
// API does not serve them, and they stop with lockd.
func TestPprof(t *testing.T) {
	s := start(t, "--pprof", "127.0.0.1:0")
	var addr string
	for _, line := range logLines(t, s.logs.String()) {
		if msg, _ := line["msg"].(string); strings.HasPrefix(msg, "serving Go profiles") {
			addr, _ = line["addr"].(string)
		}
	}
	if addr == "" {
		t.Fatalf("no log line says where the profiles are; logs:\n%s", s.logs)
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	resp, err := hc.Get("http://" + addr + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /debug/pprof/cmdline on --pprof: %d, want 200", resp.StatusCode)
	}
	if code, _ := get(t, "http://"+s.addr+"/debug/pprof/cmdline"); code != http.StatusNotFound {
		t.Errorf("GET /debug/pprof/cmdline on the API: %d, want 404", code)
	}
	if err := s.stop(t); err != nil {
		t.Fatal(err)
	}
	if resp, err := hc.Get("http://" + addr + "/debug/pprof/cmdline"); err == nil {
		_ = resp.Body.Close()
		t.Error("profiles still served after lockd stopped")
	}
}

func TestProcsFor(t *testing.T) {
	for _, tc := range []struct {
		procs   int
		envSet  bool
		current int
		want    int
	}{
		{procs: 3, current: 2, want: 3},               // given: used
		{procs: 1, envSet: true, current: 8, want: 1}, // given: over GOMAXPROCS too
		{current: 2, want: 1},                         // small machine: one
		{current: 1, want: 1},
		{current: 4, want: 0},               // Go's choice
		{envSet: true, current: 2, want: 0}, // GOMAXPROCS set: it stands
	} {
		if got := procsFor(tc.procs, tc.envSet, tc.current); got != tc.want {
			t.Errorf("procsFor(%d, %v, %d) = %d, want %d", tc.procs, tc.envSet, tc.current, got, tc.want)
		}
	}
}
