package httpapi

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/workers"
)

// parkAfter is how long a waiting acquire waits on its connection's own
// goroutine before it is parked: most waits end sooner, and they are
// answered as any other request.
const parkAfter = 100 * time.Millisecond

// maxIdleCalls bounds the goroutines kept idle for the calls of the next
// waits.
const maxIdleCalls = 64

// drainPoll is how often Drain looks whether the parked waits are done.
const drainPoll = 10 * time.Millisecond

// A parked wait holds none of net/http's per-connection state: its
// connection's goroutine, with a stack grown by reading the request, and
// the connection's read and write buffers are let go, and the wait costs
// one goroutine (the engine call's, started shallow) and one blocked read
// that notices the client leaving. That is what lets one lockd hold
// thousands of waiters (issue 8). Once answered, the connection goes back
// to the http.Server through the handoff listener, kept alive as before.
type parking struct {
	ln *handoff
	// calls runs the waits' calls: their goroutines stay for the next
	// wait, with the stack the last one grew until a garbage collection
	// halves it (see internal/workers).
	calls *workers.Pool

	mu       sync.Mutex
	waits    map[*parkedWait]struct{} // parked, or about to be
	draining bool                     // Drain began: nothing parks any more

	stopCalls sync.Once // closes calls after the first Drain
}

// Listener returns ln wrapped for serving s: serve the returned listener
// with the http.Server whose handler is s, before serving starts. Waiting
// acquires (of locks, permits, several locks, leadership) still waiting
// after a moment are then
// parked: their connection is taken from the http.Server while they wait,
// and given back to it, for the client's next request, once answered.
// Without it every waiting acquire holds its connection's goroutine and
// buffers until it ends. Call Drain at shutdown, after the http.Server's
// Shutdown: parked waits are not among the requests Shutdown waits for.
// For HTTPS, wrap ln in TLS before Listener (tls.NewListener), as lockd
// does: with TLS around the returned listener (ServeTLS), a parked
// connection is closed after its answer instead of kept alive. The
// requests that follow a parked wait on its connection come to handlers
// without TLS details (r.TLS is nil): the connection goes back to the
// server wrapped. Call Listener once per Server.
func (s *Server) Listener(ln net.Listener) net.Listener {
	h := newHandoff(ln)
	s.park = &parking{ln: h, calls: workers.New(maxIdleCalls), waits: make(map[*parkedWait]struct{})}
	return h
}

// Drain waits until every parked wait has been answered, or ctx ends;
// then it cancels those left, with lockd.ErrUnavailable as the cause, as
// a shutdown does with the requests it stops waiting for, and waits up to
// grace for their answers. It returns how many it cancelled. Without
// Listener it returns 0 at once.
func (s *Server) Drain(ctx context.Context, grace time.Duration) int {
	if s.park == nil {
		return 0
	}
	defer s.park.stopCalls.Do(s.park.calls.Close)
	s.park.mu.Lock()
	s.park.draining = true
	s.park.mu.Unlock()
	if s.park.wait(ctx) {
		return 0
	}
	s.park.mu.Lock()
	n := len(s.park.waits)
	for p := range s.park.waits {
		p.cancel(lockd.ErrUnavailable)
	}
	s.park.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	s.park.wait(ctx)
	return n
}

// enter counts p among the parked waits, unless a Drain began.
func (pk *parking) enter(p *parkedWait) bool {
	pk.mu.Lock()
	defer pk.mu.Unlock()
	if pk.draining {
		return false
	}
	pk.waits[p] = struct{}{}
	return true
}

// leave forgets p.
func (pk *parking) leave(p *parkedWait) {
	pk.mu.Lock()
	defer pk.mu.Unlock()
	delete(pk.waits, p)
}

// wait reports whether no wait is parked, waiting for it until ctx ends.
func (pk *parking) wait(ctx context.Context) bool {
	t := time.NewTicker(drainPoll)
	defer t.Stop()
	for {
		pk.mu.Lock()
		n := len(pk.waits)
		pk.mu.Unlock()
		if n == 0 {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
}

// parkedWait is one waiting request. Its call runs on a goroutine of its
// own; the request's goroutine waits for it up to parkAfter, then parks
// it, and the call's goroutine answers.
type parkedWait struct {
	s      *Server
	ctx    context.Context
	cancel context.CancelCauseFunc
	start  time.Time
	// What the answer and its log line need of the request, which is not
	// kept: it holds the request's headers and buffers.
	method, path, pattern string
	proto10, closeAfter   bool
	header                http.Header // set before the wait (X-Request-Id)

	done chan struct{} // closed when the call ends, unless parked

	mu       sync.Mutex
	finished bool // the call ended with body and err
	body     any
	err      error
	abort    bool // the call panicked with http.ErrAbortHandler
	parked   bool

	// Once parked (read after unwatch returns):
	idle    time.Duration // how long the serving http.Server lets a connection idle
	conn    net.Conn
	pending []byte // read from the connection after the request
	unwatch func() // stops watching for the client's hang-up
	gone    bool   // the client closed the connection
}

// waitParked answers r with what call returns: a 200 with body, or err.
// call gets a context that ends when the client goes away or the server
// stops waiting for it. When wait is positive and the server has a
// Listener, call runs on a goroutine of its own and is parked if it still
// runs after parkAfter.
func (s *Server) waitParked(w http.ResponseWriter, r *http.Request, wait time.Duration, call func(context.Context) (any, error)) error {
	rec, ok := w.(*recorder)
	if s.park == nil || wait <= 0 || !ok || r.ProtoMajor != 1 {
		body, err := call(r.Context())
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, body)
	}
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(r.Context()))
	p := &parkedWait{
		s: s, ctx: ctx, cancel: cancel, start: rec.start,
		method: r.Method, path: r.URL.Path, pattern: r.Pattern,
		proto10: r.ProtoMinor == 0, closeAfter: r.Close,
		done: make(chan struct{}),
	}
	follow := func() func() bool {
		return context.AfterFunc(r.Context(), func() { cancel(context.Cause(r.Context())) })
	}
	stop := follow()
	s.park.calls.Run(func() { p.run(call) })
	t := time.NewTimer(parkAfter)
	select {
	case <-p.done:
		t.Stop()
		stop()
		return p.answerHere(w)
	case <-t.C:
	}
	if !stop() {
		// The request's context ended (the client left, or the shutdown
		// timeout passed): the call is ending.
		<-p.done
		return p.answerHere(w)
	}
	p.header = w.Header().Clone()
	// Counted before the connection leaves the http.Server: a Shutdown
	// that sees it gone is followed by a Drain that sees it parked.
	if !s.park.enter(p) {
		// Draining: the server's own cancellation ends this wait.
		stop = follow()
		<-p.done
		stop()
		return p.answerHere(w)
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// This connection cannot be taken: wait on it.
		s.park.leave(p)
		stop = follow()
		<-p.done
		stop()
		return p.answerHere(w)
	}
	rec.parked = true
	p.idle = idleTimeout(r)
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		p.pending = bytes.Clone(b)
	}
	p.conn = conn
	p.mu.Lock()
	if p.finished {
		p.mu.Unlock()
		p.answer()
		return nil
	}
	p.parked = true
	if !watchHangup(p) {
		watched := make(chan struct{})
		go p.watch(watched)
		p.unwatch = func() {
			_ = p.conn.SetReadDeadline(aLongTimeAgo)
			<-watched
			_ = p.conn.SetReadDeadline(time.Time{})
		}
	}
	p.mu.Unlock()
	return nil
}

// run runs call and hands its outcome to whoever answers: the request's
// goroutine, or, once parked, this one.
func (p *parkedWait) run(call func(context.Context) (any, error)) {
	body, err, abort := p.call(call)
	p.mu.Lock()
	p.body, p.err, p.abort, p.finished = body, err, abort, true
	parked := p.parked
	p.mu.Unlock()
	if parked {
		p.answer()
		return
	}
	close(p.done)
}

// call runs call, turning a panic into errPanic, logged as observe does.
func (p *parkedWait) call(call func(context.Context) (any, error)) (body any, err error, abort bool) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				abort, err = true, errPanic
				return
			}
			p.s.log.ErrorContext(p.ctx, "handler panicked", slog.Group("request", slog.String("method", p.method), slog.String("path", p.path)),
				slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
			err = errPanic
		}
	}()
	body, err = call(p.ctx)
	return body, err, false
}

// answerHere answers on the request's own goroutine, through the
// handler's usual path.
func (p *parkedWait) answerHere(w http.ResponseWriter) error {
	p.cancel(nil)
	if p.abort {
		panic(http.ErrAbortHandler)
	}
	if p.err != nil {
		return p.err
	}
	return writeJSON(w, http.StatusOK, p.body)
}

// maxPending bounds what a parked wait keeps of what its client sends
// meanwhile (pipelined requests, kept for the server); past it, the
// connection is no longer watched for a hang-up.
const maxPending = 4 << 10

// watch reads the parked connection until the client closes it, which
// cancels the call, or unwatch ends the read with a deadline in the past.
// What the client sends meanwhile (a pipelined request) is kept for the
// server, up to maxPending.
func (p *parkedWait) watch(watched chan struct{}) {
	defer close(watched)
	var b [512]byte
	for len(p.pending) < maxPending {
		n, err := p.conn.Read(b[:min(len(b), maxPending-len(p.pending))])
		p.pending = append(p.pending, b[:n]...)
		switch {
		case err == nil:
		case errors.Is(err, os.ErrDeadlineExceeded):
			return
		default:
			p.gone = true
			p.cancel(nil)
			return
		}
	}
}

// aLongTimeAgo is a deadline in the past, which ends a blocked read.
var aLongTimeAgo = time.Unix(1, 0)

// answer writes the outcome to the parked connection, as the handler
// would have, reports the request as observe would have, and gives the
// connection back to the server (or closes it).
func (p *parkedWait) answer() {
	s := p.s
	// Off the request's goroutine, net/http's recovery does not cover
	// what the answer runs (error rendering, the request observer): a
	// panic there ends this connection, not the process.
	defer func() {
		if v := recover(); v != nil {
			s.log.ErrorContext(p.ctx, "answering a parked wait panicked", slog.Group("request", slog.String("method", p.method), slog.String("path", p.path)),
				slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
			s.park.leave(p)
			p.cancel(nil)
			_ = p.conn.Close()
		}
	}()
	if p.unwatch != nil {
		p.unwatch()
	}
	r := (&http.Request{Method: p.method, URL: &url.URL{Path: p.path}, Pattern: p.pattern}).WithContext(p.ctx)
	a := &bufferedAnswer{header: p.header}
	if p.err != nil {
		s.writeError(a, r, p.err)
	} else if err := writeJSON(a, http.StatusOK, p.body); err != nil {
		s.writeError(a, r, err)
	}
	keep := !p.closeAfter && !p.gone && !p.abort && !s.park.ln.closed() && s.park.ln.fits(p.conn)
	if !p.abort {
		if s.writeTimeout > 0 {
			_ = p.conn.SetWriteDeadline(time.Now().Add(s.writeTimeout))
		}
		if _, err := p.conn.Write(a.bytes(keep, p.proto10)); err != nil {
			keep = false
		}
		_ = p.conn.SetWriteDeadline(time.Time{})
	}
	s.park.leave(p)
	p.cancel(nil)
	s.served(r, a.status, p.start)
	if !keep {
		_ = p.conn.Close()
		return
	}
	s.park.ln.give(handBack(p.conn, p.pending, p.idle))
}

// idleTimeout is how long the http.Server serving r lets a kept-alive
// connection idle between requests (its IdleTimeout, else its
// ReadTimeout, as net/http does); 0 when it does not bound it, or when r
// came through no http.Server.
func idleTimeout(r *http.Request) time.Duration {
	srv, ok := r.Context().Value(http.ServerContextKey).(*http.Server)
	switch {
	case !ok:
		return 0
	case srv.IdleTimeout > 0:
		return srv.IdleTimeout
	default:
		return max(srv.ReadTimeout, 0)
	}
}

// bufferedAnswer is a ResponseWriter that keeps the answer, which a parked
// wait then writes to its connection in HTTP/1.1 as net/http would.
type bufferedAnswer struct {
	header http.Header
	status int
	body   []byte
}

func (a *bufferedAnswer) Header() http.Header {
	if a.header == nil {
		a.header = make(http.Header)
	}
	return a.header
}

func (a *bufferedAnswer) WriteHeader(status int) {
	if a.status == 0 {
		a.status = status
	}
}

func (a *bufferedAnswer) Write(b []byte) (int, error) {
	a.WriteHeader(http.StatusOK)
	a.body = append(a.body, b...)
	return len(b), nil
}

// bytes renders the answer: status line, headers (with Date and
// Content-Length, and Connection when the connection closes after it, or
// an HTTP/1.0 client keeps it), body.
func (a *bufferedAnswer) bytes(keep, proto10 bool) []byte {
	h := a.Header()
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	h.Set("Content-Length", strconv.Itoa(len(a.body)))
	switch {
	case !keep:
		h.Set("Connection", "close")
	case proto10:
		h.Set("Connection", "keep-alive")
	}
	var b bytes.Buffer
	b.Grow(256 + len(a.body))
	b.WriteString("HTTP/1.1 ")
	b.WriteString(strconv.Itoa(a.status))
	b.WriteByte(' ')
	b.WriteString(http.StatusText(a.status))
	b.WriteString("\r\n")
	_ = h.Write(&b)
	b.WriteString("\r\n")
	b.Write(a.body)
	return b.Bytes()
}

// served logs a request at debug level and reports it to the request
// observer, once answered.
func (s *Server) served(r *http.Request, status int, start time.Time) {
	// Checked first: building the attributes costs allocations on every
	// request, and debug is off in production.
	if s.log.Enabled(r.Context(), slog.LevelDebug) {
		s.log.DebugContext(r.Context(), "request", requestAttrs(r),
			slog.Int("status", status), slog.Duration("elapsed", time.Since(start)))
	}
	if s.requests != nil {
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		s.requests.ObserveRequest(route, status, time.Since(start))
	}
}
