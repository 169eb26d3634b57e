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
// release is harmless.
func (e *Engine) Release(ctx context.Context, name, leaseID string) (lockd.Released, error) {
	if err := lockd.ValidateLease(name, leaseID); err != nil {
		return lockd.Released{}, err
	}
	return e.release(ctx, name, leaseID, "")
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
	return e.release(ctx, name, "", owner)
}

// release answers once a quorum answered: the nodes still running get the
// delete too, in the background.
func (e *Engine) release(ctx context.Context, name, leaseID, owner string) (lockd.Released, error) {
	replies, _ := e.round(ctx, e.cfg.nodeTimeout, nil, releaseScript, []string{e.lockKey(name)},
		[]string{leaseID, owner, "", e.releasedChannel(), name}, e.quorumOrImpossible(isAnswer))
	if ok := count(replies, isAnswer); ok < e.quorum {
		return lockd.Released{}, e.quorumError("answered", ok, replies)
	}
	out := lockd.Released{Name: name}
	var fences []int64
	for _, r := range replies {
		if a := fields(r); len(a) >= 2 {
			out.Owner = toStr(a[0])
			fences = append(fences, toInt(a[1]))
		}
	}
	if len(fences) == 0 {
		return lockd.Released{}, lockd.ErrNotHeld
	}
	out.Fence = mostCommon(fences)
	return out, nil
}
