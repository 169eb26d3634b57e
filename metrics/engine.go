package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/lockd/lockd"
)

// Engine returns an Engine that passes every call to e and records it in
// m: every acquire, extend and release (of locks and of semaphore permits)
// by result, an acquire's duration and wait, the acquires waiting now,
// refusals, losses, and the hold time of the leases it granted and then
// released. Errors are e's, unchanged. It serves semaphores when e does
// (lockd.ErrNotConfigured otherwise). Close closes e.
func Engine(e lockd.Engine, m *Metrics) lockd.Engine {
	return &engine{Engine: e, m: m}
}

type engine struct {
	lockd.Engine
	m *Metrics
}

// Kinds of grants, in the grants' keys.
const (
	kindLock   = "lock"
	kindPermit = "permit"
)

// Acquire acquires through the engine and records the outcome.
func (e *engine) Acquire(ctx context.Context, name string, opts lockd.AcquireOptions) (lockd.Lease, error) {
	done := e.waiting(opts)
	start := time.Now()
	l, err := e.Engine.Acquire(ctx, name, opts)
	done()
	e.acquired("acquire", kindLock, name, start, l, err)
	return l, err
}

// Extend extends through the engine and records the outcome.
func (e *engine) Extend(ctx context.Context, name, leaseID string, ttl time.Duration) (lockd.Lease, error) {
	l, err := e.Engine.Extend(ctx, name, leaseID, ttl)
	e.extended("extend", grantKey(kindLock, name, leaseID), l, err)
	return l, err
}

// Release releases through the engine and records the outcome, with the
// hold time once the lock is free.
func (e *engine) Release(ctx context.Context, name, leaseID string) (lockd.Released, error) {
	r, err := e.Engine.Release(ctx, name, leaseID)
	e.released("release", grantKey(kindLock, name, leaseID), r, err)
	return r, err
}

// ReleaseHold releases one hold through the engine and records the
// outcome, with the hold time once the lock is free.
func (e *engine) ReleaseHold(ctx context.Context, name, leaseID, hold string) (lockd.Released, error) {
	r, err := e.Engine.ReleaseHold(ctx, name, leaseID, hold)
	e.released("release_hold", grantKey(kindLock, name, leaseID), r, err)
	return r, err
}

// ReleaseByOwner releases through the engine and records the outcome.
func (e *engine) ReleaseByOwner(ctx context.Context, name, owner string) (lockd.Released, error) {
	r, err := e.Engine.ReleaseByOwner(ctx, name, owner)
	e.m.ops.WithLabelValues("release_by_owner", result(err)).Inc()
	return r, err
}

// AcquirePermit acquires a permit through the engine and records the
// outcome.
func (e *engine) AcquirePermit(ctx context.Context, name string, limit int, opts lockd.AcquireOptions) (lockd.Lease, error) {
	sem, err := lockd.AsSemaphores(e.Engine)
	if err != nil {
		return lockd.Lease{}, err
	}
	done := e.waiting(opts)
	start := time.Now()
	l, err := sem.AcquirePermit(ctx, name, limit, opts)
	done()
	e.acquired("acquire_permit", kindPermit, name, start, l, err)
	return l, err
}

// ExtendPermit extends a permit through the engine and records the
// outcome.
func (e *engine) ExtendPermit(ctx context.Context, name, leaseID string, ttl time.Duration) (lockd.Lease, error) {
	sem, err := lockd.AsSemaphores(e.Engine)
	if err != nil {
		return lockd.Lease{}, err
	}
	l, err := sem.ExtendPermit(ctx, name, leaseID, ttl)
	e.extended("extend_permit", grantKey(kindPermit, name, leaseID), l, err)
	return l, err
}

// ReleasePermit releases a permit through the engine and records the
// outcome.
func (e *engine) ReleasePermit(ctx context.Context, name, leaseID string) (lockd.Released, error) {
	sem, err := lockd.AsSemaphores(e.Engine)
	if err != nil {
		return lockd.Released{}, err
	}
	r, err := sem.ReleasePermit(ctx, name, leaseID)
	e.released("release_permit", grantKey(kindPermit, name, leaseID), r, err)
	return r, err
}

// InspectSemaphore inspects a semaphore through the engine.
func (e *engine) InspectSemaphore(ctx context.Context, name string) (lockd.SemaphoreInfo, error) {
	sem, err := lockd.AsSemaphores(e.Engine)
	if err != nil {
		return lockd.SemaphoreInfo{}, err
	}
	return sem.InspectSemaphore(ctx, name)
}

// waiting counts an acquire that may wait among the waiters until the
// returned function is called.
func (e *engine) waiting(opts lockd.AcquireOptions) (done func()) {
	if opts.Wait <= 0 {
		return func() {}
	}
	e.m.waiters.Inc()
	return e.m.waiters.Dec
}

func (e *engine) acquired(op, kind, name string, start time.Time, l lockd.Lease, err error) {
	r := result(err)
	e.m.ops.WithLabelValues(op, r).Inc()
	e.m.acquireDur.WithLabelValues(r).Observe(time.Since(start).Seconds())
	switch {
	case err == nil:
		e.m.waited.Observe(l.Waited.Seconds())
		e.m.grants.add(grantKey(kind, name, l.ID), time.Now(), l.ExpiresAt)
	case errors.Is(err, lockd.ErrNotObtained):
		e.m.denials.Inc()
	}
}

func (e *engine) extended(op, key string, l lockd.Lease, err error) {
	e.m.ops.WithLabelValues(op, result(err)).Inc()
	switch {
	case err == nil:
		e.m.grants.extend(key, l.ExpiresAt)
	case errors.Is(err, lockd.ErrLost):
		e.m.lost.Inc()
		e.m.grants.drop(key)
	}
}

func (e *engine) released(op, key string, r lockd.Released, err error) {
	e.m.ops.WithLabelValues(op, result(err)).Inc()
	switch {
	case err == nil && r.Holds == 0:
		if at, ok := e.m.grants.take(key); ok {
			e.m.held.Observe(time.Since(at).Seconds())
		}
	case errors.Is(err, lockd.ErrNotHeld):
		e.m.grants.drop(key)
	}
}

var _ lockd.Semaphores = (*engine)(nil)

// Minter returns a FenceMinter that mints through mn and records each
// mint's duration, and its failures, in m.
func Minter(mn lockd.FenceMinter, m *Metrics) lockd.FenceMinter {
	return minter{mn, m}
}

type minter struct {
	lockd.FenceMinter
	m *Metrics
}

// MintFence mints through the store and records the outcome.
func (mn minter) MintFence(ctx context.Context, lease lockd.Lease) (int64, error) {
	start := time.Now()
	f, err := mn.FenceMinter.MintFence(ctx, lease)
	mn.m.mintDur.Observe(time.Since(start).Seconds())
	if err != nil {
		mn.m.mintFails.Inc()
	}
	return f, err
}
