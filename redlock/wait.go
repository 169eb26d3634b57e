package redlock

import (
	"context"
	"errors"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/waitq"
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
					_ = n.listen(ctx, e.releasedChannel(), e.released)
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

// wait runs try, one attempt, until it grants: at once when opts.Wait is
// 0; otherwise in the line under line (a lock's name, or
// lockd.SemaphoreLine) for up to opts.Wait, with Fair behind the acquires
// already waiting there. try learns whether others wait behind it, so its
// grant marks the lock for its release to be announced. It returns what
// the last attempt returned: *lockd.NotObtainedError naming name or
// ErrQuorumUnavailable when the wait ran out (joined with ctx.Err() when
// the context ended it), and try's other errors at once.
func (e *Engine) wait(ctx context.Context, line, name string, opts lockd.AcquireOptions, try func(othersWait bool) (lockd.Lease, error)) (lockd.Lease, error) {
	if opts.Wait <= 0 {
		if opts.Fair && e.lines.Len(line) > 0 {
			return lockd.Lease{}, &lockd.NotObtainedError{Name: name} // others wait first
		}
		return try(false)
	}
	// Wait in line: after one attempt on arrival, only the head of the
	// lock's queue calls the nodes.
	start := time.Now()
	deadline := start.Add(opts.Wait)
	e.listen()
	w := e.lines.Join(line)
	granted := false
	defer func() { e.lines.Leave(line, w, granted) }()
	var last error // the last attempt that ran to its end
	if opts.Fair && !w.Head() {
		// Behind the others from the start: no attempt on arrival.
		if !waitq.Pause(ctx, w.Turn(), deadline) {
			return lockd.Lease{}, e.waitEnded(ctx, &lockd.NotObtainedError{Name: name})
		}
	}
	for attempt := 0; ; attempt++ {
		if attempt > 0 && e.isClosed() {
			return lockd.Lease{}, e.waitEnded(ctx, last)
		}
		// Taken before the attempt, so that a release heard between the
		// attempt and the pause below is not missed.
		woken := e.lines.Woken(line)
		at := time.Now()
		lease, err := try(e.lines.Len(line) > 1)
		if err == nil {
			lease.Waited = at.Sub(start)
			granted = true
			return lease, nil
		}
		if ctx.Err() != nil {
			// The context cut this attempt short; the one before, if any,
			// is the real cause.
			if last != nil {
				err = last
			}
			return lockd.Lease{}, errors.Join(err, ctx.Err())
		}
		if !retryable(err) || !time.Now().Before(deadline) || e.isClosed() {
			return lockd.Lease{}, err
		}
		last = err
		if !w.Head() {
			if !waitq.Pause(ctx, w.Turn(), deadline) {
				return lockd.Lease{}, e.waitEnded(ctx, err)
			}
			// A grant in a read line, or of a permit, may leave room for
			// the next: only a lock's own line waits for the release.
			if after, released := w.AfterGrant(); after && !isReadLine(line, name) && line != lockd.SemaphoreLine(name) {
				// The one before us in line holds the lock now: an attempt
				// before its release would be refused. Wait for that
				// release (or the poll).
				woken = released
				err = nil
			}
		}
		// The head: retry when a release is heard, when the holder's lease
		// runs out, or at the poll interval, whichever comes first. With
		// too few nodes answering, back off instead.
		pause := e.cfg.waitPoll
		var held *lockd.NotObtainedError
		switch {
		case err == nil: // a new holder, whose expiry we do not know: the poll
		case errors.As(err, &held):
			if held.Holder != nil {
				pause = min(pause, max(time.Until(held.Holder.ExpiresAt), time.Millisecond))
			}
		default:
			pause = e.backoff(attempt)
		}
		until := time.Now().Add(pause)
		if deadline.Before(until) {
			until = deadline
		}
		if !waitq.Pause(ctx, woken, until) && ctx.Err() != nil {
			return lockd.Lease{}, e.waitEnded(ctx, err)
		}
	}
}
