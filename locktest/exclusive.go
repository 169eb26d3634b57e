package locktest

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Exclusive checks mutual exclusion through any way of holding a lock (an
// SDK's WithLock, a CLI): workers goroutines each call hold n times, and
// hold must run critical while holding one lock, the same for all, passing
// the hold's fence. Exclusive fails t when two holds overlap, an increment
// of a counter that only the lock guards is lost, a fence does not grow,
// hold returns an error, or the whole run passes deadline.
func Exclusive(t testing.TB, workers, n int, deadline time.Duration, hold func(ctx context.Context, critical func(fence int64)) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	var (
		holders   atomic.Int32
		counter   int   // guarded by the lock under test only
		lastFence int64 // likewise
		wg        sync.WaitGroup
	)
	critical := func(fence int64) {
		if h := holders.Add(1); h != 1 {
			t.Errorf("%d holders at once", h)
		}
		if fence <= lastFence {
			t.Errorf("fence %d after %d", fence, lastFence)
		}
		lastFence = fence
		v := counter
		runtime.Gosched()
		counter = v + 1
		holders.Add(-1)
	}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n {
				if err := hold(ctx, critical); err != nil {
					t.Errorf("hold: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if want := workers * n; counter != want {
		t.Errorf("counter = %d, want %d", counter, want)
	}
}
