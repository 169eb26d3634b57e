package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/httpapi"
	"github.com/lockd/lockd/memlock"
)

// requestTimeout bounds every request a test sends.
const requestTimeout = 10 * time.Second

// newServer serves eng (a fresh memory engine when nil) on a loopback
// httptest server, closed when the test ends.
func newServer(t *testing.T, eng lockd.Engine, opts ...httpapi.Option) *httptest.Server {
	t.Helper()
	if eng == nil {
		eng = memlock.New()
	}
	opts = append([]httpapi.Option{httpapi.WithLogger(discardLogger())}, opts...)
	srv := httptest.NewServer(httpapi.New(eng, opts...))
	t.Cleanup(func() {
		srv.Close()
		_ = eng.Close()
	})
	return srv
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

type response struct {
	status int
	header http.Header
	body   []byte
}

// object decodes the body as a JSON object.
func (r response) object(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.body, err)
	}
	return m
}

// send makes one request and checks that the answer is JSON.
func send(t *testing.T, srv *httptest.Server, method, path, body string) response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, srv.URL+path, rd)
	if err != nil {
		t.Fatalf("NewRequest %s %s: %v", method, path, err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" && method != http.MethodHead {
		t.Errorf("%s %s: got Content-Type %q, want application/json", method, path, ct)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// sendAsync makes one request, for a goroutine other than the test's:
// it reports failures instead of stopping the test.
func sendAsync(srv *httptest.Server, method, path, body string) (response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	return sendCtx(ctx, srv, method, path, body)
}

// sendCtx is sendAsync with ctx, which bounds the request.
func sendCtx(ctx context.Context, srv *httptest.Server, method, path, body string) (response, error) {
	req, err := http.NewRequestWithContext(ctx, method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		return response{}, err
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}, err
}

// asyncResult is what sendAsync returned.
type asyncResult struct {
	r   response
	err error
}

// wantError checks a v1 error answer and returns its error object.
func wantError(t *testing.T, r response, status int, code, field string) map[string]any {
	t.Helper()
	if r.status != status {
		t.Errorf("got status %d, want %d (body %s)", r.status, status, r.body)
	}
	m := r.object(t)
	if len(m) != 1 {
		t.Errorf("got top-level keys %v, want only error", keys(m))
	}
	e, ok := m["error"].(map[string]any)
	if !ok {
		t.Fatalf("got body %s, want {\"error\": {...}}", r.body)
	}
	if e["code"] != code {
		t.Errorf("got code %v, want %s (body %s)", e["code"], code, r.body)
	}
	if msg, _ := e["message"].(string); msg == "" {
		t.Errorf("got no message in %s", r.body)
	}
	if got, _ := e["field"].(string); got != field {
		t.Errorf("got field %q, want %q (body %s)", got, field, r.body)
	}
	return e
}

// wantStatus checks the status and returns the body as an object.
func wantStatus(t *testing.T, r response, status int) map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("got status %d, want %d (body %s)", r.status, status, r.body)
	}
	return r.object(t)
}

func keys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// acquire takes name for owner through the API and returns the answer.
func acquire(t *testing.T, srv *httptest.Server, name, owner string, ttlMs int) map[string]any {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"owner": owner, "ttl_ms": ttlMs})
	return wantStatus(t, send(t, srv, "POST", "/v1/locks/"+name+"/acquire", string(body)), http.StatusOK)
}

// fakeEngine is a memory engine whose methods tests can replace.
type fakeEngine struct {
	*memlock.Engine
	acquire func(ctx context.Context, name string, opts lockd.AcquireOptions) (lockd.Lease, error)
	extend  func(ctx context.Context, name, leaseID string, ttl time.Duration) (lockd.Lease, error)
	release func(ctx context.Context, name, leaseID string) (lockd.Released, error)
	inspect func(ctx context.Context, name string) (lockd.LockInfo, error)
	// releaseByOwner replaces ReleaseByOwner when set.
	releaseByOwner func(ctx context.Context, name, owner string) (lockd.Released, error)
	health         func(ctx context.Context) lockd.Health
}

func newFake() *fakeEngine { return &fakeEngine{Engine: memlock.New()} }

func (f *fakeEngine) Acquire(ctx context.Context, name string, opts lockd.AcquireOptions) (lockd.Lease, error) {
	if f.acquire != nil {
		return f.acquire(ctx, name, opts)
	}
	return f.Engine.Acquire(ctx, name, opts)
}

func (f *fakeEngine) Extend(ctx context.Context, name, leaseID string, ttl time.Duration) (lockd.Lease, error) {
	if f.extend != nil {
		return f.extend(ctx, name, leaseID, ttl)
	}
	return f.Engine.Extend(ctx, name, leaseID, ttl)
}

func (f *fakeEngine) Release(ctx context.Context, name, leaseID string) (lockd.Released, error) {
	if f.release != nil {
		return f.release(ctx, name, leaseID)
	}
	return f.Engine.Release(ctx, name, leaseID)
}

func (f *fakeEngine) ReleaseByOwner(ctx context.Context, name, owner string) (lockd.Released, error) {
	if f.releaseByOwner != nil {
		return f.releaseByOwner(ctx, name, owner)
	}
	return f.Engine.ReleaseByOwner(ctx, name, owner)
}

func (f *fakeEngine) Inspect(ctx context.Context, name string) (lockd.LockInfo, error) {
	if f.inspect != nil {
		return f.inspect(ctx, name)
	}
	return f.Engine.Inspect(ctx, name)
}

func (f *fakeEngine) Health(ctx context.Context) lockd.Health {
	if f.health != nil {
		return f.health(ctx)
	}
	return f.Engine.Health(ctx)
}
