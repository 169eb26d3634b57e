package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/client"
	"github.com/lockd/lockd/httpapi"
	"github.com/lockd/lockd/memlock"
)

// TestSharedClientExcludes runs goroutines that share one Client, and so
// one owner label, through many acquire/increment/release cycles on one
// lock: every Acquire must be its own holder, so no two ever hold the lock
// at once and no increment is lost.
func TestSharedClientExcludes(t *testing.T) {
	const (
		workers = 2
		cycles  = 200
	)
	c, _ := serve(t, client.WithOwner("shared"))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var (
		holders atomic.Int32
		counter int // guarded by the lock under test, deliberately
		wg      sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			for i := range cycles {
				l, err := c.Acquire(ctx, "shared-counter", client.TTL(10*time.Second), client.Wait(10*time.Second))
				if err != nil {
					t.Errorf("worker %d cycle %d: Acquire: %v", w, i, err)
					return
				}
				if n := holders.Add(1); n != 1 {
					t.Errorf("worker %d cycle %d: %d holders at once (lease %s)", w, i, n, l.ID())
				}
				v := counter
				time.Sleep(50 * time.Microsecond) // widen the window a second holder would use
				counter = v + 1
				holders.Add(-1)
				if err := l.Release(ctx); err != nil {
					t.Errorf("worker %d cycle %d: Release: %v", w, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if counter != workers*cycles {
		t.Errorf("got counter %d, want %d", counter, workers*cycles)
	}
}

// TestAcquireSendsFreshLease records what Acquire sends: a lease of its own
// every call, and the handle carries that lease.
func TestAcquireSendsFreshLease(t *testing.T) {
	eng := memlock.New()
	api := httpapi.New(eng, httpapi.WithLogger(slog.New(slog.DiscardHandler)))
	var (
		mu   sync.Mutex
		sent []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/acquire") {
			b, _ := io.ReadAll(r.Body)
			var req struct {
				Lease string `json:"lease"`
			}
			_ = json.Unmarshal(b, &req)
			mu.Lock()
			sent = append(sent, req.Lease)
			mu.Unlock()
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		api.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		srv.Close()
		_ = eng.Close()
	})
	c := newClient(t, srv.URL, client.WithOwner("me"))
	ctx := ctxFor(t)
	const calls = 5
	var got []string
	for range calls {
		l, err := c.Acquire(ctx, "fresh")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, l.ID())
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(sent) != calls {
		t.Fatalf("got %d acquire requests, want %d", len(sent), calls)
	}
	seen := make(map[string]bool)
	for i, lease := range sent {
		if !lockd.IsLeaseID(lease) {
			t.Errorf("call %d sent lease %q, want a lease value", i, lease)
		}
		if seen[lease] {
			t.Errorf("call %d sent lease %s again, want a fresh one every call", i, lease)
		}
		seen[lease] = true
		if got[i] != lease {
			t.Errorf("call %d: handle has lease %s, want the one sent, %s", i, got[i], lease)
		}
	}
}
