package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/client"
	"github.com/lockd/lockd/httpapi"
	"github.com/lockd/lockd/locktest"
	"github.com/lockd/lockd/memlock"
)

// serve starts a lockd over a fresh memory engine on loopback and returns
// a client for it.
func serve(t *testing.T, opts ...client.Option) (*client.Client, *httptest.Server) {
	t.Helper()
	eng := memlock.New()
	srv := httptest.NewServer(httpapi.New(eng, httpapi.WithLogger(slog.New(slog.DiscardHandler))))
	t.Cleanup(func() {
		srv.Close()
		_ = eng.Close()
	})
	return newClient(t, srv.URL, opts...), srv
}

func newClient(t *testing.T, base string, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(base, opts...)
	if err != nil {
		t.Fatalf("New(%q): %v", base, err)
	}
	return c
}

func ctxFor(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// canned serves one fixed answer to every request.
func canned(t *testing.T, status int, body string) *client.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	// No retries: these tests are about how one answer maps to an error.
	return newClient(t, srv.URL, client.WithRetry(0))
}

// TestConformance runs the engine suite through the SDK and the HTTP API.
func TestConformance(t *testing.T) {
	locktest.Run(t, locktest.Config{
		New: func(t *testing.T) lockd.Engine {
			// With an admin key: the admin routes (list, force-release)
			// answer only to one.
			h, err := httpapi.ParseKeyHash(httpapi.HashToken("suite"))
			if err != nil {
				t.Fatal(err)
			}
			eng := memlock.New()
			srv := httptest.NewServer(httpapi.New(eng, httpapi.WithLogger(slog.New(slog.DiscardHandler)),
				httpapi.WithKeys([]httpapi.Key{{Name: "suite", Hash: h, Role: httpapi.RoleAdmin}})))
			t.Cleanup(func() {
				srv.Close()
				_ = eng.Close()
			})
			return newClient(t, srv.URL, client.WithToken("suite")).Engine()
		},
	})
}

// TestErrorsMatchInProcess makes the same bad calls on a memory engine
// and through HTTP and checks that the errors agree: same code, same
// argument field and reason, same holder.
func TestErrorsMatchInProcess(t *testing.T) {
	local := memlock.New()
	defer local.Close()
	c, _ := serve(t)
	remote := c.Engine()
	ctx := ctxFor(t)
	for _, e := range []lockd.Engine{local, remote} {
		if _, err := e.Acquire(ctx, "held", lockd.AcquireOptions{Owner: "a"}); err != nil {
			t.Fatal(err)
		}
	}
	lease := lockd.NewLeaseID()
	calls := []struct {
		name string
		call func(e lockd.Engine) error
	}{
		{"ErrNotObtained", func(e lockd.Engine) error {
			_, err := e.Acquire(ctx, "held", lockd.AcquireOptions{Owner: "b"})
			return err
		}},
		{"BadName", func(e lockd.Engine) error {
			_, err := e.Acquire(ctx, "a/b", lockd.AcquireOptions{Owner: "b"})
			return err
		}},
		{"NoOwner", func(e lockd.Engine) error {
			_, err := e.Acquire(ctx, "x", lockd.AcquireOptions{})
			return err
		}},
		{"BadOwner", func(e lockd.Engine) error {
			_, err := e.Acquire(ctx, "x", lockd.AcquireOptions{Owner: "a\tb"})
			return err
		}},
		{"ShortTTL", func(e lockd.Engine) error {
			_, err := e.Acquire(ctx, "x", lockd.AcquireOptions{Owner: "a", TTL: 50 * time.Millisecond})
			return err
		}},
		{"LongWait", func(e lockd.Engine) error {
			_, err := e.Acquire(ctx, "x", lockd.AcquireOptions{Owner: "a", Wait: time.Hour})
			return err
		}},
		{"MetadataArray", func(e lockd.Engine) error {
			_, err := e.Acquire(ctx, "x", lockd.AcquireOptions{Owner: "a", Metadata: json.RawMessage(`[]`)})
			return err
		}},
		{"ExtendErrLost", func(e lockd.Engine) error {
			_, err := e.Extend(ctx, "held", lease, time.Second)
			return err
		}},
		{"ExtendBadLease", func(e lockd.Engine) error {
			_, err := e.Extend(ctx, "held", "XYZ", time.Second)
			return err
		}},
		{"ExtendKeepTTLErrLost", func(e lockd.Engine) error {
			_, err := e.Extend(ctx, "held", lease, 0)
			return err
		}},
		{"ExtendShortTTL", func(e lockd.Engine) error {
			_, err := e.Extend(ctx, "held", lease, 50*time.Millisecond)
			return err
		}},
		{"AcquireShortLease", func(e lockd.Engine) error {
			_, err := e.Acquire(ctx, "x", lockd.AcquireOptions{Owner: "a", Lease: "0123"})
			return err
		}},
		{"SameOwnerNoLease", func(e lockd.Engine) error {
			_, err := e.Acquire(ctx, "held", lockd.AcquireOptions{Owner: "a"})
			return err
		}},
		{"ReleaseErrNotHeld", func(e lockd.Engine) error {
			_, err := e.Release(ctx, "held", lease)
			return err
		}},
		{"ReleaseByOwnerV1Lock", func(e lockd.Engine) error {
			_, err := e.ReleaseByOwner(ctx, "held", "a")
			return err
		}},
		{"ReleaseByOwnerFree", func(e lockd.Engine) error {
			_, err := e.ReleaseByOwner(ctx, "free", "a")
			return err
		}},
		{"ReleaseByOwnerBadOwner", func(e lockd.Engine) error {
			_, err := e.ReleaseByOwner(ctx, "held", "")
			return err
		}},
		{"ReleaseByOwnerBadName", func(e lockd.Engine) error {
			_, err := e.ReleaseByOwner(ctx, "a b", "a")
			return err
		}},
		{"InspectBadName", func(e lockd.Engine) error {
			_, err := e.Inspect(ctx, strings.Repeat("n", 201))
			return err
		}},
	}
	for _, tt := range calls {
		t.Run(tt.name, func(t *testing.T) {
			want, got := tt.call(local), tt.call(remote)
			if want == nil || got == nil {
				t.Fatalf("got %v in-process and %v over HTTP, want errors", want, got)
			}
			if lockd.ErrorCode(got) != lockd.ErrorCode(want) {
				t.Errorf("got code %s (%v), want %s (%v)", lockd.ErrorCode(got), got, lockd.ErrorCode(want), want)
			}
			var wantAE, gotAE *lockd.ArgumentError
			if errors.As(want, &wantAE) {
				if !errors.As(got, &gotAE) || *gotAE != *wantAE {
					t.Errorf("got %#v, want %#v", got, wantAE)
				}
			}
			var wantNO, gotNO *lockd.NotObtainedError
			if errors.As(want, &wantNO) {
				if !errors.As(got, &gotNO) || gotNO.Name != wantNO.Name || gotNO.Holder == nil || gotNO.Holder.Owner != wantNO.Holder.Owner {
					t.Fatalf("got %#v, want %#v", got, want)
				}
				if d := time.Until(gotNO.Holder.ExpiresAt); d < 5*time.Second || d > 11*time.Second {
					t.Errorf("got holder expiry in %v, want about 10s", d)
				}
			}
		})
	}
}

func TestServerErrors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   error
	}{
		{"Internal", 500, `{"error":{"code":"internal","message":"lockd: internal error"}}`, lockd.ErrInternal},
		{"ProxyPage", 502, `<html>Bad Gateway</html>`, lockd.ErrUnavailable},
		{"ProxyTimeout", 504, ``, lockd.ErrUnavailable},
		{"ProxyPage500", 500, `<html>oops</html>`, lockd.ErrInternal},
		{"Empty", 500, ``, lockd.ErrInternal},
		{"UnknownCode", 404, `{"error":{"code":"not_found","message":"no route"}}`, lockd.ErrInternal},
		{"ErrQuorumUnavailable", 503, `{"error":{"code":"quorum_unavailable","message":"lockd: quorum unavailable"}}`, lockd.ErrQuorumUnavailable},
		{"ErrLost", 409, `{"error":{"code":"lock_lost","message":"lockd: lock lost"}}`, lockd.ErrLost},
		{"ErrUnavailable", 503, `{"error":{"code":"unavailable","message":"lockd: unavailable"}}`, lockd.ErrUnavailable},
		{"ErrInvalidArgumentNoField", 400, `{"error":{"code":"invalid_argument","message":"bad"}}`, lockd.ErrInvalidArgument},
		{"Unreadable2xx", 200, `{"name":`, lockd.ErrInternal},
		{"Huge2xx", 200, `{"name":"` + strings.Repeat("x", 1<<20) + `"}`, lockd.ErrInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := canned(t, tt.status, tt.body).Inspect(ctxFor(t), "x")
			if !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
			for _, other := range []error{lockd.ErrInternal, lockd.ErrQuorumUnavailable, lockd.ErrUnavailable, lockd.ErrLost, lockd.ErrInvalidArgument, lockd.ErrNotObtained, lockd.ErrNotHeld} {
				if other != tt.want && errors.Is(err, other) {
					t.Errorf("got %v, which also matches %v", err, other)
				}
			}
		})
	}
	t.Run("HolderFromBody", func(t *testing.T) {
		c := canned(t, 409, `{"error":{"code":"lock_held","message":"m","holder":{"owner":"zed","expires_at":"2030-01-02T03:04:05.5Z"}}}`)
		_, err := c.Acquire(ctxFor(t), "x")
		var noe *lockd.NotObtainedError
		if !errors.As(err, &noe) || noe.Name != "x" || noe.Holder == nil {
			t.Fatalf("got %#v, want *NotObtainedError for x with a holder", err)
		}
		if want := time.Date(2030, 1, 2, 3, 4, 5, 5e8, time.UTC); noe.Holder.Owner != "zed" || !noe.Holder.ExpiresAt.Equal(want) {
			t.Errorf("got holder %+v, want zed until %v", noe.Holder, want)
		}
	})
	t.Run("ReleaseUnknownReason", func(t *testing.T) {
		_, err := canned(t, 200, `{"released":false,"reason":"mystery"}`).Engine().Release(ctxFor(t), "x", lockd.NewLeaseID())
		if !errors.Is(err, lockd.ErrInternal) || errors.Is(err, lockd.ErrNotHeld) {
			t.Errorf("got %v, want ErrInternal", err)
		}
	})
}

func TestTransportErrors(t *testing.T) {
	t.Run("Unreachable", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		base := srv.URL
		srv.Close()
		_, err := newClient(t, base, client.WithRetry(0)).Inspect(ctxFor(t), "x")
		var ue *url.Error
		if !errors.As(err, &ue) {
			t.Fatalf("got %#v, want a wrapped *url.Error", err)
		}
		for _, s := range []error{lockd.ErrInternal, lockd.ErrQuorumUnavailable, lockd.ErrNotObtained} {
			if errors.Is(err, s) {
				t.Errorf("got %v, which matches %v; transport errors must not", err, s)
			}
		}
	})
	t.Run("Timeout", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}))
		defer srv.Close()
		c := newClient(t, srv.URL, client.WithTimeout(100*time.Millisecond), client.WithRetry(0))
		start := time.Now()
		_, err := c.Inspect(ctxFor(t), "x")
		if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, lockd.ErrInternal) {
			t.Errorf("got %v, want a wrapped context.DeadlineExceeded", err)
		}
		if el := time.Since(start); el > 2*time.Second {
			t.Errorf("timeout of 100ms took %v", el)
		}
	})
}

func TestAcquireTimeoutCoversWait(t *testing.T) {
	c, _ := serve(t, client.WithTimeout(100*time.Millisecond))
	ctx := ctxFor(t)
	if _, err := c.Acquire(ctx, "x", client.Owner("a")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := c.Acquire(ctx, "x", client.Owner("b"), client.Wait(400*time.Millisecond))
	var noe *lockd.NotObtainedError
	if !errors.As(err, &noe) || noe.Holder == nil || noe.Holder.Owner != "a" {
		t.Fatalf("got %v, want ErrNotObtained held by a (the wait must not hit the request timeout)", err)
	}
	if el := time.Since(start); el < 400*time.Millisecond {
		t.Errorf("returned after %v, before the wait of 400ms", el)
	}
}

func TestAcquireContextEnds(t *testing.T) {
	c, _ := serve(t)
	if _, err := c.Acquire(ctxFor(t), "x", client.Owner("a")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"Canceled", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(100*time.Millisecond, cancel)
			return ctx, cancel
		}, context.Canceled},
		{"DeadlineExceeded", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 100*time.Millisecond)
		}, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := tt.ctx()
			defer cancel()
			_, err := c.Acquire(ctx, "x", client.Owner("b"), client.Wait(time.Minute))
			var noe *lockd.NotObtainedError
			if !errors.As(err, &noe) || noe.Name != "x" || !errors.Is(err, tt.want) {
				t.Errorf("got %v, want *NotObtainedError for x joined with %v", err, tt.want)
			}
		})
	}
}

func TestLease(t *testing.T) {
	c, _ := serve(t, client.WithOwner("me"))
	ctx := ctxFor(t)
	before := time.Now()
	l, err := c.Acquire(ctx, "job", client.TTL(2*time.Second), client.Metadata(map[string]int{"n": 1}))
	if err != nil {
		t.Fatal(err)
	}
	if l.Name() != "job" || l.Owner() != "me" || l.Fence() != 1 || l.TTL() != 2*time.Second || !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(l.ID()) {
		t.Errorf("got %s %s %d %v %s, want job me 1 2s and a lease", l.Name(), l.Owner(), l.Fence(), l.TTL(), l.ID())
	}
	if d := l.ExpiresAt().Sub(before); d < time.Second || d > 3*time.Second {
		t.Errorf("got expiry %v after the call, want about 2s", d)
	}
	m := l.Metadata()
	if string(m) != `{"n":1}` {
		t.Errorf("got metadata %s, want {\"n\":1}", m)
	}
	m[0] = 'X'
	if string(l.Metadata()) != `{"n":1}` {
		t.Errorf("changing the returned metadata changed the handle: %s", l.Metadata())
	}

	t.Run("Extend", func(t *testing.T) {
		old := l.ExpiresAt()
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				if err := l.Extend(ctx, time.Minute); err != nil {
					t.Errorf("Extend: %v", err)
				}
				_ = l.ExpiresAt()
				_ = l.TTL()
			})
		}
		wg.Wait()
		if l.TTL() != time.Minute || !l.ExpiresAt().After(old.Add(50*time.Second)) {
			t.Errorf("got ttl %v expiry %v, want 1m, about a minute after %v", l.TTL(), l.ExpiresAt(), old)
		}
		// Concurrent extends may answer out of order; after one more on
		// its own, handle and server must agree.
		if err := l.Extend(ctx, time.Minute); err != nil {
			t.Fatal(err)
		}
		info, err := c.Inspect(ctx, "job")
		if err != nil || !info.ExpiresAt.Equal(l.ExpiresAt()) {
			t.Errorf("server says %v (%v), handle says %v", info.ExpiresAt, err, l.ExpiresAt())
		}
	})
	t.Run("ExtendKeepsTTL", func(t *testing.T) {
		before := time.Now()
		if err := l.Extend(ctx, 0); err != nil {
			t.Fatalf("Extend(0): %v", err)
		}
		if d := l.ExpiresAt().Sub(before); l.TTL() != time.Minute || d < 50*time.Second {
			t.Errorf("got ttl %v expiring in %v, want the lease's 1m kept", l.TTL(), d)
		}
	})
	t.Run("ExtendBadTTLLeavesHandle", func(t *testing.T) {
		exp := l.ExpiresAt()
		var ae *lockd.ArgumentError
		if err := l.Extend(ctx, 50*time.Millisecond); !errors.As(err, &ae) || ae.Field != "ttl_ms" {
			t.Errorf("got %v, want *ArgumentError for ttl_ms", err)
		}
		if !l.ExpiresAt().Equal(exp) {
			t.Errorf("got expiry %v after a failed extend, want %v", l.ExpiresAt(), exp)
		}
	})
	t.Run("Release", func(t *testing.T) {
		if err := l.Release(ctx); err != nil {
			t.Fatalf("Release: %v", err)
		}
		if err := l.Release(ctx); !errors.Is(err, lockd.ErrNotHeld) {
			t.Errorf("second Release: got %v, want ErrNotHeld", err)
		}
		if err := l.Extend(ctx, time.Second); !errors.Is(err, lockd.ErrLost) {
			t.Errorf("Extend after Release: got %v, want ErrLost", err)
		}
	})
}

func TestOwners(t *testing.T) {
	c1, srv := serve(t)
	c2 := newClient(t, srv.URL)
	ownerRE := regexp.MustCompile(`^.+-[0-9]+-[0-9a-f]{8}$`)
	ctx := ctxFor(t)
	l1, err := c1.Acquire(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if !ownerRE.MatchString(l1.Owner()) {
		t.Errorf("got default owner %q, want host-pid-8hex", l1.Owner())
	}
	if _, err := c2.Acquire(ctx, "a"); !errors.Is(err, lockd.ErrNotObtained) {
		t.Errorf("second client's default owner: got %v, want ErrNotObtained", err)
	}
	if _, err := c1.Acquire(ctx, "a"); !errors.Is(err, lockd.ErrNotObtained) {
		t.Errorf("same client, same owner again: got %v, want ErrNotObtained (every Acquire is its own holder)", err)
	}
	l3, err := newClient(t, srv.URL, client.WithOwner("fixed")).Acquire(ctx, "b")
	if err != nil || l3.Owner() != "fixed" {
		t.Errorf("WithOwner: got %v, %v; want owner fixed", l3, err)
	}
	l4, err := c1.Acquire(ctx, "c", client.Owner("explicit"))
	if err != nil || l4.Owner() != "explicit" {
		t.Errorf("Owner option: got %v, %v; want owner explicit", l4, err)
	}
}

func TestMetadataOption(t *testing.T) {
	c, _ := serve(t)
	ctx := ctxFor(t)
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"Struct", struct {
			Job int `json:"job"`
		}{7}, `{"job":7}`},
		{"RawMessage", json.RawMessage(`{ "a" : [1, 2] }`), `{"a":[1,2]}`},
		{"Bytes", []byte(`{"b":true}`), `{"b":true}`},
		{"Nil", nil, ``},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := fmt.Sprintf("m%d", i)
			if _, err := c.Acquire(ctx, name, client.Metadata(tt.v)); err != nil {
				t.Fatal(err)
			}
			info, err := c.Inspect(ctx, name)
			if err != nil || string(info.Metadata) != tt.want {
				t.Errorf("got %s (%v), want %s", info.Metadata, err, tt.want)
			}
		})
	}
	t.Run("Unmarshallable", func(t *testing.T) {
		var ae *lockd.ArgumentError
		if _, err := c.Acquire(ctx, "m", client.Metadata(make(chan int))); !errors.As(err, &ae) || ae.Field != "metadata" {
			t.Errorf("got %v, want *ArgumentError for metadata", err)
		}
	})
}

func TestInspect(t *testing.T) {
	c, _ := serve(t)
	ctx := ctxFor(t)
	l, err := c.Acquire(ctx, "i", client.Owner("a"), client.Metadata(json.RawMessage(`{"k":"v"}`)))
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Inspect(ctx, "i")
	want := lockd.LockInfo{Name: "i", Held: true, Owner: "a", Fence: l.Fence(), ExpiresAt: l.ExpiresAt(), Metadata: json.RawMessage(`{"k":"v"}`)}
	if err != nil || info.Name != want.Name || !info.Held || info.Owner != want.Owner || info.Fence != want.Fence ||
		!info.ExpiresAt.Equal(want.ExpiresAt) || string(info.Metadata) != string(want.Metadata) {
		t.Errorf("got %+v, %v; want %+v", info, err, want)
	}
	free, err := c.Inspect(ctx, "free")
	if err != nil || free.Held || free.Name != "free" {
		t.Errorf("got %+v, %v; want free", free, err)
	}
}

func TestHealth(t *testing.T) {
	t.Run("Ready", func(t *testing.T) {
		c, _ := serve(t)
		h := c.Engine().Health(ctxFor(t))
		if !h.Ready || len(h.Nodes) != 1 || h.Nodes[0].Addr != "memory" || !h.Nodes[0].OK {
			t.Errorf("got %+v, want ready with the memory node", h)
		}
	})
	t.Run("NotReady", func(t *testing.T) {
		c := canned(t, 503, `{"ready":false,"nodes":[{"addr":"r1:6379","ok":false,"latency_ms":0,"error":"refused"},{"addr":"r2:6379","ok":true,"latency_ms":4}]}`)
		h := c.Engine().Health(ctxFor(t))
		want := []lockd.NodeHealth{{Addr: "r1:6379", Error: "refused"}, {Addr: "r2:6379", OK: true, Latency: 4 * time.Millisecond}}
		if h.Ready || len(h.Nodes) != 2 || h.Nodes[0] != want[0] || h.Nodes[1] != want[1] {
			t.Errorf("got %+v, want not ready with %+v", h, want)
		}
	})
	t.Run("Unreachable", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		base := srv.URL
		srv.Close()
		h := newClient(t, base).Engine().Health(ctxFor(t))
		if h.Ready || len(h.Nodes) != 1 || h.Nodes[0].OK || h.Nodes[0].Addr != base || h.Nodes[0].Error == "" {
			t.Errorf("got %+v, want one failed node %s with an error", h, base)
		}
	})
}

func TestNew(t *testing.T) {
	bad := []struct {
		name string
		url  string
		opts []client.Option
	}{
		{"Empty", "", nil},
		{"NoScheme", "127.0.0.1:3000", nil},
		{"OtherScheme", "ftp://127.0.0.1", nil},
		{"NoHost", "http://", nil},
		{"Query", "http://127.0.0.1:3000/?a=b", nil},
		{"Malformed", "http://[::1", nil},
		{"ZeroTimeout", "http://127.0.0.1:3000", []client.Option{client.WithTimeout(0)}},
		{"NegativeRetry", "http://127.0.0.1:3000", []client.Option{client.WithRetry(-time.Second)}},
		{"ZeroIdleConns", "http://127.0.0.1:3000", []client.Option{client.WithIdleConns(0)}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if c, err := client.New(tt.url, tt.opts...); err == nil {
				t.Errorf("New(%q) = %v, want an error", tt.url, c)
			}
		})
	}
	t.Run("NewLocal", func(t *testing.T) {
		if c, err := client.NewLocal(nil); err == nil {
			t.Errorf("NewLocal(nil) = %v, want an error", c)
		}
		if c, err := client.NewLocal(memlock.New(), client.WithRetry(-time.Second)); err == nil {
			t.Errorf("NewLocal with a negative retry = %v, want an error", c)
		}
	})
	t.Run("PathPrefix", func(t *testing.T) {
		eng := memlock.New()
		defer eng.Close()
		mux := http.NewServeMux()
		mux.Handle("/lockd/", http.StripPrefix("/lockd", httpapi.New(eng)))
		srv := httptest.NewServer(mux)
		defer srv.Close()
		c := newClient(t, srv.URL+"/lockd/", client.WithHTTPClient(srv.Client()))
		if _, err := c.Acquire(ctxFor(t), "p"); err != nil {
			t.Errorf("Acquire behind a path prefix: %v", err)
		}
	})
}
