// Package redlock is the lockd.Engine that runs the Redlock algorithm over N
// independent Redis masters: a lock is granted when a quorum (N/2+1) of nodes
// agree within the lease's validity, so losing a minority of nodes loses
// nothing. Each grant also carries a fencing token that grows strictly while
// a majority of nodes keep their data (see Acquire).
package redlock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/lockd/lockd"
)

// Defaults of the options.
const (
	// DefaultNodeTimeout bounds each call to one node. Calls on a lease
	// with a short TTL use at most a third of the TTL instead.
	DefaultNodeTimeout = 200 * time.Millisecond
	// DefaultRetryMin is the first pause between attempts of a waiting
	// acquire; pauses double up to DefaultRetryMax, with jitter.
	DefaultRetryMin = 5 * time.Millisecond
	// DefaultRetryMax caps the pause between attempts of a waiting acquire.
	DefaultRetryMax = 200 * time.Millisecond
	// DefaultKeyPrefix starts every Redis key lockd writes.
	DefaultKeyPrefix = "lockd:"
	// DefaultDialTimeout bounds connecting to a node.
	DefaultDialTimeout = time.Second
	// DefaultConnTimeout closes a connection whose replies stall this long.
	DefaultConnTimeout = 3 * time.Second
	// DefaultMaxFlushDelay is how long a node's connection may wait after a
	// write to gather more pipelined commands; see WithMaxFlushDelay.
	DefaultMaxFlushDelay = 20 * time.Microsecond
)

type config struct {
	nodeTimeout        time.Duration
	retryMin, retryMax time.Duration
	prefix             string
	dialTimeout        time.Duration
	connTimeout        time.Duration
	minter             lockd.FenceMinter
	flushDelay         time.Duration
}

// Option configures an Engine.
type Option func(*config)

// WithNodeTimeout bounds each call to one node. The default is
// DefaultNodeTimeout. Keep it small next to lease TTLs: validity is
// TTL - elapsed - drift.
func WithNodeTimeout(d time.Duration) Option { return func(c *config) { c.nodeTimeout = d } }

// WithRetryDelay sets the first and the largest pause between attempts of a
// waiting acquire. The defaults are DefaultRetryMin and DefaultRetryMax.
func WithRetryDelay(first, largest time.Duration) Option {
	return func(c *config) { c.retryMin, c.retryMax = first, largest }
}

// WithKeyPrefix sets the prefix of the Redis keys lockd writes. The default
// is DefaultKeyPrefix.
func WithKeyPrefix(p string) Option { return func(c *config) { c.prefix = p } }

// WithDialTimeout bounds connecting to a node. The default is
// DefaultDialTimeout.
func WithDialTimeout(d time.Duration) Option { return func(c *config) { c.dialTimeout = d } }

// WithMaxFlushDelay lets each node's connection wait up to d after a write
// to gather more pipelined commands into the next one: fewer system calls
// under load, at up to d more latency per call. The default is
// DefaultMaxFlushDelay; 0 flushes at once.
func WithMaxFlushDelay(d time.Duration) Option { return func(c *config) { c.flushDelay = d } }

// WithFenceMinter makes every new grant take its fence from m (MongoDB, in
// lockd) instead of the Redis counters, so fences survive the loss of every
// Redis node. The mint happens after a quorum agreed and must finish within
// the lease's validity; if it fails, the grant is released and Acquire
// fails closed with m's error (lockd.ErrStoreUnavailable). The default is
// no minter: fences come from the Redis counters.
func WithFenceMinter(m lockd.FenceMinter) Option { return func(c *config) { c.minter = m } }

// Engine is the Redlock engine. It is safe for concurrent use.
type Engine struct {
	nodes  []node
	quorum int
	cfg    config
}

// New returns an engine over the Redis masters at addrs (host:port each).
// It does not wait for the nodes: each is dialled on first use and again
// while it is down, so the engine starts with a minority of nodes away.
// New returns an *lockd.ArgumentError for an empty list, a malformed or a
// repeated address, or an option out of range.
func New(addrs []string, opts ...Option) (*Engine, error) {
	if len(addrs) == 0 {
		return nil, &lockd.ArgumentError{Field: "redis", Reason: "needs at least one node address"}
	}
	seen := make(map[string]bool, len(addrs))
	for _, a := range addrs {
		if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
			return nil, &lockd.ArgumentError{Field: "redis", Reason: fmt.Sprintf("%q is not host:port", a)}
		}
		if seen[a] {
			return nil, &lockd.ArgumentError{Field: "redis", Reason: fmt.Sprintf("%q is listed twice", a)}
		}
		seen[a] = true
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	nodes := make([]node, len(addrs))
	for i, a := range addrs {
		nodes[i] = newRedisNode(a, &cfg)
	}
	return &Engine{nodes: nodes, quorum: len(nodes)/2 + 1, cfg: cfg}, nil
}

func newConfig(opts []Option) (config, error) {
	cfg := config{
		nodeTimeout: DefaultNodeTimeout,
		retryMin:    DefaultRetryMin,
		retryMax:    DefaultRetryMax,
		prefix:      DefaultKeyPrefix,
		dialTimeout: DefaultDialTimeout,
		connTimeout: DefaultConnTimeout,
		flushDelay:  DefaultMaxFlushDelay,
	}
	for _, o := range opts {
		o(&cfg)
	}
	switch {
	case cfg.nodeTimeout <= 0:
		return cfg, &lockd.ArgumentError{Field: "node_timeout", Reason: "must be positive"}
	case cfg.retryMin <= 0 || cfg.retryMax < cfg.retryMin:
		return cfg, &lockd.ArgumentError{Field: "retry_delay", Reason: "needs 0 < first <= largest"}
	case cfg.dialTimeout <= 0:
		return cfg, &lockd.ArgumentError{Field: "dial_timeout", Reason: "must be positive"}
	case cfg.flushDelay < 0 || cfg.flushDelay > time.Millisecond:
		return cfg, &lockd.ArgumentError{Field: "max_flush_delay", Reason: "must be in [0, 1ms]"}
	}
	return cfg, nil
}

// newWithNodes builds an engine over given nodes; tests use it to put
// nodes that fail on demand in front of real ones.
func newWithNodes(nodes []node, opts ...Option) (*Engine, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	return &Engine{nodes: nodes, quorum: len(nodes)/2 + 1, cfg: cfg}, nil
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

// reply is one node's answer to a fan-out.
type reply struct {
	v   any
	err error // a *lockd.NodeError
}

// fanout runs a script on every node in parallel, all calls bounded by one
// timeout, and returns the replies in node order.
func (e *Engine) fanout(ctx context.Context, timeout time.Duration, s *script, keys, args []string) []reply {
	return e.fanoutTo(ctx, timeout, nil, s, keys, args)
}

// fanoutTo is fanout restricted to the nodes that answered the previous
// round (all nodes when prev is nil); the others keep their error.
func (e *Engine) fanoutTo(ctx context.Context, timeout time.Duration, prev []reply, s *script, keys, args []string) []reply {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out := make([]reply, len(e.nodes))
	// Every node but the last gets a goroutine; the last call runs here.
	last := -1
	for i := range e.nodes {
		if prev == nil || prev[i].err == nil {
			last = i
		}
	}
	done := make(chan struct{}, len(e.nodes))
	n := 0
	for i, nd := range e.nodes {
		if prev != nil && prev[i].err != nil {
			out[i] = prev[i]
			continue
		}
		if i == last {
			continue
		}
		n++
		go func() {
			out[i] = call(ctx, nd, s, keys, args)
			done <- struct{}{}
		}()
	}
	if last >= 0 {
		out[last] = call(ctx, e.nodes[last], s, keys, args)
	}
	for range n {
		<-done
	}
	return out
}

func call(ctx context.Context, n node, s *script, keys, args []string) reply {
	v, err := n.eval(ctx, s, keys, args)
	if err != nil {
		return reply{err: &lockd.NodeError{Node: n.addr(), Err: fmt.Errorf("%s: %w", s.name, err)}}
	}
	return reply{v: v}
}

// quorumError says how many nodes answered and why the others did not.
func (e *Engine) quorumError(replies []reply) error {
	var errs []error
	for _, r := range replies {
		if r.err != nil {
			errs = append(errs, r.err)
		}
	}
	return fmt.Errorf("%w: %d of %d nodes answered, %d needed: %w",
		lockd.ErrQuorumUnavailable, len(replies)-len(errs), len(replies), e.quorum, errors.Join(errs...))
}

func answered(replies []reply) int {
	n := 0
	for _, r := range replies {
		if r.err == nil {
			n++
		}
	}
	return n
}

// Acquire grants the lock to opts.Owner when a quorum of nodes agrees within
// the lease's validity (TTL - elapsed - drift, drift = TTL/100 + 2ms),
// retrying with jittered backoff for up to opts.Wait while someone else
// holds it.
//
// Each grant carries a fence: the largest per-lock counter among the
// granting nodes, plus one, written back to a quorum before the grant is
// returned. Any later grant reads a counter at least this large from one
// node of its own quorum, so fences grow strictly for as long as a majority
// of nodes keep their data. A node restarted empty while others are down can
// break that; durable fences are the job of a store.
//
// Acquire returns *lockd.NotObtainedError (ErrNotObtained) when someone else
// holds the lock past the wait, joined with ctx.Err() when the context ended
// it; ErrQuorumUnavailable (wrapping each *lockd.NodeError) when fewer than a
// quorum of nodes answered or they answered too slowly; *lockd.ArgumentError
// for bad input. A failed attempt deletes its lease from every node,
// including nodes that seemed to fail.
func (e *Engine) Acquire(ctx context.Context, name string, opts lockd.AcquireOptions) (lockd.Lease, error) {
	opts, err := opts.Prepare(name)
	if err != nil {
		return lockd.Lease{}, err
	}
	deadline := time.Now().Add(opts.Wait)
	for attempt := 0; ; attempt++ {
		lease, err := e.tryAcquire(ctx, name, opts)
		if err == nil {
			return lease, nil
		}
		if ctx.Err() != nil {
			return lockd.Lease{}, errors.Join(err, ctx.Err())
		}
		if !errors.Is(err, lockd.ErrNotObtained) && !errors.Is(err, lockd.ErrQuorumUnavailable) {
			return lockd.Lease{}, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return lockd.Lease{}, err
		}
		pause := e.backoff(attempt)
		var held *lockd.NotObtainedError
		if errors.As(err, &held) && held.Holder != nil {
			if d := time.Until(held.Holder.ExpiresAt); d < pause {
				pause = max(d, time.Millisecond)
			}
		}
		t := time.NewTimer(min(pause, left))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			// The last attempt's error is the real cause: lock_held, or
			// too few nodes answering.
			return lockd.Lease{}, errors.Join(err, ctx.Err())
		}
	}
}

// backoff returns a jittered pause in [d/2, d] where d doubles from
// retryMin to retryMax with each attempt.
func (e *Engine) backoff(attempt int) time.Duration {
	d := e.cfg.retryMin << min(attempt, 20)
	if d > e.cfg.retryMax || d <= 0 {
		d = e.cfg.retryMax
	}
	return d/2 + rand.N(d/2+1)
}

// Node answers to the acquire script.
const (
	statusHeld = 0 // another lease holds the lock
	statusSame = 1 // this lease already holds it (a retry)
	statusNew  = 2 // it was free and is now ours
)

type acquireReply struct {
	status  int64
	fence   int64  // the fence stored with our lease (statusSame); 0 when none
	counter int64  // the node's fence counter (after increment for statusNew)
	owner   string // the other holder (statusHeld)
	pttl    int64  // the other holder's remaining ms (statusHeld)
	meta    string // our lease's stored metadata (statusSame)
}

func parseAcquire(v any) (acquireReply, error) {
	a, ok := v.([]any)
	if !ok || len(a) < 2 {
		return acquireReply{}, fmt.Errorf("acquire: unexpected reply %v", v)
	}
	var r acquireReply
	r.status = toInt(a[0])
	switch r.status {
	case statusNew:
		r.counter = toInt(a[1])
	case statusSame:
		if len(a) < 4 {
			return r, fmt.Errorf("acquire: unexpected reply %v", v)
		}
		r.fence, r.counter, r.meta = toInt(a[1]), toInt(a[2]), toStr(a[3])
	case statusHeld:
		if len(a) < 3 {
			return r, fmt.Errorf("acquire: unexpected reply %v", v)
		}
		r.owner, r.pttl = toStr(a[1]), toInt(a[2])
	default:
		return r, fmt.Errorf("acquire: unexpected status %d", r.status)
	}
	return r, nil
}

func toInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case string:
		n, _ := strconv.ParseInt(x, 10, 64)
		return n
	}
	return 0
}

func toStr(v any) string {
	s, _ := v.(string)
	return s
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return ""
}

// tryAcquire makes one attempt: the acquire round on every node, then, when
// the granting nodes do not already agree on the fence, a commit round.
func (e *Engine) tryAcquire(ctx context.Context, name string, opts lockd.AcquireOptions) (lockd.Lease, error) {
	start := time.Now()
	keys := []string{e.lockKey(name), e.fenceKey()}
	ttlMs := strconv.FormatInt(opts.TTL.Milliseconds(), 10)
	timeout := e.callTimeout(opts.TTL)
	id := opts.Lease
	replies := e.fanout(ctx, timeout, acquireScript, keys,
		[]string{id, opts.Owner, ttlMs, string(opts.Metadata), flag(opts.ReleaseByOwner), flag(e.cfg.minter != nil)})

	parsed := make([]acquireReply, len(replies))
	yes := 0
	for i := range replies {
		if replies[i].err != nil {
			continue
		}
		p, err := parseAcquire(replies[i].v)
		if err != nil {
			replies[i].err = &lockd.NodeError{Node: e.nodes[i].addr(), Err: err}
			continue
		}
		parsed[i] = p
		if p.status != statusHeld {
			yes++
		}
	}
	failed := len(replies) - answered(replies)
	if yes < e.quorum {
		if yes > 0 || failed > 0 {
			e.releaseQuietly(name, id, opts.TTL)
		}
		if len(replies)-failed < e.quorum {
			return lockd.Lease{}, e.quorumError(replies)
		}
		return lockd.Lease{}, &lockd.NotObtainedError{Name: name, Holder: e.holder(parsed, replies, start)}
	}

	fence, needCommit := e.choose(parsed, replies)
	meta := opts.Metadata
	if meta == nil {
		meta = storedMeta(parsed, replies)
	}
	expires := start.Add(opts.TTL - drift(opts.TTL))
	if fence == 0 {
		// A new grant under a store: its fence comes from the store, within
		// validity, so fences are minted in the order grants are made.
		mctx, cancel := context.WithDeadline(ctx, expires)
		f, err := e.cfg.minter.MintFence(mctx, lockd.Lease{
			Name: name, Owner: opts.Owner, ID: id, TTL: opts.TTL,
			AcquiredAt: start, ExpiresAt: expires, Metadata: meta,
		})
		cancel()
		if err != nil {
			e.releaseQuietly(name, id, opts.TTL)
			if !errors.Is(err, lockd.ErrStoreUnavailable) {
				err = fmt.Errorf("%w: %w", lockd.ErrStoreUnavailable, err)
			}
			return lockd.Lease{}, err
		}
		fence, needCommit = f, true
	}
	if needCommit {
		commits := e.fanoutTo(ctx, timeout, replies, commitScript, keys, []string{id, strconv.FormatInt(fence, 10)})
		ok := 0
		for _, c := range commits {
			if c.err == nil && toInt(c.v) == 1 {
				ok++
			}
		}
		if ok < e.quorum {
			e.releaseQuietly(name, id, opts.TTL)
			return lockd.Lease{}, fmt.Errorf("%w: %d of %d nodes confirmed the fence, %d needed: %w",
				lockd.ErrQuorumUnavailable, ok, len(e.nodes), e.quorum, errors.Join(collect(commits)...))
		}
	}
	if !time.Now().Before(expires) {
		e.releaseQuietly(name, id, opts.TTL)
		return lockd.Lease{}, fmt.Errorf("%w: nodes answered after the lease's validity (%v) ran out",
			lockd.ErrQuorumUnavailable, opts.TTL-drift(opts.TTL))
	}
	return lockd.Lease{
		Name:       name,
		Owner:      opts.Owner,
		ID:         id,
		Fence:      fence,
		TTL:        opts.TTL,
		AcquiredAt: start,
		ExpiresAt:  expires,
		Metadata:   meta,
	}, nil
}

// choose decides the fence of a grant from the nodes that said yes, and
// whether a commit round must follow. A fence of 0 means a store must mint
// one.
//
// When a quorum holds our lease with one fence F, a grant of this lease
// with F was already made (a quorum cannot hold a lease whose fence was
// never confirmed: a store's grant stores no fence until the commit, and
// without a store, equal counters on a quorum are a grant): the acquire is
// a retry, and F stands. Otherwise the grant is new: its fence is above
// every counter the granting nodes reported, or a store mints it. The
// commit round is skipped only when every granting node already stores the
// chosen fence.
func (e *Engine) choose(parsed []acquireReply, replies []reply) (fence int64, needCommit bool) {
	stored := func(i int) int64 {
		if parsed[i].status == statusSame {
			return parsed[i].fence
		}
		if e.cfg.minter != nil {
			return 0
		}
		return parsed[i].counter
	}
	yes := func(i int) bool { return replies[i].err == nil && parsed[i].status != statusHeld }
	for i := range parsed {
		if !yes(i) || parsed[i].status != statusSame || parsed[i].fence <= 0 {
			continue
		}
		votes := 0
		for j := range parsed {
			if yes(j) && parsed[j].status == statusSame && parsed[j].fence == parsed[i].fence {
				votes++
			}
		}
		if votes >= e.quorum {
			fence = parsed[i].fence
			break
		}
	}
	if fence == 0 && e.cfg.minter == nil {
		for i, p := range parsed {
			switch {
			case !yes(i):
			case p.status == statusNew:
				fence = max(fence, p.counter)
			default:
				fence = max(fence, p.counter+1)
			}
		}
	}
	for i := range parsed {
		if yes(i) && stored(i) != fence {
			needCommit = true
		}
	}
	return fence, needCommit || fence == 0
}

// storedMeta returns the metadata our lease already has on the granting
// nodes (a retry that gives none keeps it), or nil.
func storedMeta(parsed []acquireReply, replies []reply) json.RawMessage {
	for i, p := range parsed {
		if replies[i].err == nil && p.status == statusSame && p.meta != "" {
			return json.RawMessage(p.meta)
		}
	}
	return nil
}

// holder names the other owner from the nodes that refused, with the time
// its lease runs out on a quorum of them when known.
func (e *Engine) holder(parsed []acquireReply, replies []reply, start time.Time) *lockd.Holder {
	votes := map[string][]int64{}
	for i, p := range parsed {
		if replies[i].err == nil && p.status == statusHeld {
			votes[p.owner] = append(votes[p.owner], p.pttl)
		}
	}
	var best string
	for o, v := range votes {
		if best == "" || len(v) > len(votes[best]) || len(v) == len(votes[best]) && o < best {
			best = o
		}
	}
	if best == "" {
		return nil
	}
	return &lockd.Holder{Owner: best, ExpiresAt: quorumExpiry(votes[best], e.quorum, start)}
}

// quorumExpiry returns when fewer than a quorum of the nodes whose
// remaining lifetimes (ms) are given still hold a lease: the quorum-th
// largest, or the smallest when fewer nodes report.
func quorumExpiry(pttls []int64, quorum int, from time.Time) time.Time {
	ms := slices.Clone(pttls)
	slices.Sort(ms)
	slices.Reverse(ms)
	k := min(quorum, len(ms)) - 1
	if k < 0 || ms[k] < 0 {
		return time.Time{}
	}
	return from.Add(time.Duration(ms[k]) * time.Millisecond)
}

func collect(replies []reply) []error {
	var errs []error
	for _, r := range replies {
		if r.err != nil {
			errs = append(errs, r.err)
		}
	}
	return errs
}

// releaseQuietly deletes lease id from every node after a failed attempt.
// It runs on its own context, since the caller's may be what ended the
// attempt, bounded by the node timeout.
func (e *Engine) releaseQuietly(name, id string, ttl time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), e.callTimeout(ttl))
	defer cancel()
	e.fanout(ctx, e.callTimeout(ttl), releaseScript, []string{e.lockKey(name)}, []string{id, ""})
}

// Node answers to the extend script.
const (
	extendOther = -1 // another lease holds the lock
	extendFree  = 0  // the lock is free here
	extendHeld  = 1  // our lease holds it, now extended
)

// Extend pushes the lease's expiry to now+ttl on a quorum of nodes within
// validity; ttl 0 keeps the lease's TTL. When it succeeds, nodes that
// answered without the lease (restarted empty, say) get it written back,
// so one more outage does not lose it.
//
// It returns lockd.ErrLost when so few nodes hold the lease that even the
// nodes that did not answer could not make a quorum with them (the lease
// is then deleted from the nodes that still have it); ErrQuorumUnavailable
// when it cannot tell, in which case the lease may still be valid until
// its old ExpiresAt and nothing was deleted; *lockd.ArgumentError for bad
// input.
func (e *Engine) Extend(ctx context.Context, name, leaseID string, ttl time.Duration) (lockd.Lease, error) {
	if err := lockd.ValidateLease(name, leaseID); err != nil {
		return lockd.Lease{}, err
	}
	if err := lockd.ValidateExtendTTL(ttl); err != nil {
		return lockd.Lease{}, err
	}
	start := time.Now()
	timeout := e.cfg.nodeTimeout
	if ttl > 0 {
		timeout = e.callTimeout(ttl)
	}
	replies := e.fanout(ctx, timeout, extendScript, []string{e.lockKey(name)},
		[]string{leaseID, strconv.FormatInt(ttl.Milliseconds(), 10)})
	lease := lockd.Lease{Name: name, ID: leaseID, AcquiredAt: start}
	holders, failed := 0, 0
	for _, r := range replies {
		a, ok := r.v.([]any)
		switch {
		case r.err != nil:
			failed++
			continue
		case !ok || len(a) < 1:
			failed++
			continue
		case toInt(a[0]) != extendHeld || len(a) < 5:
			continue
		}
		holders++
		lease.Owner = toStr(a[1])
		lease.Fence = max(lease.Fence, toInt(a[2]))
		if m := toStr(a[3]); m != "" {
			lease.Metadata = []byte(m)
		}
		got := time.Duration(toInt(a[4])) * time.Millisecond
		if lease.TTL == 0 || got < lease.TTL {
			lease.TTL = got
		}
	}
	lease.ExpiresAt = start.Add(lease.TTL - drift(lease.TTL))
	if holders >= e.quorum && lease.TTL > 0 && time.Now().Before(lease.ExpiresAt) {
		e.reseed(ctx, name, lease, replies)
		return lease, nil
	}
	if holders+failed >= e.quorum && holders < e.quorum {
		return lockd.Lease{}, e.quorumError(replies)
	}
	if holders > 0 {
		e.releaseQuietly(name, leaseID, max(lease.TTL, lockd.MinTTL))
	}
	return lockd.Lease{}, fmt.Errorf("%w: %d of %d nodes hold the lease, %d needed", lockd.ErrLost, holders, len(e.nodes), e.quorum)
}

// reseed writes a lease that a quorum just confirmed back on the nodes that
// answered that the lock is free there. It never overwrites another lease.
func (e *Engine) reseed(ctx context.Context, name string, l lockd.Lease, replies []reply) {
	var todo []reply
	for _, r := range replies {
		a, ok := r.v.([]any)
		if r.err == nil && ok && len(a) >= 1 && toInt(a[0]) == extendFree {
			if todo == nil {
				todo = make([]reply, len(replies))
				for i := range todo {
					todo[i].err = errSkipped
				}
			}
		}
	}
	if todo == nil {
		return
	}
	for i, r := range replies {
		if a, ok := r.v.([]any); r.err == nil && ok && len(a) >= 1 && toInt(a[0]) == extendFree {
			todo[i] = reply{}
		}
	}
	left := time.Until(l.ExpiresAt)
	if left <= 0 {
		return
	}
	e.fanoutTo(ctx, e.callTimeout(l.TTL), todo, reseedScript, []string{e.lockKey(name), e.fenceKey()}, []string{
		l.ID, l.Owner, strconv.FormatInt(l.Fence, 10), string(l.Metadata),
		strconv.FormatInt(l.TTL.Milliseconds(), 10), strconv.FormatInt(max(left.Milliseconds(), 1), 10), "",
	})
}

// errSkipped marks a node a round is not sent to.
var errSkipped = errors.New("redlock: not asked")

// Release deletes the lock on every node where leaseID still holds it and
// never touches another holder's lock. It returns what it deleted when a
// quorum answered and none of them still holds the lease (it deleted the
// lease from at least one); lockd.ErrNotHeld when a quorum answered and
// none held the lease (already released, expired, or someone else's now);
// ErrQuorumUnavailable when too few nodes answered to tell, in which case
// the caller may retry: a retried release is harmless.
func (e *Engine) Release(ctx context.Context, name, leaseID string) (lockd.Released, error) {
	if err := lockd.ValidateLease(name, leaseID); err != nil {
		return lockd.Released{}, err
	}
	return e.release(ctx, name, leaseID, "")
}

// ReleaseByOwner is Release for a lock acquired with
// AcquireOptions.ReleaseByOwner, matched by its owner label. It returns
// lockd.ErrNotHeld when no quorum-answered node had such a lock of owner.
func (e *Engine) ReleaseByOwner(ctx context.Context, name, owner string) (lockd.Released, error) {
	if err := lockd.ValidateName(name); err != nil {
		return lockd.Released{}, err
	}
	if err := lockd.ValidateOwner(owner); err != nil {
		return lockd.Released{}, err
	}
	return e.release(ctx, name, "", owner)
}

func (e *Engine) release(ctx context.Context, name, leaseID, owner string) (lockd.Released, error) {
	replies := e.fanout(ctx, e.cfg.nodeTimeout, releaseScript, []string{e.lockKey(name)}, []string{leaseID, owner})
	if answered(replies) < e.quorum {
		return lockd.Released{}, e.quorumError(replies)
	}
	out := lockd.Released{Name: name}
	deleted := false
	for _, r := range replies {
		if a, ok := r.v.([]any); r.err == nil && ok && len(a) >= 2 {
			deleted = true
			out.Owner = toStr(a[0])
			out.Fence = max(out.Fence, toInt(a[1]))
		}
	}
	if !deleted {
		return lockd.Released{}, lockd.ErrNotHeld
	}
	return out, nil
}

// Inspect reports the holder a quorum of nodes agrees on. It returns
// ErrQuorumUnavailable when fewer than a quorum answered.
func (e *Engine) Inspect(ctx context.Context, name string) (lockd.LockInfo, error) {
	if err := lockd.ValidateName(name); err != nil {
		return lockd.LockInfo{}, err
	}
	start := time.Now()
	replies := e.fanout(ctx, e.cfg.nodeTimeout, inspectScript, []string{e.lockKey(name)}, nil)
	if answered(replies) < e.quorum {
		return lockd.LockInfo{}, e.quorumError(replies)
	}
	type view struct {
		owner, meta string
		fence       int64
		pttls       []int64
	}
	views := map[string]*view{}
	for _, r := range replies {
		a, ok := r.v.([]any)
		if r.err != nil || !ok || len(a) < 5 {
			continue
		}
		id := toStr(a[0])
		v := views[id]
		if v == nil {
			v = &view{owner: toStr(a[1]), meta: toStr(a[3])}
			views[id] = v
		}
		v.fence = max(v.fence, toInt(a[2]))
		v.pttls = append(v.pttls, toInt(a[4]))
	}
	for _, v := range views {
		if len(v.pttls) < e.quorum {
			continue
		}
		info := lockd.LockInfo{
			Name:      name,
			Held:      true,
			Owner:     v.owner,
			Fence:     v.fence,
			ExpiresAt: quorumExpiry(v.pttls, e.quorum, start),
		}
		if v.meta != "" {
			info.Metadata = []byte(v.meta)
		}
		return info, nil
	}
	return lockd.LockInfo{Name: name}, nil
}

// Health pings every node; the engine is ready when a quorum answers.
func (e *Engine) Health(ctx context.Context) lockd.Health {
	h := lockd.Health{Nodes: make([]lockd.NodeHealth, len(e.nodes))}
	done := make(chan struct{}, len(e.nodes))
	for i, n := range e.nodes {
		go func() {
			defer func() { done <- struct{}{} }()
			cctx, cancel := context.WithTimeout(ctx, e.cfg.nodeTimeout)
			defer cancel()
			start := time.Now()
			err := n.ping(cctx)
			nh := lockd.NodeHealth{Addr: n.addr(), OK: err == nil, Latency: time.Since(start)}
			if err != nil {
				nh.Error = err.Error()
			}
			h.Nodes[i] = nh
		}()
	}
	ok := 0
	for range e.nodes {
		<-done
	}
	for _, n := range h.Nodes {
		if n.OK {
			ok++
		}
	}
	h.Ready = ok >= e.quorum
	return h
}

// Close closes the connections to every node.
func (e *Engine) Close() error {
	for _, n := range e.nodes {
		n.close()
	}
	return nil
}

var _ lockd.Engine = (*Engine)(nil)
