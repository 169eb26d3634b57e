package client

import (
	"context"
	"fmt"

	"github.com/lockd/lockd"
)

// Reentrant makes the lease reentrant: Lease.Reenter then takes more holds
// on the lock with the same lease and fence, and the lock is free again
// once every hold is released (see lockd.AcquireOptions.Reentrant). The
// acquire sends a hold value of its own, so its retries are the same hold.
// It cannot be combined with AcquireMany (*lockd.ArgumentError, field
// "reentrant"). The default is false.
func Reentrant() AcquireOption {
	return func(c *acquireConfig) { c.opts.Reentrant = true }
}

// Read makes the acquire take a read lease: readers share the lock, each
// with its own lease, and exclude writers (see lockd.AcquireOptions.Mode).
// Extend, Release and keep-alive work on a read lease as on any other. It
// cannot be combined with Reentrant or AcquireMany (*lockd.ArgumentError,
// field "mode"). The default is a write lease.
func Read() AcquireOption {
	return func(c *acquireConfig) { c.opts.Mode = lockd.ModeRead }
}

// Mode returns lockd.ModeRead for a read lease, and "" for a write lease.
func (l *Lease) Mode() string { return l.mode }

// Hold returns the hold this handle has of a reentrant lease, which its
// Release removes, or "" for a lease acquired without Reentrant.
func (l *Lease) Hold() string { return l.holdID }

// Reenter takes one more hold on the lock of a lease acquired with
// Reentrant, and returns a handle on it: same name, owner, lease value and
// fence, and a hold of its own, which the handle's Release removes (and
// only that one, so that Release is safe to retry). The lock stays held
// until every hold is released. The acquire refreshes the lock's TTL to
// the lease's current TTL and is retried like Acquire's (see WithRetry),
// with the same hold.
//
// The handle shares the outer lease's lifetime: it has no keep-alive or
// clock of its own (the outer lease's keep-alive renews the whole lock),
// TTL, ExpiresAt and Extend are the outer lease's, and its Done closes when
// its hold is released or when the outer lease's Done closes, with the
// outer lease's Err. Release holds innermost first: once the outer handle
// is released, the holds taken by Reenter stay on the server until their
// own release or the TTL, but nothing renews them. Reenter on a handle that
// Reenter made adds a hold to the same outer lease.
//
// It returns an *lockd.ArgumentError (field "reentrant") for a lease
// acquired without Reentrant; the outer lease's Err when its Done has
// closed; an error matching lockd.ErrLost, taking no hold, when the lease
// no longer held the lock (and the outer handle's Done closes); and the
// errors of Acquire otherwise.
func (l *Lease) Reenter(ctx context.Context) (*Lease, error) {
	root := l
	if l.root != nil {
		root = l.root
	}
	if root.holdID == "" {
		return nil, &lockd.ArgumentError{Field: "reentrant", Reason: "the lease was acquired without Reentrant"}
	}
	if err := root.Err(); err != nil {
		return nil, err
	}
	o := lockd.AcquireOptions{Owner: root.owner, Lease: root.id, TTL: root.TTL(), Reentrant: true, Hold: lockd.NewLeaseID()}
	var nl lockd.Lease
	err := root.c.retry(ctx, 0, func(int) error {
		var err error
		nl, err = root.c.eng.Acquire(ctx, root.name, o)
		return err
	})
	if err != nil {
		return nil, err
	}
	if nl.Fence != root.fence {
		// The outer grant had run out and this acquire made a new one:
		// the outer lease may have been someone else's meanwhile.
		_, _ = root.c.eng.ReleaseHold(context.WithoutCancel(ctx), root.name, root.id, o.Hold)
		lost := fmt.Errorf("client: reenter %q: the lease no longer held the lock (fence %d, now %d): %w", root.name, root.fence, nl.Fence, lockd.ErrLost)
		root.finish(lost)
		return nil, lost
	}
	in := &Lease{
		c: root.c, name: root.name, owner: root.owner, id: root.id, fence: root.fence, metadata: root.metadata,
		holdID: o.Hold, root: root, done: make(chan struct{}), moved: make(chan struct{}, 1),
	}
	go func() {
		select {
		case <-root.done:
			in.finish(root.Err())
		case <-in.done:
		}
	}()
	return in, nil
}

// release makes one release request for the handle: of its hold for a
// reentrant lease, of the lease otherwise.
func (l *Lease) release(ctx context.Context) error {
	if l.holdID != "" {
		_, err := l.c.eng.ReleaseHold(ctx, l.name, l.id, l.holdID)
		return err
	}
	_, err := l.c.eng.Release(ctx, l.name, l.id)
	return err
}
