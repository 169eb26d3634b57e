package client

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/lockd/lockd/internal/rawconn"
)

// Settings of the default transport, as net/http's DefaultTransport has
// them.
const (
	dialTimeout     = 30 * time.Second
	tcpKeepAlive    = 30 * time.Second
	idleConnTimeout = 90 * time.Second
)

// aLongTimeAgo is a deadline in the past: setting it makes a connection's
// pending reads and writes fail at once.
var aLongTimeAgo = time.Unix(1, 0)

// h1Transport is the default transport to a lockd at an http:// URL
// reached without a proxy: HTTP/1.1 over kept-alive TCP connections, each
// request written and its answer read by the goroutine that sends it.
// net/http's Transport runs a reading and a writing goroutine for every
// connection and hands each request and answer between them and the
// caller: on a machine with few cores, those wake-ups cost the client more
// CPU than the request itself. Requests for other hosts or schemes (a
// redirect) go through other, a clone of http.DefaultTransport.
//
// The request is written with http.Request.Write and the answer read with
// http.ReadResponse, so the wire format is net/http's own. A connection
// goes back to the pool when its answer's body has been read to the end,
// and is closed otherwise. It is safe for concurrent use.
type h1Transport struct {
	host    string // the URL host (host:port) this transport serves
	addr    string // host with its port, to dial
	maxIdle int
	dialer  net.Dialer
	other   http.RoundTripper
	// idleTimeout is how long a connection may wait in the pool:
	// idleConnTimeout, shorter in tests.
	idleTimeout time.Duration

	mu    sync.Mutex
	idle  []*h1Conn   // the most recently used last
	sweep *time.Timer // closes connections idle for idleTimeout; nil when none are idle
}

// newH1Transport returns the transport for base, keeping up to maxIdle
// idle connections, or ok false when base needs net/http's Transport: an
// https URL, or a proxy configured in the environment for it.
func newH1Transport(base *url.URL, other http.RoundTripper, maxIdle int) (t *h1Transport, ok bool) {
	if base.Scheme != "http" {
		return nil, false
	}
	if p, err := http.ProxyFromEnvironment(&http.Request{URL: base}); err != nil || p != nil {
		return nil, false
	}
	addr := base.Host
	if base.Port() == "" {
		addr = net.JoinHostPort(base.Hostname(), "80")
	}
	return &h1Transport{
		host: base.Host, addr: addr, maxIdle: maxIdle, other: other, idleTimeout: idleConnTimeout,
		dialer: net.Dialer{Timeout: dialTimeout, KeepAlive: tcpKeepAlive},
	}, true
}

// h1Conn is one connection of an h1Transport.
type h1Conn struct {
	nc     net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	probe  *probe    // checks it is open before reuse; nil where it cannot
	idleAt time.Time // when it went back to the pool
}

// RoundTrip sends req on a pooled connection, or a new one, and returns
// the answer, whose body holds the connection until it is read to the end
// or closed. When req's context ends, the connection is cut and RoundTrip
// (or the body's Read) returns the context's error.
func (t *h1Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "http" || req.URL.Host != t.host {
		return t.other.RoundTrip(req)
	}
	ctx := req.Context()
	for {
		if ctx.Err() != nil {
			// Ended already: send nothing (an acquire would be granted to
			// a caller that no longer waits for it).
			closeBody(req)
			return nil, ctxError(ctx)
		}
		pc, reused, err := t.get(ctx)
		if err != nil {
			closeBody(req)
			return nil, err
		}
		resp, sent, err := t.roundTrip(ctx, pc, req)
		if err != nil && reused && !sent && req.Body == nil && ctx.Err() == nil && (req.Method == http.MethodGet || req.Method == http.MethodHead) {
			// The server closed this idle connection before the request
			// reached it (the liveness check races with it): a GET or HEAD
			// without a body can be sent again as it is.
			continue
		}
		return resp, err
	}
}

// roundTrip sends req on pc. sent reports whether any of the answer was
// read; when it was not, the server may not have seen the request.
func (t *h1Transport) roundTrip(ctx context.Context, pc *h1Conn, req *http.Request) (resp *http.Response, sent bool, err error) {
	stop := context.AfterFunc(ctx, func() { _ = pc.nc.SetDeadline(aLongTimeAgo) })
	fail := func(err error) (*http.Response, bool, error) {
		stop()
		_ = pc.nc.Close()
		if ctx.Err() != nil {
			err = ctxError(ctx)
		}
		return nil, sent, err
	}
	if ctx.Err() != nil {
		// Ended while the connection was got: AfterFunc cuts it on a
		// goroutine of its own, which the write below could beat.
		closeBody(req)
		return fail(ctx.Err())
	}
	if err := req.Write(pc.bw); err != nil {
		return fail(err)
	}
	if err := pc.bw.Flush(); err != nil {
		return fail(err)
	}
	for {
		if _, err := pc.br.Peek(1); err != nil {
			return fail(err)
		}
		sent = true
		resp, err = http.ReadResponse(pc.br, req)
		if err != nil {
			return fail(err)
		}
		// An informational answer (100 Continue, 103 Early Hints) comes
		// before the real one.
		if resp.StatusCode < 100 || resp.StatusCode > 199 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
	}
	reuse := !resp.Close && !req.Close && resp.StatusCode != http.StatusSwitchingProtocols
	resp.Body = &h1Body{t: t, pc: pc, ctx: ctx, body: resp.Body, stop: stop, reuse: reuse}
	return resp, sent, nil
}

// ctxError is the error of a request cut short by ctx: its Err, and its
// cause when that is another error.
func ctxError(ctx context.Context) error {
	err := ctx.Err()
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, err) {
		return errors.Join(err, cause)
	}
	return err
}

// closeBody closes req's body, as RoundTrip must even when it fails.
func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// errBodyClosed is what a Read of a body after Close returns, as
// net/http's bodies do.
var errBodyClosed = errors.New("client: read on closed response body")

// h1Body is an answer's body: at its end the connection goes back to the
// pool; closed before its end, the connection is closed. Close does not
// wait for a Read in progress: closing the connection ends that Read.
type h1Body struct {
	t     *h1Transport
	pc    *h1Conn
	ctx   context.Context
	body  io.ReadCloser
	stop  func() bool // unregisters the context's cut; false when it ran
	reuse bool

	mu     sync.Mutex
	done   bool // the connection was pooled or closed
	closed bool // Close was called
}

// Read reads the body; at its end the connection goes back to the pool.
func (b *h1Body) Read(p []byte) (int, error) {
	b.mu.Lock()
	done, closed := b.done, b.closed
	b.mu.Unlock()
	if closed {
		return 0, errBodyClosed
	}
	if done {
		return 0, io.EOF
	}
	n, err := b.body.Read(p)
	if err == nil {
		return n, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done { // closed meanwhile
		return n, err
	}
	if err == io.EOF {
		b.finish(b.reuse)
		return n, err
	}
	b.finish(false)
	if b.ctx.Err() != nil {
		err = ctxError(b.ctx)
	}
	return n, err
}

// Close closes the connection unless the body was read to its end.
func (b *h1Body) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	if !b.done {
		b.finish(false)
	}
	return nil
}

// finish hands the connection back to the pool when reuse is true and the
// context did not cut it, and closes it otherwise.
func (b *h1Body) finish(reuse bool) {
	b.done = true
	if b.stop() && reuse {
		b.t.put(b.pc)
		return
	}
	_ = b.pc.nc.Close()
}

// get returns a live idle connection, the most recently used, or dials a
// new one; reused reports which.
func (t *h1Transport) get(ctx context.Context) (pc *h1Conn, reused bool, err error) {
	for {
		t.mu.Lock()
		n := len(t.idle)
		if n == 0 {
			t.mu.Unlock()
			break
		}
		pc = t.idle[n-1]
		t.idle[n-1] = nil
		t.idle = t.idle[:n-1]
		t.mu.Unlock()
		if time.Since(pc.idleAt) < t.idleTimeout && pc.br.Buffered() == 0 && pc.probe.alive() {
			return pc, true, nil
		}
		_ = pc.nc.Close()
	}
	nc, err := t.dialer.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		if ctx.Err() != nil {
			err = ctxError(ctx)
		}
		return nil, false, err
	}
	nc = rawconn.Wrap(nc)
	return &h1Conn{nc: nc, br: bufio.NewReader(nc), bw: bufio.NewWriter(nc), probe: newProbe(nc)}, false, nil
}

// put returns pc to the pool, or closes it when the pool is full.
func (t *h1Transport) put(pc *h1Conn) {
	pc.idleAt = time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.idle) >= t.maxIdle {
		_ = pc.nc.Close()
		return
	}
	t.idle = append(t.idle, pc)
	if t.sweep == nil {
		t.sweep = time.AfterFunc(t.idleTimeout, t.closeStale)
	}
}

// closeStale closes the connections idle for idleTimeout, and comes
// back when the oldest of the rest will be.
func (t *h1Transport) closeStale() {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for n < len(t.idle) && time.Since(t.idle[n].idleAt) >= t.idleTimeout {
		_ = t.idle[n].nc.Close()
		n++
	}
	t.idle = append(t.idle[:0], t.idle[n:]...)
	clear(t.idle[len(t.idle):cap(t.idle)])
	if len(t.idle) == 0 {
		t.sweep = nil
		return
	}
	t.sweep.Reset(t.idleTimeout - time.Since(t.idle[0].idleAt))
}

// CloseIdleConnections closes the idle connections, of other too.
func (t *h1Transport) CloseIdleConnections() {
	t.mu.Lock()
	for _, pc := range t.idle {
		_ = pc.nc.Close()
	}
	clear(t.idle)
	t.idle = t.idle[:0]
	if t.sweep != nil {
		t.sweep.Stop()
		t.sweep = nil
	}
	t.mu.Unlock()
	if ci, ok := t.other.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}
