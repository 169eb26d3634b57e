package httpapi

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/lockd/lockd"
)

// Limits bound what the clients of one lockd may take of it. A zero field
// turns its limit off; every limit is off by default (lockd's command
// line sets its own defaults). A request over a limit is answered 429
// rate_limited with Retry-After, and nothing is done.
type Limits struct {
	// MaxWaiters bounds the acquires (of locks, permits, leadership)
	// waiting at once in this lockd.
	MaxWaiters int
	// MaxWaitersPerName bounds the acquires waiting at once for one name.
	MaxWaitersPerName int
	// Rate is how many requests per second one client may send, on
	// average: a client is its API key, or its IP address without keys.
	// Burst is how many it may send at once (at least 1).
	Rate  float64
	Burst int
	// NamesPerMinute bounds the distinct names (of locks, semaphores,
	// elections) one client may use in a minute.
	NamesPerMinute int
	// ObserversPerClient bounds the observe streams (of elections) one
	// client keeps open at once, within the server's own cap on all of
	// them (WithMaxObservers): one client cannot take them all.
	ObserversPerClient int
}

// Bounds of the limiters' own memory.
const (
	// maxClients is how many clients the rate limiter follows; past it,
	// idle ones are forgotten first, and new ones wait their turn.
	maxClients = 65536
	// maxTrackedNames is how many (client, name) pairs the names limit
	// follows in one minute, over all clients; past it, new names are
	// refused until the minute ends.
	maxTrackedNames = 1 << 20
)

// WithLimits sets the limits. The default is no limit.
func WithLimits(l Limits) Option {
	return func(s *Server) {
		s.limits = nil
		if l != (Limits{}) {
			s.limits = newLimiter(l, time.Now)
		}
	}
}

// LimitObserver is told of every request refused for a limit: "waiters",
// "waiters_per_name", "rate", "names" or "observers". lockd's metrics
// implement it.
type LimitObserver interface {
	ObserveLimited(limit string)
}

// limitError is a request refused for a limit, with when to try again.
type limitError struct {
	which string
	after time.Duration
	msg   string
}

func (e *limitError) Error() string { return fmt.Sprintf("%v: %s", lockd.ErrRateLimited, e.msg) }
func (e *limitError) Unwrap() error { return lockd.ErrRateLimited }

// limiter enforces Limits. It is safe for concurrent use.
type limiter struct {
	cfg Limits
	now func() time.Time

	mu       sync.Mutex
	waiting  int
	perName  map[string]int
	buckets  map[string]*bucket
	swept    time.Time // the last sweep of full buckets
	window   time.Time // start of the names minute
	names    map[string]map[uint64]struct{}
	tracked  int
	streams  map[string]int // open observe streams by client
	observer LimitObserver
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newLimiter(cfg Limits, now func() time.Time) *limiter {
	if cfg.Burst < 1 {
		cfg.Burst = max(1, int(math.Ceil(cfg.Rate)))
	}
	return &limiter{cfg: cfg, now: now, perName: map[string]int{}, buckets: map[string]*bucket{}, names: map[string]map[uint64]struct{}{},
		streams: map[string]int{}}
}

// observe counts an observe stream of client, and returns the function
// that ends it; past ObserversPerClient it refuses. An entry lives only
// while its client has a stream open, so the map holds at most as many
// entries as the server serves streams.
func (l *limiter) observe(client string) (func(), error) {
	if l == nil || l.cfg.ObserversPerClient <= 0 {
		return func() {}, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.streams[client] >= l.cfg.ObserversPerClient {
		return nil, l.refuse("observers", fmt.Sprintf("this client has %d observe streams open, the most one client may", l.cfg.ObserversPerClient), time.Second)
	}
	l.streams[client]++
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.streams[client]--; l.streams[client] <= 0 {
			delete(l.streams, client)
		}
	}, nil
}

func (l *limiter) refuse(which, msg string, after time.Duration) error {
	if l.observer != nil {
		l.observer.ObserveLimited(which)
	}
	return &limitError{which: which, after: after, msg: msg}
}

// request takes one token of client's bucket.
func (l *limiter) request(client string) error {
	if l.cfg.Rate <= 0 {
		return nil
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[client]
	if b == nil {
		// At most one sweep a second: a flood of new clients (an IPv6
		// prefix has many addresses) must not make every request walk
		// every bucket.
		if len(l.buckets) >= maxClients && now.Sub(l.swept) >= time.Second {
			l.swept = now
			for k, old := range l.buckets {
				if old.tokens+now.Sub(old.at).Seconds()*l.cfg.Rate >= float64(l.cfg.Burst) {
					delete(l.buckets, k) // full again: forgetting it changes nothing
				}
			}
		}
		if len(l.buckets) >= maxClients {
			return l.refuse("rate", "too many clients at once", time.Second)
		}
		b = &bucket{tokens: float64(l.cfg.Burst), at: now}
		l.buckets[client] = b
	}
	b.tokens = math.Min(float64(l.cfg.Burst), b.tokens+now.Sub(b.at).Seconds()*l.cfg.Rate)
	b.at = now
	if b.tokens < 1 {
		wait := time.Duration((1 - b.tokens) / l.cfg.Rate * float64(time.Second))
		return l.refuse("rate", fmt.Sprintf("more than %g requests a second", l.cfg.Rate), wait)
	}
	b.tokens--
	return nil
}

// name counts name among client's names of this minute.
func (l *limiter) name(client, name string) error {
	if l.cfg.NamesPerMinute <= 0 || name == "" {
		return nil
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	sum := h.Sum64()
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.window) >= time.Minute {
		l.window, l.names, l.tracked = now, map[string]map[uint64]struct{}{}, 0
	}
	left := l.window.Add(time.Minute).Sub(now)
	set := l.names[client]
	if _, seen := set[sum]; seen {
		return nil
	}
	if len(set) >= l.cfg.NamesPerMinute {
		return l.refuse("names", fmt.Sprintf("more than %d distinct names a minute", l.cfg.NamesPerMinute), left)
	}
	if l.tracked >= maxTrackedNames {
		return l.refuse("names", "too many new names at once", left)
	}
	if set == nil {
		set = map[uint64]struct{}{}
		l.names[client] = set
	}
	set[sum] = struct{}{}
	l.tracked++
	return nil
}

// wait reserves a waiter's place for key (a lock's name, or a semaphore's
// line) and returns the function that gives it back.
func (l *limiter) wait(key string) (func(), error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cfg.MaxWaiters > 0 && l.waiting >= l.cfg.MaxWaiters {
		return nil, l.refuse("waiters", fmt.Sprintf("%d acquires already wait in this lockd", l.waiting), time.Second)
	}
	if l.cfg.MaxWaitersPerName > 0 && l.perName[key] >= l.cfg.MaxWaitersPerName {
		return nil, l.refuse("waiters_per_name", fmt.Sprintf("%d acquires already wait for this name", l.perName[key]), time.Second)
	}
	l.waiting++
	l.perName[key]++
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.waiting--
		if l.perName[key]--; l.perName[key] <= 0 {
			delete(l.perName, key)
		}
	}, nil
}

type clientKey struct{}

// client names the request's client for the limits: its API key, else
// its IP address.
func client(r *http.Request) string {
	if k, ok := r.Context().Value(keyCtx{}).(*Key); ok && k != nil {
		return "key:" + k.Name
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "ip:" + host
}

// limited applies the rate limit and the names limit to a route's
// requests; handlers count the names of their bodies with checkNames.
func (s *Server) limited(h http.Handler, fail func(http.ResponseWriter, *http.Request, error)) http.Handler {
	if s.limits == nil || s.limits.cfg.Rate <= 0 && s.limits.cfg.NamesPerMinute <= 0 {
		return h // the waiter limits are the engine wrapper's
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := client(r)
		err := s.limits.request(c)
		if err == nil {
			err = s.limits.name(c, r.PathValue("name"))
		}
		if err != nil {
			fail(w, r, err)
			return
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientKey{}, c)))
	})
}

// countNames counts body names against the request's client's names
// limit.
func (s *Server) countNames(ctx context.Context, names ...string) error {
	c, _ := ctx.Value(clientKey{}).(string)
	if s.limits == nil || c == "" {
		return nil
	}
	for _, n := range names {
		if err := s.limits.name(c, n); err != nil {
			return err
		}
	}
	return nil
}

// waitLimited is the engine the handlers call when limits are set: every
// acquire that may wait (of a lock, a permit, a leadership) takes a
// waiter's place first. Everything else passes through.
type waitLimited struct {
	lockd.Passthrough
	l *limiter
}

func (e *waitLimited) reserve(key string, wait time.Duration) (func(), error) {
	if wait <= 0 {
		return func() {}, nil
	}
	return e.l.wait(key)
}

// Acquire takes a waiter's place when it may wait.
func (e *waitLimited) Acquire(ctx context.Context, name string, opts lockd.AcquireOptions) (lockd.Lease, error) {
	done, err := e.reserve(name, opts.Wait)
	if err != nil {
		return lockd.Lease{}, err
	}
	defer done()
	return e.Engine.Acquire(ctx, name, opts)
}

// AcquirePermit takes a waiter's place when it may wait.
func (e *waitLimited) AcquirePermit(ctx context.Context, name string, limit int, opts lockd.AcquireOptions) (lockd.Lease, error) {
	done, err := e.reserve(lockd.SemaphoreLine(name), opts.Wait)
	if err != nil {
		return lockd.Lease{}, err
	}
	defer done()
	return e.Passthrough.AcquirePermit(ctx, name, limit, opts)
}

// checkNames checks names from a request's body against its key's
// prefixes and counts them against its client's names limit.
func (s *Server) checkNames(ctx context.Context, names ...string) error {
	if err := allowNames(ctx, names...); err != nil {
		return err
	}
	return s.countNames(ctx, names...)
}
