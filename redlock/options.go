package redlock

import (
	"crypto/tls"
	"fmt"
	"log/slog"
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
	// DefaultWaitPoll is how often the first in line of the acquires that
	// wait for a lock retries while it hears of no release: the safety net
	// for a lost release message; see WithWaitPoll.
	DefaultWaitPoll = 500 * time.Millisecond
	// DefaultProbeInterval is how often a node that is down (or refused) is
	// probed until it is back; see WithProbeInterval.
	DefaultProbeInterval = 100 * time.Millisecond
)

type config struct {
	nodeTimeout        time.Duration
	retryMin, retryMax time.Duration
	prefix             string
	dialTimeout        time.Duration
	connTimeout        time.Duration
	minter             lockd.FenceMinter
	flushDelay         time.Duration
	probeInterval      time.Duration
	waitPoll           time.Duration
	allowEviction      bool
	log                *slog.Logger
	maxTTL             time.Duration
	rejoinDelay        time.Duration
	rejoinSet          bool // WithRejoinDelay was given
	observer           Observer
	tls                *tls.Config // the base of every rediss:// node's TLS
}

// Observer is told what the nodes do: lockd's metrics implement it. Its
// methods are called concurrently and must not block.
type Observer interface {
	// Nodes declares the nodes, all up at first, and how many of them a
	// quorum needs. New calls it once.
	Nodes(addrs []string, quorum int)
	// NodeCall reports one script call to a node: how long it took, and
	// its failure or nil.
	NodeCall(node string, d time.Duration, err error)
	// NodeState reports that a node is now in state: lockd.NodeUp,
	// NodeDown, NodeRejoining or NodeRefused.
	NodeState(node, state string)
}

// WithTLSConfig is the TLS configuration of the nodes given as rediss://
// URLs (each gets a copy with its host as ServerName): set RootCAs to
// trust a private CA, Certificates for client certificates. The default
// verifies against the system's roots.
func WithTLSConfig(c *tls.Config) Option { return func(cfg *config) { cfg.tls = c } }

// WithObserver reports node calls and node states to o. The default is
// none.
func WithObserver(o Observer) Option { return func(c *config) { c.observer = o } }

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

// WithProbeInterval sets how often a node that stopped answering is probed
// until it answers again; calls to it fail at once in between. The default
// is DefaultProbeInterval.
func WithProbeInterval(d time.Duration) Option { return func(c *config) { c.probeInterval = d } }

// WithWaitPoll sets how often the first in line of the acquires that wait
// for a lock retries while it hears of no release (a release wakes it at
// once through the nodes' pub/sub; this is the safety net for a message
// lost with a connection). The others in line make no calls at all. The
// default is DefaultWaitPoll.
func WithWaitPoll(d time.Duration) Option { return func(c *config) { c.waitPoll = d } }

// WithAllowEviction counts nodes whose maxmemory-policy can evict keys
// (anything but noeviction). Such a node can drop a held lock under memory
// pressure and grant it again, so by default it gets no vote until its
// policy is noeviction. Use it only where memory can never run out.
func WithAllowEviction(allow bool) Option { return func(c *config) { c.allowEviction = allow } }

// WithLogger sets where node state changes are logged (down, back up,
// refused for its eviction policy, a duplicate of another node), once per
// change. nil discards them. The default is slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l == nil {
			l = slog.New(slog.DiscardHandler)
		}
		c.log = l
	}
}

// WithFenceMinter makes every new grant take its fence from m (MongoDB, in
// lockd) instead of the Redis counters, so fences survive the loss of every
// Redis node. The mint happens after a quorum agreed and must finish within
// the lease's validity; if it fails, the grant is released and Acquire
// fails closed with m's error (lockd.ErrStoreUnavailable). The default is
// no minter: fences come from the Redis counters.
func WithFenceMinter(m lockd.FenceMinter) Option { return func(c *config) { c.minter = m } }

// WithMaxTTL caps the TTL of every lease this engine grants or extends: a
// longer one is refused with an *lockd.ArgumentError on ttl_ms. It is also
// the default rejoin delay (see WithRejoinDelay), so lowering it to the
// longest TTL the callers use brings a restarted node back sooner. It must
// be in [lockd.MinTTL, lockd.MaxTTL]; the default is lockd.MaxTTL.
//
// Every lockd instance over the same nodes must use the same value or a
// larger rejoin delay: a restarted node must not vote while a lease that
// another instance granted through it can still be live.
func WithMaxTTL(d time.Duration) Option { return func(c *config) { c.maxTTL = d } }

// WithRejoinDelay sets how long a node that restarted (its run_id changed,
// or its uptime went back) is kept out of every quorum once the restart is
// seen. A node without persistence forgets its locks when it restarts;
// while it is out, every lease it held runs out, so its vote can no longer
// grant a held lock twice. The default is the maximum TTL (WithMaxTTL).
// Set 0 only when every node's data survives a restart (appendonly yes
// with appendfsync always, on storage that outlives the process).
func WithRejoinDelay(d time.Duration) Option {
	return func(c *config) { c.rejoinDelay, c.rejoinSet = d, true }
}

func newConfig(opts []Option) (config, error) {
	cfg := config{
		nodeTimeout:   DefaultNodeTimeout,
		retryMin:      DefaultRetryMin,
		retryMax:      DefaultRetryMax,
		prefix:        DefaultKeyPrefix,
		dialTimeout:   DefaultDialTimeout,
		connTimeout:   DefaultConnTimeout,
		flushDelay:    DefaultMaxFlushDelay,
		probeInterval: DefaultProbeInterval,
		waitPoll:      DefaultWaitPoll,
		log:           slog.Default(),
		maxTTL:        lockd.MaxTTL,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if !cfg.rejoinSet {
		cfg.rejoinDelay = cfg.maxTTL
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
	case cfg.probeInterval <= 0:
		return cfg, &lockd.ArgumentError{Field: "probe_interval", Reason: "must be positive"}
	case cfg.waitPoll <= 0:
		return cfg, &lockd.ArgumentError{Field: "wait_poll", Reason: "must be positive"}
	case cfg.maxTTL < lockd.MinTTL || cfg.maxTTL > lockd.MaxTTL:
		return cfg, &lockd.ArgumentError{Field: "max_ttl", Reason: fmt.Sprintf("must be in [%v, %v]", lockd.MinTTL, lockd.MaxTTL)}
	case cfg.rejoinDelay < 0:
		return cfg, &lockd.ArgumentError{Field: "rejoin_delay", Reason: "must not be negative"}
	}
	return cfg, nil
}
