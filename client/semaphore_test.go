package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/client"
	"github.com/lockd/lockd/memlock"
)

// permitClients returns a client over HTTP and one linked to an engine:
// permits must behave the same through both.
func permitClients(t *testing.T) map[string]*client.Client {
	t.Helper()
	remote, _ := serve(t)
	eng := memlock.New()
	t.Cleanup(func() { _ = eng.Close() })
	local, err := client.NewLocal(eng)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*client.Client{"HTTP": remote, "Local": local}
}

// TestAcquirePermit: a permit is a *Lease like a lock's: keep-alive keeps
// it past its TTL, Extend and Release act on the permit, Done closes on
// release, and a second release says ErrNotHeld.
func TestAcquirePermit(t *testing.T) {
	for name, c := range permitClients(t) {
		t.Run(name, func(t *testing.T) {
			ctx := ctxFor(t)
			a, err := c.AcquirePermit(ctx, "pool", 2, client.TTL(300*time.Millisecond), client.KeepAlive(), client.Owner("a"))
			if err != nil {
				t.Fatalf("AcquirePermit: %v", err)
			}
			b, err := c.AcquirePermit(ctx, "pool", 2, client.Owner("b"), client.Metadata(map[string]int{"k": 1}))
			if err != nil {
				t.Fatalf("second AcquirePermit: %v", err)
			}
			if a.Name() != "pool" || a.Owner() != "a" || b.Fence() <= a.Fence() || string(b.Metadata()) != `{"k":1}` {
				t.Errorf("got a %s/%s fence %d, b fence %d metadata %s", a.Name(), a.Owner(), a.Fence(), b.Fence(), b.Metadata())
			}
			time.Sleep(600 * time.Millisecond) // twice a's TTL: keep-alive renews it
			if a.Err() != nil {
				t.Fatalf("a's permit ended under keep-alive: %v", a.Err())
			}
			_, err = c.AcquirePermit(ctx, "pool", 2, client.Owner("c"))
			var noe *lockd.NotObtainedError
			if !errors.As(err, &noe) || noe.Holder == nil {
				t.Fatalf("third permit of 2: got %v, want *NotObtainedError with a holder", err)
			}
			if err := b.Extend(ctx, 5*time.Second); err != nil || b.TTL() != 5*time.Second {
				t.Errorf("Extend: %v, TTL %v", err, b.TTL())
			}
			info, err := c.InspectSemaphore(ctx, "pool")
			if err != nil || info.Limit != 2 || len(info.Permits) != 2 {
				t.Errorf("InspectSemaphore: got %+v, %v; want limit 2 and 2 permits", info, err)
			}
			if err := a.Release(ctx); err != nil {
				t.Fatalf("Release: %v", err)
			}
			<-a.Done()
			if !errors.Is(a.Err(), client.ErrReleased) {
				t.Errorf("Err after Release: %v", a.Err())
			}
			if err := a.Release(ctx); !errors.Is(err, lockd.ErrNotHeld) {
				t.Errorf("second Release: got %v, want ErrNotHeld", err)
			}
			if _, err := c.AcquirePermit(ctx, "pool", 2); err != nil {
				t.Errorf("a permit after a release: %v", err)
			}
			// The lock of the same name is free.
			l, err := c.Acquire(ctx, "pool")
			if err != nil {
				t.Fatalf("the lock pool: %v", err)
			}
			_ = l.Release(ctx)
		})
	}
}

// TestPermitLimitConflict: a limit conflict names both limits, through
// HTTP too, and is final: the client does not retry it, however long it
// may wait.
func TestPermitLimitConflict(t *testing.T) {
	for name, c := range permitClients(t) {
		t.Run(name, func(t *testing.T) {
			ctx := ctxFor(t)
			a, err := c.AcquirePermit(ctx, "lc", 2)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, err = c.AcquirePermit(ctx, "lc", 3, client.Wait(5*time.Second))
			var lce *lockd.LimitConflictError
			if !errors.As(err, &lce) || lce.Limit != 2 || lce.Asked != 3 || lce.Name != "lc" || !errors.Is(err, lockd.ErrLimitConflict) {
				t.Fatalf("got %#v, want *LimitConflictError{lc, 2, 3}", err)
			}
			if el := time.Since(start); el > 2*time.Second {
				t.Errorf("a limit conflict took %v: it was retried or waited", el)
			}
			if err := a.Release(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := c.AcquirePermit(ctx, "lc", 3); err != nil {
				t.Errorf("limit 3 once every permit of 2 is released: %v", err)
			}
		})
	}
}

func TestPermitBadInput(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.WriteHeader(http.StatusTeapot)
	}))
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL)
	tests := []struct {
		name, field string
		call        func(ctx context.Context) error
	}{
		{"LimitZero", "limit", func(ctx context.Context) error {
			_, err := c.AcquirePermit(ctx, "x", 0)
			return err
		}},
		{"LimitNegative", "limit", func(ctx context.Context) error {
			_, err := c.AcquirePermit(ctx, "x", -3)
			return err
		}},
		{"LimitTooLarge", "limit", func(ctx context.Context) error {
			_, err := c.AcquirePermit(ctx, "x", lockd.MaxLimit+1)
			return err
		}},
		{"BadName", "name", func(ctx context.Context) error {
			_, err := c.AcquirePermit(ctx, "a b", 1)
			return err
		}},
		{"Reentrant", "reentrant", func(ctx context.Context) error {
			_, err := c.AcquirePermit(ctx, "x", 1, client.Reentrant())
			return err
		}},
		{"ReadMode", "mode", func(ctx context.Context) error {
			_, err := c.AcquirePermit(ctx, "x", 1, client.Read())
			return err
		}},
		{"WithPermitLimit", "limit", func(ctx context.Context) error {
			return c.WithPermit(ctx, "x", 0, func(context.Context, *client.Lease) error { return nil })
		}},
		{"InspectBadName", "name", func(ctx context.Context) error {
			_, err := c.InspectSemaphore(ctx, "")
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(ctxFor(t))
			var ae *lockd.ArgumentError
			if !errors.As(err, &ae) || ae.Field != tt.field {
				t.Errorf("got %v, want *ArgumentError on %q", err, tt.field)
			}
		})
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("bad input sent %d requests, want none", n)
	}
	t.Run("ServerRefusesBadOwner", func(t *testing.T) {
		c, _ := serve(t)
		_, err := c.AcquirePermit(ctxFor(t), "x", 1, client.Owner(""))
		var ae *lockd.ArgumentError
		if !errors.As(err, &ae) || ae.Field != "owner" {
			t.Errorf("got %v, want *ArgumentError on owner", err)
		}
	})
	t.Run("ErrNotConfigured", func(t *testing.T) {
		lc, err := client.NewLocal(plainEngine{memlock.New()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := lc.AcquirePermit(ctxFor(t), "x", 1); !errors.Is(err, lockd.ErrNotConfigured) {
			t.Errorf("got %v, want ErrNotConfigured", err)
		}
	})
}

// plainEngine is an engine without semaphores.
type plainEngine struct{ lockd.Engine }

// TestWithPermitLimit: 16 goroutines run WithPermit on a semaphore of 3;
// no more than 3 ever run at once.
func TestWithPermitLimit(t *testing.T) {
	const (
		workers = 16
		rounds  = 5
		limit   = 3
	)
	c, _ := serve(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var (
		in, most atomic.Int32
		wg       sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			for r := range rounds {
				err := c.WithPermit(ctx, "wp", limit, func(ctx context.Context, l *client.Lease) error {
					n := in.Add(1)
					defer in.Add(-1)
					for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
					}
					time.Sleep(2 * time.Millisecond)
					return nil
				}, client.Wait(30*time.Second), client.TTL(10*time.Second))
				if err != nil {
					t.Errorf("worker %d round %d: %v", w, r, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if m := most.Load(); m > limit || m < 1 {
		t.Errorf("%d holders at once, want 1 to %d", m, limit)
	}
}

// halfRelease is a memory engine whose first permit release deletes the
// permit but answers ErrQuorumUnavailable, as a Redlock release does when
// one node deleted it and too few others answered.
type halfRelease struct {
	*memlock.Engine
	failed atomic.Bool
}

func (h *halfRelease) ReleasePermit(ctx context.Context, name, leaseID string) (lockd.Released, error) {
	r, err := h.Engine.ReleasePermit(ctx, name, leaseID)
	if err == nil && h.failed.CompareAndSwap(false, true) {
		return lockd.Released{}, lockd.ErrQuorumUnavailable
	}
	return r, err
}

// TestReleaseAfterQuorumUnavailable: a release that may have deleted the
// permit (quorum unavailable) and whose retry finds it gone succeeded.
func TestReleaseAfterQuorumUnavailable(t *testing.T) {
	eng := &halfRelease{Engine: memlock.New()}
	t.Cleanup(func() { _ = eng.Close() })
	c, err := client.NewLocal(eng)
	if err != nil {
		t.Fatal(err)
	}
	l, err := c.AcquirePermit(ctxFor(t), "half", 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Release(ctxFor(t)); err != nil {
		t.Fatalf("Release: got %v, want nil (the first attempt released it)", err)
	}
	if !errors.Is(l.Err(), client.ErrReleased) || !eng.failed.Load() {
		t.Errorf("Err: %v, first attempt failed: %v", l.Err(), eng.failed.Load())
	}
}
