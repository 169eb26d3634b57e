package redlock

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/redisproc"
	"github.com/lockd/lockd/internal/testenv"
)

func TestParseEndpoint(t *testing.T) {
	for _, tc := range []struct {
		in, addr, user, password string
		tls                      bool
		bad                      bool
	}{
		{in: "127.0.0.1:6379", addr: "127.0.0.1:6379"},
		{in: "redis://127.0.0.1:6379", addr: "127.0.0.1:6379"},
		{in: "redis://:s3cret@127.0.0.1:6379", addr: "127.0.0.1:6379", password: "s3cret"},
		{in: "redis://lockd:s3cret@127.0.0.1:6379/0", addr: "127.0.0.1:6379", user: "lockd", password: "s3cret"},
		{in: "rediss://localhost:6380", addr: "localhost:6380", tls: true},
		{in: "127.0.0.1", bad: true},
		{in: "http://127.0.0.1:6379", bad: true},
		{in: "redis://127.0.0.1", bad: true},
		{in: "redis://127.0.0.1:6379/3", bad: true},
		{in: "redis://127.0.0.1:6379?protocol=2", bad: true},
	} {
		ep, err := parseEndpoint(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("%s: parsed as %+v, want an error", tc.in, ep)
			}
			continue
		}
		if err != nil || ep.addr != tc.addr || ep.user != tc.user || ep.password != tc.password || (ep.tls != nil) != tc.tls {
			t.Errorf("%s: got %+v, %v", tc.in, ep, err)
		}
	}
	if _, err := New([]string{"redis://:hunter2@127.0.0.1:6379/9"}); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("New with a bad URL: %v, want an error that hides the password", err)
	}
}

// needRedisServer skips the test, saying why, when redis-server is not
// installed (the in-process fallback serves instead), and fails it when
// redis-server is required (CI).
func needRedisServer(t *testing.T, why string) {
	t.Helper()
	if testenv.Real() {
		return
	}
	if os.Getenv(testenv.RequireRedisServerEnv) != "" {
		t.Fatal("redis-server is required and not installed")
	}
	t.Skip("needs redis-server: " + why)
}

// startRedisWith starts n redis-server processes with extra arguments,
// killed at the end of the test. ports gives each its port (0: a free
// one); it returns their addresses.
func startRedisWith(t *testing.T, n int, extra func(i int) []string) []string {
	t.Helper()
	needRedisServer(t, "the in-process fallback has no AUTH or TLS")
	addrs := make([]string, n)
	for i := range n {
		port, err := redisproc.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		p, err := redisproc.Start("redis-server", t.TempDir(), port, extra(i)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Kill() })
		addrs[i] = p.Addr
	}
	return addrs
}

// TestAuth runs the engine over three real nodes that ask for a password,
// given in redis:// URLs: it grants and releases (so the restart check's
// INFO on every new connection works after AUTH), and a wrong password
// grants nothing, without showing the password anywhere.
func TestAuth(t *testing.T) {
	addrs := startRedisWith(t, 3, func(int) []string { return []string{"--requirepass", "s3cret"} })
	urls := make([]string, len(addrs))
	bad := make([]string, len(addrs))
	for i, a := range addrs {
		urls[i], bad[i] = "redis://:s3cret@"+a, "redis://:wrong@"+a
	}
	e, err := New(urls, WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	// Waits, so that a first dial slowed by a loaded machine past the node
	// timeout is retried: this is about AUTH, not dial latency.
	l, err := e.Acquire(ctx(t), "auth", lockd.AcquireOptions{Owner: "a", Wait: 5 * time.Second})
	if err != nil {
		t.Fatalf("acquire with the password: %v", err)
	}
	if _, err := e.Release(ctx(t), "auth", l.ID); err != nil {
		t.Fatalf("release: %v", err)
	}
	if h := e.Health(ctx(t)); !h.Ready || h.Nodes[0].Addr != addrs[0] {
		t.Errorf("health %+v, want ready, nodes named host:port", h)
	}
	w, err := New(bad, WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	_, err = w.Acquire(ctx(t), "auth", lockd.AcquireOptions{Owner: "a"})
	if !errors.Is(err, lockd.ErrQuorumUnavailable) || strings.Contains(err.Error(), "wrong") {
		t.Errorf("acquire with a wrong password: %v, want quorum unavailable, the password not shown", err)
	}
}

// TestTLS runs the engine over three real nodes that speak TLS only
// (rediss://), trusting a test CA through WithTLSConfig.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	pool := writeTestCert(t, dir)
	tlsPorts := make([]int, 3)
	addrs := startRedisWith(t, 3, func(i int) []string {
		port, err := redisproc.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		tlsPorts[i] = port
		return []string{"--tls-port", strconv.Itoa(port), "--tls-cert-file", filepath.Join(dir, "cert.pem"),
			"--tls-key-file", filepath.Join(dir, "key.pem"), "--tls-ca-cert-file", filepath.Join(dir, "cert.pem"), "--tls-auth-clients", "no"}
	})
	urls := make([]string, len(addrs))
	for i := range addrs {
		urls[i] = "rediss://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(tlsPorts[i]))
	}
	e, err := New(urls, WithLogger(nil), WithTLSConfig(&tls.Config{RootCAs: pool}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	l, err := e.Acquire(ctx(t), "tls", lockd.AcquireOptions{Owner: "a"})
	if err != nil {
		t.Fatalf("acquire over TLS: %v", err)
	}
	if _, err := e.Release(ctx(t), "tls", l.ID); err != nil {
		t.Fatalf("release over TLS: %v", err)
	}
	untrusted, err := New(urls, WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = untrusted.Close() })
	if _, err := untrusted.Acquire(ctx(t), "tls", lockd.AcquireOptions{Owner: "a"}); !errors.Is(err, lockd.ErrQuorumUnavailable) {
		t.Errorf("acquire without trusting the CA: %v, want quorum unavailable", err)
	}
}

// writeTestCert writes a self-signed certificate for 127.0.0.1 and its key
// into dir (cert.pem, key.pem) and returns a pool that trusts it.
func writeTestCert(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	_, _, pool := testenv.Cert(t, dir)
	return pool
}
