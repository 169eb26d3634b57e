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
// grant marks the lock for its release to be announced. With offer (a
// write lock's line), a waiter that pauses leaves its next attempt, made by
// offer, for a release in this engine to run in its own round once the
// waiter is the head (handoff.go); it finishes the attempt itself. It
// returns what the last attempt returned: *lockd.NotObtainedError naming
// name or ErrQuorumUnavailable when the wait ran out (joined with
// ctx.Err() when the context ended it), and try's other errors at once.
func (e *Engine) wait(ctx context.Context, line, name string, opts lockd.AcquireOptions, try func(othersWait bool) (lockd.Lease, error), offer func() *attempt) (lockd.Lease, error) {
	if opts.Wait <= 0 {
		if opts.Fair && e.lines.Len(line) > 0 {
			return lockd.Lease{}, &lockd.NotObtainedError{Name: name} // others wait first
		}
		return try(false)
	}
	// Wait in line: only the head of the lock's queue calls the nodes.
	start := time.Now()
	deadline := start.Add(opts.Wait)
	e.listen()
	w := e.lines.Join(line)
	granted := false
	defer func() { e.lines.Leave(line, w, granted) }()
	f := &offering{e: e, line: line, w: w, make: offer}
	defer f.abandon() // every path below withdraws first; this is the net
	var (
		last error // the last attempt that ran to its end
		// Taken now, so that a release announced while a hand-off runs
		// our offer (before our first attempt) is heard.
		woken  = e.lines.Woken(line)
		handed *attempt // an attempt a release ran for us
		after  bool     // the one before us in line was granted the lock
	)
	// No attempt on arrival behind others: fair acquires wait behind those
	// already in line, and so do acquires of a write lock whose holder is
	// known to be another owner: its release in this engine hands the lock
	// to the head of the line, so an attempt on arrival would be refused.
	// An acquire by the holder's owner does attempt: it may be the holder
	// itself (a reentrant acquire, or a retry), which those in line wait
	// for.
	holder, until := e.lines.Holder(line)
	if time.Now().After(until) {
		// A note past the noted lease's end (a handed grant that failed
		// or was let go keeps it until the line empties) says nothing.
		holder = ""
	}
	if (opts.Fair || offer != nil && holder != "" && holder != opts.Owner) && !w.Head() {
		turn, a := f.waitTurn(ctx, deadline)
		switch {
		case a != nil:
			handed = a
		case !turn:
			if opts.Fair || ctx.Err() != nil || e.isClosed() {
				return lockd.Lease{}, e.waitEnded(ctx, &lockd.NotObtainedError{Name: name})
			}
			// The wait ran out in line: one attempt, so that the answer
			// says who holds the lock. (waitTurn withdrew the offer: no
			// release took it.)
			lease, err := e.waitAttempt(ctx, line, name, try, nil, &woken, start)
			granted = err == nil
			return lease, err
		default:
			// The wake channel taken on joining stays unless the one
			// before left with the lock: then its release is what to
			// hear.
			if ag, released := e.afterGrant(w, line, name); ag {
				after, woken = true, released
			}
		}
	}
	for attempt := 0; ; attempt++ {
		var err error
		if !after {
			if handed == nil {
				handed = f.withdraw() // taken meanwhile: that is the attempt
			}
			var lease lockd.Lease
			lease, err = e.waitAttempt(ctx, line, name, try, handed, &woken, start)
			handed = nil
			if err == nil {
				granted = true
				e.lines.SetHolder(line, lease.Owner, lease.ExpiresAt)
				return lease, nil
			}
			var refused *lockd.NotObtainedError
			if errors.As(err, &refused) && refused.Holder != nil {
				e.lines.SetHolder(line, refused.Holder.Owner, refused.Holder.ExpiresAt)
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
				turn, a := f.waitTurn(ctx, deadline)
				if a != nil {
					handed = a
					continue
				}
				if !turn {
					return lockd.Lease{}, e.waitEnded(ctx, err)
				}
				if ag, released := e.afterGrant(w, line, name); ag {
					after, woken = true, released
				}
			}
		}
		pause := e.cfg.waitPoll
		if after {
			// The one before us in line holds the lock now: an attempt
			// before its release would be refused. Wait for that release
			// (or its lease's end, or the poll), our offer standing.
			after, err = false, nil
			if _, exp := e.lines.Holder(line); !exp.IsZero() {
				pause = min(pause, max(time.Until(exp), time.Millisecond))
			}
		}
		// The head: retry when a release is heard, when the holder's lease
		// runs out, or at the poll interval, whichever comes first. With
		// too few nodes answering, back off instead.
		var held *lockd.NotObtainedError
		switch {
		case err == nil: // a new holder: its lease's end, or the poll
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
		woke, a := f.pause(ctx, woken, until)
		handed = a
		if a == nil && !woke && ctx.Err() != nil {
			return lockd.Lease{}, e.waitEnded(ctx, err)
		}
		if a == nil && e.isClosed() {
			return lockd.Lease{}, e.waitEnded(ctx, last)
		}
	}
}

// offering is a waiter's offer: its next attempt, left in its line while it
// pauses, for a release to run (waitq.Lines.Offer). Without make (a read
// line, or a semaphore's) it never offers.
type offering struct {
	e    *Engine
	line string
	w    *waitq.Waiter
	make func() *attempt // what the offer holds: the attempt is made only when taken
	o    *waitq.Offer
}

// stand leaves an offer unless one stands already, and returns the
// channel that closes when a release takes it (nil without offers).
func (f *offering) stand() <-chan struct{} {
	if f.make == nil {
		return nil
	}
	if f.o == nil {
		f.o = f.e.lines.Offer(f.line, f.w, f.make)
		if f.o == nil {
			return nil
		}
	}
	return f.o.Taken()
}

// withdraw takes the offer back before the waiter makes an attempt of its
// own or stops waiting. When a release took it first, it returns the
// attempt, once the release ran it, for the waiter to finish.
func (f *offering) withdraw() *attempt {
	o := f.o
	f.o = nil
	if o != nil && f.e.lines.Withdraw(f.line, o) {
		a, _ := o.Result().(*attempt)
		return a
	}
	return nil
}

// abandon withdraws an offer still standing when the wait ends, and
// releases what a release granted through it: nobody waits for it now.
func (f *offering) abandon() {
	a := f.withdraw()
	if a == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), f.e.cfg.nodeTimeout)
	defer cancel()
	if l, err := f.e.finish(ctx, a); err == nil {
		f.e.releaseAbandoned(l)
	}
}

// waitTurn waits, offering, until the waiter is the head (true; its offer
// keeps standing), or a release ran its offer (true, and the attempt to
// finish), or the deadline or ctx ends the wait (false).
func (f *offering) waitTurn(ctx context.Context, deadline time.Time) (bool, *attempt) {
	return f.await(ctx, f.w.Turn(), deadline, true)
}

// pause waits as waitq.Pause does, offering meanwhile, then withdraws the
// offer: when a release took it, pause returns it, once run, for the
// caller to finish.
func (f *offering) pause(ctx context.Context, woken <-chan struct{}, until time.Time) (bool, *attempt) {
	return f.await(ctx, woken, until, false)
}

// await waits, offering, until ch closes (true), a release takes the
// offer, until passes or ctx ends, then withdraws the offer, unless ch
// closed and keep asks to leave it standing. A taken offer is returned,
// once run, with true.
func (f *offering) await(ctx context.Context, ch <-chan struct{}, until time.Time, keep bool) (bool, *attempt) {
	taken := f.stand()
	t := time.NewTimer(max(time.Until(until), 0))
	defer t.Stop()
	fired := false
	select {
	case <-ch:
		fired = true
	case <-taken:
	case <-t.C:
	case <-ctx.Done():
	}
	if fired && keep {
		return true, nil
	}
	if a := f.withdraw(); a != nil {
		return true, a
	}
	return fired, nil
}

// afterGrant reports, for a waiter that just became the head, whether the
// one before it left with the lock, and then the channel that closes at
// the next release. A grant in a read line, or of a permit, may leave room
// for the next: only a lock's own line waits for the release.
func (e *Engine) afterGrant(w *waitq.Waiter, line, name string) (bool, <-chan struct{}) {
	after, released := w.AfterGrant()
	if !after || isReadLine(line, name) || line == lockd.SemaphoreLine(name) {
		return false, nil
	}
	return true, released
}

// waitAttempt makes a waiting acquire's attempt: it finishes handed, the
// attempt a release ran for it, or runs try. For try it first takes the
// line's wake channel into woken, so that a release heard between the
// attempt and the pause after it is not missed; after a hand-off the wake
// channel taken before stays, so that a release the hand-off announced is
// heard. A grant reports how long the wait was, from start to its attempt.
func (e *Engine) waitAttempt(ctx context.Context, line, name string, try func(othersWait bool) (lockd.Lease, error), handed *attempt, woken *<-chan struct{}, start time.Time) (lockd.Lease, error) {
	var (
		at    time.Time
		lease lockd.Lease
		err   error
	)
	if handed != nil {
		at = handed.start
		lease, err = e.finish(ctx, handed)
		if err == nil && ctx.Err() != nil {
			// Granted while the caller was gone: nobody can use it.
			e.releaseAbandoned(lease)
			return lockd.Lease{}, &lockd.NotObtainedError{Name: name}
		}
	} else {
		*woken = e.lines.Woken(line)
		at = time.Now()
		lease, err = try(e.lines.Len(line) > 1)
	}
	if err == nil {
		lease.Waited = at.Sub(start)
	}
	return lease, err
}
