package redlock

import (
	"context"

	"github.com/lockd/lockd"
)

// Release deletes the lock on every node where leaseID still holds it and
// never touches another holder's lock. It returns what it deleted when a
// quorum of nodes answered, none of them still holding the lease, and at
// least one deleted it; lockd.ErrNotHeld when a quorum answered and none
// held the lease (already released, expired, or someone else's now);
// ErrQuorumUnavailable when too few nodes answered to tell. A retried
// release is harmless, except for a reentrant lease: there it removes the
// most recent hold on each node, and a retry may remove one more (use
// ReleaseHold).
func (e *Engine) Release(ctx context.Context, name, leaseID string) (lockd.Released, error) {
	if err := lockd.ValidateLease(name, leaseID); err != nil {
		return lockd.Released{}, err
	}
	return e.release(ctx, name, leaseID, "", "")
}

// ReleaseHold removes the hold named hold of the reentrant lease leaseID
// on every node that has it, and deletes the lock with its last hold. It
// returns what it released, with the holds left (by most nodes), when a
// quorum answered and at least one node removed the hold; lockd.ErrNotHeld
// when a quorum answered and none had it; ErrQuorumUnavailable when too few
// nodes answered to tell. A retried ReleaseHold is harmless.
func (e *Engine) ReleaseHold(ctx context.Context, name, leaseID, hold string) (lockd.Released, error) {
	if err := lockd.ValidateLease(name, leaseID); err != nil {
		return lockd.Released{}, err
	}
	if err := lockd.ValidateHold(hold); err != nil {
		return lockd.Released{}, err
	}
	return e.release(ctx, name, leaseID, "", hold)
}

// ReleaseByOwner is Release for a lock acquired with
// AcquireOptions.ReleaseByOwner, matched by its owner label. It returns
// lockd.ErrNotHeld when a quorum answered and none had such a lock of
// owner; another holder's lock, or a lock acquired without ReleaseByOwner,
// is never touched.
func (e *Engine) ReleaseByOwner(ctx context.Context, name, owner string) (lockd.Released, error) {
	if err := lockd.ValidateName(name); err != nil {
		return lockd.Released{}, err
	}
	if err := lockd.ValidateOwner(owner); err != nil {
		return lockd.Released{}, err
	}
	return e.release(ctx, name, "", owner, "")
}

// release answers once a quorum answered: the nodes still running get the
// delete too, in the background. When the head of this engine's line for
// the lock waits with an offer, the release hands the lock to it in the
// same round (handoff.go).
func (e *Engine) release(ctx context.Context, name, leaseID, owner, hold string) (lockd.Released, error) {
	args := []string{leaseID, owner, "", e.releasedChannel(), name, hold}
	if o := e.takeOffer(name); o != nil {
		return e.handOff(ctx, name, args, o)
	}
	replies, _ := e.round(ctx, e.cfg.nodeTimeout, nil, releaseScript, []string{e.lockKey(name), e.readersKey(name), e.readerDetailsKey(name)},
		args, e.quorumOrImpossible(isAnswer))
	return e.releasedFrom(name, replies)
}

// releasedFrom reads a release round's replies (release.lua's).
func (e *Engine) releasedFrom(name string, replies []reply) (lockd.Released, error) {
	if ok := count(replies, isAnswer); ok < e.quorum {
		return lockd.Released{}, e.quorumError("answered", ok, replies)
	}
	out := lockd.Released{Name: name}
	var fences, holds []int64
	for _, r := range replies {
		if a := fields(r); len(a) >= 3 {
			out.Owner = toStr(a[0])
			fences = append(fences, toInt(a[1]))
			holds = append(holds, toInt(a[2]))
		}
	}
	if len(fences) == 0 {
		return lockd.Released{}, lockd.ErrNotHeld
	}
	out.Fence = mostCommon(fences)
	out.Holds = int(mostCommon(holds))
	return out, nil
}
