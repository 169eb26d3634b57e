package redlock

import (
	"context"
	"sync"
	"time"
)

// Waiting. The acquires that wait for one lock inside one engine form a
// queue, in arrival order. Only its head retries: at once when a node
// announces a release of the lock (release.lua publishes on the released
// channel when the lock was marked as waited for), when the holder's lease
// runs out, and otherwise every poll interval, the safety net for a lost
// message. The others wait for their turn without a call to any node, so
// a thousand waiters cost what one does.
//
// Each node has one subscription to the released channel, shared by every
// lock; it starts with the first wait and ends with the engine.

// waits is the engine's waiting acquires, by lock name.
type waits struct {
	mu     sync.Mutex
	queues map[string]*queue
}

// queue is the waiters for one lock.
type queue struct {
	waiters []*waiter     // arrival order; the first is the head
	wake    chan struct{} // closed when a release of the lock is heard, then replaced
}

// waiter is one waiting acquire.
type waiter struct {
	turn chan struct{} // closed when the waiter becomes the head
}

// join puts a new waiter at the end of name's queue.
func (w *waits) join(name string) *waiter {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.queues == nil {
		w.queues = make(map[string]*queue)
	}
	q := w.queues[name]
	if q == nil {
		q = &queue{wake: make(chan struct{})}
		w.queues[name] = q
	}
	wt := &waiter{turn: make(chan struct{})}
	if len(q.waiters) == 0 {
		close(wt.turn)
	}
	q.waiters = append(q.waiters, wt)
	return wt
}

// leave takes wt out of name's queue, handing the turn on when it was the
// head, and forgets the queue once it is empty.
func (w *waits) leave(name string, wt *waiter) {
	w.mu.Lock()
	defer w.mu.Unlock()
	q := w.queues[name]
	if q == nil {
		return
	}
	for i, x := range q.waiters {
		if x != wt {
			continue
		}
		q.waiters = append(q.waiters[:i], q.waiters[i+1:]...)
		if i == 0 && len(q.waiters) > 0 {
			close(q.waiters[0].turn)
		}
		break
	}
	if len(q.waiters) == 0 {
		delete(w.queues, name)
	}
}

// woken returns the channel that closes when a release of name is next
// heard. The head takes it before each attempt, so that a release between
// the attempt and the wait is not missed.
func (w *waits) woken(name string) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if q := w.queues[name]; q != nil {
		return q.wake
	}
	return nil
}

// released wakes the head of name's queue, if any.
func (w *waits) released(name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if q := w.queues[name]; q != nil {
		close(q.wake)
		q.wake = make(chan struct{})
	}
}

// waiting returns how many acquires wait for name in this engine.
func (w *waits) waiting(name string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	if q := w.queues[name]; q != nil {
		return len(q.waiters)
	}
	return 0
}

// releasedChannel is where nodes announce the release of a lock that
// someone waits for; the message is the lock's name.
func (e *Engine) releasedChannel() string { return e.cfg.prefix + "released" }

// listen starts, once, one subscription per node to the released channel.
// Each runs until the engine closes, subscribing again (after a pause of
// one probe interval) whenever its connection fails.
func (e *Engine) listen() {
	e.listenOnce.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		e.mu.Lock()
		e.stopListen = cancel
		closed := e.closed
		e.mu.Unlock()
		if closed {
			cancel()
			return
		}
		for _, n := range e.nodes {
			e.listeners.Add(1)
			go func() {
				defer e.listeners.Done()
				for ctx.Err() == nil {
					_ = n.listen(ctx, e.releasedChannel(), e.waits.released)
					t := time.NewTimer(e.cfg.probeInterval)
					select {
					case <-t.C:
					case <-ctx.Done():
						t.Stop()
					}
				}
			}()
		}
	})
}
