package client

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/lockd/lockd"
)

// Lease is a handle on a granted lock. Name, Owner, ID and Fence never
// change; Extend and keep-alive update TTL and ExpiresAt. It is safe for
// concurrent use.
//
// Done closes when the lease is over or may be lost, and Err says why:
// released through the handle (ErrReleased); a renewal refused (an error
// matching lockd.ErrLost); its time run out on the local clock without a
// successful renewal (ErrExpired, which also matches lockd.ErrLost); MaxHold
// passed (ErrMaxHold); or, with KeepAlive, the context given to Acquire
// ended (that context's cause). Once Done has closed, act on the protected
// resource no more.
type Lease struct {
	c        *Client
	name     string
	owner    string
	id       string
	fence    int64
	metadata json.RawMessage
	holdID   string // the hold this handle has of a reentrant lease; "" otherwise
	mode     string // lockd.ModeRead for a read lease; "" otherwise
	root     *Lease // the outer lease of a handle made by Reenter; nil otherwise

	done     chan struct{}
	renewMu  sync.Mutex         // one renewal at a time, so the last answer is the server's latest
	moved    chan struct{}      // a renewal moved the deadline: keep-alive plans again
	stopLoop context.CancelFunc // ends keep-alive; nil without it
	loopDone chan struct{}      // closed when keep-alive has returned; nil without it

	mu        sync.Mutex
	ttl       time.Duration
	expiresAt time.Time
	sentAt    time.Time   // when the request behind the current expiry was sent
	deadline  time.Time   // sentAt+ttl less the allowance for clock drift
	expiry    *time.Timer // runs expire at deadline
	hold      *time.Timer // ends the lease at MaxHold; nil without it
	lastErr   error       // the last renewal failure lockd answered (else the last one), cleared by a success
	err       error       // why done closed; nil while open
	released  bool        // a Release through this handle succeeded
}

// driftDivisor is the share of a TTL that the local deadline gives up for
// clock drift between this process and the Redis nodes, as Redlock does:
// a lease is counted as over one hundredth of its TTL early.
const driftDivisor = 100

// localDeadline is when a lease whose request was sent at sent, with
// ttl, may run out, measured on the local monotonic clock.
func localDeadline(sent time.Time, ttl time.Duration) time.Time {
	return sent.Add(ttl - ttl/driftDivisor)
}

// newLease returns the handle on l, whose TTL began no earlier than sent
// on the local clock, and starts its timers and keep-alive as cfg asks.
func (c *Client) newLease(ctx context.Context, l lockd.Lease, sent time.Time, cfg acquireConfig) *Lease {
	ls := &Lease{
		c: c, name: l.Name, owner: l.Owner, id: l.ID, fence: l.Fence, metadata: l.Metadata, holdID: l.Hold, mode: l.Mode,
		done: make(chan struct{}), moved: make(chan struct{}, 1),
		ttl: l.TTL, expiresAt: l.ExpiresAt, sentAt: sent, deadline: localDeadline(sent, l.TTL),
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	ls.expiry = time.AfterFunc(time.Until(ls.deadline), ls.expire)
	if cfg.maxHold > 0 {
		ls.hold = time.AfterFunc(time.Until(sent.Add(cfg.maxHold)), func() { ls.finish(ErrMaxHold) })
	}
	if cfg.keepAlive {
		kctx, cancel := context.WithCancel(ctx)
		ls.stopLoop = cancel
		ls.loopDone = make(chan struct{})
		go ls.keepAlive(kctx, ctx)
	}
	return ls
}

// Name returns the lock's name.
func (l *Lease) Name() string { return l.name }

// Owner returns the holder's label.
func (l *Lease) Owner() string { return l.owner }

// ID returns the lease value, which proves ownership to Extend and
// Release. Treat it as a secret.
func (l *Lease) ID() string { return l.id }

// Fence returns the fencing token: pass it to the protected resource,
// which should refuse writes carrying a smaller one.
func (l *Lease) Fence() int64 { return l.fence }

// Metadata returns a copy of the JSON object given at acquire time, or
// nil.
func (l *Lease) Metadata() json.RawMessage {
	if l.metadata == nil {
		return nil
	}
	return append(json.RawMessage(nil), l.metadata...)
}

// TTL returns the time-to-live of the last acquire or renewal.
func (l *Lease) TTL() time.Duration {
	if l.root != nil {
		return l.root.TTL()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ttl
}

// ExpiresAt returns when the lease runs out unless renewed, as the server
// reported it. It is for display: the handle itself counts the lease's
// time on the local clock (see Done).
func (l *Lease) ExpiresAt() time.Time {
	if l.root != nil {
		return l.root.ExpiresAt()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.expiresAt
}

// Done returns a channel that closes when the lease is over or may be
// lost; see Lease for the reasons and Err for which one it was.
func (l *Lease) Done() <-chan struct{} { return l.done }

// Err returns nil while Done is open, and afterwards why it closed:
// ErrReleased, an error matching lockd.ErrLost (a refused renewal, or
// ErrExpired joined with the last renewal failure that lockd answered, or
// else the last attempt's own timeout), ErrMaxHold, or the
// cause of the context given to Acquire with KeepAlive.
func (l *Lease) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Extend pushes the lease's expiry to now+ttl, with ttl in
// [lockd.MinTTL, lockd.MaxTTL] sent in whole milliseconds (0 keeps the
// lease's current TTL), and updates the handle. Transient failures are
// retried first (see WithRetry).
//
// It returns lockd.ErrLost when the lease no longer holds the lock, and
// Done closes: stop acting on the protected resource. It returns
// lockd.ErrQuorumUnavailable when the engine could not tell (the lease
// may hold until its deadline), *lockd.ArgumentError for a bad ttl, an
// error wrapping lockd.ErrInternal for a server failure, and a wrapped
// transport error when the server could not be reached. A shorter ttl
// brings the handle's deadline (and Done) forward; a failed Extend to a
// shorter ttl does too, since the server may have applied it. An Extend
// never reopens a closed Done: after Done has closed it returns Err's
// cause.
func (l *Lease) Extend(ctx context.Context, ttl time.Duration) error {
	if l.root != nil {
		// A hold taken by Reenter: the lock is the outer lease's.
		if err := l.Err(); err != nil {
			return err
		}
		return l.root.Extend(ctx, ttl)
	}
	l.renewMu.Lock()
	defer l.renewMu.Unlock()
	var (
		nl   lockd.Lease
		sent time.Time
	)
	err := l.c.retry(ctx, 0, func(int) error {
		sent = time.Now()
		var err error
		nl, err = l.c.eng.Extend(ctx, l.name, l.id, ttl)
		if transient(err) {
			l.unsure(sent, ttl)
		}
		return err
	})
	if err != nil {
		if refused(err) && !errors.Is(err, lockd.ErrInvalidArgument) {
			l.finish(err)
		}
		return err
	}
	if !l.renewed(sent, nl) {
		return l.Err() // Done had closed: the handle no longer vouches for the lease
	}
	l.nudge() // keep-alive plans from the new TTL
	return nil
}

// Release frees the lock and stops keep-alive; Done closes with
// ErrReleased. Transient failures are retried first (see WithRetry), but
// not past the lease's own deadline, when there is nothing left to free; a
// retry names this lease, so it never touches a newer holder.
//
// It returns nil when it was released. It returns lockd.ErrNotHeld when
// the lease no longer held it (released before, expired, or someone
// else's now), in which case nothing was deleted; releasing twice is safe,
// and the second time asks nobody. When a retry answers not_held after an
// attempt that may have released it (its answer lost on the way, or too
// few nodes answered to tell: some may have deleted it), Release returns
// nil. When Done had closed for a
// loss before Release was called, the error it returns also matches
// lockd.ErrLost, with Err's cause. It returns lockd.ErrQuorumUnavailable,
// an error wrapping lockd.ErrInternal, or a wrapped transport error when
// the lock could not be released; the lease then runs out at its TTL, and
// Release may be called again.
func (l *Lease) Release(ctx context.Context) error {
	if l.stopLoop != nil {
		// No renewal may run after the release.
		l.stopLoop()
		<-l.loopDone
	}
	l.mu.Lock()
	if l.released {
		l.mu.Unlock()
		return lockd.ErrNotHeld
	}
	before, deadline := l.err, l.deadline
	l.mu.Unlock()
	if l.root != nil {
		// A handle Reenter made releases its hold (release) until the
		// outer lease's deadline.
		l.root.mu.Lock()
		deadline = l.root.deadline
		l.root.mu.Unlock()
	}
	// Past its deadline the lease has run out: one attempt, no retries.
	until := time.Now().Add(l.c.retryFor)
	if deadline.Before(until) {
		until = deadline
	}
	unknown := false // an attempt failed in a way that may have released
	err := l.c.retryUntil(ctx, until, func(int) error {
		err := l.release(ctx)
		if unknown && errors.Is(err, lockd.ErrNotHeld) {
			return nil
		}
		unknown = unknown || transient(err)
		return err
	})
	if err == nil || errors.Is(err, lockd.ErrNotHeld) {
		l.mu.Lock()
		l.released = true
		l.finishLocked(ErrReleased)
		l.mu.Unlock()
	}
	if before != nil && errors.Is(before, lockd.ErrLost) {
		if err == nil {
			return before
		}
		return errors.Join(err, before)
	}
	return err
}

// refused reports whether a renewal's error is a final answer: the lease
// no longer holds the lock, or the request itself is wrong.
func refused(err error) bool {
	return errors.Is(err, lockd.ErrLost) || errors.Is(err, lockd.ErrNotHeld) || errors.Is(err, lockd.ErrInvalidArgument)
}

// renewed records a successful renewal whose request was sent at sent. It
// reports false when the lease was already over: a late success does not
// reopen it.
func (l *Lease) renewed(sent time.Time, nl lockd.Lease) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return false
	}
	// Renewals of one lease are sent one at a time (renewMu), so this is
	// the server's latest word: the deadline moves to it, earlier too (an
	// Extend may shorten the TTL).
	l.ttl, l.expiresAt, l.lastErr = nl.TTL, nl.ExpiresAt, nil
	l.sentAt, l.deadline = sent, localDeadline(sent, nl.TTL)
	l.expiry.Reset(time.Until(l.deadline))
	return true
}

// nudge tells keep-alive, if it runs, that an Extend moved the deadline;
// its own renewals need no telling.
func (l *Lease) nudge() {
	select {
	case l.moved <- struct{}{}:
	default:
	}
}

// unsure records a renewal that failed without an answer: the server may
// still have applied it, so a shorter ttl than the lease had may now be in
// force.
func (l *Lease) unsure(sent time.Time, ttl time.Duration) {
	if ttl <= 0 {
		return // keeps the TTL: it cannot end the lease earlier
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if d := localDeadline(sent, ttl); l.err == nil && d.Before(l.deadline) {
		l.deadline = d
		l.expiry.Reset(time.Until(d))
		l.nudge()
	}
}

// expire ends the lease when its local deadline has passed without a
// renewal. The timer may fire just as a renewal moves the deadline: the
// deadline is checked again under the lock.
func (l *Lease) expire() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil || time.Now().Before(l.deadline) {
		return
	}
	l.finishLocked(errors.Join(lockd.ErrLost, ErrExpired, l.lastErr))
}

// finish closes Done with err, unless it is closed already.
func (l *Lease) finish(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.finishLocked(err)
}

func (l *Lease) finishLocked(err error) {
	if l.err != nil {
		return
	}
	l.err = err
	close(l.done)
	if l.expiry != nil { // nil for a hold taken by Reenter
		l.expiry.Stop()
	}
	if l.hold != nil {
		l.hold.Stop()
	}
	if l.stopLoop != nil {
		l.stopLoop()
	}
}
