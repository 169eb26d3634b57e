package lockd

import (
	"context"
	"errors"
	"time"
)

// journaled records the outcome of every call of an engine in a journal.
type journaled struct {
	Passthrough
	j        Journal
	instance string
	now      func() time.Time
}

// Journaled returns an Engine that passes every call to e and records its
// outcome in j, stamped with instance: acquired or denied, extended or
// expired, released or lost. Failures that decided nothing (quorum or store
// unavailable, invalid arguments) are not events. Errors are e's, unchanged.
// Recording never delays a call: Journal.Record does not block. Close
// closes e, not j.
func Journaled(e Engine, j Journal, instance string) Engine {
	return &journaled{Passthrough: Passthrough{e}, j: j, instance: instance, now: time.Now}
}

func (e *journaled) record(ctx context.Context, ev Event) {
	ev.Instance = e.instance
	if ev.At.IsZero() {
		ev.At = e.now()
	}
	// The caller's context may already be done (a client gone away); the
	// event still happened and must be written.
	e.j.Record(context.WithoutCancel(ctx), ev)
}

// Acquire acquires through the engine and records acquired or denied.
func (e *journaled) Acquire(ctx context.Context, name string, opts AcquireOptions) (Lease, error) {
	l, err := e.Engine.Acquire(ctx, name, opts)
	var noe *NotObtainedError
	switch {
	case err == nil && l.Holds > 1:
		// One more hold of a reentrant lease: no new grant.
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

// Release releases through the engine and records released, with the
// owner and fence the engine reports, or lost.
func (e *journaled) Release(ctx context.Context, name, leaseID string) (Released, error) {
	r, err := e.Engine.Release(ctx, name, leaseID)
	e.recordRelease(ctx, name, leaseID, r, err)
	return r, err
}

// ReleaseHold releases one hold through the engine and records released
// when that freed the lock, or lost.
func (e *journaled) ReleaseHold(ctx context.Context, name, leaseID, hold string) (Released, error) {
	r, err := e.Engine.ReleaseHold(ctx, name, leaseID, hold)
	e.recordRelease(ctx, name, leaseID, r, err)
	return r, err
}

// ReleaseByOwner releases through the engine and records released. A lock
// that was not the owner's is not an event: nothing happened to it.
func (e *journaled) ReleaseByOwner(ctx context.Context, name, owner string) (Released, error) {
	r, err := e.Engine.ReleaseByOwner(ctx, name, owner)
	if err == nil {
		e.recordRelease(ctx, name, "", r, nil)
	}
	return r, err
}

func (e *journaled) recordRelease(ctx context.Context, name, leaseID string, r Released, err error) {
	switch {
	case err == nil && r.Holds > 0:
		// One hold of a reentrant lease went; the lock is still held.
	case err == nil:
		e.record(ctx, Event{Kind: EventReleased, Name: name, Owner: r.Owner, LeaseID: leaseID, Fence: r.Fence})
	case errors.Is(err, ErrNotHeld):
		e.record(ctx, Event{Kind: EventLost, Name: name, LeaseID: leaseID})
	}
}
