// Package redlock is the lockd.Engine that runs the Redlock algorithm over N
// independent Redis masters: a lock is granted when a quorum (N/2+1) of nodes
// agree within the lease's validity, so losing a minority of nodes loses
// nothing. Each grant also carries a fencing token that grows strictly while
// a majority of nodes keep their data (see Engine.Acquire).
//
// Every verb is one round of a Lua script sent to all nodes at once, which
// answers as soon as its outcome is decided (round); calls still running
// then finish in the background within their timeout. A node that stops
// answering, whose eviction policy can drop lock keys, or that is the same
// server as another node does not vote (node.go).
package redlock

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/waitq"
	"github.com/lockd/lockd/internal/workers"
)

// maxIdleWorkers bounds the goroutines an engine keeps for the node calls
// of its next rounds: enough for a busy engine's concurrent rounds on
// every node.
const maxIdleWorkers = 256

// Engine is the Redlock engine. It is safe for concurrent use.
type Engine struct {
	nodes  []node
	quorum int
	cfg    config
	id     string // tells this engine's marks on a lock from others' (handoff.go)

	gates   []gate        // one per node
	workers *workers.Pool // run the node calls of rounds (fanout.go)

	mu        sync.Mutex
	closed    bool
	closeOnce sync.Once      // stops the workers
	bg        sync.WaitGroup // calls and clean-ups still running after their verb answered

	lines      waitq.Lines        // acquires that wait, by lock name (wait.go)
	listenOnce sync.Once          // starts the subscriptions to released messages
	stopListen context.CancelFunc // ends them; nil until they start
	listeners  sync.WaitGroup     // the subscription goroutines
}

// New returns an engine over the Redis masters at addrs: host:port each, or
// redis://[user[:password]@]host:port for a node that asks for AUTH, or
// rediss://... for one that speaks TLS.
// It does not wait for the nodes: each is dialled on first use, so the
// engine starts with a minority of nodes away. New returns an
// *lockd.ArgumentError for an empty list, a malformed or a repeated
// address, or an option out of range. Two addresses of one server are
// found once both are reached (by their run_id); the second gets no vote.
func New(addrs []string, opts ...Option) (*Engine, error) {
	if len(addrs) == 0 {
		return nil, &lockd.ArgumentError{Field: "redis", Reason: "needs at least one node address"}
	}
	seen := make(map[string]bool, len(addrs))
	for _, a := range addrs {
		ep, err := parseEndpoint(a)
		if err != nil {
			return nil, &lockd.ArgumentError{Field: "redis", Reason: err.Error()}
		}
		if seen[ep.addr] {
			return nil, &lockd.ArgumentError{Field: "redis", Reason: fmt.Sprintf("%q is listed twice", ep.addr)}
		}
		seen[ep.addr] = true
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	e := newEngine(cfg, func(c *config) []node {
		var nodes []node
		for _, n := range newRedisNodes(addrs, c) {
			nodes = append(nodes, n)
		}
		return nodes
	})
	if o := e.cfg.observer; o != nil {
		names := make([]string, len(e.nodes))
		for i, n := range e.nodes {
			names[i] = n.addr()
		}
		o.Nodes(names, e.quorum)
	}
	return e, nil
}

// newWithNodes builds an engine over given nodes; tests use it to put
// nodes that fail on demand in front of real ones.
func newWithNodes(nodes []node, opts ...Option) (*Engine, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	return newEngine(cfg, func(*config) []node { return nodes }), nil
}

// newEngine returns an engine of cfg over the nodes that nodes makes,
// given the engine's own config (which the nodes keep).
func newEngine(cfg config, nodes func(*config) []node) *Engine {
	e := &Engine{cfg: cfg, id: newAttemptTag(), workers: workers.New(maxIdleWorkers)}
	e.nodes = nodes(&e.cfg)
	e.quorum = len(e.nodes)/2 + 1
	e.gates = make([]gate, len(e.nodes))
	return e
}

// Quorum returns how many nodes must agree: N/2+1.
func (e *Engine) Quorum() int { return e.quorum }

func (e *Engine) lockKey(name string) string { return e.cfg.prefix + "lock:" + name }

// fenceKey is the node's one fence counter, shared by every lock: fences
// grow strictly per lock because they grow strictly overall, and a lock
// name leaves no key behind once it is released or expired.
func (e *Engine) fenceKey() string { return e.cfg.prefix + "fence" }

// drift is the clock-drift allowance Redlock subtracts from validity.
func drift(ttl time.Duration) time.Duration { return ttl/100 + 2*time.Millisecond }

// callTimeout bounds one call to one node for a lease of the given TTL.
func (e *Engine) callTimeout(ttl time.Duration) time.Duration {
	return min(e.cfg.nodeTimeout, ttl/3)
}

// track counts n goroutines about to start that Close waits for, and
// reports whether it did: once the engine is closed they run untracked
// (their calls fail at once on closed nodes).
func (e *Engine) track(n int) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false
	}
	e.bg.Add(n)
	return true
}

// spawn runs f in a goroutine that Close waits for.
func (e *Engine) spawn(f func()) {
	tracked := e.track(1)
	go func() {
		if tracked {
			defer e.bg.Done()
		}
		f()
	}()
}

// Health checks every node: it answers, may vote (its eviction policy is
// noeviction, and it is not another node's server), and takes a write. The
// engine is ready when a quorum passes.
func (e *Engine) Health(ctx context.Context) lockd.Health {
	h := lockd.Health{Nodes: make([]lockd.NodeHealth, len(e.nodes))}
	var wg sync.WaitGroup
	for i, n := range e.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, e.cfg.nodeTimeout)
			defer cancel()
			start := time.Now()
			err := n.check(cctx)
			nh := lockd.NodeHealth{Addr: n.addr(), OK: err == nil, Latency: time.Since(start), State: lockd.NodeUp}
			if err != nil {
				nh.Error, nh.State = err.Error(), nodeState(err)
			}
			h.Nodes[i] = nh
		}()
	}
	wg.Wait()
	ok := 0
	for _, n := range h.Nodes {
		if n.OK {
			ok++
		}
	}
	h.Ready = ok >= e.quorum
	return h
}

// Close waits for the calls still running in the background (each bounded
// by its timeout), then closes the connections to every node.
func (e *Engine) Close() error {
	e.mu.Lock()
	e.closed = true
	stop := e.stopListen
	e.mu.Unlock()
	e.lines.WakeAll() // waiting acquires retry at once, and give up
	if stop != nil {
		stop()
	}
	e.listeners.Wait()
	e.bg.Wait()
	e.closeOnce.Do(e.workers.Close)
	for _, n := range e.nodes {
		n.close()
	}
	return nil
}

// isClosed reports whether Close was called: a waiting acquire then gives
// up instead of retrying nodes that fail at once until its wait ends.
func (e *Engine) isClosed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.closed
}

// settle waits for the calls still running in the background; tests use it
// to look at the nodes once every write has landed.
func (e *Engine) settle() { e.bg.Wait() }

var _ lockd.Engine = (*Engine)(nil)
