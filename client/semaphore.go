package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/wire"
)

// AcquirePermit takes a permit of the semaphore name, of which at most
// limit (in [1, lockd.MaxLimit]) are live at once, and returns a handle on
// it: the same *Lease as Acquire's, so KeepAlive, Done, Err, Extend and
// Release work alike, against the permit. opts are Acquire's; Wait waits
// for a permit to be freed.
//
// It returns *lockd.NotObtainedError (matching lockd.ErrNotObtained) when
// every permit is taken past the wait, naming the holder of the permit
// that expires soonest; *lockd.LimitConflictError (matching
// lockd.ErrLimitConflict) when live permits were granted under another
// limit, which is final: retry once they are released or expired;
// lockd.ErrNotConfigured when the engine serves no semaphores; and
// otherwise what Acquire returns, after the same retries of transient
// failures. Each call is a new holder with a fresh lease; its retries,
// and only they, get the same permit back.
func (c *Client) AcquirePermit(ctx context.Context, name string, limit int, opts ...AcquireOption) (*Lease, error) {
	pc, err := c.permits(limit)
	if err != nil {
		return nil, err
	}
	return pc.Acquire(ctx, name, opts...)
}

// WithPermit is WithLock for a permit of the semaphore name of limit
// permits: it takes one with keep-alive, runs fn while holding it, and
// releases it afterwards. It returns AcquirePermit's error without running
// fn when no permit was obtained, and otherwise what WithLock returns.
func (c *Client) WithPermit(ctx context.Context, name string, limit int, fn func(ctx context.Context, l *Lease) error, opts ...AcquireOption) error {
	pc, err := c.permits(limit)
	if err != nil {
		return err
	}
	return pc.WithLock(ctx, name, fn, opts...)
}

// InspectSemaphore reports the limit and the live permits of the
// semaphore name, soonest to expire first. Lease values are never shown.
//
// It returns *lockd.ArgumentError for a bad name, lockd.ErrNotConfigured
// when the engine serves no semaphores, and otherwise what Inspect
// returns, after the same retries of transient failures.
func (c *Client) InspectSemaphore(ctx context.Context, name string) (lockd.SemaphoreInfo, error) {
	sem, err := lockd.AsSemaphores(c.eng)
	if err != nil {
		return lockd.SemaphoreInfo{}, err
	}
	var info lockd.SemaphoreInfo
	err = c.retry(ctx, 0, func(int) error {
		var err error
		info, err = sem.InspectSemaphore(ctx, name)
		return err
	})
	return info, err
}

// permits returns a copy of the client whose locks are the permits of
// semaphores of limit permits: the lock code (retries, keep-alive, Done,
// WithLock) then serves permits unchanged. It returns an
// *lockd.ArgumentError for a bad limit and lockd.ErrNotConfigured when the
// engine serves no semaphores.
func (c *Client) permits(limit int) (*Client, error) {
	if err := lockd.ValidateLimit(limit); err != nil {
		return nil, err
	}
	sem, err := lockd.AsSemaphores(c.eng)
	if err != nil {
		return nil, err
	}
	pc := *c
	pc.eng = permitEngine{Engine: c.eng, sem: sem, limit: limit}
	return &pc, nil
}

// permitEngine is an engine whose locks are the permits of semaphores of
// one limit.
type permitEngine struct {
	lockd.Engine
	sem   lockd.Semaphores
	limit int
}

// Acquire takes a permit.
func (p permitEngine) Acquire(ctx context.Context, name string, o lockd.AcquireOptions) (lockd.Lease, error) {
	l, err := p.sem.AcquirePermit(ctx, name, p.limit, o)
	var lce *lockd.LimitConflictError
	if errors.As(err, &lce) {
		lce.Asked = p.limit
	}
	return l, err
}

// Extend renews a permit.
func (p permitEngine) Extend(ctx context.Context, name, leaseID string, ttl time.Duration) (lockd.Lease, error) {
	return p.sem.ExtendPermit(ctx, name, leaseID, ttl)
}

// Release releases a permit.
func (p permitEngine) Release(ctx context.Context, name, leaseID string) (lockd.Released, error) {
	return p.sem.ReleasePermit(ctx, name, leaseID)
}

// ReleaseHold refuses: permits have no holds.
func (p permitEngine) ReleaseHold(ctx context.Context, name, leaseID, hold string) (lockd.Released, error) {
	return lockd.Released{}, &lockd.ArgumentError{Field: "hold", Reason: "permits have no holds"}
}

// semaphorePath builds the path of a semaphore route; see pathFor.
func semaphorePath(name, action string) string {
	p := "/v1/semaphores/" + url.PathEscape(name)
	if action != "" {
		p += "/" + action
	}
	return p
}

// AcquirePermit sends POST /v1/semaphores/{name}/acquire.
func (r *remote) AcquirePermit(ctx context.Context, name string, limit int, o lockd.AcquireOptions) (lockd.Lease, error) {
	// What the request cannot carry is refused here, as an engine would.
	if _, err := o.PreparePermit(name, limit); err != nil {
		return lockd.Lease{}, err
	}
	a := acquireRequest(o)
	n := int64(limit)
	in := wire.PermitRequest{Owner: a.Owner, Limit: &n, Lease: a.Lease, TTLMs: a.TTLMs, WaitMs: a.WaitMs, Metadata: a.Metadata, Fair: a.Fair}
	var out wire.Permit
	err := r.do(ctx, call{method: http.MethodPost, path: semaphorePath(name, "acquire"), name: name, in: in, out: &out, extra: max(o.Wait, 0)})
	var (
		noe *lockd.NotObtainedError
		lce *lockd.LimitConflictError
	)
	switch {
	case err == nil:
		return out.Domain(), nil
	case errors.As(err, &lce):
		lce.Asked = limit
	case ctx.Err() != nil && (errors.As(err, &noe) || errors.Is(err, ctx.Err())):
		// As for a lock (remote.Acquire): the caller's context ended it.
		if noe == nil {
			noe = &lockd.NotObtainedError{Name: name}
		}
		return lockd.Lease{}, errors.Join(noe, ctx.Err())
	}
	return lockd.Lease{}, err
}

// ExtendPermit sends POST /v1/semaphores/{name}/extend.
func (r *remote) ExtendPermit(ctx context.Context, name, leaseID string, ttl time.Duration) (lockd.Lease, error) {
	return r.extend(ctx, semaphorePath, name, leaseID, ttl)
}

// extend sends an extend of leaseID to the route of name that path
// builds (pathFor, semaphorePath).
func (r *remote) extend(ctx context.Context, path func(name, action string) string, name, leaseID string, ttl time.Duration) (lockd.Lease, error) {
	if err := lockd.ValidateName(name); err != nil {
		return lockd.Lease{}, err
	}
	in := wire.ExtendRequest{Lease: leaseID}
	if ttl != 0 {
		// Without ttl_ms the server keeps the lease's TTL.
		ms := ttl.Milliseconds()
		in.TTLMs = &ms
	}
	var out wire.Lease
	err := r.do(ctx, call{method: http.MethodPost, path: path(name, "extend"), name: name, in: in, out: &out})
	if err != nil {
		return lockd.Lease{}, err
	}
	return out.Domain(), nil
}

// ReleasePermit sends POST /v1/semaphores/{name}/release.
func (r *remote) ReleasePermit(ctx context.Context, name, leaseID string) (lockd.Released, error) {
	if err := lockd.ValidateName(name); err != nil {
		return lockd.Released{}, err
	}
	var out wire.Released
	if err := r.do(ctx, call{method: http.MethodPost, path: semaphorePath(name, "release"), name: name, in: wire.PermitReleaseRequest{Lease: leaseID}, out: &out}); err != nil {
		return lockd.Released{}, err
	}
	return releasedOf(name, out)
}

// InspectSemaphore sends GET /v1/semaphores/{name}.
func (r *remote) InspectSemaphore(ctx context.Context, name string) (lockd.SemaphoreInfo, error) {
	if err := lockd.ValidateName(name); err != nil {
		return lockd.SemaphoreInfo{}, err
	}
	var out wire.Semaphore
	if err := r.do(ctx, call{method: http.MethodGet, path: semaphorePath(name, ""), name: name, out: &out}); err != nil {
		return lockd.SemaphoreInfo{}, err
	}
	return out.Domain(), nil
}

var _ lockd.Semaphores = (*remote)(nil)

// releasedOf reads a release's answer: what it deleted, lockd.ErrNotHeld
// when it deleted nothing, and an error wrapping lockd.ErrInternal for a
// reason this SDK does not know.
func releasedOf(name string, out wire.Released) (lockd.Released, error) {
	if !out.Released {
		if out.Reason != "" && out.Reason != lockd.CodeNotHeld {
			return lockd.Released{}, fmt.Errorf("client: release not done, reason %q: %w", out.Reason, lockd.ErrInternal)
		}
		return lockd.Released{}, lockd.ErrNotHeld
	}
	return lockd.Released{Name: name, Owner: out.Owner, Fence: out.Fence, Holds: out.Holds}, nil
}
