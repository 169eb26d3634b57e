package locktest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockd/lockd"
)

// wakeOnRelease: a waiter for a full semaphore is granted soon after a
// holder releases, though every permit had 30s left.
func (s *semSuite) wakeOnRelease(t *testing.T) {
	name := lockName(t)
	a := s.mustPermit(t, name, 2, lockd.AcquireOptions{Owner: "a", TTL: 30 * time.Second})
	b := s.mustPermit(t, name, 2, lockd.AcquireOptions{Owner: "b", TTL: 30 * time.Second})
	got := make(chan lockd.Lease, 1)
	go func() {
		l, err := s.sem.AcquirePermit(ctxFor(t), name, 2, lockd.AcquireOptions{Owner: "c", TTL: 5 * time.Second, Wait: 10 * time.Second})
		if err != nil {
			t.Errorf("waiting acquire: %v", err)
		}
		got <- l
	}()
	time.Sleep(300 * time.Millisecond) // the waiter is past its first attempt
	select {
	case l := <-got:
		t.Fatalf("c granted while a and b hold both permits: %+v", l)
	default:
	}
	released := time.Now()
	s.mustRelease(t, name, a)
	select {
	case l := <-got:
		if d := time.Since(released); d > 500*time.Millisecond {
			t.Errorf("waiter granted %v after the release, want within 500ms", d)
		}
		if l.Fence <= b.Fence {
			t.Errorf("waiter's fence %d, want > %d", l.Fence, b.Fence)
		}
		s.mustRelease(t, name, l)
	case <-time.After(10 * time.Second):
		t.Fatal("waiter not granted within 10s of the release")
	}
	s.mustRelease(t, name, b)
}

// wakeMany: two waiters of a full semaphore of 2 are both granted soon
// after both permits end, released at once or expired: the first one's
// grant does not make the second wait for a further release.
func (s *semSuite) wakeMany(t *testing.T) {
	for _, end := range []string{"Released", "Expired"} {
		t.Run(end, func(t *testing.T) {
			name := lockName(t)
			ttl := 30 * time.Second
			if end == "Expired" {
				ttl = 600 * time.Millisecond
			}
			held := []lockd.Lease{
				s.mustPermit(t, name, 2, lockd.AcquireOptions{Owner: "a", TTL: ttl}),
				s.mustPermit(t, name, 2, lockd.AcquireOptions{Owner: "b", TTL: ttl}),
			}
			got := make(chan time.Time, 2)
			for i := range 2 {
				go func() {
					_, err := s.sem.AcquirePermit(ctxFor(t), name, 2, lockd.AcquireOptions{Owner: fmt.Sprint("w", i), TTL: 5 * time.Second, Wait: 10 * time.Second})
					if err != nil {
						t.Errorf("waiter %d: %v", i, err)
					}
					got <- time.Now()
				}()
			}
			time.Sleep(300 * time.Millisecond) // both wait in line
			ended := held[1].ExpiresAt
			if end == "Released" {
				ended = time.Now()
				for _, l := range held {
					s.mustRelease(t, name, l)
				}
			}
			for i := range 2 {
				select {
				case at := <-got:
					if d := at.Sub(ended); d > 400*time.Millisecond {
						t.Errorf("waiter %d granted %v after the permits ended, want within 400ms", i, d)
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("waiter %d not granted within 10s", i)
				}
			}
		})
	}
}

// contextCancel: a wait for a permit ends when its context does, with
// ErrNotObtained joined with the context's error.
func (s *semSuite) contextCancel(t *testing.T) {
	name := lockName(t)
	a := s.mustPermit(t, name, 1, lockd.AcquireOptions{Owner: "a", TTL: 10 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(150*time.Millisecond, cancel)
	start := time.Now()
	_, err := s.sem.AcquirePermit(ctx, name, 1, lockd.AcquireOptions{Owner: "b", Wait: 20 * time.Second})
	if !errors.Is(err, lockd.ErrNotObtained) || !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want ErrNotObtained joined with context.Canceled", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("cancel took %v to end the wait", el)
	}
	s.mustRelease(t, name, a)
}

// neverOverLimit runs 32 goroutines that each take a permit of a
// semaphore of 3 (waiting for one), count themselves in while they hold
// it, and release it; no more than 3 may ever be counted in at once, and
// every one must get its turns.
func (s *semSuite) neverOverLimit(t *testing.T) {
	const (
		workers = 32
		rounds  = 4
		limit   = 3
	)
	name := lockName(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*testTimeout)
	defer cancel()
	var (
		in, most, done atomic.Int64
		wg             sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			for r := range rounds {
				l, err := s.sem.AcquirePermit(ctx, name, limit, lockd.AcquireOptions{Owner: fmt.Sprint("w", w), TTL: 20 * time.Second, Wait: 2 * testTimeout})
				if err != nil {
					t.Errorf("worker %d round %d: AcquirePermit: %v", w, r, err)
					return
				}
				n := in.Add(1)
				for {
					m := most.Load()
					if n <= m || most.CompareAndSwap(m, n) {
						break
					}
				}
				time.Sleep(time.Millisecond)
				in.Add(-1)
				if _, err := s.sem.ReleasePermit(ctx, name, l.ID); err != nil {
					t.Errorf("worker %d round %d: ReleasePermit: %v", w, r, err)
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	if m := most.Load(); m > limit {
		t.Errorf("%d permits of a semaphore of %d were held at once", m, limit)
	}
	if d := done.Load(); d != workers*rounds {
		t.Errorf("%d of %d permits granted and released", d, workers*rounds)
	}
	t.Logf("most holders at once: %d of %d", most.Load(), limit)
}

// waitOrder: acquires that wait for a full semaphore of 2, arriving one
// after another (the odd ones Fair), are granted in arrival order as
// permits come free, two at a time.
func (s *semSuite) waitOrder(t *testing.T) {
	const waiters = 6
	name := lockName(t)
	held := []lockd.Lease{
		s.mustPermit(t, name, 2, lockd.AcquireOptions{Owner: "a", TTL: 30 * time.Second}),
		s.mustPermit(t, name, 2, lockd.AcquireOptions{Owner: "b", TTL: 30 * time.Second}),
	}
	var (
		mu      sync.Mutex
		granted = map[int64]int{} // waiter by fence: fences grow in the engine's grant order
		wg      sync.WaitGroup
	)
	for i := range waiters {
		wg.Go(func() {
			l, err := s.sem.AcquirePermit(ctxFor(t), name, 2, lockd.AcquireOptions{Owner: fmt.Sprint("w", i), TTL: 5 * time.Second, Wait: 20 * time.Second, Fair: i%2 == 1})
			if err != nil {
				t.Errorf("waiter %d: %v", i, err)
				return
			}
			mu.Lock()
			granted[l.Fence] = i
			mu.Unlock()
			time.Sleep(30 * time.Millisecond)
			if _, err := s.sem.ReleasePermit(ctxFor(t), name, l.ID); err != nil {
				t.Errorf("waiter %d: ReleasePermit: %v", i, err)
			}
		})
		// Far enough apart that each has arrived, and made its first
		// attempt, before the next.
		time.Sleep(50 * time.Millisecond)
	}
	for _, l := range held {
		s.mustRelease(t, name, l)
	}
	wg.Wait()
	fences := slices.Sorted(maps.Keys(granted))
	for i, f := range fences {
		if granted[f] != i {
			t.Fatalf("waiters by fence %v, want arrival order", granted)
		}
	}
}
