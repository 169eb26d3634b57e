package lockd

import (
	"context"
	"errors"
	"time"
)

// journalWait bounds how long an engine call may wait for room in the
// journal's queue.
const journalWait = time.Second

// journaled records the outcome of every call of an engine in a journal.
type journaled struct {
	Engine
	j        Journal
	instance string
	now      func() time.Time
}

// Journaled returns an Engine that passes every call to e and records its
// outcome in j, stamped with instance: acquired or denied, extended or
// expired, released or lost. Failures that decided nothing (quorum or store
// unavailable, invalid arguments) are not events. Errors are e's, unchanged.
// Close closes e, not j.
func Journaled(e Engine, j Journal, instance string) Engine {
	return &journaled{Engine: e, j: j, instance: instance, now: time.Now}
}

func (e *journaled) record(ctx context.Context, ev Event) {
	ev.Instance = e.instance
	if ev.At.IsZero() {
		ev.At = e.now()
	}
	// The caller's context may already be done (a client gone away); the
	// event still happened and must be written.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), journalWait)
	defer cancel()
	e.j.Record(ctx, ev)
}

// Acquire acquires through the engine and records acquired or denied.
func (e *journaled) Acquire(ctx context.Context, name string, opts AcquireOptions) (Lease, error) {
	l, err := e.Engine.Acquire(ctx, name, opts)
	var noe *NotObtainedError
	switch {
	case err == nil:
		e.record(ctx, Event{Kind: EventAcquired, Name: name, Owner: l.Owner, LeaseID: l.ID, Fence: l.Fence, At: l.AcquiredAt, ExpiresAt: l.ExpiresAt})
	case errors.As(err, &noe):
		ev := Event{Kind: EventDenied, Name: name, Owner: opts.Owner}
		if noe.Holder != nil {
			ev.Holder = noe.Holder.Owner
		}
		e.record(ctx, ev)
	}
	return l, err
}

// Extend extends through the engine and records extended or expired.
func (e *journaled) Extend(ctx context.Context, name, leaseID string, ttl time.Duration) (Lease, error) {
	l, err := e.Engine.Extend(ctx, name, leaseID, ttl)
	switch {
	case err == nil:
		e.record(ctx, Event{Kind: EventExtended, Name: name, Owner: l.Owner, LeaseID: leaseID, Fence: l.Fence, At: l.AcquiredAt, ExpiresAt: l.ExpiresAt})
	case errors.Is(err, ErrLost):
		e.record(ctx, Event{Kind: EventExpired, Name: name, LeaseID: leaseID})
	}
	return l, err
}

// Release releases through the engine and records released or lost. The
// engine does not report the owner and fence of what it deleted; the
// journal fills them in from the lock record.
func (e *journaled) Release(ctx context.Context, name, leaseID string) error {
	err := e.Engine.Release(ctx, name, leaseID)
	switch {
	case err == nil:
		e.record(ctx, Event{Kind: EventReleased, Name: name, LeaseID: leaseID})
	case errors.Is(err, ErrNotHeld):
		e.record(ctx, Event{Kind: EventLost, Name: name, LeaseID: leaseID})
	}
	return err
}
