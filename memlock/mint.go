package memlock

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lockd/lockd"
)

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
