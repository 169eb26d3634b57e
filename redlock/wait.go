package redlock

import (
	"context"
	"time"
)

// Waiting. The acquires that wait for one lock inside one engine form a
// line (waitq). Only its head retries: at once when a node announces a
// release of the lock (release.lua publishes on the released channel when
// the lock was marked as waited for), when the holder's lease runs out, and
// otherwise every poll interval, the safety net for a lost message.
//
// Each node has one subscription to the released channel, shared by every
// lock; it starts with the first wait and ends with the engine.

// relistenEvery is the pause before subscribing again after a
// subscription failed: a node that is down is not dialled ten times a
// second, and a message lost meanwhile costs a waiter one poll.
const relistenEvery = time.Second

// releasedChannel is where nodes announce the release of a lock that
// someone waits for; the message is the lock's name.
func (e *Engine) releasedChannel() string { return e.cfg.prefix + "released" }

// listen starts, once, one subscription per node to the released channel.
// Each runs until the engine closes, subscribing again (after
// relistenEvery) whenever its connection fails.
func (e *Engine) listen() {
	e.listenOnce.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		e.mu.Lock()
		if e.closed {
			e.mu.Unlock()
			cancel()
			return
		}
		// Counted under the lock, so that Close, which takes it first,
		// either sees no listeners or waits for them all.
		e.stopListen = cancel
		e.listeners.Add(len(e.nodes))
		e.mu.Unlock()
		for _, n := range e.nodes {
			go func() {
				defer e.listeners.Done()
				for ctx.Err() == nil {
					_ = n.listen(ctx, e.releasedChannel(), e.lines.Released)
					t := time.NewTimer(relistenEvery)
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
