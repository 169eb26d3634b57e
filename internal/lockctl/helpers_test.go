package lockctl_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/httpapi"
	"github.com/lockd/lockd/internal/lockctl"
	"github.com/lockd/lockd/locktest"
	"github.com/lockd/lockd/memlock"
)

// result is what one lockctl run left.
type result struct {
	code           int
	stdout, stderr string
}

// run runs lockctl with args and env (nothing else of the process's
// environment) under ctx.
func run(ctx context.Context, t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := lockctl.Main(ctx, args, strings.NewReader(""), &stdout, &stderr, func(k string) string { return env[k] })
	return result{code, stdout.String(), stderr.String()}
}

// lockctlAt runs lockctl against the lockd at url.
func lockctlAt(t *testing.T, url string, args ...string) result {
	t.Helper()
	return run(t.Context(), t, nil, append([]string{"--url", url}, args...)...)
}

// wantCode fails the test unless r exited with code.
func wantCode(t *testing.T, r result, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit status %d, want %d; stdout %q, stderr %q", r.code, code, r.stdout, r.stderr)
	}
}

// decode decodes r's stdout as JSON into v.
func decode(t *testing.T, r result, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		t.Fatalf("stdout is not the JSON wanted: %v\n%s", err, r.stdout)
	}
}

// serve starts lockd's HTTP API over the memory engine, without a store,
// and returns its URL.
func serve(t *testing.T) string {
	t.Helper()
	eng := memlock.New()
	srv := httptest.NewServer(httpapi.New(eng, httpapi.WithLogger(slog.New(slog.DiscardHandler))))
	t.Cleanup(func() {
		srv.Close()
		_ = eng.Close()
	})
	return srv.URL
}

// serveJournaled starts lockd's HTTP API over the memory engine with an
// in-memory journal, so that history answers, and returns its URL.
func serveJournaled(t *testing.T) string {
	t.Helper()
	j := &locktest.Journal{}
	eng := lockd.Journaled(memlock.New(), j, "test-1")
	srv := httptest.NewServer(httpapi.New(eng, httpapi.WithJournal(j), httpapi.WithLogger(slog.New(slog.DiscardHandler))))
	t.Cleanup(func() {
		srv.Close()
		_ = eng.Close()
	})
	return srv.URL
}

// downURL returns the URL of a lockd that is not there any more.
func downURL(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(nil)
	url := srv.URL
	srv.Close()
	return url
}

// grant is the JSON of acquire and extend.
type grant struct {
	Name      string            `json:"name"`
	Owner     string            `json:"owner"`
	Lease     string            `json:"lease"`
	Fence     int64             `json:"fence"`
	TTLMs     int64             `json:"ttl_ms"`
	ExpiresAt string            `json:"expires_at"`
	Metadata  map[string]string `json:"metadata"`
}

// acquire takes name as owner and returns the grant.
func acquire(t *testing.T, url, name, owner string, args ...string) grant {
	t.Helper()
	r := lockctlAt(t, url, append([]string{"acquire", name, "--owner", owner, "-o", "json"}, args...)...)
	wantCode(t, r, lockctl.ExitOK)
	var g grant
	decode(t, r, &g)
	return g
}
