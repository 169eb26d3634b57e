package client

import (
	"context"
	"time"

	"github.com/lockd/lockd"
)

// Engine returns the client as a lockd.Engine, so code written against the
// interface (the conformance suite, say) runs over HTTP. Its methods return
// the errors the lockd.Engine documentation lists, plus wrapped transport
// errors. Unlike Client.Acquire, its Acquire uses opts.Owner and opts.Lease
// as given, with no defaults (no lease: the server makes one, and the
// acquire is not idempotent).
//
// An Acquire with opts.ReleaseByOwner goes through the prototype's
// POST /get-lock, the one route that grants such locks: it cannot wait or
// carry a lease or metadata (*lockd.ArgumentError, field
// "release_by_owner", when asked to), its TTL is sent in whole
// milliseconds, and the lease it returns has no AcquiredAt. ReleaseByOwner
// goes through POST /release-lock. Health reports the server as one failed
// node when it cannot be reached. Close closes idle connections.
func (c *Client) Engine() lockd.Engine { return engine{c} }

type engine struct{ c *Client }

func (e engine) Acquire(ctx context.Context, name string, opts lockd.AcquireOptions) (lockd.Lease, error) {
	return e.c.acquire(ctx, name, opts)
}

func (e engine) Extend(ctx context.Context, name, leaseID string, ttl time.Duration) (lockd.Lease, error) {
	return e.c.extend(ctx, name, leaseID, ttl)
}

func (e engine) Release(ctx context.Context, name, leaseID string) (lockd.Released, error) {
	return e.c.release(ctx, name, leaseID)
}

func (e engine) ReleaseByOwner(ctx context.Context, name, owner string) (lockd.Released, error) {
	return e.c.releaseByOwner(ctx, name, owner)
}

func (e engine) Inspect(ctx context.Context, name string) (lockd.LockInfo, error) {
	return e.c.Inspect(ctx, name)
}

func (e engine) Health(ctx context.Context) lockd.Health { return e.c.health(ctx) }

func (e engine) Close() error {
	e.c.hc.CloseIdleConnections()
	return nil
}

var _ lockd.Engine = engine{}
