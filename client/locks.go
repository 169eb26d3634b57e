package client

import (
	"context"
	"encoding/json"
	"time"

	"github.com/lockd/lockd"
)

// AcquireOption sets an input of Acquire.
type AcquireOption func(*acquireConfig)

type acquireConfig struct {
	opts      lockd.AcquireOptions
	keepAlive bool
	maxHold   time.Duration
	err       error
}

// Owner sets the holder's label, which Inspect and conflicts show to
// anyone. The default is the client's owner (see WithOwner).
func Owner(owner string) AcquireOption {
	return func(c *acquireConfig) { c.opts.Owner = owner }
}

// TTL sets the lease time-to-live, in [lockd.MinTTL, lockd.MaxTTL], sent
// in whole milliseconds. The default, also for 0, is lockd.DefaultTTL.
func TTL(d time.Duration) AcquireOption {
	return func(c *acquireConfig) { c.opts.TTL = d }
}

// Wait sets how long to keep trying while someone else holds the lock, in
// [0, lockd.MaxWait]. The default, 0, tries once.
func Wait(d time.Duration) AcquireOption {
	return func(c *acquireConfig) { c.opts.Wait = d }
}

// Metadata sets a JSON object stored with the lease and shown by Inspect.
// v is sent as it is when it is a json.RawMessage or []byte, and marshalled
// otherwise; Acquire returns an *lockd.ArgumentError (field "metadata")
// when that fails.
func Metadata(v any) AcquireOption {
	return func(c *acquireConfig) {
		switch m := v.(type) {
		case nil:
			c.opts.Metadata = nil
		case json.RawMessage:
			c.opts.Metadata = m
		case []byte:
			c.opts.Metadata = m
		default:
			b, err := json.Marshal(v)
			if err != nil {
				c.err = &lockd.ArgumentError{Field: "metadata", Reason: "cannot be marshalled: " + err.Error()}
				return
			}
			c.opts.Metadata = b
		}
	}
}

// Fair takes the acquire's place in line: it waits behind the acquires
// already waiting for the lock in the same lockd (or engine) instead of
// making an attempt on arrival, and with no Wait it is refused while
// anyone waits. See lockd.AcquireOptions.Fair for what order is promised.
// The default is false.
func Fair() AcquireOption {
	return func(c *acquireConfig) { c.opts.Fair = true }
}

// KeepAlive renews the lease in the background, about every third of its
// TTL, until it is released, the context given to Acquire ends, or MaxHold
// passes. A renewal that fails for a transient reason (a quorum or the
// server unavailable, the network) is retried until the lease would
// expire; one that is refused (lockd.ErrLost) ends the lease at once.
// Either way Lease.Done closes and Lease.Err says why. The default is no
// keep-alive: the lease ends at its TTL unless extended.
func KeepAlive() AcquireOption {
	return func(c *acquireConfig) { c.keepAlive = true }
}

// MaxHold bounds how long the lease is held in all, counted from the grant
// (the request's send time plus the engine's wait): when it passes, keep-alive stops and Lease.Done closes
// with ErrMaxHold, so a stuck process cannot hold a lock forever. The
// lease itself runs out at its TTL unless released. The default, 0, sets
// no bound; a negative value is an *lockd.ArgumentError (field
// "max_hold").
func MaxHold(d time.Duration) AcquireOption {
	return func(c *acquireConfig) {
		if d < 0 {
			c.err = &lockd.ArgumentError{Field: "max_hold", Reason: "must not be negative"}
			return
		}
		c.maxHold = d
	}
}

// Acquire takes the lock name and returns a handle on the lease.
//
// It returns *lockd.NotObtainedError (matching lockd.ErrNotObtained) when
// another lease holds the lock past the wait, joined with ctx.Err() when
// ctx ended first; *lockd.ArgumentError for bad input;
// lockd.ErrQuorumUnavailable when the engine could not reach a quorum;
// lockd.ErrUnavailable when the server is shutting down; an error wrapping
// lockd.ErrInternal for a server failure; and a wrapped transport error
// when the server could not be reached. Transient failures are retried
// first (see WithRetry).
//
// Each call sends a fresh lease value (lockd.NewLeaseID) and so is a new
// holder: an Acquire of a lock that the same Client, or the same owner,
// already holds fails like anyone else's. Retries of this call, and only
// they, send the same value, and so get the same grant back if an earlier
// attempt was granted before its answer was lost. When ctx ends during
// the request, the server may have granted the lock just before it
// noticed; such a grant runs out after its TTL.
//
// The lease's time is counted on the local monotonic clock from when the
// request that got the grant was sent, plus the time the engine reports it
// waited before the granting attempt (lockd.Lease.Waited), never from the
// server's clock.
func (c *Client) Acquire(ctx context.Context, name string, opts ...AcquireOption) (*Lease, error) {
	cfg := acquireConfig{opts: lockd.AcquireOptions{Owner: c.owner, Lease: lockd.NewLeaseID()}}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.err != nil {
		return nil, cfg.err
	}
	if cfg.opts.Reentrant {
		cfg.opts.Hold = lockd.NewLeaseID() // every retry is the same hold
	}
	o := cfg.opts
	wait := max(o.Wait, 0)
	start := time.Now()
	var (
		l    lockd.Lease
		sent time.Time // when the attempt that got the grant was sent
	)
	err := c.retry(ctx, wait, func(n int) error {
		if n > 0 {
			// A retry waits only what is left of the caller's wait, and is
			// no new arrival: with Fair, it would queue behind waiters
			// who wait for its own earlier grant.
			o.Wait = max(wait-time.Since(start), 0)
			o.Fair = false
		}
		sent = time.Now()
		var err error
		l, err = c.eng.Acquire(ctx, name, o)
		return err
	})
	if err != nil {
		return nil, err
	}
	// The engine waited l.Waited before the granting attempt began; the
	// TTL cannot have started before sent+Waited on this clock (less the
	// drift allowance, which a long wait needs too).
	return c.newLease(ctx, l, sent.Add(l.Waited-l.Waited/driftDivisor), cfg), nil
}

// Inspect reports who holds the lock name. Lease values are never shown.
//
// It returns *lockd.ArgumentError for a bad name,
// lockd.ErrQuorumUnavailable when the engine could not reach a quorum, an
// error wrapping lockd.ErrInternal for a server failure, and a wrapped
// transport error when the server could not be reached. Transient failures
// are retried first (see WithRetry).
func (c *Client) Inspect(ctx context.Context, name string) (lockd.LockInfo, error) {
	var info lockd.LockInfo
	err := c.retry(ctx, 0, func(int) error {
		var err error
		info, err = c.eng.Inspect(ctx, name)
		return err
	})
	return info, err
}
