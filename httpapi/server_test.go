package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/httpapi"
	"github.com/lockd/lockd/internal/syncbuf"
)

func TestRoot(t *testing.T) {
	tests := []struct {
		name              string
		opts              []httpapi.Option
		wantMode, wantVer string
	}{
		{"Defaults", nil, "dev", "dev"},
		{"Redis", []httpapi.Option{httpapi.WithMode(httpapi.ModeRedis), httpapi.WithVersion("v1.2.3")}, "redis", "v1.2.3"},
		{"NilLogger", []httpapi.Option{httpapi.WithLogger(nil)}, "dev", "dev"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, nil, tt.opts...)
			got := wantStatus(t, send(t, srv, "GET", "/", ""), http.StatusOK)
			if got["message"] != "lockd is healthy" || got["mode"] != tt.wantMode || got["version"] != tt.wantVer {
				t.Errorf("got %v, want message %q mode %q version %q", got, "lockd is healthy", tt.wantMode, tt.wantVer)
			}
		})
	}
}

// TestRootNotReady checks that the prototype's health check fails whenever
// GET /readyz does, and says why.
func TestRootNotReady(t *testing.T) {
	tests := []struct {
		name     string
		eng      func() *fakeEngine
		opts     []httpapi.Option
		wantDown string
	}{
		{"NoQuorum", func() *fakeEngine {
			eng := newFake()
			eng.health = func(context.Context) lockd.Health {
				return lockd.Health{Nodes: []lockd.NodeHealth{
					{Addr: "10.0.0.1:6379", OK: true},
					{Addr: "10.0.0.2:6379", Error: "connection refused"},
					{Addr: "10.0.0.3:6379", Error: "connection refused"},
				}}
			}
			return eng
		}, []httpapi.Option{httpapi.WithMode(httpapi.ModeRedis)}, "10.0.0.2:6379, 10.0.0.3:6379"},
		{"EngineClosed", func() *fakeEngine {
			eng := newFake()
			_ = eng.Engine.Close()
			return eng
		}, nil, "memory"},
		{"ReadyCheckFails", newFake, []httpapi.Option{httpapi.WithReadyCheck("mongodb", func(context.Context) error { return lockd.ErrStoreUnavailable })}, "mongodb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, tt.eng(), tt.opts...)
			got := wantStatus(t, send(t, srv, "GET", "/", ""), http.StatusServiceUnavailable)
			msg, _ := got["message"].(string)
			if !strings.HasPrefix(msg, "lockd is not ready: ") || !strings.Contains(msg, tt.wantDown) {
				t.Errorf("got message %q, want \"lockd is not ready: ...\" naming %s", msg, tt.wantDown)
			}
			wantStatus(t, send(t, srv, "GET", "/readyz", ""), http.StatusServiceUnavailable)
		})
	}
}

func TestHealthz(t *testing.T) {
	eng := newFake()
	eng.health = func(context.Context) lockd.Health { return lockd.Health{} } // healthz must not ask
	srv := newServer(t, eng)
	got := wantStatus(t, send(t, srv, "GET", "/healthz", ""), http.StatusOK)
	if got["status"] != "ok" || len(got) != 1 {
		t.Errorf("got %v, want {\"status\":\"ok\"}", got)
	}
}

func TestReadyz(t *testing.T) {
	t.Run("Ready", func(t *testing.T) {
		eng := newFake()
		eng.health = func(context.Context) lockd.Health {
			return lockd.Health{Ready: true, Nodes: []lockd.NodeHealth{
				{Addr: "10.0.0.1:6379", OK: true, Latency: 3 * time.Millisecond},
				{Addr: "10.0.0.2:6379", OK: false, Error: "connection refused", State: lockd.NodeRejoining},
				{Addr: "10.0.0.3:6379", OK: true, Latency: 1500 * time.Microsecond},
			}}
		}
		got := wantStatus(t, send(t, newServer(t, eng), "GET", "/readyz", ""), http.StatusOK)
		if nodes, _ := got["nodes"].([]any); len(nodes) == 3 && nodes[1].(map[string]any)["state"] != lockd.NodeRejoining {
			t.Errorf("node 1's state %v, want %s", nodes[1], lockd.NodeRejoining)
		}
		if got["ready"] != true {
			t.Errorf("got ready %v, want true", got["ready"])
		}
		nodes, _ := got["nodes"].([]any)
		if len(nodes) != 3 {
			t.Fatalf("got nodes %v, want 3", got["nodes"])
		}
		n0, n1 := nodes[0].(map[string]any), nodes[1].(map[string]any)
		if n0["addr"] != "10.0.0.1:6379" || n0["ok"] != true || n0["latency_ms"] != 3.0 {
			t.Errorf("got node 0 %v, want 10.0.0.1:6379 ok latency 3", n0)
		}
		if _, has := n0["error"]; has {
			t.Errorf("got node 0 %v, want no error field", n0)
		}
		if n1["ok"] != false || n1["error"] != "connection refused" {
			t.Errorf("got node 1 %v, want not ok with its error", n1)
		}
	})
	t.Run("NotReady", func(t *testing.T) {
		eng := newFake()
		_ = eng.Engine.Close() // a closed memory engine reports not ready
		got := wantStatus(t, send(t, newServer(t, eng), "GET", "/readyz", ""), http.StatusServiceUnavailable)
		nodes, _ := got["nodes"].([]any)
		if got["ready"] != false || len(nodes) != 1 {
			t.Fatalf("got %v, want not ready with one node", got)
		}
		if n := nodes[0].(map[string]any); n["ok"] != false || n["error"] == "" || n["addr"] != "memory" {
			t.Errorf("got node %v, want memory, not ok, with an error", n)
		}
	})
	t.Run("HealthCheckBounded", func(t *testing.T) {
		eng := newFake()
		eng.health = func(ctx context.Context) lockd.Health {
			<-ctx.Done() // a hung node
			return lockd.Health{Nodes: []lockd.NodeHealth{{Addr: "hung", Error: ctx.Err().Error()}}}
		}
		start := time.Now()
		got := wantStatus(t, send(t, newServer(t, eng), "GET", "/readyz", ""), http.StatusServiceUnavailable)
		if el := time.Since(start); el > 5*time.Second {
			t.Errorf("readyz took %v, want about 2s", el)
		}
		if got["ready"] != false {
			t.Errorf("got %v, want not ready", got)
		}
	})
}

func TestMethodNotAllowed(t *testing.T) {
	srv := newServer(t, nil)
	tests := []struct {
		name, method, path, allow string
	}{
		{"AcquireGET", "GET", "/v1/locks/a/acquire", "POST"},
		{"ExtendPUT", "PUT", "/v1/locks/a/extend", "POST"},
		{"ReleaseDELETE", "DELETE", "/v1/locks/a/release", "POST"},
		{"InspectPOST", "POST", "/v1/locks/a", "GET, HEAD"},
		{"InspectDELETE", "DELETE", "/v1/locks/a", "GET, HEAD"},
		{"RootPOST", "POST", "/", "GET, HEAD"},
		{"GetLockGET", "GET", "/get-lock", "POST"},
		{"ReleaseLockGET", "GET", "/release-lock", "POST"},
		{"HealthzPOST", "POST", "/healthz", "GET, HEAD"},
		{"ReadyzPATCH", "PATCH", "/readyz", "GET, HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := send(t, srv, tt.method, tt.path, "")
			wantError(t, r, http.StatusMethodNotAllowed, "method_not_allowed", "")
			if got := r.header.Get("Allow"); got != tt.allow {
				t.Errorf("got Allow %q, want %q", got, tt.allow)
			}
		})
	}
}

func TestNotFound(t *testing.T) {
	srv := newServer(t, nil)
	for _, p := range []string{
		"/nope",
		"/v1",
		"/v1/locks/",
		"/v1/locks/a/b",
		"/v1/locks/a/acquire/",
		"/v1/locks/a/steal",
		"/v2/locks/a",
		"/v1/locks/a/../b",
		"//v1/locks/a",
		"/healthz/",
	} {
		t.Run(strings.ReplaceAll(p, "/", "_"), func(t *testing.T) {
			wantError(t, send(t, srv, "GET", p, ""), http.StatusNotFound, "not_found", "")
		})
	}
}

// TestOddNames checks that names a URL can carry but lockd refuses get a
// 400 on every lock route, never a redirect, a 404 or a crash.
func TestOddNames(t *testing.T) {
	srv := newServer(t, nil)
	routes := []struct{ method, suffix, body string }{
		{"POST", "/acquire", `{"owner":"a"}`},
		{"POST", "/extend", `{"lease":"0123456789abcdef0123456789abcdef"}`},
		{"POST", "/release", `{"lease":"0123456789abcdef0123456789abcdef"}`},
		{"GET", "", ""},
	}
	names := []struct{ name, segment string }{
		{"Space", "a%20b"},
		{"EncodedSlash", "a%2Fb"},
		{"EncodedDotDot", "%2E%2E"},
		{"EncodedDot", "%2e"},
		{"DotDot", ".."},
		{"Dot", "."},
		{"Empty", ""},
		{"Percent", "a%25b"},
		{"NonASCII", "caf%C3%A9"},
		{"Quote", "a%22b"},
		{"NUL", "a%00b"},
		{"TooLong", strings.Repeat("x", 201)},
		{"Plus", "a+b"},
		{"Tilde", "a~b"},
	}
	for _, rt := range routes {
		for _, n := range names {
			if rt.suffix == "" && n.segment == "" {
				// "/v1/locks/" names no lock: covered by TestNotFound.
				continue
			}
			t.Run(rt.method+rt.suffix+"/"+n.name, func(t *testing.T) {
				r := send(t, srv, rt.method, "/v1/locks/"+n.segment+rt.suffix, rt.body)
				wantError(t, r, http.StatusBadRequest, lockd.CodeInvalidArgument, "name")
			})
		}
	}
	t.Run("EveryValidCharacter", func(t *testing.T) {
		name := "Az09._:@-" + strings.Repeat("x", 191)
		got := acquire(t, srv, name, "a", 1000)
		if got["name"] != name {
			t.Errorf("got name %v, want %q", got["name"], name)
		}
	})
}

func TestEngineErrors(t *testing.T) {
	secret := "10.9.8.7:6379"
	tests := []struct {
		name       string
		err        error
		status     int
		code       string
		wantLogged bool
	}{
		{"Internal", errors.New("redis: dial " + secret + ": connection refused"), http.StatusInternalServerError, lockd.CodeInternal, true},
		{"ErrQuorumUnavailable", errors.Join(lockd.ErrQuorumUnavailable, &lockd.NodeError{Node: secret, Err: errors.New("timeout")}), http.StatusServiceUnavailable, lockd.CodeQuorumUnavailable, true},
		{"ErrLost", errors.Join(lockd.ErrLost, &lockd.NodeError{Node: secret, Err: errors.New("gone")}), http.StatusConflict, lockd.CodeLockLost, false},
		{"ErrNotHeldIsNoHTTPError", fmt.Errorf("%w on %s", lockd.ErrNotHeld, secret), http.StatusInternalServerError, lockd.CodeInternal, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &syncbuf.Buffer{}
			eng := newFake()
			eng.extend = func(context.Context, string, string, time.Duration) (lockd.Lease, error) {
				return lockd.Lease{}, tt.err
			}
			srv := newServer(t, eng, httpapi.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
			r := send(t, srv, "POST", "/v1/locks/a/extend", `{"lease":"0123456789abcdef0123456789abcdef"}`)
			e := wantError(t, r, tt.status, tt.code, "")
			if strings.Contains(string(r.body), secret) {
				t.Errorf("body %s leaks the engine's detail %q", r.body, secret)
			}
			if want := lockd.CodeError(tt.code).Error(); e["message"] != want {
				t.Errorf("got message %v, want %q", e["message"], want)
			}
			if got := strings.Contains(logs.String(), secret); got != tt.wantLogged {
				t.Errorf("detail in log: got %v, want %v; log:\n%s", got, tt.wantLogged, logs.String())
			}
		})
	}
}

// TestBackendWarningsRateLimited floods the server with requests that fail
// for want of a quorum: the log gets one warning per second per code, and
// the next says how many it stands for.
func TestBackendWarningsRateLimited(t *testing.T) {
	logs := &syncbuf.Buffer{}
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	advance := func(d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(d)
	}
	eng := newFake()
	eng.extend = func(context.Context, string, string, time.Duration) (lockd.Lease, error) {
		return lockd.Lease{}, errors.Join(lockd.ErrQuorumUnavailable, &lockd.NodeError{Node: "10.0.0.1:6379", Err: errors.New("timeout")})
	}
	eng.inspect = func(context.Context, string) (lockd.LockInfo, error) {
		return lockd.LockInfo{}, lockd.ErrStoreUnavailable
	}
	srv := newServer(t, eng, httpapi.WithLogger(slog.New(slog.NewJSONHandler(logs, nil))), httpapi.WithClock(clock))
	extend := func() {
		t.Helper()
		wantError(t, send(t, srv, "POST", "/v1/locks/a/extend", `{"lease":"0123456789abcdef0123456789abcdef"}`), http.StatusServiceUnavailable, lockd.CodeQuorumUnavailable, "")
	}
	warnings := func(t *testing.T, msg string) []map[string]any {
		t.Helper()
		var got []map[string]any
		for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("log line %q: %v", line, err)
			}
			if m["msg"] == msg {
				got = append(got, m)
			}
		}
		return got
	}
	const flood = 50
	for range flood {
		extend()
	}
	wantError(t, send(t, srv, "GET", "/v1/locks/a", ""), http.StatusServiceUnavailable, lockd.CodeStoreUnavailable, "")
	quorum := warnings(t, "lockd: quorum unavailable")
	if len(quorum) != 1 || quorum[0]["suppressed"] != 0.0 {
		t.Fatalf("after %d failures in one instant got %d quorum warnings %v, want 1 with suppressed 0", flood, len(quorum), quorum)
	}
	if store := warnings(t, "lockd: store unavailable"); len(store) != 1 {
		t.Errorf("got %d store warnings, want 1: codes are limited apart", len(store))
	}
	advance(999 * time.Millisecond)
	extend()
	if got := len(warnings(t, "lockd: quorum unavailable")); got != 1 {
		t.Errorf("within the second got %d warnings, want still 1", got)
	}
	advance(time.Millisecond)
	extend()
	quorum = warnings(t, "lockd: quorum unavailable")
	if len(quorum) != 2 || quorum[1]["suppressed"] != float64(flood) {
		t.Errorf("a second later got %v, want a second warning with suppressed %d", quorum, flood)
	}
}

func TestPanicRecovered(t *testing.T) {
	logs := &syncbuf.Buffer{}
	eng := newFake()
	eng.inspect = func(context.Context, string) (lockd.LockInfo, error) { panic("engine bug") }
	srv := newServer(t, eng, httpapi.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	wantError(t, send(t, srv, "GET", "/v1/locks/a", ""), http.StatusInternalServerError, lockd.CodeInternal, "")
	if !strings.Contains(logs.String(), "engine bug") {
		t.Errorf("panic not logged; log:\n%s", logs.String())
	}
	wantStatus(t, send(t, srv, "GET", "/healthz", ""), http.StatusOK)
}

// TestReadyCheckWarningsRateLimited polls /readyz and GET / while a ready
// check fails, as load balancers do: the failure is logged once a second,
// not once a probe.
func TestReadyCheckWarningsRateLimited(t *testing.T) {
	logs := &syncbuf.Buffer{}
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	srv := newServer(t, newFake(),
		httpapi.WithLogger(slog.New(slog.NewTextHandler(logs, nil))), httpapi.WithClock(clock),
		httpapi.WithReadyCheck("mongodb", func(context.Context) error { return lockd.ErrStoreUnavailable }))
	for range 20 {
		wantStatus(t, send(t, srv, "GET", "/readyz", ""), http.StatusServiceUnavailable)
		wantStatus(t, send(t, srv, "GET", "/", ""), http.StatusServiceUnavailable)
	}
	if got := strings.Count(logs.String(), "ready check failed"); got != 1 {
		t.Errorf("after 40 probes in one instant got %d warnings, want 1:\n%s", got, logs.String())
	}
}
