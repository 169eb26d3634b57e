package lockd

import (
	"context"
	"time"
)

// Passthrough is the base of an Engine wrapper (a journal, metrics,
// limits): embedded in one, it passes the calls of the interfaces an engine
// may offer beyond Engine (Semaphores, Lister, ForceReleaser) on to Engine,
// and answers ErrNotConfigured when Engine does not offer one. A wrapper
// then overrides only the calls it changes, and keeps offering whatever the
// engine it wraps offers.
type Passthrough struct{ Engine }

// AcquirePermit passes on to Engine's semaphores.
func (p Passthrough) AcquirePermit(ctx context.Context, name string, limit int, opts AcquireOptions) (Lease, error) {
	s, err := AsSemaphores(p.Engine)
	if err != nil {
		return Lease{}, err
	}
	return s.AcquirePermit(ctx, name, limit, opts)
}

// ExtendPermit passes on to Engine's semaphores.
func (p Passthrough) ExtendPermit(ctx context.Context, name, leaseID string, ttl time.Duration) (Lease, error) {
	s, err := AsSemaphores(p.Engine)
	if err != nil {
		return Lease{}, err
	}
	return s.ExtendPermit(ctx, name, leaseID, ttl)
}

// ReleasePermit passes on to Engine's semaphores.
func (p Passthrough) ReleasePermit(ctx context.Context, name, leaseID string) (Released, error) {
	s, err := AsSemaphores(p.Engine)
	if err != nil {
		return Released{}, err
	}
	return s.ReleasePermit(ctx, name, leaseID)
}

// InspectSemaphore passes on to Engine's semaphores.
func (p Passthrough) InspectSemaphore(ctx context.Context, name string) (SemaphoreInfo, error) {
	s, err := AsSemaphores(p.Engine)
	if err != nil {
		return SemaphoreInfo{}, err
	}
	return s.InspectSemaphore(ctx, name)
}

// ListLocks passes on to Engine's Lister.
func (p Passthrough) ListLocks(ctx context.Context, prefix string, limit int, after string) (LockPage, error) {
	l, err := AsLister(p.Engine)
	if err != nil {
		return LockPage{}, err
	}
	return l.ListLocks(ctx, prefix, limit, after)
}

// ForceRelease passes on to Engine's ForceReleaser.
func (p Passthrough) ForceRelease(ctx context.Context, name, reason string) (Released, error) {
	f, err := AsForceReleaser(p.Engine)
	if err != nil {
		return Released{}, err
	}
	return f.ForceRelease(ctx, name, reason)
}

var (
	_ Semaphores    = Passthrough{}
	_ Lister        = Passthrough{}
	_ ForceReleaser = Passthrough{}
)
