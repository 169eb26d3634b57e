package httpapi_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/httpapi"
	"github.com/lockd/lockd/internal/rawconn"
	"github.com/lockd/lockd/memlock"
)

// newParkingServer serves a Server through its Listener, so that waits
// are parked, on a loopback httptest server closed (and drained) when the
// test ends.
func newParkingServer(t *testing.T, opts ...httpapi.Option) (*httptest.Server, *httpapi.Server) {
	t.Helper()
	return newParkingServerTLS(t, false, opts...)
}

// newParkingServerTLS is newParkingServer, over HTTPS when tls is set. Its
// connections make raw system calls, as lockd's do (internal/rawconn).
func newParkingServerTLS(t *testing.T, tls bool, opts ...httpapi.Option) (*httptest.Server, *httpapi.Server) {
	t.Helper()
	return newParkingServerOn(t, tls, func(ln net.Listener) net.Listener { return rawconn.Listener{Listener: ln} }, opts...)
}

// newParkingServerOn is newParkingServerTLS with the listener that
// wrap makes of the test server's.
func newParkingServerOn(t *testing.T, tls bool, wrap func(net.Listener) net.Listener, opts ...httpapi.Option) (*httptest.Server, *httpapi.Server) {
	t.Helper()
	eng := memlock.New()
	api := httpapi.New(eng, append([]httpapi.Option{httpapi.WithLogger(discardLogger())}, opts...)...)
	srv := httptest.NewUnstartedServer(api)
	srv.Listener = api.Listener(wrap(srv.Listener))
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		api.Drain(ctx, requestTimeout)
		_ = eng.Close()
	})
	return srv, api
}

// waitParked waits until api holds n parked waits.
func waitParked(t *testing.T, api *httpapi.Server, n int) {
	t.Helper()
	waitCount(t, "waits parked", func() int { return httpapi.Parked(api) }, n)
}

// waitCount waits until count returns want, for up to requestTimeout.
func waitCount(t *testing.T, what string, count func() int, want int) {
	t.Helper()
	deadline := time.Now().Add(requestTimeout)
	for count() != want {
		if time.Now().After(deadline) {
			t.Fatalf("%d %s, want %d", count(), what, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// sendInBackground sends a request with ctx; the answer comes
// on the returned channel.
func sendInBackground(t *testing.T, ctx context.Context, srv *httptest.Server, path, body string) <-chan response {
	t.Helper()
	out := make(chan response, 1)
	go func() {
		r, err := sendCtx(ctx, srv, http.MethodPost, path, body)
		if err != nil {
			r = response{}
		}
		out <- r
	}()
	return out
}

func receive(t *testing.T, ch <-chan response) response {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(requestTimeout):
		t.Fatal("no answer")
		return response{}
	}
}

// routeCounter is a RequestObserver that keeps the statuses per route.
type routeCounter struct {
	mu   sync.Mutex
	seen map[string][]int
}

func (c *routeCounter) ObserveRequest(route string, status int, _ time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen[route] = append(c.seen[route], status)
}

func (c *routeCounter) statuses(route string) []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.seen[route]...)
}

// TestParkedWait: a wait that lasts is parked, answered as any other once
// the lock is free (status, headers, body, the request reported once), and
// its connection serves the client's next request.
func TestParkedWait(t *testing.T) {
	t.Run("raw", func(t *testing.T) {
		testParkedWait(t, func(ln net.Listener) net.Listener { return rawconn.Listener{Listener: ln} })
	})
	t.Run("plain", func(t *testing.T) { testParkedWait(t, func(ln net.Listener) net.Listener { return ln }) })
}

// testParkedWait parks a wait on the listener wrap makes, and checks its
// answer and the connection's reuse after it.
func testParkedWait(t *testing.T, wrap func(net.Listener) net.Listener) {
	obs := &routeCounter{seen: map[string][]int{}}
	srv, api := newParkingServerOn(t, false, wrap, httpapi.WithRequestObserver(obs))
	held := send(t, srv, "POST", "/v1/locks/a/acquire", `{"owner":"first","ttl_ms":60000}`)
	wantStatus(t, held, http.StatusOK)
	waiting := sendInBackground(t, context.Background(), srv, "/v1/locks/a/acquire", `{"owner":"second","ttl_ms":60000,"wait_ms":10000}`)
	waitParked(t, api, 1)
	wantStatus(t, send(t, srv, "POST", "/v1/locks/a/release", `{"lease":"`+held.object(t)["lease"].(string)+`"}`), http.StatusOK)

	got := receive(t, waiting)
	wantStatus(t, got, http.StatusOK)
	if owner := got.object(t)["owner"]; owner != "second" {
		t.Errorf("owner %v, want second", owner)
	}
	for _, h := range []string{"Content-Type", "X-Content-Type-Options", httpapi.HeaderRequestID, "Date"} {
		if got.header.Get(h) == "" {
			t.Errorf("answer has no %s header: %v", h, got.header)
		}
	}
	// The wait leaves the parked ones and reports its status just after
	// its answer is written, which the client may read first.
	waitParked(t, api, 0)
	waitCount(t, "acquires reported", func() int { return len(obs.statuses("POST /v1/locks/{name}/acquire")) }, 2)
	if st := obs.statuses("POST /v1/locks/{name}/acquire"); len(st) != 2 || st[0] != http.StatusOK || st[1] != http.StatusOK {
		t.Errorf("acquires reported with statuses %v, want [200 200]", st)
	}

	// The client keeps its connections: the next request reuses one.
	reused := false
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) { reused = reused || info.Reused },
	})
	for range 2 {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/v1/locks/a", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("request after the parked answer: %v", err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("request after the parked answer: got %d", resp.StatusCode)
		}
	}
	if !reused {
		t.Error("no connection was reused after the parked answer")
	}
}

// TestParkedWaitClientGone: a client that goes away ends its parked wait,
// so the lock is not granted to it after the release.
func TestParkedWaitClientGone(t *testing.T) {
	t.Run("HTTP", func(t *testing.T) { testParkedWaitClientGone(t, false) })
	t.Run("HTTPS", func(t *testing.T) { testParkedWaitClientGone(t, true) })
}

func testParkedWaitClientGone(t *testing.T, tls bool) {
	srv, api := newParkingServerTLS(t, tls)
	held := send(t, srv, "POST", "/v1/locks/a/acquire", `{"owner":"first","ttl_ms":60000}`)
	wantStatus(t, held, http.StatusOK)
	ctx, cancel := context.WithCancel(context.Background())
	waiting := sendInBackground(t, ctx, srv, "/v1/locks/a/acquire", `{"owner":"gone","ttl_ms":60000,"wait_ms":10000}`)
	waitParked(t, api, 1)
	cancel()
	receive(t, waiting)
	waitParked(t, api, 0)
	wantStatus(t, send(t, srv, "POST", "/v1/locks/a/release", `{"lease":"`+held.object(t)["lease"].(string)+`"}`), http.StatusOK)
	if r := send(t, srv, "POST", "/v1/locks/a/acquire", `{"owner":"third","ttl_ms":60000}`); r.status != http.StatusOK {
		t.Errorf("acquire after the release: got %d %s; the wait of the client that left was not ended", r.status, r.body)
	}
}

// TestParkedWaitLimits: parked waits count against the waiter limits.
func TestParkedWaitLimits(t *testing.T) {
	srv, api := newParkingServer(t, httpapi.WithLimits(httpapi.Limits{MaxWaitersPerName: 1}))
	wantStatus(t, send(t, srv, "POST", "/v1/locks/a/acquire", `{"owner":"first","ttl_ms":60000}`), http.StatusOK)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sendInBackground(t, ctx, srv, "/v1/locks/a/acquire", `{"owner":"second","wait_ms":10000}`)
	waitParked(t, api, 1)
	wantLimited(t, send(t, srv, "POST", "/v1/locks/a/acquire", `{"owner":"third","wait_ms":10000}`))
}

// TestDrain: Drain cancels the parked waits still waiting when its context
// ends, and they are answered 503 unavailable.
func TestDrain(t *testing.T) {
	for _, tc := range []struct {
		name, path, body string
	}{
		{"Lock", "/v1/locks/a/acquire", `{"owner":"second","wait_ms":10000}`},
		{"Permit", "/v1/semaphores/s/acquire", `{"owner":"second","limit":1,"wait_ms":10000}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, api := newParkingServer(t)
			first := strings.Replace(strings.Replace(tc.body, "second", "first", 1), `"wait_ms":10000`, `"ttl_ms":60000`, 1)
			wantStatus(t, send(t, srv, "POST", tc.path, first), http.StatusOK)
			waiting := sendInBackground(t, context.Background(), srv, tc.path, tc.body)
			waitParked(t, api, 1)
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if n := api.Drain(ctx, requestTimeout); n != 1 {
				t.Errorf("Drain cancelled %d waits, want 1", n)
			}
			wantError(t, receive(t, waiting), http.StatusServiceUnavailable, lockd.CodeUnavailable, "")
		})
	}
}

// TestWaitCallsReuseGoroutines: the calls of waiting acquires run on
// goroutines that stay for the next wait, and Drain lets them go.
func TestWaitCallsReuseGoroutines(t *testing.T) {
	srv, api := newParkingServer(t)
	idle := func(want int) {
		t.Helper()
		waitCount(t, "goroutines idle for waits' calls", func() int { return httpapi.IdleCalls(api) }, want)
	}
	idle(0)
	for range 5 {
		got := send(t, srv, "POST", "/v1/locks/a/acquire", `{"owner":"o","wait_ms":10000}`)
		wantStatus(t, got, http.StatusOK)
		wantStatus(t, send(t, srv, "POST", "/v1/locks/a/release", `{"lease":"`+got.object(t)["lease"].(string)+`"}`), http.StatusOK)
		// One after the first wait, and still one: each later wait ran
		// on the goroutine the one before left.
		idle(1)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	api.Drain(ctx, requestTimeout)
	idle(0)
}

// TestParkedWaitTLSAroundListener: with TLS wrapped around the listener
// that Listener returns (httptest's StartTLS, as http.Server.ServeTLS
// does), a parked connection cannot go back to the server (it would be
// wrapped in TLS twice): it is closed after its answer, and the client's
// next request, on a new connection, is served.
func TestParkedWaitTLSAroundListener(t *testing.T) {
	srv, api := newParkingServerTLS(t, true)
	held := send(t, srv, "POST", "/v1/locks/a/acquire", `{"owner":"first","ttl_ms":60000}`)
	waiting := sendInBackground(t, context.Background(), srv, "/v1/locks/a/acquire", `{"owner":"second","ttl_ms":60000,"wait_ms":5000}`)
	waitParked(t, api, 1)
	tr := srv.Client().Transport.(*http.Transport)
	other := &http.Client{Transport: &http.Transport{TLSClientConfig: tr.TLSClientConfig}}
	t.Cleanup(other.CloseIdleConnections)
	req, err := http.NewRequest("POST", srv.URL+"/v1/locks/a/release", strings.NewReader(`{"lease":"`+held.object(t)["lease"].(string)+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := other.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if got := receive(t, waiting); got.status != http.StatusOK {
		t.Errorf("parked answer %d, want 200", got.status)
	}
	if r := send(t, srv, "POST", "/v1/locks/b/acquire", `{"owner":"x","ttl_ms":60000}`); r.status != http.StatusOK {
		t.Errorf("the next request after a parked answer over TLS: %d %s", r.status, r.body)
	}
}

// TestParkedConnectionIdles: a connection answered after a parked wait
// goes back to the http.Server as a new one, yet it may stay idle for the
// server's IdleTimeout before its next request, not only for its
// ReadHeaderTimeout; and once that request starts, ReadHeaderTimeout
// bounds it again.
func TestParkedConnectionIdles(t *testing.T) {
	c, br := parkedAnswered(t, func(srv *http.Server) {
		srv.ReadHeaderTimeout = 300 * time.Millisecond
		srv.IdleTimeout = 30 * time.Second
	})
	raw := func(method, path, body string) string {
		return fmt.Sprintf("%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", method, path, len(body), body)
	}
	answer := func() (*http.Response, error) {
		resp, err := http.ReadResponse(br, nil)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		return resp, err
	}
	time.Sleep(700 * time.Millisecond) // idle past ReadHeaderTimeout
	if _, err := io.WriteString(c, raw("GET", "/v1/locks/a", "")); err != nil {
		t.Fatal(err)
	}
	if resp, err := answer(); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("a request 700ms after the parked answer (ReadHeaderTimeout 300ms, IdleTimeout 30s): %v, %v", resp, err)
	}
	// A request that starts and stalls is still cut by ReadHeaderTimeout.
	if _, err := io.WriteString(c, "GET /v1/locks/a HTTP/1.1\r\n"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := br.ReadByte(); err == nil {
		t.Error("a stalled request was answered")
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("a stalled request held its connection %v, want about its ReadHeaderTimeout (300ms)", el)
	}
}

// opaqueListener yields connections that hide their socket (no
// syscall.Conn), so parked waits watch them with a blocked read, as on
// systems without epoll.
type opaqueListener struct{ net.Listener }

type opaqueConn struct{ net.Conn }

func (l opaqueListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return opaqueConn{c}, nil
}

// TestParkedWaitReadWatcher: watched by a blocked read, a parked wait
// still ends when its client hangs up after sending more bytes (the start
// of a pipelined request): the watcher keeps reading.
func TestParkedWaitReadWatcher(t *testing.T) {
	srv, api := newParkingServerOn(t, false, func(ln net.Listener) net.Listener { return opaqueListener{ln} })
	held := send(t, srv, "POST", "/v1/locks/a/acquire", `{"owner":"first","ttl_ms":60000}`)
	wantStatus(t, held, http.StatusOK)
	c, err := net.DialTimeout("tcp", srv.Listener.Addr().String(), requestTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	body := `{"owner":"gone","ttl_ms":60000,"wait_ms":60000}` // longer than waitParked waits
	if _, err := fmt.Fprintf(c, "POST /v1/locks/a/acquire HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body); err != nil {
		t.Fatal(err)
	}
	waitParked(t, api, 1)
	if _, err := io.WriteString(c, "GET /v1/locks/a HTTP/1.1\r\n"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // read by the watcher
	_ = c.Close()
	waitParked(t, api, 0)
	wantStatus(t, send(t, srv, "POST", "/v1/locks/a/release", `{"lease":"`+held.object(t)["lease"].(string)+`"}`), http.StatusOK)
	if r := send(t, srv, "POST", "/v1/locks/a/acquire", `{"owner":"third","ttl_ms":60000}`); r.status != http.StatusOK {
		t.Errorf("acquire after the release: got %d %s; the wait of the client that left was not ended", r.status, r.body)
	}
}

// TestParkedConnectionIdleBound: a connection handed back after a parked
// wait is closed once idle past the serving http.Server's IdleTimeout,
// also when the server sets no ReadHeaderTimeout, as a kept-alive
// connection is.
func TestParkedConnectionIdleBound(t *testing.T) {
	_, br := parkedAnswered(t, func(srv *http.Server) { srv.IdleTimeout = 300 * time.Millisecond })
	start := time.Now()
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("idle connection after the answer: %v after %v, want the server to close it (EOF)", err, time.Since(start))
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("idle connection closed after %v, want about the IdleTimeout (300ms)", el)
	}
}

// TestParkedOtherWaits: a campaign and an acquire of several locks that
// wait park as a lock's acquire does, and are answered after the release.
func TestParkedOtherWaits(t *testing.T) {
	for _, tc := range []struct {
		name, path, body, field string
	}{
		{"Campaign", "/v1/elections/a/campaign", `{"owner":"second","ttl_ms":60000,"wait_ms":10000}`, "term"},
		{"AcquireMany", "/v1/locks:acquire-many", `{"names":["a","b"],"owner":"second","ttl_ms":60000,"wait_ms":10000}`, "locks"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, api := newParkingServer(t)
			held := send(t, srv, "POST", "/v1/locks/a/acquire", `{"owner":"first","ttl_ms":60000}`)
			wantStatus(t, held, http.StatusOK)
			waiting := sendInBackground(t, context.Background(), srv, tc.path, tc.body)
			waitParked(t, api, 1)
			wantStatus(t, send(t, srv, "POST", "/v1/locks/a/release", `{"lease":"`+held.object(t)["lease"].(string)+`"}`), http.StatusOK)
			got := receive(t, waiting)
			wantStatus(t, got, http.StatusOK)
			if _, ok := got.object(t)[tc.field]; !ok {
				t.Errorf("answer %s has no %q", got.body, tc.field)
			}
		})
	}
}

// parkedAnswered serves a parking Server through an http.Server that
// configure sets up, parks a raw client's waiting acquire on it, answers
// it with a release, and returns the client's connection and reader, the
// answer read.
func parkedAnswered(t *testing.T, configure func(*http.Server)) (net.Conn, *bufio.Reader) {
	t.Helper()
	eng := memlock.New()
	api := httpapi.New(eng, httpapi.WithLogger(discardLogger()))
	srv := httptest.NewUnstartedServer(api)
	configure(srv.Config)
	srv.Listener = api.Listener(srv.Listener)
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		api.Drain(ctx, time.Second)
		_ = eng.Close()
	})
	held := send(t, srv, "POST", "/v1/locks/a/acquire", `{"owner":"first","ttl_ms":60000}`)
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(requestTimeout))
	body := `{"owner":"second","ttl_ms":60000,"wait_ms":5000}`
	if _, err := fmt.Fprintf(c, "POST /v1/locks/a/acquire HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body); err != nil {
		t.Fatal(err)
	}
	waitParked(t, api, 1)
	send(t, srv, "POST", "/v1/locks/a/release", `{"lease":"`+held.object(t)["lease"].(string)+`"}`)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the parked wait's answer: %v, %v", resp, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return c, br
}
