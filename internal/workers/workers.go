// Package workers runs calls on goroutines that stay for the next call.
//
// A call that goes deep (an engine round, a Redis client, a log line)
// grows its goroutine's stack to several KiB. A new goroutine for every
// call paid for that growth, a stack copy or two, each time: 4-6% of
// lockd's CPU under contention for the node calls of rounds alone. An idle
// worker keeps its grown stack (until a garbage collection halves the
// stack of one that uses little of it) and waits for a call at no cost.
package workers

import "sync/atomic"

// Pool runs calls on goroutines that stay for the next call, keeping at
// most its bound of them idle. The zero value is not usable: use New.
type Pool struct {
	calls   chan func() // unbuffered: a send succeeds only to an idle worker
	idle    atomic.Int32
	maxIdle int32
	stop    chan struct{}
}

// New returns a pool that keeps at most maxIdle workers idle.
func New(maxIdle int) *Pool {
	return &Pool{calls: make(chan func()), maxIdle: int32(maxIdle), stop: make(chan struct{})}
}

// Run runs f on an idle worker, or on a new one when none is idle. It
// never waits for f.
func (p *Pool) Run(f func()) {
	select {
	case p.calls <- f:
	default:
		go p.work(f)
	}
}

// Idle returns how many workers wait for a call.
func (p *Pool) Idle() int { return int(p.idle.Load()) }

// work runs f, then waits for the next call, unless enough workers wait
// already or the pool stopped.
func (p *Pool) work(f func()) {
	for {
		f()
		f = nil // an idle worker keeps nothing of its last call
		if p.idle.Add(1) > p.maxIdle {
			p.idle.Add(-1)
			return
		}
		select {
		case f = <-p.calls:
			p.idle.Add(-1)
		case <-p.stop:
			p.idle.Add(-1)
			return
		}
	}
}

// Close makes the idle workers leave, and every worker leave after its
// call. Calls run after it still run, each on a goroutine of its own. Call
// it once.
func (p *Pool) Close() { close(p.stop) }
