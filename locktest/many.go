package locktest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockd/lockd"
)

// acquireMany: all or none, under one lease, idempotent on retry, and
// released together.
func (s *suite) acquireMany(t *testing.T) {
	base := lockName(t)
	names := []string{base + "-c", base + "-a", base + "-b"}
	lease := lockd.NewLeaseID()
	ls, err := lockd.AcquireMany(ctxFor(t), s.e, names, lockd.AcquireOptions{Owner: "many", Lease: lease, TTL: 10 * time.Second})
	if err != nil {
		t.Fatalf("AcquireMany: %v", err)
	}
	if len(ls) != 3 || ls[0].Name != base+"-a" || ls[2].Name != base+"-c" {
		t.Fatalf("leases %+v, want the three in sorted order", ls)
	}
	for _, l := range ls {
		if l.ID != lease || l.Fence < 1 {
			t.Errorf("lease %+v, want the caller's lease and a fence", l)
		}
	}
	again, err := lockd.AcquireMany(ctxFor(t), s.e, names, lockd.AcquireOptions{Owner: "many", Lease: lease, TTL: 10 * time.Second})
	if err != nil {
		t.Fatalf("AcquireMany retried with the lease: %v", err)
	}
	for i := range again {
		if again[i].Fence != ls[i].Fence {
			t.Errorf("retry: %s fence %d, want the same grant's %d", again[i].Name, again[i].Fence, ls[i].Fence)
		}
	}
	if _, err := lockd.ExtendMany(ctxFor(t), s.e, names, lease, 20*time.Second); err != nil {
		t.Errorf("ExtendMany: %v", err)
	}
	if _, err := lockd.ReleaseMany(ctxFor(t), s.e, names, lease); err != nil {
		t.Fatalf("ReleaseMany: %v", err)
	}
	for _, n := range names {
		if info, err := s.e.Inspect(ctxFor(t), n); err != nil || info.Held {
			t.Errorf("Inspect %s after ReleaseMany: %+v, %v; want free", n, info, err)
		}
	}
	if _, err := lockd.ReleaseMany(ctxFor(t), s.e, names, lease); !errors.Is(err, lockd.ErrNotHeld) {
		t.Errorf("ReleaseMany again: %v, want ErrNotHeld", err)
	}

	t.Run("AllOrNone", func(t *testing.T) {
		s.mustAcquire(t, base+"-b", lockd.AcquireOptions{Owner: "other", TTL: 10 * time.Second})
		_, err := lockd.AcquireMany(ctxFor(t), s.e, names, lockd.AcquireOptions{Owner: "many", TTL: 10 * time.Second})
		var noe *lockd.NotObtainedError
		if !errors.As(err, &noe) || noe.Name != base+"-b" {
			t.Fatalf("AcquireMany with one held: %v, want NotObtainedError for %s", err, base+"-b")
		}
		for _, n := range []string{base + "-a", base + "-c"} {
			if info, err := s.e.Inspect(ctxFor(t), n); err != nil || info.Held {
				t.Errorf("%s after a failed AcquireMany: %+v, %v; want free (none taken)", n, info, err)
			}
		}
	})
	t.Run("WaitPastValidity", func(t *testing.T) {
		// b is held longer than a's TTL: waiting for b would leave a
		// expired (and free for anyone) by the time both were "taken".
		a, b := base+"-va", base+"-vb"
		hb := s.mustAcquire(t, b, lockd.AcquireOptions{Owner: "other", TTL: 30 * time.Second})
		time.AfterFunc(600*time.Millisecond, func() { _, _ = s.e.Release(ctxFor(t), b, hb.ID) })
		start := time.Now()
		ls, err := lockd.AcquireMany(ctxFor(t), s.e, []string{a, b}, lockd.AcquireOptions{Owner: "many", TTL: 200 * time.Millisecond, Wait: 2 * time.Second})
		if err == nil {
			t.Fatalf("AcquireMany = %+v after %v, want it to give up before a's lease of 200ms runs out", ls, time.Since(start))
		}
		if !errors.Is(err, lockd.ErrNotObtained) {
			t.Errorf("AcquireMany: %v, want ErrNotObtained", err)
		}
		if info, err := s.e.Inspect(ctxFor(t), a); err != nil || info.Held {
			t.Errorf("%s after the failed AcquireMany: %+v, %v; want free", a, info, err)
		}
	})
	t.Run("ErrInvalidArgument", func(t *testing.T) {
		many := make([]string, lockd.MaxManyNames+1)
		for i := range many {
			many[i] = fmt.Sprint(base, "-", i)
		}
		for _, tc := range []struct {
			name  string
			names []string
		}{
			{"Empty", nil},
			{"Duplicate", []string{base + "-x", base + "-x"}},
			{"TooMany", many},
			{"BadName", []string{"a b"}},
		} {
			_, err := lockd.AcquireMany(ctxFor(t), s.e, tc.names, lockd.AcquireOptions{Owner: "many"})
			var ae *lockd.ArgumentError
			if !errors.As(err, &ae) || ae.Field != "names" {
				t.Errorf("%s: %v, want ArgumentError on names", tc.name, err)
			}
		}
	})
}

// acquireManyNoDeadlock: goroutines take random overlapping sets of locks
// with AcquireMany; all finish (no deadlock), and no lock ever has two
// holders.
func (s *suite) acquireManyNoDeadlock(t *testing.T) {
	const (
		workers = 16
		rounds  = 10
		pool    = 6
	)
	base := lockName(t)
	var (
		holders [pool]atomic.Int32
		wg      sync.WaitGroup
		done    atomic.Int32
	)
	ctx, cancel := context.WithTimeout(context.Background(), 4*testTimeout)
	defer cancel()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for range rounds {
				idx := rng.Perm(pool)[:1+rng.IntN(3)]
				names := make([]string, len(idx))
				for i, j := range idx {
					names[i] = fmt.Sprint(base, "-", j)
				}
				ls, err := lockd.AcquireMany(ctx, s.e, names, lockd.AcquireOptions{Owner: fmt.Sprint("w", w), TTL: 10 * time.Second, Wait: 30 * time.Second})
				if err != nil {
					t.Errorf("worker %d: AcquireMany %s: %v", w, strings.Join(names, ","), err)
					return
				}
				for _, j := range idx {
					if h := holders[j].Add(1); h != 1 {
						t.Errorf("%s-%d has %d holders", base, j, h)
					}
				}
				time.Sleep(time.Millisecond)
				for _, j := range idx {
					holders[j].Add(-1)
				}
				if _, err := lockd.ReleaseMany(ctx, s.e, names, ls[0].ID); err != nil {
					t.Errorf("worker %d: ReleaseMany: %v", w, err)
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := done.Load(); n != workers*rounds {
		t.Errorf("%d of %d AcquireMany rounds done", n, workers*rounds)
	}
}
