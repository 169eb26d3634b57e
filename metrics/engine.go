package metrics

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/lockd/lockd"
)

// Engine returns an Engine that passes every call to e and records it in
// m: every acquire, extend and release (of locks and of semaphore permits)
// by result, an acquire's duration and wait, the acquires waiting now,
// refusals, losses, and the hold time of the leases it granted and then
// released. Errors are e's, unchanged. It serves semaphores when e does
// (lockd.ErrNotConfigured otherwise). Close closes e.
func Engine(e lockd.Engine, m *Metrics, opts ...EngineOption) lockd.Engine {
	w := &engine{Passthrough: lockd.Passthrough{Engine: e}, m: m}
	for _, o := range opts {
		o(w)
	}
	return w
}

// EngineOption configures Engine.
type EngineOption func(*engine)

// WithEventLog writes one info line to l per grant, refusal after a wait,
// loss (an extend answered lock_lost) and release, with the lock's name,
// owner and fence, the wait or the hold time, and the outcome; lines
// logged with a request's context carry its request id. The default is no
// event log.
func WithEventLog(l *slog.Logger) EngineOption {
	return func(e *engine) { e.log = l }
}

type engine struct {
	lockd.Passthrough
	m   *Metrics
	log *slog.Logger // nil: no event log
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
	e.acquired(ctx, "acquire", kindLock, name, opts, start, l, err)
	return l, err
}

// Extend extends through the engine and records the outcome.
func (e *engine) Extend(ctx context.Context, name, leaseID string, ttl time.Duration) (lockd.Lease, error) {
	l, err := e.Engine.Extend(ctx, name, leaseID, ttl)
	e.extended(ctx, "extend", kindLock, name, leaseID, l, err)
	return l, err
}

// Release releases through the engine and records the outcome, with the
// hold time once the lock is free.
func (e *engine) Release(ctx context.Context, name, leaseID string) (lockd.Released, error) {
	r, err := e.Engine.Release(ctx, name, leaseID)
	e.released(ctx, "release", kindLock, name, leaseID, r, err)
	return r, err
}

// ReleaseHold releases one hold through the engine and records the
// outcome, with the hold time once the lock is free.
func (e *engine) ReleaseHold(ctx context.Context, name, leaseID, hold string) (lockd.Released, error) {
	r, err := e.Engine.ReleaseHold(ctx, name, leaseID, hold)
	e.released(ctx, "release_hold", kindLock, name, leaseID, r, err)
	return r, err
}

// ReleaseByOwner releases through the engine and records the outcome.
func (e *engine) ReleaseByOwner(ctx context.Context, name, owner string) (lockd.Released, error) {
	r, err := e.Engine.ReleaseByOwner(ctx, name, owner)
	e.m.ops.WithLabelValues("release_by_owner", result(err)).Inc()
	if err == nil && e.log != nil {
		e.log.InfoContext(ctx, "released", slog.String("kind", kindLock), slog.String("name", name),
			slog.String("owner", r.Owner), slog.Int64("fence", r.Fence), slog.String("by", "owner"))
	}
	return r, err
}

// AcquirePermit acquires a permit through the engine and records the
// outcome.
func (e *engine) AcquirePermit(ctx context.Context, name string, limit int, opts lockd.AcquireOptions) (lockd.Lease, error) {
	done := e.waiting(opts)
	start := time.Now()
	l, err := e.Passthrough.AcquirePermit(ctx, name, limit, opts)
	done()
	e.acquired(ctx, "acquire_permit", kindPermit, name, opts, start, l, err)
	return l, err
}

// ExtendPermit extends a permit through the engine and records the
// outcome.
func (e *engine) ExtendPermit(ctx context.Context, name, leaseID string, ttl time.Duration) (lockd.Lease, error) {
	l, err := e.Passthrough.ExtendPermit(ctx, name, leaseID, ttl)
	e.extended(ctx, "extend_permit", kindPermit, name, leaseID, l, err)
	return l, err
}

// ReleasePermit releases a permit through the engine and records the
// outcome.
func (e *engine) ReleasePermit(ctx context.Context, name, leaseID string) (lockd.Released, error) {
	r, err := e.Passthrough.ReleasePermit(ctx, name, leaseID)
	e.released(ctx, "release_permit", kindPermit, name, leaseID, r, err)
	return r, err
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

func (e *engine) acquired(ctx context.Context, op, kind, name string, opts lockd.AcquireOptions, start time.Time, l lockd.Lease, err error) {
	r := result(err)
	took := time.Since(start)
	e.m.ops.WithLabelValues(op, r).Inc()
	e.m.acquireDur.WithLabelValues(r).Observe(took.Seconds())
	var noe *lockd.NotObtainedError
	switch {
	case err == nil:
		e.m.waited.Observe(l.Waited.Seconds())
		e.m.grants.add(grantKey(kind, name, l.ID), grant{at: time.Now(), expires: l.ExpiresAt, owner: l.Owner, fence: l.Fence})
		if e.log != nil && l.Holds <= 1 {
			e.log.InfoContext(ctx, "granted", slog.String("kind", kind), slog.String("name", name),
				slog.String("owner", l.Owner), slog.Int64("fence", l.Fence), slog.Int64("ttl_ms", l.TTL.Milliseconds()), slog.Int64("waited_ms", l.Waited.Milliseconds()))
		}
	case errors.As(err, &noe):
		e.m.denials.Inc()
		if e.log != nil && opts.Wait > 0 {
			attrs := []any{slog.String("kind", kind), slog.String("name", name), slog.String("owner", opts.Owner),
				slog.Int64("waited_ms", took.Milliseconds()), slog.String("result", r)}
			if noe.Holder != nil {
				attrs = append(attrs, slog.String("holder", noe.Holder.Owner))
			}
			e.log.InfoContext(ctx, "not obtained after waiting", attrs...)
		}
	}
}

func (e *engine) extended(ctx context.Context, op, kind, name, leaseID string, l lockd.Lease, err error) {
	key := grantKey(kind, name, leaseID)
	e.m.ops.WithLabelValues(op, result(err)).Inc()
	switch {
	case err == nil:
		e.m.grants.extend(key, l.ExpiresAt)
	case errors.Is(err, lockd.ErrLost):
		e.m.lost.Inc()
		g, known := e.m.grants.take(key)
		if e.log != nil {
			attrs := []any{slog.String("kind", kind), slog.String("name", name), slog.String("result", result(err))}
			if known {
				attrs = append(attrs, slog.String("owner", g.owner), slog.Int64("fence", g.fence), slog.Int64("held_ms", time.Since(g.at).Milliseconds()))
			}
			e.log.InfoContext(ctx, "lost", attrs...)
		}
	}
}

func (e *engine) released(ctx context.Context, op, kind, name, leaseID string, r lockd.Released, err error) {
	key := grantKey(kind, name, leaseID)
	e.m.ops.WithLabelValues(op, result(err)).Inc()
	switch {
	case err == nil && r.Holds == 0:
		g, known := e.m.grants.take(key)
		if known {
			e.m.held.Observe(time.Since(g.at).Seconds())
		}
		if e.log != nil {
			attrs := []any{slog.String("kind", kind), slog.String("name", name), slog.String("owner", r.Owner), slog.Int64("fence", r.Fence)}
			if known {
				attrs = append(attrs, slog.Int64("held_ms", time.Since(g.at).Milliseconds()))
			}
			e.log.InfoContext(ctx, "released", attrs...)
		}
	case errors.Is(err, lockd.ErrNotHeld):
		e.m.grants.take(key)
	}
}

// ForceRelease forces a release through the engine and records it, with a
// warn line in the event log.
func (e *engine) ForceRelease(ctx context.Context, name, reason string) (lockd.Released, error) {
	r, err := e.Passthrough.ForceRelease(ctx, name, reason)
	e.m.ops.WithLabelValues("force_release", result(err)).Inc()
	if err == nil && e.log != nil {
		e.log.WarnContext(ctx, "force released", slog.String("kind", kindLock), slog.String("name", name),
			slog.String("owner", r.Owner), slog.Int64("fence", r.Fence), slog.String("reason", reason))
	}
	return r, err
}

var (
	_ lockd.Semaphores    = (*engine)(nil)
	_ lockd.ForceReleaser = (*engine)(nil)
)

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
