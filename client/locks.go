package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/wire"
)

// AcquireOption sets an input of Acquire.
type AcquireOption func(*acquireConfig)

type acquireConfig struct {
	opts lockd.AcquireOptions
	err  error
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

// Acquire takes the lock name and returns a handle on the lease.
//
// It returns *lockd.NotObtainedError (matching lockd.ErrNotObtained) when
// another lease holds the lock past the wait, joined with ctx.Err() when
// ctx ended first; *lockd.ArgumentError for bad input;
// lockd.ErrQuorumUnavailable when the server's engine could not reach a
// quorum; lockd.ErrUnavailable when the server is shutting down (nothing
// was granted: retry on another lockd); an error wrapping lockd.ErrInternal
// for a server failure; and a wrapped transport error when the server could
// not be reached.
//
// Each call sends a fresh lease value (lockd.NewLeaseID) and so is a new
// holder: an Acquire of a lock that the same Client, or the same owner,
// already holds fails like anyone else's. When ctx ends during the
// request, the server may have granted the lock just before it noticed;
// such a grant runs out after its TTL.
func (c *Client) Acquire(ctx context.Context, name string, opts ...AcquireOption) (*Lease, error) {
	// The lease is this call's own: a retry of this call (and only that)
	// may send it again and get the same grant back.
	cfg := acquireConfig{opts: lockd.AcquireOptions{Owner: c.owner, Lease: lockd.NewLeaseID()}}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.err != nil {
		return nil, cfg.err
	}
	l, err := c.acquire(ctx, name, cfg.opts)
	if err != nil {
		return nil, err
	}
	return &Lease{c: c, name: l.Name, owner: l.Owner, id: l.ID, fence: l.Fence, ttl: l.TTL, expiresAt: l.ExpiresAt, metadata: l.Metadata}, nil
}

// acquire sends o to POST /v1/locks/{name}/acquire, or to the prototype's
// POST /get-lock when o asks for ReleaseByOwner, which only that route
// grants.
func (c *Client) acquire(ctx context.Context, name string, o lockd.AcquireOptions) (lockd.Lease, error) {
	if err := lockd.ValidateName(name); err != nil {
		return lockd.Lease{}, err
	}
	if o.ReleaseByOwner {
		return c.getLock(ctx, name, o)
	}
	in := wire.AcquireRequest{Owner: o.Owner, Lease: o.Lease, WaitMs: o.Wait.Milliseconds(), Metadata: o.Metadata}
	if o.TTL != 0 {
		ms := o.TTL.Milliseconds()
		in.TTLMs = &ms
	}
	var out wire.Lease
	err := c.do(ctx, call{method: http.MethodPost, path: pathFor(name, "acquire"), name: name, in: in, out: &out, extra: max(o.Wait, 0)})
	var noe *lockd.NotObtainedError
	if ctxErr := ctx.Err(); err != nil && ctxErr != nil && (errors.As(err, &noe) || errors.Is(err, ctxErr)) {
		// The caller's context ended the request: the connection was cut,
		// or the server answered lock_held as it saw the client go. Say so
		// the way an in-process engine does.
		if noe == nil {
			noe = &lockd.NotObtainedError{Name: name}
		}
		return lockd.Lease{}, errors.Join(noe, ctxErr)
	}
	if err != nil {
		return lockd.Lease{}, err
	}
	return out.Domain(), nil
}

func (c *Client) extend(ctx context.Context, name, leaseID string, ttl time.Duration) (lockd.Lease, error) {
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
	err := c.do(ctx, call{method: http.MethodPost, path: pathFor(name, "extend"), name: name, in: in, out: &out})
	if err != nil {
		return lockd.Lease{}, err
	}
	return out.Domain(), nil
}

func (c *Client) release(ctx context.Context, name, leaseID string) (lockd.Released, error) {
	if err := lockd.ValidateName(name); err != nil {
		return lockd.Released{}, err
	}
	var out wire.Released
	if err := c.do(ctx, call{method: http.MethodPost, path: pathFor(name, "release"), name: name, in: wire.ReleaseRequest{Lease: leaseID}, out: &out}); err != nil {
		return lockd.Released{}, err
	}
	if !out.Released {
		if out.Reason != "" && out.Reason != lockd.CodeNotHeld {
			return lockd.Released{}, fmt.Errorf("client: release not done, reason %q: %w", out.Reason, lockd.ErrInternal)
		}
		return lockd.Released{}, lockd.ErrNotHeld
	}
	return lockd.Released{Name: name, Owner: out.Owner, Fence: out.Fence}, nil
}

// Inspect reports who holds the lock name. The server never shows lease
// values.
//
// It returns *lockd.ArgumentError for a bad name,
// lockd.ErrQuorumUnavailable when the server's engine could not reach a
// quorum, an error wrapping lockd.ErrInternal for a server failure, and a
// wrapped transport error when the server could not be reached.
func (c *Client) Inspect(ctx context.Context, name string) (lockd.LockInfo, error) {
	if err := lockd.ValidateName(name); err != nil {
		return lockd.LockInfo{}, err
	}
	var out wire.Lock
	if err := c.do(ctx, call{method: http.MethodGet, path: pathFor(name, ""), name: name, out: &out}); err != nil {
		return lockd.LockInfo{}, err
	}
	return out.Domain(), nil
}

// health asks GET /readyz. A 503 still carries the node list; a server
// that cannot be reached shows as one failed node, the server itself.
func (c *Client) health(ctx context.Context) lockd.Health {
	var out wire.Ready
	err := c.do(ctx, call{method: http.MethodGet, path: "/readyz", out: &out, accept: http.StatusServiceUnavailable})
	if err != nil && len(out.Nodes) == 0 {
		return lockd.Health{Nodes: []lockd.NodeHealth{{Addr: c.base, Error: err.Error()}}}
	}
	h := lockd.Health{Ready: out.Ready && err == nil}
	for _, n := range out.Nodes {
		h.Nodes = append(h.Nodes, lockd.NodeHealth{Addr: n.Addr, OK: n.OK, Latency: time.Duration(n.LatencyMs) * time.Millisecond, Error: n.Error})
	}
	return h
}
