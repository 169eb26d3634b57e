package workers

import (
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/lockd/lockd/internal/testenv"
)

// maxIdle is the bound of the pool under test.
const maxIdle = 16

func TestReuseAndBound(t *testing.T) {
	w := New(maxIdle)
	base := runtime.NumGoroutine()
	ran := make(chan struct{}, 1)
	w.Run(func() { ran <- struct{}{} })
	<-ran
	testenv.Eventually(t, "one idle worker", func() bool { return int32(w.Idle()) == 1 })
	// The next call goes to the idle worker: no goroutine more.
	w.Run(func() { ran <- struct{}{} })
	<-ran
	testenv.Eventually(t, "the same worker idle again", func() bool { return int32(w.Idle()) == 1 })
	if n := runtime.NumGoroutine(); n > base+1 {
		t.Errorf("%d goroutines after two calls, want at most %d: the second call did not reuse the idle worker", n, base+1)
	}

	// More calls at once than may idle: all run, and no more than
	// maxIdle stay.
	var wg sync.WaitGroup
	hold := make(chan struct{})
	n := maxIdle + 44
	wg.Add(n)
	for range n {
		w.Run(func() {
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
	testenv.Eventually(t, "the idle workers bounded", func() bool { return int32(w.Idle()) == maxIdle })
	if n := runtime.NumGoroutine(); n > base+maxIdle+1 {
		t.Errorf("%d goroutines with the pool idle, want at most %d", n, base+maxIdle+1)
	}

	w.Close()
	testenv.Eventually(t, "the workers gone after close", func() bool { return int32(w.Idle()) == 0 && runtime.NumGoroutine() <= base+1 })
	// A call after close still runs.
	w.Run(func() { ran <- struct{}{} })
	select {
	case <-ran:
	case <-time.After(10 * time.Second):
		t.Fatal("a call after close did not run")
	}
	testenv.Eventually(t, "its goroutine gone", func() bool { return int32(w.Idle()) == 0 && runtime.NumGoroutine() <= base+1 })
}
