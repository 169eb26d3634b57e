package redlock

import "sync/atomic"

// maxIdleWorkers bounds the goroutines a pool keeps for its next call:
// enough for a busy engine's concurrent rounds on every node.
const maxIdleWorkers = 256

// workers runs the node calls of rounds on goroutines that stay for the
// next call. A call grows its goroutine's stack to several KiB in the
// Redis client; a new goroutine for every call paid for that growth (a
// stack copy or two) each time: 4-6% of lockd's CPU under contention.
// An idle worker waits for a call at no cost; at most maxIdleWorkers
// wait, and all of them leave when the pool stops.
type workers struct {
	calls chan func() // unbuffered: a send succeeds only to an idle worker
	idle  atomic.Int32
	stop  chan struct{}
}

func newWorkers() *workers {
	return &workers{calls: make(chan func()), stop: make(chan struct{})}
}

// run runs f on an idle worker, or on a new one when none is idle.
func (w *workers) run(f func()) {
	select {
	case w.calls <- f:
	default:
		go w.work(f)
	}
}

// work runs f, then waits for the next call, unless enough workers wait
// already or the pool stopped.
func (w *workers) work(f func()) {
	for {
		f()
		f = nil // an idle worker keeps nothing of its last call
		if w.idle.Add(1) > maxIdleWorkers {
			w.idle.Add(-1)
			return
		}
		select {
		case f = <-w.calls:
			w.idle.Add(-1)
		case <-w.stop:
			w.idle.Add(-1)
			return
		}
	}
}

// close makes the idle workers leave, and every worker leave after its
// call. Calls run after it still run, each on a goroutine of its own.
func (w *workers) close() { close(w.stop) }
