package redlock

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

func TestWorkersReuseAndBound(t *testing.T) {
	w := newWorkers()
	base := runtime.NumGoroutine()
	ran := make(chan struct{}, 1)
	w.run(func() { ran <- struct{}{} })
	<-ran
	eventually(t, "one idle worker", func() bool { return w.idle.Load() == 1 })
	// The next call goes to the idle worker: no goroutine more.
	w.run(func() { ran <- struct{}{} })
	<-ran
	eventually(t, "the same worker idle again", func() bool { return w.idle.Load() == 1 })
	if n := runtime.NumGoroutine(); n > base+1 {
		t.Errorf("%d goroutines after two calls, want at most %d: the second call did not reuse the idle worker", n, base+1)
	}

	// More calls at once than may idle: all run, and no more than
	// maxIdleWorkers stay.
	var wg sync.WaitGroup
	hold := make(chan struct{})
	n := maxIdleWorkers + 44
	wg.Add(n)
	for range n {
		w.run(func() {
			defer wg.Done()
			<-hold
		})
	}
	close(hold)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("not every call ran within 10s")
	}
	eventually(t, "the idle workers bounded", func() bool { return w.idle.Load() == maxIdleWorkers })
	if n := runtime.NumGoroutine(); n > base+maxIdleWorkers+1 {
		t.Errorf("%d goroutines with the pool idle, want at most %d", n, base+maxIdleWorkers+1)
	}

	w.close()
	eventually(t, "the workers gone after close", func() bool { return w.idle.Load() == 0 && runtime.NumGoroutine() <= base+1 })
	// A call after close still runs.
	w.run(func() { ran <- struct{}{} })
	select {
	case <-ran:
	case <-time.After(10 * time.Second):
		t.Fatal("a call after close did not run")
	}
	eventually(t, "its goroutine gone", func() bool { return w.idle.Load() == 0 && runtime.NumGoroutine() <= base+1 })
}
