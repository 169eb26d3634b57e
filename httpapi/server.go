// Package httpapi serves a lockd.Engine over HTTP/JSON: the v1 lock routes,
// health and readiness probes, and the routes of lockd's first prototype
// (GET /, POST /get-lock, POST /release-lock) with their exact messages.
//
// Errors are {"error": {"code": ..., "message": ...}}, with the code taken
// from lockd.ErrorCode and the status from one table; invalid_argument adds
// "field", lock_held adds "holder". Durations are integer milliseconds and
// times RFC 3339 in UTC. Lease values are secrets: the server returns one
// only to the client that acquired it.
package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/wire"
)

// Modes reported by GET /.
const (
	// ModeDev is a single-process memory engine.
	ModeDev = "dev"
	// ModeRedis is the Redlock engine over Redis nodes.
	ModeRedis = "redis"
)

// DefaultVersion is the version GET / reports when none is given.
const DefaultVersion = "dev"

// DefaultWriteTimeout is how long the server gives a client to take in an
// answer when WithWriteTimeout is not given.
const DefaultWriteTimeout = 30 * time.Second

// healthTimeout bounds the engine's health check behind GET /readyz, so a
// hung node cannot hang the probe.
const healthTimeout = 2 * time.Second

// Server is the HTTP API over one engine. It is an http.Handler and is
// safe for concurrent use.
type Server struct {
	engine  lockd.Engine
	journal lockd.Journal
	checks  []readyCheck
	log     *slog.Logger
	mode    string
	version string
	handler http.Handler

	bodyReadTimeout time.Duration
	writeTimeout    time.Duration
	warnings        *logLimiter
	requests        RequestObserver
	metrics         http.Handler
	keys            []Key
	lister          lockd.Lister
	limits          *limiter
	elect           elections
	park            *parking // nil without Listener
}

// Option configures a Server.
type Option func(*Server)

// WithLogger sets where request failures and internal errors are logged;
// nil discards them. The default is slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(s *Server) {
		if l == nil {
			l = slog.New(slog.DiscardHandler)
		}
		s.log = l
	}
}

// WithMode sets the mode GET / reports: ModeDev or ModeRedis. The default
// is ModeDev.
func WithMode(mode string) Option {
	return func(s *Server) { s.mode = mode }
}

// WithVersion sets the version GET / reports. The default is
// DefaultVersion.
func WithVersion(v string) Option {
	return func(s *Server) { s.version = v }
}

// WithJournal serves GET /v1/locks/{name}/history from j. Without it that
// route answers 501 not_configured.
func WithJournal(j lockd.Journal) Option {
	return func(s *Server) { s.journal = j }
}

// WithWriteTimeout bounds how long writing one answer may take, counted
// from the start of the request, so a client that never reads its answers
// cannot hold a connection and its handler forever: past the bound the
// write fails and the connection is closed. A waiting acquire gets its wait
// on top. d <= 0 leaves writes unbounded. The default is
// DefaultWriteTimeout.
func WithWriteTimeout(d time.Duration) Option {
	return func(s *Server) { s.writeTimeout = d }
}

// RequestObserver is told of every request answered: lockd's metrics
// implement it. Its method is called concurrently and must not block.
type RequestObserver interface {
	// ObserveRequest reports one request: the route pattern that served
	// it ("POST /v1/locks/{name}/acquire", never the path itself, which
	// holds a name; "unmatched" when no route did), the status sent and
	// how long answering took.
	ObserveRequest(route string, status int, d time.Duration)
}

// WithRequestObserver reports every request to o. The default is none.
func WithRequestObserver(o RequestObserver) Option {
	return func(s *Server) { s.requests = o }
}

// WithMetrics serves GET /metrics with h, a Prometheus handler. Without
// it, /metrics is 404.
func WithMetrics(h http.Handler) Option {
	return func(s *Server) { s.metrics = h }
}

// readyCheck is a dependency other than the engine's nodes that GET /readyz
// reports, such as the store.
type readyCheck struct {
	name  string
	check func(context.Context) error
}

// WithReadyCheck adds a dependency to GET /readyz: it is listed under name
// with the nodes, and lockd is ready only while check returns nil. The
// check gets the probe's bounded context.
func WithReadyCheck(name string, check func(context.Context) error) Option {
	return func(s *Server) { s.checks = append(s.checks, readyCheck{name, check}) }
}

// New returns a Server over engine. The server does not own the engine:
// closing it is the caller's job.
func New(engine lockd.Engine, opts ...Option) *Server {
	s := &Server{
		engine:          engine,
		log:             slog.Default(),
		mode:            ModeDev,
		version:         DefaultVersion,
		bodyReadTimeout: bodyReadTimeout,
		writeTimeout:    DefaultWriteTimeout,
		warnings:        newLogLimiter(time.Now),
	}
	for _, o := range opts {
		o(s)
	}
	s.log = LogRequestIDs(s.log)
	if s.limits != nil {
		if o, ok := s.requests.(LimitObserver); ok {
			s.limits.observer = o
		}
		s.engine = &waitLimited{Passthrough: lockd.Passthrough{Engine: s.engine}, l: s.limits}
	}
	mux := http.NewServeMux()
	s.routes(mux)
	s.handler = s.observe(s.boundWrites(s.cleanPathsOnly(mux)))
	return s
}

// ServeHTTP serves one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

// route is one entry of the route table.
type route struct {
	method, path string
	h            http.Handler
}

// errAdminNeedsKeys answers the admin routes of a lockd without API keys.
var errAdminNeedsKeys = fmt.Errorf("%w: the admin routes need API keys: configure keys, and send an admin one", lockd.ErrNotConfigured)

// guarded wraps a route in the authentication it needs (when keys are
// configured): none for the probes (/healthz, /readyz, the prototype's
// GET /), admin for the admin routes (listing, which scans every node, and
// force-release), read for any other GET, write for the rest. A refusal is answered in the route's own error shape.
func (s *Server) guarded(rt route) http.Handler {
	fail := s.writeError
	if rt.path == "/get-lock" || rt.path == "/release-lock" {
		fail = s.writeLegacyError
	}
	switch {
	case rt.path == "/{$}" || rt.path == "/healthz" || rt.path == "/readyz":
		return rt.h
	case rt.path == "/metrics":
		return s.guard(RoleRead, rt.h, fail) // never limited: scrapes must see the refusals
	case strings.HasPrefix(rt.path, "/v1/admin/") || strings.HasSuffix(rt.path, "/force-release") || rt.path == "/v1/locks":
		if len(s.keys) == 0 {
			// Without keys anyone could free any lock by its public name.
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fail(w, r, errAdminNeedsKeys) })
		}
		return s.guard(RoleAdmin, s.limited(rt.h, fail), fail)
	case rt.method == http.MethodGet:
		return s.guard(RoleRead, s.limited(rt.h, fail), fail)
	}
	return s.guard(RoleWrite, s.limited(rt.h, fail), fail)
}

// routes registers every route. New routes (lock kinds, metrics) go in
// this table; everything else (405s, 404s) follows from it.
func (s *Server) routes(mux *http.ServeMux) {
	table := []route{
		{"GET", "/{$}", s.legacy(s.handleRoot)},
		{"POST", "/get-lock", s.legacy(s.handleGetLock)},
		{"POST", "/release-lock", s.legacy(s.handleReleaseLock)},

		{"GET", "/healthz", s.api(s.handleHealthz)},
		{"GET", "/readyz", s.api(s.handleReadyz)},

		{"POST", "/v1/locks/{name}/acquire", s.api(s.handleAcquire)},
		{"POST", "/v1/locks/{name}/extend", s.api(s.handleExtend)},
		{"POST", "/v1/locks/{name}/release", s.api(s.handleRelease)},
		{"GET", "/v1/locks/{name}", s.api(s.handleInspect)},
		{"GET", "/v1/locks/{name}/history", s.api(s.handleHistory)},
		{"GET", "/v1/locks", s.api(s.handleList)},
		{"POST", "/v1/locks/{name}/force-release", s.api(s.handleForceRelease)},
		{"POST", "/v1/locks:acquire-many", s.api(s.handleAcquireMany)},
		{"POST", "/v1/locks:extend-many", s.api(s.handleExtendMany)},
		{"POST", "/v1/locks:release-many", s.api(s.handleReleaseMany)},

		{"POST", "/v1/semaphores/{name}/acquire", s.api(s.handleAcquirePermit)},
		{"POST", "/v1/semaphores/{name}/extend", s.api(s.handleExtendPermit)},
		{"POST", "/v1/semaphores/{name}/release", s.api(s.handleReleasePermit)},
		{"GET", "/v1/semaphores/{name}", s.api(s.handleInspectSemaphore)},

		{"POST", "/v1/elections/{name}/campaign", s.api(s.handleCampaign)},
		{"POST", "/v1/elections/{name}/resign", s.api(s.handleResign)},
		{"GET", "/v1/elections/{name}", s.api(s.handleLeader)},
		{"GET", "/v1/elections/{name}/observe", s.api(s.handleObserve)},
	}
	if s.metrics != nil {
		table = append(table, route{"GET", "/metrics", s.metrics})
	}
	allowed := make(map[string][]string)
	var paths []string
	for _, rt := range table {
		mux.Handle(rt.method+" "+rt.path, s.guarded(rt))
		if _, ok := allowed[rt.path]; !ok {
			paths = append(paths, rt.path)
		}
		allowed[rt.path] = append(allowed[rt.path], rt.method)
		if rt.method == http.MethodGet {
			allowed[rt.path] = append(allowed[rt.path], http.MethodHead)
		}
	}
	// A pattern without a method is less specific than one with, so these
	// catch only the methods a path does not serve. They replace the mux's
	// plain-text 405 and 404 with JSON ones.
	for _, p := range paths {
		mux.Handle(p, s.api(methodNotAllowed(strings.Join(allowed[p], ", "))))
	}
	mux.Handle("/", s.api(notFound))
}

// handlerFunc is a route's handler. It either writes a response and
// returns nil, or writes nothing and returns the error to send, which the
// adapter (api or legacy) renders through the status table.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// api adapts h to http.Handler, sending errors in the v1 shape.
func (s *Server) api(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

func methodNotAllowed(allow string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Allow", allow)
		return &routeError{code: codeMethodNotAllowed, message: "method " + r.Method + " is not allowed here; allowed: " + allow}
	}
}

func notFound(w http.ResponseWriter, r *http.Request) error {
	return &routeError{code: codeNotFound, message: "no route for " + r.Method + " " + r.URL.EscapedPath()}
}

// cleanPathsOnly answers requests whose path the mux would redirect to a
// cleaned form ("/v1/locks/../x", "/v1/locks//acquire"): an API client
// gains nothing from a redirect, and a lock name must not be rewritten.
// Under /v1/locks/, /v1/elections/ and /v1/semaphores/ the answer is the
// name's own validation error.
func (s *Server) cleanPathsOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.EscapedPath()
		if r.Method == http.MethodConnect || p == cleanPath(p) {
			next.ServeHTTP(w, r)
			return
		}
		var err error = &routeError{code: codeNotFound, message: "no route for " + r.Method + " " + p}
		rest, ok := strings.CutPrefix(p, "/v1/locks/")
		if !ok {
			rest, ok = strings.CutPrefix(p, "/v1/elections/")
		}
		if !ok {
			rest, ok = strings.CutPrefix(p, "/v1/semaphores/")
		}
		if ok {
			seg, _, _ := strings.Cut(rest, "/")
			if nameErr := lockd.ValidateName(unescape(seg)); nameErr != nil {
				err = nameErr
			}
		}
		s.writeError(w, r, err)
	})
}

// cleanPath is the mux's notion of a canonical path: path.Clean, keeping a
// trailing slash.
func cleanPath(p string) string {
	if p == "" || p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if strings.HasSuffix(p, "/") && np != "/" {
		np += "/"
	}
	return np
}

// unescape undoes path escaping, keeping a segment that is not valid
// escaping as it is (name validation then refuses its '%').
func unescape(seg string) string {
	if u, err := url.PathUnescape(seg); err == nil {
		return u
	}
	return seg
}

// handleHealthz reports that the process serves requests; it does not ask
// the engine.
func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readiness asks the engine and every ready check, within healthTimeout,
// whether lockd can grant locks now. GET /readyz shows the answer; GET /
// sums it up.
func (s *Server) readiness(ctx context.Context) wire.Ready {
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	h := s.engine.Health(ctx)
	body := wire.Ready{Ready: h.Ready, Nodes: make([]wire.Node, 0, len(h.Nodes))}
	for _, n := range h.Nodes {
		body.Nodes = append(body.Nodes, wire.Node{Addr: n.Addr, OK: n.OK, LatencyMs: n.Latency.Milliseconds(), Error: n.Error, State: n.State})
	}
	for _, c := range s.checks {
		start := time.Now()
		err := c.check(ctx)
		n := wire.Node{Addr: c.name, OK: err == nil, LatencyMs: time.Since(start).Milliseconds(), State: lockd.NodeUp}
		if err != nil {
			// The check's text may name hosts; the status is enough here.
			n.Error, n.State = lockd.ErrorCode(err), lockd.NodeDown
			body.Ready = false
			// Load balancers poll: one line a second per check is enough.
			if suppressed, ok := s.warnings.allow("ready:" + c.name); ok {
				s.log.WarnContext(ctx, "ready check failed", slog.String("check", c.name), slog.Any("err", err), slog.Int("suppressed", suppressed))
			}
		}
		body.Nodes = append(body.Nodes, n)
	}
	return body
}

// handleReadyz reports 200 when the engine can grant locks, 503 otherwise,
// with the state of every node either way.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) error {
	body := s.readiness(r.Context())
	status := http.StatusOK
	if !body.Ready {
		status = http.StatusServiceUnavailable
	}
	return writeJSON(w, status, body)
}

var _ http.Handler = (*Server)(nil)
