package client

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// connCounter serves h and counts the connections the server accepted
// and the ones it has seen closed.
type connCounter struct {
	srv *httptest.Server

	mu     sync.Mutex
	opened int
	closed int
}

func countConns(t *testing.T, h http.HandlerFunc) *connCounter {
	t.Helper()
	cc := &connCounter{}
	cc.srv = httptest.NewUnstartedServer(h)
	cc.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		cc.mu.Lock()
		defer cc.mu.Unlock()
		switch s {
		case http.StateNew:
			cc.opened++
		case http.StateClosed, http.StateHijacked:
			cc.closed++
		}
	}
	cc.srv.Start()
	t.Cleanup(cc.srv.Close)
	return cc
}

// counts returns the connections opened and closed so far.
func (cc *connCounter) counts() (opened, closed int) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.opened, cc.closed
}

// waitClosed waits until the server has seen n connections closed.
func (cc *connCounter) waitClosed(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, closed := cc.counts(); closed >= n {
			return
		}
		if time.Now().After(deadline) {
			_, closed := cc.counts()
			t.Fatalf("server saw %d connections closed, want %d", closed, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// newTestH1 returns an h1Transport to srv and the client around it.
func newTestH1(t *testing.T, srv *httptest.Server, maxIdle int) (*h1Transport, *http.Client) {
	t.Helper()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	tr, ok := newH1Transport(u, http.DefaultTransport, maxIdle)
	if !ok {
		t.Fatalf("newH1Transport(%s): not used", srv.URL)
	}
	t.Cleanup(tr.CloseIdleConnections)
	return tr, &http.Client{Transport: tr}
}

// get sends a GET of path through hc and returns the body, read to its
// end.
func get(t *testing.T, hc *http.Client, base, path string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", path, err)
	}
	return string(b)
}

func TestH1Transport(t *testing.T) {
	echo := func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, r.Method+" "+r.URL.Path+" "+string(b))
	}
	t.Run("ReusesConnection", func(t *testing.T) {
		cc := countConns(t, echo)
		_, hc := newTestH1(t, cc.srv, 4)
		for i := range 20 {
			req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, cc.srv.URL+"/p", strings.NewReader("body"))
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			b, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if got, want := string(b), "POST /p body"; got != want {
				t.Fatalf("request %d: got %q, want %q", i, got, want)
			}
		}
		if opened, _ := cc.counts(); opened != 1 {
			t.Errorf("20 requests one after another opened %d connections, want 1", opened)
		}
	})
	t.Run("ServerClosedIdle", func(t *testing.T) {
		cc := countConns(t, echo)
		tr, hc := newTestH1(t, cc.srv, 4)
		get(t, hc, cc.srv.URL, "/a")
		cc.srv.CloseClientConnections()
		cc.waitClosed(t, 1)
		// The pooled connection is closed: the next request must notice
		// before sending on it, not fail (a POST is not sent twice).
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, cc.srv.URL+"/b", strings.NewReader("x"))
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("POST after the server closed the idle connection: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if got, want := string(b), "POST /b x"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
		if opened, _ := cc.counts(); opened != 2 {
			t.Errorf("opened %d connections, want 2", opened)
		}
		if n := tr.idleCount(); n != 1 {
			t.Errorf("%d idle connections, want 1", n)
		}
	})
	t.Run("BodyNotRead", func(t *testing.T) {
		cc := countConns(t, echo)
		tr, hc := newTestH1(t, cc.srv, 4)
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, cc.srv.URL+"/a", nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if n := tr.idleCount(); n != 0 {
			t.Errorf("%d idle connections after a body closed unread, want 0: its rest would be read as the next answer", n)
		}
		cc.waitClosed(t, 1)
		get(t, hc, cc.srv.URL, "/b")
		if opened, _ := cc.counts(); opened != 2 {
			t.Errorf("opened %d connections, want 2", opened)
		}
	})
	t.Run("ConnectionClose", func(t *testing.T) {
		cc := countConns(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			echo(w, r)
		})
		tr, hc := newTestH1(t, cc.srv, 4)
		get(t, hc, cc.srv.URL, "/a")
		if n := tr.idleCount(); n != 0 {
			t.Errorf("%d idle connections after Connection: close, want 0", n)
		}
		get(t, hc, cc.srv.URL, "/b")
		if opened, _ := cc.counts(); opened != 2 {
			t.Errorf("opened %d connections, want 2", opened)
		}
	})
	t.Run("Chunked", func(t *testing.T) {
		cc := countConns(t, func(w http.ResponseWriter, r *http.Request) {
			for _, s := range []string{"one ", "two ", "three"} {
				_, _ = io.WriteString(w, s)
				w.(http.Flusher).Flush()
			}
		})
		_, hc := newTestH1(t, cc.srv, 4)
		for range 3 {
			if got, want := get(t, hc, cc.srv.URL, "/"), "one two three"; got != want {
				t.Errorf("got %q, want %q", got, want)
			}
		}
		if opened, _ := cc.counts(); opened != 1 {
			t.Errorf("opened %d connections, want 1", opened)
		}
	})
	t.Run("IdleBounded", func(t *testing.T) {
		release := make(chan struct{})
		var arrived sync.WaitGroup
		arrived.Add(5)
		cc := countConns(t, func(w http.ResponseWriter, r *http.Request) {
			arrived.Done()
			<-release
		})
		tr, hc := newTestH1(t, cc.srv, 2)
		var wg sync.WaitGroup
		for range 5 {
			wg.Go(func() { get(t, hc, cc.srv.URL, "/") })
		}
		arrived.Wait()
		close(release)
		wg.Wait()
		if n := tr.idleCount(); n != 2 {
			t.Errorf("%d idle connections after 5 at once, want the limit, 2", n)
		}
		cc.waitClosed(t, 3)
	})
	t.Run("IdleTimeout", func(t *testing.T) {
		cc := countConns(t, echo)
		tr, hc := newTestH1(t, cc.srv, 4)
		tr.idleTimeout = 20 * time.Millisecond
		get(t, hc, cc.srv.URL, "/a")
		cc.waitClosed(t, 1)
		if n := tr.idleCount(); n != 0 {
			t.Errorf("%d idle connections after the idle timeout, want 0", n)
		}
		get(t, hc, cc.srv.URL, "/b")
		cc.waitClosed(t, 2)
	})
	t.Run("CloseIdleConnections", func(t *testing.T) {
		cc := countConns(t, echo)
		tr, hc := newTestH1(t, cc.srv, 4)
		get(t, hc, cc.srv.URL, "/a")
		hc.CloseIdleConnections()
		if n := tr.idleCount(); n != 0 {
			t.Errorf("%d idle connections after CloseIdleConnections, want 0", n)
		}
		cc.waitClosed(t, 1)
		get(t, hc, cc.srv.URL, "/b")
	})
	t.Run("ContextEnds", func(t *testing.T) {
		cc := countConns(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				<-r.Context().Done()
				return
			}
			echo(w, r)
		})
		tr, hc := newTestH1(t, cc.srv, 4)
		ctx, cancel := context.WithTimeoutCause(context.Background(), 50*time.Millisecond, errors.New("too slow"))
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, cc.srv.URL+"/slow", nil)
		_, err := hc.Do(req)
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "too slow") {
			t.Errorf("got %v, want context.DeadlineExceeded with its cause", err)
		}
		if n := tr.idleCount(); n != 0 {
			t.Errorf("%d idle connections after a cut request, want 0", n)
		}
		get(t, hc, cc.srv.URL, "/b")
	})
	t.Run("CloseDuringRead", func(t *testing.T) {
		hold := make(chan struct{})
		cc := countConns(t, func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "start")
			w.(http.Flusher).Flush()
			<-hold
		})
		defer close(hold)
		tr, hc := newTestH1(t, cc.srv, 4)
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, cc.srv.URL+"/", nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		read := make(chan error, 1)
		go func() {
			_, err := io.ReadAll(resp.Body)
			read <- err
		}()
		time.Sleep(20 * time.Millisecond) // let the Read block on the stream
		_ = resp.Body.Close()
		select {
		case <-read:
		case <-time.After(5 * time.Second):
			t.Fatal("a Read blocked on the stream did not end when the body was closed")
		}
		if n := tr.idleCount(); n != 0 {
			t.Errorf("%d idle connections, want 0", n)
		}
	})
	t.Run("OtherHost", func(t *testing.T) {
		cc := countConns(t, echo)
		other := httptest.NewServer(http.HandlerFunc(echo))
		defer other.Close()
		tr, hc := newTestH1(t, cc.srv, 4)
		rec := &recordingTransport{next: http.DefaultTransport}
		tr.other = rec
		if got := get(t, hc, other.URL, "/x"); got != "GET /x " {
			t.Errorf("got %q, want %q", got, "GET /x ")
		}
		if rec.count() != 1 {
			t.Errorf("the other transport sent %d requests, want the one to another host", rec.count())
		}
		if opened, _ := cc.counts(); opened != 0 {
			t.Errorf("opened %d connections to the base host, want 0", opened)
		}
	})
	t.Run("NotForHTTPS", func(t *testing.T) {
		if _, ok := newH1Transport(&url.URL{Scheme: "https", Host: "127.0.0.1:1"}, http.DefaultTransport, 1); ok {
			t.Error("used for https, want net/http's transport")
		}
	})
}

// idleCount returns how many connections are pooled.
func (t *h1Transport) idleCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.idle)
}

// recordingTransport counts the requests it passes to next.
type recordingTransport struct {
	next http.RoundTripper
	mu   sync.Mutex
	n    int
}

func (r *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.n++
	r.mu.Unlock()
	return r.next.RoundTrip(req)
}

func (r *recordingTransport) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// TestEndedContextSendsNothing: a request whose context ended before it
// was sent never reaches the server, on a pooled connection too: an
// acquire sent anyway would be granted to a caller that gave up on it.
func TestEndedContextSendsNothing(t *testing.T) {
	var posts atomic.Int64
	cc := countConns(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			posts.Add(1)
		}
		_, _ = w.Write([]byte("ok"))
	})
	_, hc := newTestH1(t, cc.srv, 4)
	for range 50 {
		get(t, hc, cc.srv.URL, "/warm") // a pooled connection to reuse
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, cc.srv.URL+"/acquire", strings.NewReader(`{"x":1}`))
		if err != nil {
			t.Fatal(err)
		}
		if resp, err := hc.Do(req); err == nil {
			_ = resp.Body.Close()
			t.Fatal("a request with an ended context got an answer")
		} else if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want context.Canceled", err)
		}
	}
	get(t, hc, cc.srv.URL, "/warm") // after the last POST would have landed
	if n := posts.Load(); n != 0 {
		t.Errorf("%d POSTs with an ended context reached the server, want 0", n)
	}
}

// TestBodyReadAfterClose: a body cut short by Close does not read as
// complete afterwards.
func TestBodyReadAfterClose(t *testing.T) {
	cc := countConns(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(strings.Repeat("x", 100)))
	})
	_, hc := newTestH1(t, cc.srv, 4)
	resp, err := hc.Get(cc.srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if n, err := resp.Body.Read(make([]byte, 10)); n != 0 || err == nil || errors.Is(err, io.EOF) {
		t.Errorf("Read after Close = %d, %v; want an error that is not EOF", n, err)
	}
}
