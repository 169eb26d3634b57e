// Package metrics is lockd's Prometheus instrumentation: the collectors,
// registered on a registry the caller gives, and the adapters that feed
// them: an Engine wrapper (operations, waits, holds, losses), a
// FenceMinter wrapper (store mints), and the observers that the Redis
// engine (node calls and states), the HTTP server (requests) and the store
// (journal) report to.
//
// Every name starts with lockd_. No label ever holds a lock name, an owner
// or a lease: labels are operations, result codes, route patterns and the
// configured Redis node addresses, so their number is bounded by the code
// and the configuration, never by the traffic.
package metrics

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lockd/lockd"
)

// Metrics holds lockd's collectors. It is safe for concurrent use.
type Metrics struct {
	ops        *prometheus.CounterVec
	acquireDur *prometheus.HistogramVec
	waited     prometheus.Histogram
	held       prometheus.Histogram
	waiters    prometheus.Gauge
	denials    prometheus.Counter
	lost       prometheus.Counter

	nodeCall  *prometheus.HistogramVec
	nodeErrs  *prometheus.CounterVec
	nodeState *prometheus.GaugeVec
	nodesUp   prometheus.Gauge
	quorum    prometheus.Gauge

	mintDur   prometheus.Histogram
	mintFails prometheus.Counter

	httpReqs *prometheus.CounterVec
	httpDur  *prometheus.HistogramVec
	limited  *prometheus.CounterVec

	reg prometheus.Registerer

	mu     sync.Mutex
	states map[string]string // node address → its state
	grants grants
}

// States are the values of the state label of lockd_redis_node_state.
var States = []string{lockd.NodeUp, lockd.NodeDown, lockd.NodeRejoining, lockd.NodeRefused}

// latencyBuckets span a local Redis call (100µs) to a long wait (5min).
var latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}

// holdBuckets span a short critical section to an hour-long lease.
var holdBuckets = []float64{.001, .01, .1, .5, 1, 5, 10, 30, 60, 300, 900, 3600}

// New makes the collectors and registers them on reg. It returns the
// registry's error when a name is already registered there.
func New(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		ops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lockd_operations_total",
			Help: "Engine operations by operation (acquire, extend, release, ...) and result (ok, or the error code: lock_held, not_held, lock_lost, quorum_unavailable, ...).",
		}, []string{"op", "result"}),
		acquireDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "lockd_acquire_duration_seconds",
			Help:    "Time an acquire (of a lock or a permit) took, waiting included, by result.",
			Buckets: latencyBuckets,
		}, []string{"result"}),
		waited: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "lockd_acquire_wait_seconds",
			Help:    "Time a granted acquire waited for the lock to be freed before the attempt that got it.",
			Buckets: latencyBuckets,
		}),
		held: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "lockd_hold_seconds",
			Help:    "Time from a grant to its release, for leases granted and released through this lockd.",
			Buckets: holdBuckets,
		}),
		waiters: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lockd_waiters",
			Help: "Acquires waiting now (those with a wait).",
		}),
		denials: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lockd_denials_total",
			Help: "Acquires refused because someone else held the lock (or every permit) to the end of their wait.",
		}),
		lost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lockd_locks_lost_total",
			Help: "Extends answered lock_lost: the lease had expired or was taken over.",
		}),
		nodeCall: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "lockd_redis_call_duration_seconds",
			Help:    "Time of one script call to one Redis node.",
			Buckets: latencyBuckets,
		}, []string{"node"}),
		nodeErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lockd_redis_call_errors_total",
			Help: "Script calls to a Redis node that failed (no answer, an error reply, or the node out of quorums).",
		}, []string{"node"}),
		nodeState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lockd_redis_node_state",
			Help: "1 for the state a Redis node is in (up, down, rejoining, refused), 0 for the others.",
		}, []string{"node", "state"}),
		nodesUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lockd_redis_nodes_up",
			Help: "Redis nodes counted in quorums now.",
		}),
		quorum: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lockd_redis_quorum",
			Help: "Redis nodes a quorum needs: locking stops while lockd_redis_nodes_up is below it.",
		}),
		mintDur: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "lockd_store_mint_duration_seconds",
			Help:    "Time the store took to mint a fence.",
			Buckets: latencyBuckets,
		}),
		mintFails: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lockd_store_mint_failures_total",
			Help: "Fence mints that failed (the grant was undone).",
		}),
		httpReqs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lockd_http_requests_total",
			Help: "HTTP requests by route pattern and status code.",
		}, []string{"route", "code"}),
		httpDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "lockd_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route pattern.",
			Buckets: latencyBuckets,
		}, []string{"route"}),
		reg: reg,
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lockd_limited_total",
			Help: "Requests refused (429 rate_limited) by limit: waiters, waiters_per_name, rate, names, observers.",
		}, []string{"limit"}),
		states: map[string]string{},
		grants: grants{at: map[string]grant{}},
	}
	for _, c := range []prometheus.Collector{
		m.ops, m.acquireDur, m.waited, m.held, m.waiters, m.denials, m.lost,
		m.nodeCall, m.nodeErrs, m.nodeState, m.nodesUp, m.quorum,
		m.mintDur, m.mintFails, m.httpReqs, m.httpDur, m.limited,
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// JournalStats is what the store tells of its journal.
type JournalStats interface {
	// Queued is how many events wait to be written.
	Queued() int
	// Written is how many events were written.
	Written() int64
	// Dropped is how many events were dropped (queue full, or rejected).
	Dropped() int64
}

// Journal registers the journal's queue depth, writes and drops, read from
// j at every scrape. It returns the registry's error.
func (m *Metrics) Journal(j JournalStats) error {
	for _, c := range []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "lockd_journal_queue_depth",
			Help: "Journal events waiting to be written to the store.",
		}, func() float64 { return float64(j.Queued()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "lockd_journal_writes_total",
			Help: "Journal events written to the store.",
		}, func() float64 { return float64(j.Written()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "lockd_journal_drops_total",
			Help: "Journal events dropped: the queue was full, or the store rejected them.",
		}, func() float64 { return float64(j.Dropped()) }),
	} {
		if err := m.reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// result is the result label of an outcome: ok, canceled, deadline, or the
// error's code.
func result(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline"
	}
	return lockd.ErrorCode(err)
}

// Nodes declares the Redis nodes, all up, and the quorum they need. Call it
// once, before the engine reports.
func (m *Metrics) Nodes(addrs []string, quorum int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, a := range addrs {
		m.states[a] = lockd.NodeUp
		m.setStateLocked(a, lockd.NodeUp)
	}
	m.quorum.Set(float64(quorum))
	m.countUpLocked()
}

// NodeCall records one script call to node: how long it took and whether
// it failed. It implements the Redis engine's observer.
func (m *Metrics) NodeCall(node string, d time.Duration, err error) {
	m.nodeCall.WithLabelValues(node).Observe(d.Seconds())
	if err != nil {
		m.nodeErrs.WithLabelValues(node).Inc()
	}
}

// NodeState records that node is now in state (lockd.NodeUp, ...). It
// implements the Redis engine's observer.
func (m *Metrics) NodeState(node, state string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.states[node] = state
	m.setStateLocked(node, state)
	m.countUpLocked()
}

func (m *Metrics) setStateLocked(node, state string) {
	for _, s := range States {
		v := 0.0
		if s == state {
			v = 1
		}
		m.nodeState.WithLabelValues(node, s).Set(v)
	}
}

func (m *Metrics) countUpLocked() {
	up := 0
	for _, s := range m.states {
		if s == lockd.NodeUp {
			up++
		}
	}
	m.nodesUp.Set(float64(up))
}

// ObserveRequest records one HTTP request: its route pattern (never its
// path, which holds a lock name), its status and how long it took. It
// implements the HTTP server's observer.
func (m *Metrics) ObserveRequest(route string, status int, d time.Duration) {
	m.httpReqs.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.httpDur.WithLabelValues(route).Observe(d.Seconds())
}

// ObserveLimited counts a request refused for limit. It implements the
// HTTP server's limit observer.
func (m *Metrics) ObserveLimited(limit string) {
	m.limited.WithLabelValues(limit).Inc()
}

// maxGrants bounds how many live grants the hold-time histogram follows;
// past it, new grants go unmeasured until some are released.
const maxGrants = 16384

// grants remembers when the leases granted through this lockd were
// granted, to measure hold times at release.
type grants struct {
	mu    sync.Mutex
	at    map[string]grant
	swept time.Time // the last sweep of expired grants
}

type grant struct {
	at, expires time.Time
	owner       string
	fence       int64
}

func grantKey(kind, name, lease string) string { return kind + "\x00" + name + "\x00" + lease }

// add remembers a grant. When maxGrants are remembered, the expired ones
// are forgotten first, at most once a second (with that many locks held,
// every acquire must not walk them all); if none has, the grant goes
// unmeasured.
func (g *grants) add(key string, gr grant) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.at[key]; ok {
		return // a retry, or one more hold: the first grant counts
	}
	if now := time.Now(); len(g.at) >= maxGrants && now.Sub(g.swept) >= time.Second {
		g.swept = now
		for k, v := range g.at {
			if v.expires.Before(now) {
				delete(g.at, k)
			}
		}
	}
	if len(g.at) < maxGrants {
		g.at[key] = gr
	}
}

// extend moves a remembered grant's expiry.
func (g *grants) extend(key string, expires time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if v, ok := g.at[key]; ok {
		v.expires = expires
		g.at[key] = v
	}
}

// take forgets key and returns its grant.
func (g *grants) take(key string) (grant, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	v, ok := g.at[key]
	delete(g.at, key)
	return v, ok
}
