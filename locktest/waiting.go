package locktest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lockd/lockd"
)

// wakeOnRelease: a waiter is granted soon after the holder releases,
// though the holder's lease had 30s left: waiters are woken by the
// release, not by polling at the holder's expiry. The bound is generous;
// the real figure belongs in the benchmark.
func (s *suite) wakeOnRelease(t *testing.T) {
	name := lockName(t)
	a := s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "a", TTL: 30 * time.Second})
	got := make(chan time.Time, 1)
	go func() {
		_, err := s.e.Acquire(ctxFor(t), name, lockd.AcquireOptions{Owner: "b", TTL: 5 * time.Second, Wait: 10 * time.Second})
		if err != nil {
			t.Errorf("waiting acquire: %v", err)
		}
		got <- time.Now()
	}()
	time.Sleep(300 * time.Millisecond) // the waiter is past its first attempt
	released := time.Now()
	if _, err := s.e.Release(ctxFor(t), name, a.ID); err != nil {
		t.Fatalf("Release: %v", err)
	}
	select {
	case at := <-got:
		if d := at.Sub(released); d > 200*time.Millisecond {
			t.Errorf("waiter granted %v after the release, want within 200ms", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waiter not granted within 10s of the release")
	}
}

// waitOrder: waiters that arrive one after another while the lock is held
// are granted in arrival order once it is released (each releases as soon
// as it is granted).
func (s *suite) waitOrder(t *testing.T) {
	const waiters = 8
	name := lockName(t)
	a := s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "a", TTL: 30 * time.Second})
	var (
		mu    sync.Mutex
		order []int
		wg    sync.WaitGroup
	)
	for i := range waiters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := s.e.Acquire(ctxFor(t), name, lockd.AcquireOptions{Owner: fmt.Sprint("w", i), TTL: 5 * time.Second, Wait: 20 * time.Second})
			if err != nil {
				t.Errorf("waiter %d: %v", i, err)
				return
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			if _, err := s.e.Release(ctxFor(t), name, l.ID); err != nil {
				t.Errorf("waiter %d: Release: %v", i, err)
			}
		}()
		// Far enough apart that each has arrived, and made its first
		// attempt, before the next.
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := s.e.Release(ctxFor(t), name, a.ID); err != nil {
		t.Fatalf("Release: %v", err)
	}
	wg.Wait()
	for i, w := range order {
		if w != i {
			t.Fatalf("grant order %v, want arrival order", order)
		}
	}
}

// fair: a fair acquire never goes ahead of acquires already waiting: with
// no wait it is refused while anyone waits; with a wait it is served after
// them. With nobody waiting it takes a free lock at once.
func (s *suite) fair(t *testing.T) {
	name := lockName(t)
	if l, err := s.e.Acquire(ctxFor(t), name, lockd.AcquireOptions{Owner: "alone", Fair: true}); err != nil {
		t.Fatalf("fair acquire of a free lock nobody waits for: %v", err)
	} else if _, err := s.e.Release(ctxFor(t), name, l.ID); err != nil {
		t.Fatalf("Release: %v", err)
	}
	a := s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "a", TTL: 30 * time.Second})
	var (
		mu    sync.Mutex
		order []string
		wg    sync.WaitGroup
	)
	wait := func(owner string, fair bool) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := s.e.Acquire(ctxFor(t), name, lockd.AcquireOptions{Owner: owner, TTL: 5 * time.Second, Wait: 20 * time.Second, Fair: fair})
			if err != nil {
				t.Errorf("%s: %v", owner, err)
				return
			}
			mu.Lock()
			order = append(order, owner)
			mu.Unlock()
			time.Sleep(50 * time.Millisecond)
			if _, err := s.e.Release(ctxFor(t), name, l.ID); err != nil {
				t.Errorf("%s: Release: %v", owner, err)
			}
		}()
		time.Sleep(200 * time.Millisecond) // in line before anything else happens
	}
	wait("first", false)
	if _, err := s.e.Acquire(ctxFor(t), name, lockd.AcquireOptions{Owner: "f", Fair: true}); !errors.Is(err, lockd.ErrNotObtained) {
		t.Fatalf("fair acquire without a wait while someone waits: %v, want ErrNotObtained", err)
	}
	wait("second", true)
	if _, err := s.e.Release(ctxFor(t), name, a.ID); err != nil {
		t.Fatalf("Release: %v", err)
	}
	wg.Wait()
	if len(order) != 2 || order[0] != "first" || order[1] != "second" {
		t.Errorf("grant order %v, want [first second]", order)
	}
}
