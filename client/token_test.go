package client_test

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/client"
	"github.com/lockd/lockd/httpapi"
	"github.com/lockd/lockd/memlock"
)

// TestToken: a lockd that asks for keys refuses a client without one
// (ErrUnauthenticated, not retried), and serves one with a key within its
// prefixes, observers included; outside them it answers
// ErrPermissionDenied.
func TestToken(t *testing.T) {
	h, err := httpapi.ParseKeyHash(httpapi.HashToken("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.New(memlock.New(), httpapi.WithLogger(slog.New(slog.DiscardHandler)),
		httpapi.WithKeys([]httpapi.Key{{Name: "app", Hash: h, Role: httpapi.RoleWrite, Prefixes: []string{"app:"}}})))
	t.Cleanup(srv.Close)

	anon, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := anon.Acquire(ctxFor(t), "app:1"); !errors.Is(err, lockd.ErrUnauthenticated) {
		t.Errorf("without a token: %v, want ErrUnauthenticated", err)
	}
	wrong, err := client.New(srv.URL, client.WithToken("guess"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wrong.Inspect(ctxFor(t), "app:1"); !errors.Is(err, lockd.ErrUnauthenticated) {
		t.Errorf("with a wrong token: %v, want ErrUnauthenticated", err)
	}
	c, err := client.New(srv.URL, client.WithToken("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := c.Acquire(ctxFor(t), "app:1")
	if err != nil {
		t.Fatalf("with the token: %v", err)
	}
	if err := l.Release(ctxFor(t)); err != nil {
		t.Errorf("Release: %v", err)
	}
	if _, err := c.Acquire(ctxFor(t), "other:1"); !errors.Is(err, lockd.ErrPermissionDenied) {
		t.Errorf("outside the key's prefixes: %v, want ErrPermissionDenied", err)
	}
	ch, err := c.Observe(ctxFor(t), "app:e")
	if err != nil {
		t.Fatalf("Observe with the token: %v", err)
	}
	if _, ok := <-ch; !ok {
		t.Error("Observe with the token: the channel closed without the first state")
	}
}

// TestCloseWithToken: Close closes the idle connections of a client with
// a token too.
func TestCloseWithToken(t *testing.T) {
	var (
		mu     sync.Mutex
		closed int
	)
	srv := httptest.NewUnstartedServer(httpapi.New(memlock.New(), httpapi.WithLogger(slog.New(slog.DiscardHandler))))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			mu.Lock()
			closed++
			mu.Unlock()
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL, client.WithToken("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Inspect(ctxFor(t), "x"); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := closed
		mu.Unlock()
		if n == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("server saw %d connections closed after Close, want 1", n)
		}
		time.Sleep(time.Millisecond)
	}
}
