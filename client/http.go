package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/wire"
)

// maxResponseBytes bounds how much of a response the client reads.
const maxResponseBytes = 1 << 20

// remote is lockd's HTTP API as a lockd.Engine: one request per call, no
// retries (Client adds them).
type remote struct {
	base    string
	hc      *http.Client
	timeout time.Duration
	auth    []string // the Authorization header of every request; nil for none
}

// Header values every request shares. Requests never change them, and a
// header that gains a value gets a slice of its own (append copies these,
// full to capacity).
var (
	acceptJSON      = []string{"application/json"}
	contentTypeJSON = []string{"application/json"}
	acceptEvents    = []string{"text/event-stream"}
)

// header returns the headers of a request that accepts accept and, when
// body is true, sends JSON.
func (r *remote) header(accept []string, body bool) http.Header {
	h := make(http.Header, 3)
	h["Accept"] = accept
	if body {
		h["Content-Type"] = contentTypeJSON
	}
	if r.auth != nil {
		h["Authorization"] = r.auth
	}
	return h
}

var _ lockd.Engine = (*remote)(nil)

// call is one request to the API.
type call struct {
	method string
	path   string
	name   string        // the lock, for errors that name it
	in     any           // request body, marshalled to JSON; nil for none
	out    any           // where to decode a 2xx body; nil to discard it
	extra  time.Duration // added to the timeout (an acquire's wait)
	accept int           // a non-2xx status whose body is also decoded into out
}

// do sends cl and decodes the answer into cl.out. Non-2xx answers become
// lockd errors (see apiError), except cl.accept, which is decoded and then
// reported as an error; an unreadable answer wraps lockd.ErrInternal;
// failures to talk to the server are wrapped with their cause.
func (r *remote) do(ctx context.Context, cl call) error {
	status, b, err := r.send(ctx, cl)
	if err != nil {
		return err
	}
	ok := status >= 200 && status <= 299
	if !ok && status != cl.accept {
		return apiError(status, b, cl.name)
	}
	if cl.out != nil {
		if err := json.Unmarshal(b, cl.out); err != nil {
			return fmt.Errorf("client: %s %s: decoding response: %w: %w", cl.method, cl.path, lockd.ErrInternal, err)
		}
	}
	if !ok {
		return fmt.Errorf("client: %s %s: HTTP %d", cl.method, cl.path, status)
	}
	return nil
}

// send makes the request cl describes, within the client's timeout plus
// cl.extra, and returns the answer's status and body, whatever the status.
// Failures to talk to the server are wrapped with their cause and marked
// transient; a body over maxResponseBytes wraps lockd.ErrInternal.
func (r *remote) send(ctx context.Context, cl call) (int, []byte, error) {
	if d := r.timeout + cl.extra; !deadlineWithin(ctx, d) {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	var body io.Reader
	if cl.in != nil {
		b, err := json.Marshal(cl.in)
		if err != nil {
			return 0, nil, fmt.Errorf("client: encoding request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, r.base+cl.path, body)
	if err != nil {
		return 0, nil, fmt.Errorf("client: %s %s: %w", cl.method, cl.path, err)
	}
	req.Header = r.header(acceptJSON, body != nil)
	resp, err := r.hc.Do(req)
	if err != nil {
		return 0, nil, &transientError{fmt.Errorf("client: %s %s: %w", cl.method, cl.path, err)}
	}
	defer resp.Body.Close()
	b, err := readBody(resp.Body, resp.ContentLength)
	if err != nil {
		return 0, nil, &transientError{fmt.Errorf("client: %s %s: reading response: %w", cl.method, cl.path, err)}
	}
	if len(b) > maxResponseBytes {
		return 0, nil, fmt.Errorf("client: %s %s: response larger than %d bytes: %w", cl.method, cl.path, maxResponseBytes, lockd.ErrInternal)
	}
	return resp.StatusCode, b, nil
}

// deadlineWithin reports whether ctx ends within d anyway, so that a
// timeout of d would change nothing (and cost a context and a timer).
func deadlineWithin(ctx context.Context, d time.Duration) bool {
	dl, ok := ctx.Deadline()
	return ok && time.Until(dl) <= d
}

// readBody reads body to its end, or to maxResponseBytes+1 bytes. size is
// the length the answer announced, -1 when unknown: a buffer of that size
// takes the whole body and the end after it in one allocation.
func readBody(body io.Reader, size int64) ([]byte, error) {
	n := 512
	if size >= 0 && size <= maxResponseBytes {
		n = int(size) + 1
	}
	b := make([]byte, 0, n)
	for {
		if len(b) > maxResponseBytes {
			return b, nil
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		m, err := body.Read(b[len(b):min(cap(b), maxResponseBytes+1)])
		b = b[:len(b)+m]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// pathFor builds the path of a lock route.
func pathFor(name, action string) string { return namedPath("/v1/locks/", name, action) }

// namedPath builds the path of the route action on name under prefix
// ("/v1/locks/"). name must be valid: lockd names need no escaping, and
// escaping keeps the path sane when they are not.
func namedPath(prefix, name, action string) string {
	p := prefix + url.PathEscape(name)
	if action != "" {
		p += "/" + action
	}
	return p
}

// Acquire sends o to POST /v1/locks/{name}/acquire, or to the prototype's
// POST /get-lock when o asks for ReleaseByOwner, which only that route
// grants.
func (r *remote) Acquire(ctx context.Context, name string, o lockd.AcquireOptions) (lockd.Lease, error) {
	if err := lockd.ValidateName(name); err != nil {
		return lockd.Lease{}, err
	}
	if o.ReleaseByOwner {
		if o.Reentrant || o.Mode == lockd.ModeRead {
			// Refused as the engines refuse it; /get-lock would grant a
			// plain lock.
			_, err := o.Prepare(name)
			return lockd.Lease{}, err
		}
		return r.getLock(ctx, name, o)
	}
	in := acquireRequest(o)
	var out wire.Lease
	err := r.do(ctx, call{method: http.MethodPost, path: pathFor(name, "acquire"), name: name, in: in, out: &out, extra: max(o.Wait, 0)})
	if err != nil {
		return lockd.Lease{}, waitEnded(ctx, name, err)
	}
	return out.Domain(), nil
}

// waitEnded returns the error of a waiting request for the lock name: when
// the caller's context ended it (the connection was cut, or the server
// answered lock_held as it saw the client go), a *lockd.NotObtainedError
// joined with the context's error, the way an in-process engine says it;
// otherwise err.
func waitEnded(ctx context.Context, name string, err error) error {
	var noe *lockd.NotObtainedError
	if ctxErr := ctx.Err(); ctxErr != nil && (errors.As(err, &noe) || errors.Is(err, ctxErr)) {
		if noe == nil {
			noe = &lockd.NotObtainedError{Name: name}
		}
		return errors.Join(noe, ctxErr)
	}
	return err
}

// acquireRequest is the body of an acquire with options o; the TTL is
// left out for the server's default when o has none.
func acquireRequest(o lockd.AcquireOptions) wire.AcquireRequest {
	in := wire.AcquireRequest{Owner: o.Owner, Lease: o.Lease, WaitMs: o.Wait.Milliseconds(), Metadata: o.Metadata, Fair: o.Fair, Reentrant: o.Reentrant, Hold: o.Hold, Mode: o.Mode}
	if o.TTL != 0 {
		ms := o.TTL.Milliseconds()
		in.TTLMs = &ms
	}
	return in
}

// Extend sends POST /v1/locks/{name}/extend.
func (r *remote) Extend(ctx context.Context, name, leaseID string, ttl time.Duration) (lockd.Lease, error) {
	return r.extend(ctx, pathFor, name, leaseID, ttl)
}

// Release sends POST /v1/locks/{name}/release.
func (r *remote) Release(ctx context.Context, name, leaseID string) (lockd.Released, error) {
	return r.release(ctx, name, wire.ReleaseRequest{Lease: leaseID})
}

// ReleaseHold sends POST /v1/locks/{name}/release with the hold.
func (r *remote) ReleaseHold(ctx context.Context, name, leaseID, hold string) (lockd.Released, error) {
	if err := lockd.ValidateHold(hold); err != nil {
		return lockd.Released{}, err
	}
	return r.release(ctx, name, wire.ReleaseRequest{Lease: leaseID, Hold: hold})
}

func (r *remote) release(ctx context.Context, name string, in wire.ReleaseRequest) (lockd.Released, error) {
	if err := lockd.ValidateName(name); err != nil {
		return lockd.Released{}, err
	}
	var out wire.Released
	if err := r.do(ctx, call{method: http.MethodPost, path: pathFor(name, "release"), name: name, in: in, out: &out}); err != nil {
		return lockd.Released{}, err
	}
	return releasedOf(name, out)
}

// Inspect sends GET /v1/locks/{name}.
func (r *remote) Inspect(ctx context.Context, name string) (lockd.LockInfo, error) {
	if err := lockd.ValidateName(name); err != nil {
		return lockd.LockInfo{}, err
	}
	var out wire.Lock
	if err := r.do(ctx, call{method: http.MethodGet, path: pathFor(name, ""), name: name, out: &out}); err != nil {
		return lockd.LockInfo{}, err
	}
	return out.Domain(), nil
}

// Health asks GET /readyz. A 503 still carries the node list; a server
// that cannot be reached shows as one failed node, the server itself.
func (r *remote) Health(ctx context.Context) lockd.Health {
	var out wire.Ready
	err := r.do(ctx, call{method: http.MethodGet, path: "/readyz", out: &out, accept: http.StatusServiceUnavailable})
	if err != nil && len(out.Nodes) == 0 {
		return lockd.Health{Nodes: []lockd.NodeHealth{{Addr: r.base, Error: err.Error()}}}
	}
	h := lockd.Health{Ready: out.Ready && err == nil}
	for _, n := range out.Nodes {
		h.Nodes = append(h.Nodes, lockd.NodeHealth{Addr: n.Addr, OK: n.OK, Latency: time.Duration(n.LatencyMs) * time.Millisecond, Error: n.Error, State: n.State})
	}
	return h
}

// Close closes idle connections.
func (r *remote) Close() error {
	r.hc.CloseIdleConnections()
	return nil
}

// history sends GET /v1/locks/{name}/history; limit 0 leaves the server's
// default.
func (r *remote) history(ctx context.Context, name string, limit int) ([]lockd.Event, error) {
	p := pathFor(name, "history")
	if limit > 0 {
		p += "?limit=" + strconv.Itoa(limit)
	}
	var out wire.History
	if err := r.do(ctx, call{method: http.MethodGet, path: p, name: name, out: &out}); err != nil {
		return nil, err
	}
	events := make([]lockd.Event, 0, len(out.Events))
	for _, ev := range out.Events {
		events = append(events, ev.Domain())
	}
	return events, nil
}
