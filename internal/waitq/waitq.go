// Package waitq keeps, inside one engine, the line of acquires that wait
// for each lock, in arrival order. Only the head of a line retries; the
// others wait for their turn without doing anything, so a thousand waiters
// cost what one does. The engine tells the lines when a lock is released,
// and the head, which took the wake channel before its last attempt, tries
// again at once.
//
// A waiter that pauses may also leave an offer: its next attempt, ready to
// run. The head's offer stands in the line; a waiter behind it keeps its
// own, which stands from the moment it becomes the head. A release of the
// lock made in the same engine takes the standing offer and runs that
// attempt in its own round (a hand-off), then gives the outcome back; the
// waiter never runs an attempt of its own meanwhile.
package waitq

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Lines is the lines of one engine, by lock name. The zero value is ready
// to use, and it is safe for concurrent use. An empty line is forgotten, so
// memory follows the number of waiters.
type Lines struct {
	mu    sync.Mutex
	lines map[string]*line
}

type line struct {
	waiters []*Waiter     // arrival order; the first is the head
	wake    chan struct{} // closed when a release of the lock is heard, then replaced
	offer   *Offer        // the head's standing offer, or nil
	holder  string        // the owner of the lock as last seen here, "" when unknown
	expires time.Time     // when that holder's lease runs out, zero when unknown
}

// Offer is a pausing head's next attempt, left in its line for a release
// to run (see Lines.Offer).
type Offer struct {
	attempt any           // what the waiter offers (in redlock, how to make its attempt)
	result  any           // what the release that took it ran, set by Done
	taken   chan struct{} // closed by Take
	done    chan struct{} // closed by Done, after Take
	w       *Waiter
}

// Attempt returns the attempt given to Lines.Offer.
func (o *Offer) Attempt() any { return o.attempt }

// Taken returns a channel that closes when a release takes the offer.
func (o *Offer) Taken() <-chan struct{} { return o.taken }

// Done tells the waiter that the release which took the offer has run its
// attempt, with result its outcome. The one that took the offer must call
// it exactly once, whatever happens.
func (o *Offer) Done(result any) {
	o.result = result
	close(o.done)
}

// Result returns what Done was given; call it once Withdraw reported the
// offer taken.
func (o *Offer) Result() any { return o.result }

// Waiter is one acquire in a line.
type Waiter struct {
	turn chan struct{}
	// afterGrant is set when the waiter became the head because the one
	// before it was granted the lock: the lock is then held, and the new
	// head has nothing to try before the next release, which closes
	// released.
	afterGrant bool
	released   <-chan struct{}
	offer      *Offer // its offer, standing in the line once it is the head
}

// AfterGrant reports whether the waiter became the head because the waiter
// before it was granted the lock (false when it was first in line, or the
// one before it gave up), and if so returns a channel that closes at the
// first release of the lock heard after that. Call it once Turn has closed.
func (w *Waiter) AfterGrant() (bool, <-chan struct{}) { return w.afterGrant, w.released }

// Turn returns a channel that is closed once the waiter is the head.
func (w *Waiter) Turn() <-chan struct{} { return w.turn }

// Head reports whether the waiter is the head now.
func (w *Waiter) Head() bool {
	select {
	case <-w.turn:
		return true
	default:
		return false
	}
}

// Join puts a new waiter at the end of name's line; it is the head at once
// when the line was empty. Every Join must be followed by a Leave.
func (l *Lines) Join(name string) *Waiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lines == nil {
		l.lines = make(map[string]*line)
	}
	ln := l.lines[name]
	if ln == nil {
		ln = &line{wake: make(chan struct{})}
		l.lines[name] = ln
	}
	w := &Waiter{turn: make(chan struct{})}
	if len(ln.waiters) == 0 {
		close(w.turn)
	}
	ln.waiters = append(ln.waiters, w)
	return w
}

// Leave takes w out of name's line, handing the turn to the next waiter
// when w was the head; granted says whether w leaves with the lock.
func (l *Lines) Leave(name string, w *Waiter, granted bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ln := l.lines[name]
	if ln == nil {
		return
	}
	for i, x := range ln.waiters {
		if x != w {
			continue
		}
		ln.waiters = append(ln.waiters[:i], ln.waiters[i+1:]...)
		if ln.offer != nil && ln.offer.w == w {
			ln.offer = nil // a head that left without withdrawing
		}
		if i == 0 && len(ln.waiters) > 0 {
			next := ln.waiters[0]
			next.afterGrant, next.released = granted, ln.wake
			ln.offer = next.offer // its offer stands from now on
			close(next.turn)
		}
		break
	}
	if len(ln.waiters) == 0 {
		delete(l.lines, name)
	}
}

// Offer leaves attempt in name's line as w's offer, replacing any it has:
// it stands at once when w is the head, otherwise from when w becomes the
// head. It returns nil when w is not in the line. The waiter pauses, then
// calls Withdraw, which tells it whether a release took the offer.
func (l *Lines) Offer(name string, w *Waiter, attempt any) *Offer {
	l.mu.Lock()
	defer l.mu.Unlock()
	ln := l.lines[name]
	if ln == nil || !slices.Contains(ln.waiters, w) {
		return nil
	}
	w.offer = &Offer{attempt: attempt, taken: make(chan struct{}), done: make(chan struct{}), w: w}
	if ln.waiters[0] == w {
		ln.offer = w.offer
	}
	return w.offer
}

// Take takes the offer standing in name's line, if any: the caller runs
// its attempt and then calls Done. A taken offer is not offered again.
func (l *Lines) Take(name string) *Offer {
	l.mu.Lock()
	defer l.mu.Unlock()
	ln := l.lines[name]
	if ln == nil || ln.offer == nil {
		return nil
	}
	o := ln.offer
	ln.offer, o.w.offer = nil, nil
	close(o.taken)
	return o
}

// SetHolder notes the lock's holder as last seen in name's line (a grant
// to a waiter, or the holder a refusal named) and when its lease runs out
// (zero when unknown); it is forgotten with the line.
func (l *Lines) SetHolder(name, owner string, expires time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ln := l.lines[name]; ln != nil {
		ln.holder, ln.expires = owner, expires
	}
}

// Holder returns what SetHolder noted in name's line, or "" and the zero
// time.
func (l *Lines) Holder(name string) (string, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ln := l.lines[name]; ln != nil {
		return ln.holder, ln.expires
	}
	return "", time.Time{}
}

// Offered reports whether an offer stands in name's line.
func (l *Lines) Offered(name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	ln := l.lines[name]
	return ln != nil && ln.offer != nil
}

// Withdraw takes o out of name's line, unless a release took it first: it
// then waits until that release called Done (the attempt's round is
// bounded by its timeout) and reports true. A nil o reports false.
func (l *Lines) Withdraw(name string, o *Offer) bool {
	if o == nil {
		return false
	}
	l.mu.Lock()
	if ln := l.lines[name]; ln != nil && ln.offer == o {
		ln.offer = nil
	}
	if o.w.offer == o {
		o.w.offer = nil
	}
	l.mu.Unlock()
	select {
	case <-o.taken:
		<-o.done
		return true
	default:
		return false
	}
}

// Woken returns a channel that closes when a release of name is next
// heard, or nil when nobody waits for name. The head takes it before each
// attempt, so that a release between the attempt and its pause is not
// missed.
func (l *Lines) Woken(name string) <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ln := l.lines[name]; ln != nil {
		return ln.wake
	}
	return nil
}

// Released wakes the head of name's line, if anyone waits.
func (l *Lines) Released(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ln := l.lines[name]; ln != nil {
		close(ln.wake)
		ln.wake = make(chan struct{})
	}
}

// WakeAll wakes the head of every line, as when an engine closes: each
// tries again at once and finds why it should stop.
func (l *Lines) WakeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ln := range l.lines {
		close(ln.wake)
		ln.wake = make(chan struct{})
	}
}

// Len returns how many acquires wait for name.
func (l *Lines) Len(name string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ln := l.lines[name]; ln != nil {
		return len(ln.waiters)
	}
	return 0
}

// Pause waits until ch closes (reporting true), or until ctx ends or the
// time until is reached (reporting false). A nil ch never closes.
func Pause(ctx context.Context, ch <-chan struct{}, until time.Time) bool {
	t := time.NewTimer(max(time.Until(until), 0))
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}
