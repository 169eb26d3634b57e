package client

import (
	"context"
	"time"

	"github.com/lockd/lockd"
)

// Engine returns the client as a lockd.Engine, so code written against the
// interface (the conformance suite, say) runs over HTTP. Its methods return
// the errors the lockd.Engine documentation lists, plus wrapped transport
// errors. Unlike Client.Acquire, its Acquire uses opts.Owner as given, with
// no default. Inspect leaves LockInfo.LeaseID empty: the server never shows
// lease values. Health reports the server as one failed node when it cannot
// be reached. Close closes idle connections.
func (c *Client) Engine() lockd.Engine { return engine{c} }

type engine struct{ c *Client }

func (e engine) Acquire(ctx context.Context, name string, opts lockd.AcquireOptions) (lockd.Lease, error) {
	return e.c.acquire(ctx, name, opts)
}

func (e engine) Extend(ctx context.Context, name, leaseID string, ttl time.Duration) (lockd.Lease, error) {
	return e.c.extend(ctx, name, leaseID, ttl)
}

func (e engine) Release(ctx context.Context, name, leaseID string) error {
	return e.c.release(ctx, name, leaseID)
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
