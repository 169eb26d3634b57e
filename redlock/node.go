package redlock

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/lockd/lockd"
)

// node is one independent Redis master as the algorithm sees it. eval runs
// a script and returns its reply decoded to int64, string, nil or []any.
// check is the readiness probe: the node answers, may vote, and takes
// writes. listen delivers the messages of a pub/sub channel. Tests wrap a real node in one that fails on demand.
type node interface {
	addr() string
	eval(ctx context.Context, s *script, keys, args []string) (any, error)
	check(ctx context.Context) error
	// listen subscribes to channel and calls fn with each message until
	// ctx ends or the subscription fails, and returns why.
	listen(ctx context.Context, channel string, fn func(msg string)) error
	// scan returns the keys that match the glob match, at most max of
	// them (SCAN: keys written meanwhile may be missed or seen twice).
	scan(ctx context.Context, match string, max int) ([]string, error)
	close()
}

// identifyEvery is how old a node's INFO reading may be for a readiness
// check to reuse it. Dials and probes always read it afresh.
const identifyEvery = time.Second

var (
	errNodeClosed = errors.New("redlock: node closed")
	errDialing    = errors.New("redlock: connecting to node")
	// errNodeDown is a fast failure: the node stopped answering, and
	// calls fail at once until a probe sees it back.
	errNodeDown = errors.New("redlock: node down, failing fast until a probe sees it back")
	// errRefused is a node that answers but may not vote: its eviction
	// policy, or it is another node's server.
	errRefused = errors.New("redlock: node refused")
)

// redisNode talks to one Redis server through rueidis, whose automatic
// pipelining lets concurrent calls share round trips. The client is made
// on first use, so lockd starts, and keeps serving, while a minority of
// nodes is down.
//
// A node that fails a call for want of an answer (a timeout, a refused or
// broken connection; not an error reply) is marked down: calls fail at
// once, and one probe goroutine pings it every probe interval until it
// answers. A node whose maxmemory-policy can evict keys, or that is the
// same server as another node, is refused the same way until that changes.
// Each change of state is logged once.
type redisNode struct {
	address string
	auth    endpoint // the user, password and TLS of the node's address
	index   int
	cfg     *config
	reg     *registry
	opt     rueidis.ClientOption

	// blocked is why calls fail at once (down, refused, duplicate), or nil
	// when the node may vote.
	blocked atomic.Pointer[error]

	mu      sync.Mutex
	client  rueidis.Client
	closed  bool
	dialing chan struct{} // non-nil while a dial is under way; closed when it ends
	lastErr error         // the last dial's failure
	probing bool          // a probe goroutine runs
	runID   string
	uptime  int64 // uptime_in_seconds at the last reading; -1 when unknown
	policy  string
	seen    time.Time // when policy was read
	// rejoinUntil is when a restarted node may vote again, rejoinWhy what
	// showed the restart.
	rejoinUntil time.Time
	rejoinWhy   string
	stop        chan struct{} // closed by close, ends the probe
}

// newRedisNodes returns the nodes at addrs (as New accepts them), sharing
// one registry that tells when two addresses reach the same server.
func newRedisNodes(addrs []string, cfg *config) []*redisNode {
	reg := &registry{ids: make([]string, len(addrs))}
	out := make([]*redisNode, len(addrs))
	for i, a := range addrs {
		ep, err := parseEndpoint(a)
		if err != nil {
			ep = endpoint{addr: a} // New refuses it first; tests pass host:port
		}
		if ep.tls != nil && cfg.tls != nil {
			tc := cfg.tls.Clone()
			tc.ServerName = ep.tls.ServerName
			tc.MinVersion = max(tc.MinVersion, ep.tls.MinVersion)
			ep.tls = tc
		}
		out[i] = &redisNode{
			address: ep.addr,
			auth:    ep,
			index:   i,
			cfg:     cfg,
			reg:     reg,
			uptime:  -1,
			stop:    make(chan struct{}),
			opt: rueidis.ClientOption{
				InitAddress:       []string{ep.addr},
				Username:          ep.user,
				Password:          ep.password,
				TLSConfig:         ep.tls,
				ForceSingleClient: true,
				DisableCache:      true,
				DisableRetry:      true,
				Dialer:            net.Dialer{Timeout: cfg.dialTimeout, KeepAlive: time.Second},
				ConnWriteTimeout:  cfg.connTimeout,
				ClientName:        "lockd",
				MaxFlushDelay:     cfg.flushDelay,
			},
		}
		out[i].opt.DialCtxFn = out[i].dialCtx
		reg.nodes = append(reg.nodes, out[i])
	}
	return out
}

func (n *redisNode) addr() string { return n.address }

// get returns the client, dialling if there is none yet. Callers that
// arrive during a dial wait for it (as long as their context allows), so a
// burst of first calls does not fail.
func (n *redisNode) get(ctx context.Context) (rueidis.Client, error) {
	for {
		n.mu.Lock()
		switch {
		case n.closed:
			n.mu.Unlock()
			return nil, errNodeClosed
		case n.client != nil:
			c := n.client
			n.mu.Unlock()
			return c, nil
		case n.dialing != nil:
			wait := n.dialing
			n.mu.Unlock()
			select {
			case <-wait:
			case <-ctx.Done():
				return nil, fmt.Errorf("%w: %w", errDialing, ctx.Err())
			}
			n.mu.Lock()
			if n.client == nil && n.lastErr != nil {
				err := n.lastErr
				n.mu.Unlock()
				return nil, err
			}
			n.mu.Unlock()
			continue
		}
		n.dialing = make(chan struct{})
		n.mu.Unlock()
		// The dial is bounded by the dial timeout, not by this caller's
		// context: others may be waiting for it too.
		go n.dial()
	}
}

// dial makes the client, reads what the node is (run_id, eviction policy),
// and wakes the callers waiting for it.
func (n *redisNode) dial() {
	c, err := rueidis.NewClient(n.opt)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), n.cfg.dialTimeout)
		err = n.identify(ctx, c)
		cancel()
		if err != nil {
			c.Close()
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	close(n.dialing)
	n.dialing = nil
	switch {
	case err != nil:
		n.lastErr = err
	case n.closed:
		c.Close()
	default:
		n.lastErr = nil
		n.client = c
	}
}

// identify reads the node's run_id and maxmemory_policy, and refuses it a
// vote when the policy can evict lock keys or another node is the same
// server.
func (n *redisNode) identify(ctx context.Context, c rueidis.Client) error {
	text, err := c.Do(ctx, c.B().Info().Section("server", "memory").Build()).ToString()
	if err != nil {
		return fmt.Errorf("reading INFO: %w", err)
	}
	info := parseInfo(text)
	if _, ok := info["maxmemory_policy"]; !ok {
		info["maxmemory_policy"] = ""
	}
	return n.observe(info)
}

func parseInfo(text string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok {
			out[k] = v
		}
	}
	return out
}

// refusal is why the node may not vote for what it is, or nil.
func (n *redisNode) refusal() error {
	if err := n.rejoining(); err != nil {
		return err
	}
	n.mu.Lock()
	runID, policy := n.runID, n.policy
	n.mu.Unlock()
	if policy != "" && policy != "noeviction" && !n.cfg.allowEviction {
		return fmt.Errorf("%w: maxmemory-policy is %s, which can evict lock keys and grant a held lock again; set it to noeviction (or allow eviction explicitly)", errRefused, policy)
	}
	if dup := n.reg.duplicateOf(n.index); dup != "" {
		return fmt.Errorf("%w: same Redis server (run_id %s) as node %s; one server gets one vote", errRefused, runID, dup)
	}
	return nil
}

func (n *redisNode) eval(ctx context.Context, s *script, keys, args []string) (any, error) {
	if b := n.blocked.Load(); b != nil {
		return nil, *b
	}
	start := time.Now()
	c, err := n.get(ctx)
	if b := n.blocked.Load(); err == nil && b != nil {
		// The dial just found out what the node is (a duplicate, say).
		return nil, *b
	}
	if err == nil {
		var v any
		v, err = s.lua.Exec(ctx, c, keys, args).ToAny()
		if rueidis.IsRedisNil(err) {
			err = nil
		}
		if o := n.cfg.observer; o != nil {
			o.NodeCall(n.address, time.Since(start), err)
		}
		if err == nil {
			return v, nil
		}
	}
	switch {
	case errors.Is(err, errRejoining):
		n.setBlocked(err)
	case n.unreachable(ctx, start, err):
		n.suspect()
	}
	return nil, err
}

// unreachable reports whether err means the node did not answer: not an
// error reply, and not a timeout much shorter than the node timeout (a
// short lease's call), which a loaded but healthy node can miss.
func (n *redisNode) unreachable(ctx context.Context, start time.Time, err error) bool {
	var re *rueidis.RedisError
	if errors.As(err, &re) || errors.Is(err, errNodeClosed) || errors.Is(err, errRefused) || errors.Is(err, errRejoining) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		d, ok := ctx.Deadline()
		return ok && d.Sub(start) >= n.cfg.nodeTimeout*9/10
	}
	return true
}

// suspect starts the probe, which checks the node at once: a broken
// connection that redials is not a node down, but one that does not answer
// the probe is, and calls then fail fast until it answers again.
func (n *redisNode) suspect() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.probing || n.closed {
		return
	}
	n.probing = true
	go n.probe()
}

// setBlocked records why the node may not vote (nil: it may) and logs each
// change of state once; while it is blocked, the probe runs.
func (n *redisNode) setBlocked(err error) {
	var old *error
	if err == nil {
		old = n.blocked.Swap(nil)
	} else {
		old = n.blocked.Swap(&err)
	}
	if o := n.cfg.observer; o != nil {
		switch {
		case err == nil && old != nil:
			o.NodeState(n.address, lockd.NodeUp)
		case err != nil && (old == nil || kind(*old) != kind(err)):
			o.NodeState(n.address, nodeState(err))
		}
	}
	log := n.cfg.log.With(slog.String("node", n.address))
	switch {
	case err == nil && old != nil:
		log.Info("redis node counted in quorums again")
	case err != nil && (old == nil || kind(*old) != kind(err)):
		log.Warn("redis node not counted in quorums", slog.Any("why", err))
	}
	if err != nil {
		n.suspect()
	}
}

// kind names a state, so that one is logged once whatever its cause's
// text.
func kind(err error) string {
	switch {
	case errors.Is(err, errNodeDown):
		return "down"
	case errors.Is(err, errRejoining):
		return "rejoining"
	}
	return err.Error()
}

// isDown reports whether the node is marked down.
func (n *redisNode) isDown() bool {
	b := n.blocked.Load()
	return b != nil && errors.Is(*b, errNodeDown)
}

// probe checks the node at once, then every probe interval, until it may
// vote again. A node that fails two checks in a row is marked down (the
// first failure may be a connection the restarted node broke, which the
// client redials at once).
func (n *redisNode) probe() {
	t := time.NewTicker(n.cfg.probeInterval)
	defer t.Stop()
	wait, failures := false, 0
	for {
		if wait {
			select {
			case <-n.stop:
				return
			case <-t.C:
			}
		}
		if err := n.rejoining(); err != nil {
			// No call reaches a rejoining node; wait out its delay.
			n.setBlocked(err)
			wait, failures = true, 0
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), n.cfg.nodeTimeout)
		err := n.reachable(ctx)
		cancel()
		if errors.Is(err, errRejoining) {
			n.setBlocked(err)
			wait, failures = true, 0
			continue
		}
		if err != nil {
			failures++
			if wait = failures > 1; wait {
				n.setBlocked(fmt.Errorf("%w: %w", errNodeDown, err))
			}
			continue
		}
		failures = 0
		if err := n.refusal(); err != nil {
			n.setBlocked(err)
			wait = true
			continue
		}
		n.mu.Lock()
		n.probing = false
		n.mu.Unlock()
		n.setBlocked(nil)
		return
	}
}

// reachable reaches the node (dialling it when needed) and refreshes what
// it is.
func (n *redisNode) reachable(ctx context.Context) error {
	c, err := n.get(ctx)
	if err != nil {
		return err
	}
	return n.identify(ctx, c)
}

// check is the readiness probe: the node answers, may vote, and takes a
// write (a full node under noeviction, or a read-only replica, does not).
//
// It reads INFO again only when the last reading is older than
// identifyEvery, so a flood of readiness probes costs each node one small
// write per probe, not an INFO.
func (n *redisNode) check(ctx context.Context) error {
	if err := n.rejoining(); err != nil {
		return err
	}
	start := time.Now()
	c, err := n.get(ctx)
	if err == nil {
		n.mu.Lock()
		stale := time.Since(n.seen) >= identifyEvery
		n.mu.Unlock()
		if stale {
			err = n.identify(ctx, c)
		}
	}
	if err != nil {
		if n.unreachable(ctx, start, err) {
			n.suspect()
		}
		return err
	}
	if err := n.refusal(); err != nil {
		return err
	}
	key := n.cfg.prefix + "ready"
	if err := c.Do(ctx, c.B().Set().Key(key).Value("1").Px(5*time.Second).Build()).Error(); err != nil {
		return fmt.Errorf("not writable: %w", err)
	}
	if n.blocked.Load() != nil {
		n.setBlocked(nil)
	}
	return nil
}

// listen subscribes to channel on a connection of its own: on a server
// that speaks only RESP2, a subscribed connection can run nothing else, and
// the lock calls must never wait behind it. A node that may not vote still
// delivers: a message is only a hint to retry.
func (n *redisNode) listen(ctx context.Context, channel string, fn func(msg string)) error {
	n.mu.Lock()
	closed := n.closed
	n.mu.Unlock()
	if closed {
		return errNodeClosed
	}
	// NewClient dials and says hello within its own timeouts, without a
	// context: do not hold Close up for them.
	type dialed struct {
		c   rueidis.Client
		err error
	}
	ch := make(chan dialed, 1)
	go func() {
		c, err := rueidis.NewClient(n.opt)
		ch <- dialed{c, err}
	}()
	var c rueidis.Client
	select {
	case d := <-ch:
		if d.err != nil {
			return d.err
		}
		c = d.c
	case <-ctx.Done():
		go func() {
			if d := <-ch; d.c != nil {
				d.c.Close()
			}
		}()
		return ctx.Err()
	}
	defer c.Close()
	return c.Receive(ctx, c.B().Subscribe().Channel(channel).Build(), func(m rueidis.PubSubMessage) { fn(m.Message) })
}

func (n *redisNode) scan(ctx context.Context, match string, max int) ([]string, error) {
	if b := n.blocked.Load(); b != nil {
		return nil, *b
	}
	c, err := n.get(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	cursor := uint64(0)
	for {
		e, err := c.Do(ctx, c.B().Scan().Cursor(cursor).Match(match).Count(1000).Build()).AsScanEntry()
		if err != nil {
			return nil, err
		}
		out = append(out, e.Elements...)
		if cursor = e.Cursor; cursor == 0 || len(out) >= max {
			return out[:min(len(out), max)], nil
		}
	}
}

func (n *redisNode) close() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	n.closed = true
	close(n.stop)
	if n.client != nil {
		n.client.Close()
		n.client = nil
	}
}
