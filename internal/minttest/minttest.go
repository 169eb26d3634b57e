// Package minttest has a lockd.FenceMinter for engine tests that fails or
// stalls on demand. It stands in for the MongoDB store where a test is
// about the engine's side of minting; mongostore's own tests cover the
// store against a real server.
package minttest

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/lockd/lockd"
)

// ErrDown is what a Minter that is down returns.
var ErrDown = errors.New("minttest: store down")

// Minter hands out fences from a counter that starts at Start. It is safe
// for concurrent use.
type Minter struct {
	mu    sync.Mutex
	next  int64
	down  bool
	delay time.Duration
	calls int
	last  lockd.Lease
}

// New returns a Minter whose first fence is start.
func New(start int64) *Minter { return &Minter{next: start} }

// MintFence returns the next fence, ErrDown (wrapped in
// lockd.ErrStoreUnavailable) while down, or ctx.Err() when a delay outlasts
// the context.
func (m *Minter) MintFence(ctx context.Context, lease lockd.Lease) (int64, error) {
	m.mu.Lock()
	delay, down := m.delay, m.down
	m.calls++
	m.last = lease
	m.mu.Unlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	if down {
		return 0, errors.Join(lockd.ErrStoreUnavailable, ErrDown)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.next
	m.next++
	return f, nil
}

// SetDown makes later mints fail (true) or succeed (false).
func (m *Minter) SetDown(down bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.down = down
}

// SetDelay makes later mints wait d first.
func (m *Minter) SetDelay(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.delay = d
}

// Calls returns how many mints were asked for, and the lease of the last.
func (m *Minter) Calls() (int, lockd.Lease) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls, m.last
}
