package memlock

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lockd/lockd"
)

// The parts of an attempt that locks and permits share.

// enter takes e.mu for an attempt and counts it; every sweepEvery attempts
// it drops the expired locks and permits, which bounds memory under many
// short-lived names. It returns errClosed, without the mutex, once the
// engine is closed.
func (e *Engine) enter() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return errClosed
	}
	e.ops++
	if e.ops%sweepEvery == 0 {
		e.sweep()
		e.sweepSemaphores()
	}
	return nil
}

// mintFence mints the fence of pending, a grant already in place (which
// keeps others out), with e.mu released meanwhile so that a slow store
// holds up only this grant: e.mu is held on entry and again on return.
// minted is closed once the mint has ended. It returns an error matching
// lockd.ErrStoreUnavailable when the mint failed, or ended after pending
// ran out; the caller then undoes the grant.
func (e *Engine) mintFence(ctx context.Context, pending lockd.Lease, minted chan struct{}) (int64, error) {
	e.mu.Unlock()
	mctx, cancel := context.WithDeadline(ctx, pending.ExpiresAt)
	fence, err := e.minter.MintFence(mctx, pending)
	cancel()
	e.mu.Lock()
	close(minted)
	if err == nil && !time.Now().Before(pending.ExpiresAt) {
		err = errors.New("memlock: fence minted after the lease ran out")
	}
	if err != nil && !errors.Is(err, lockd.ErrStoreUnavailable) {
		err = fmt.Errorf("%w: %w", lockd.ErrStoreUnavailable, err)
	}
	return fence, err
}
