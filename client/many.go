package client

import (
	"context"
	"net/http"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/wire"
)

// AcquireMany takes every lock in names or none, under one fresh lease,
// in sorted order so that callers with overlapping sets cannot deadlock
// (lockd.AcquireMany; over HTTP, POST /v1/locks:acquire-many). Wait bounds
// the whole call; Owner, TTL, Metadata and Fair apply to each lock;
// KeepAlive and MaxHold do not apply. It returns the leases in sorted name
// order, all with the same ID, which ExtendMany and ReleaseMany take.
//
// It returns the error of the lock that could not be taken (a
// *lockd.NotObtainedError, ...), having released the others, and
// *lockd.ArgumentError (field "names") for an empty list, a repeated or
// bad name, or more than lockd.MaxManyNames. Transient failures are
// retried first (see WithRetry), with the same lease.
func (c *Client) AcquireMany(ctx context.Context, names []string, opts ...AcquireOption) ([]lockd.Lease, error) {
	cfg := acquireConfig{opts: lockd.AcquireOptions{Owner: c.owner, Lease: lockd.NewLeaseID()}}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.err != nil {
		return nil, cfg.err
	}
	if err := lockd.ValidateNames(names); err != nil {
		return nil, err
	}
	o := cfg.opts
	wait := max(o.Wait, 0)
	start := time.Now()
	var leases []lockd.Lease
	err := c.retry(ctx, wait, func(n int) error {
		if n > 0 {
			o.Wait = max(wait-time.Since(start), 0)
			o.Fair = false // a retry is no new arrival (see Acquire)
		}
		var err error
		if c.remote != nil {
			leases, err = c.remote.acquireMany(ctx, names, o)
		} else {
			leases, err = lockd.AcquireMany(ctx, c.eng, names, o)
		}
		return err
	})
	return leases, err
}

// ExtendMany extends every lock in names held by leaseID (ttl 0 keeps each
// lease's TTL) and returns the new leases. It returns lockd.ErrLost when
// the lease no longer holds one of them (the others are extended all the
// same), and the errors Lease.Extend lists.
func (c *Client) ExtendMany(ctx context.Context, names []string, leaseID string, ttl time.Duration) ([]lockd.Lease, error) {
	if err := lockd.ValidateNames(names); err != nil {
		return nil, err
	}
	var leases []lockd.Lease
	err := c.retry(ctx, 0, func(int) error {
		var err error
		if c.remote != nil {
			leases, err = c.remote.extendMany(ctx, names, leaseID, ttl)
		} else {
			leases, err = lockd.ExtendMany(ctx, c.eng, names, leaseID, ttl)
		}
		return err
	})
	return leases, err
}

// ReleaseMany releases every lock in names held by leaseID. It returns
// nil when it released them all, lockd.ErrNotHeld when the lease no longer
// held one or more of them (the others are released all the same), and
// the errors Lease.Release lists.
func (c *Client) ReleaseMany(ctx context.Context, names []string, leaseID string) error {
	if err := lockd.ValidateNames(names); err != nil {
		return err
	}
	return c.retry(ctx, 0, func(int) error {
		if c.remote != nil {
			return c.remote.releaseMany(ctx, names, leaseID)
		}
		_, err := lockd.ReleaseMany(ctx, c.eng, names, leaseID)
		return err
	})
}

func (r *remote) acquireMany(ctx context.Context, names []string, o lockd.AcquireOptions) ([]lockd.Lease, error) {
	in := wire.AcquireManyRequest{Names: names, AcquireRequest: acquireRequest(o)}
	var out wire.Many
	if err := r.do(ctx, call{method: http.MethodPost, path: "/v1/locks:acquire-many", in: in, out: &out, extra: max(o.Wait, 0)}); err != nil {
		return nil, err
	}
	return manyDomain(out), nil
}

func (r *remote) extendMany(ctx context.Context, names []string, leaseID string, ttl time.Duration) ([]lockd.Lease, error) {
	in := wire.ExtendManyRequest{ReleaseManyRequest: wire.ReleaseManyRequest{Names: names, Lease: leaseID}}
	if ttl != 0 {
		ms := ttl.Milliseconds()
		in.TTLMs = &ms
	}
	var out wire.Many
	if err := r.do(ctx, call{method: http.MethodPost, path: "/v1/locks:extend-many", in: in, out: &out}); err != nil {
		return nil, err
	}
	return manyDomain(out), nil
}

func (r *remote) releaseMany(ctx context.Context, names []string, leaseID string) error {
	var out wire.ManyReleased
	if err := r.do(ctx, call{method: http.MethodPost, path: "/v1/locks:release-many", in: wire.ReleaseManyRequest{Names: names, Lease: leaseID}, out: &out}); err != nil {
		return err
	}
	for _, l := range out.Locks {
		if !l.Released.Released {
			return lockd.ErrNotHeld
		}
	}
	return nil
}

func manyDomain(m wire.Many) []lockd.Lease {
	out := make([]lockd.Lease, 0, len(m.Locks))
	for _, l := range m.Locks {
		out = append(out, l.Domain())
	}
	return out
}
