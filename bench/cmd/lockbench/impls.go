package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/bsm/redislock"
	"github.com/go-redsync/redsync/v4"
	redsyncredis "github.com/go-redsync/redsync/v4/redis"
	redsyncgoredis "github.com/go-redsync/redsync/v4/redis/goredis/v9"
	redsyncrueidis "github.com/go-redsync/redsync/v4/redis/rueidis"
	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
	"github.com/redis/rueidis/rueidiscompat"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/httpapi"
	"github.com/lockd/lockd/redlock"
)

// Implementation names, in the order the table lists them.
const (
	implLockd          = "lockd"
	implLockdHTTP      = "lockd-http"
	implLockdNoFlush   = "lockd-noflush"
	implRedsync        = "redsync"
	implRedsyncRueidis = "redsync-rueidis"
	implRedislock      = "redislock"
)

var implOrder = []string{implLockd, implLockdNoFlush, implLockdHTTP, implRedsync, implRedsyncRueidis, implRedislock}

// retryPolicy is the one pause schedule every implementation gets between
// attempts of a waiting acquire. It is redlock's own formula, so the
// engine's WithRetryDelay(first, largest) and this function agree: before
// retry k (0-based) the pause is uniform in [d/2, d], d = min(first<<k,
// largest).
type retryPolicy struct {
	first, largest time.Duration
}

func (p retryPolicy) pause(k int) time.Duration {
	d := p.first << min(k, 20)
	if d > p.largest || d <= 0 {
		d = p.largest
	}
	return d/2 + rand.N(d/2+1)
}

// locker is one implementation under test. cycle acquires key for owner,
// waiting up to wait while another owner holds it (not at all when wait is
// 0), then releases it. It returns an error when the lock was not obtained
// or not released. Implementations are safe for concurrent use.
type locker interface {
	cycle(ctx context.Context, key, owner string, wait time.Duration) error
	close()
}

// releaseTimeout bounds a release. Releases do not run on the cell's
// context, so that a cell ending between acquire and release cannot leave a
// lock behind for the next cell.
const releaseTimeout = 2 * time.Second

// cellConfig is what every implementation is given.
type cellConfig struct {
	ttl   time.Duration
	retry retryPolicy
	pool  int // connections per node for pooled clients (go-redis)
	// flush is redlock's MaxFlushDelay for the lockd-noflush variant.
	flush time.Duration
}

// newEngine returns a Redlock engine over addrs that has connected to
// every node, so that no measured call pays for a first dial.
func newEngine(addrs []string, cfg cellConfig, extra ...redlock.Option) (*redlock.Engine, error) {
	e, err := redlock.New(addrs, append([]redlock.Option{redlock.WithRetryDelay(cfg.retry.first, cfg.retry.largest)}, extra...)...)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if h := e.Health(ctx); !h.Ready || slices.ContainsFunc(h.Nodes, func(n lockd.NodeHealth) bool { return !n.OK }) {
		_ = e.Close()
		return nil, fmt.Errorf("redlock engine not ready: %+v", h.Nodes)
	}
	return e, nil
}

// lockdLocker is lockd's Redlock engine linked in.
type lockdLocker struct {
	e   *redlock.Engine
	ttl time.Duration
}

func newLockd(addrs []string, cfg cellConfig, extra ...redlock.Option) (*lockdLocker, error) {
	e, err := newEngine(addrs, cfg, extra...)
	if err != nil {
		return nil, err
	}
	return &lockdLocker{e: e, ttl: cfg.ttl}, nil
}

func (l *lockdLocker) cycle(ctx context.Context, key, owner string, wait time.Duration) error {
	lease, err := l.e.Acquire(ctx, key, lockd.AcquireOptions{Owner: owner, TTL: l.ttl, Wait: wait})
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	_, err = l.e.Release(rctx, key, lease.ID)
	return err
}

func (l *lockdLocker) close() { _ = l.e.Close() }

// redsyncLocker is go-redsync with one pool per node.
type redsyncLocker struct {
	rs      *redsync.Redsync
	ttl     time.Duration
	retry   retryPolicy
	closers []func()
}

// newRedsync builds redsync over go-redis v9 clients (the adapter the
// redsync README shows), each with cfg.pool connections, or over rueidis
// clients when viaRueidis is set.
func newRedsync(addrs []string, cfg cellConfig, viaRueidis bool) (*redsyncLocker, error) {
	l := &redsyncLocker{ttl: cfg.ttl, retry: cfg.retry}
	var pools []redsyncredis.Pool
	for _, a := range addrs {
		if viaRueidis {
			c, err := rueidis.NewClient(rueidis.ClientOption{
				InitAddress: []string{a}, ForceSingleClient: true, DisableCache: true,
			})
			if err != nil {
				l.close()
				return nil, err
			}
			l.closers = append(l.closers, c.Close)
			pools = append(pools, redsyncrueidis.NewPool(rueidiscompat.NewAdapter(c)))
			continue
		}
		c := goredis.NewClient(&goredis.Options{Addr: a, PoolSize: cfg.pool})
		l.closers = append(l.closers, func() { _ = c.Close() })
		pools = append(pools, redsyncgoredis.NewPool(c))
	}
	l.rs = redsync.New(pools...)
	return l, nil
}

func (l *redsyncLocker) cycle(ctx context.Context, key, owner string, wait time.Duration) error {
	opts := []redsync.Option{redsync.WithExpiry(l.ttl), redsync.WithTries(1)}
	if wait > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, wait)
		defer cancel()
		opts = append(opts, redsync.WithTries(math.MaxInt32),
			// redsync numbers retries from 1.
			redsync.WithRetryDelayFunc(func(tries int) time.Duration { return l.retry.pause(tries - 1) }))
	}
	m := l.rs.NewMutex(key, opts...)
	if err := m.LockContext(ctx); err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	ok, err := m.UnlockContext(rctx)
	if !ok && err == nil {
		err = errors.New("redsync: unlock refused by a quorum")
	}
	return err
}

func (l *redsyncLocker) close() {
	for _, c := range l.closers {
		c()
	}
}

// redislockLocker is bsm/redislock on one node.
type redislockLocker struct {
	rdb   *goredis.Client
	c     *redislock.Client
	ttl   time.Duration
	retry retryPolicy
}

func newRedislock(addr string, cfg cellConfig) *redislockLocker {
	rdb := goredis.NewClient(&goredis.Options{Addr: addr, PoolSize: cfg.pool})
	return &redislockLocker{rdb: rdb, c: redislock.New(rdb), ttl: cfg.ttl, retry: cfg.retry}
}

// backoffStrategy is a redislock.RetryStrategy following a retryPolicy;
// it counts its retries, so each Obtain needs a fresh one.
type backoffStrategy struct {
	p retryPolicy
	k int
}

func (s *backoffStrategy) NextBackoff() time.Duration {
	d := s.p.pause(s.k)
	s.k++
	return d
}

func (l *redislockLocker) cycle(ctx context.Context, key, owner string, wait time.Duration) error {
	var opt *redislock.Options
	if wait > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, wait)
		defer cancel()
		opt = &redislock.Options{RetryStrategy: &backoffStrategy{p: l.retry}}
	}
	lock, err := l.c.Obtain(ctx, key, l.ttl, opt)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	return lock.Release(rctx)
}

func (l *redislockLocker) close() { _ = l.rdb.Close() }

// httpLocker is lockd's HTTP API over its own Redlock engine, served on a
// loopback TCP listener in this process, driven by plain net/http with
// keep-alive connections.
type httpLocker struct {
	engine *redlock.Engine
	srv    *http.Server
	hc     *http.Client
	base   string
	ttlMs  int64
}

func newHTTP(addrs []string, cfg cellConfig, workers int) (*httpLocker, error) {
	e, err := newEngine(addrs, cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = e.Close()
		return nil, err
	}
	srv := &http.Server{
		Handler:           httpapi.New(e, httpapi.WithMode(httpapi.ModeRedis)),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = srv.Serve(ln) }()
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        2 * workers,
		MaxIdleConnsPerHost: 2 * workers,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &httpLocker{
		engine: e,
		srv:    srv,
		hc:     &http.Client{Transport: tr},
		base:   "http://" + ln.Addr().String() + "/v1/locks/",
		ttlMs:  cfg.ttl.Milliseconds(),
	}, nil
}

type httpAcquireBody struct {
	Owner  string `json:"owner"`
	TTLMs  int64  `json:"ttl_ms"`
	WaitMs int64  `json:"wait_ms,omitempty"`
}

func (l *httpLocker) cycle(ctx context.Context, key, owner string, wait time.Duration) error {
	body, _ := json.Marshal(httpAcquireBody{Owner: owner, TTLMs: l.ttlMs, WaitMs: wait.Milliseconds()})
	var lease struct {
		Lease string `json:"lease"`
	}
	if err := l.post(ctx, key+"/acquire", body, &lease); err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	var rel struct {
		Released bool `json:"released"`
	}
	body, _ = json.Marshal(struct {
		Lease string `json:"lease"`
	}{lease.Lease})
	if err := l.post(rctx, key+"/release", body, &rel); err != nil {
		return err
	}
	if !rel.Released {
		return errors.New("lockd-http: release answered released=false")
	}
	return nil
}

// post sends body to path under /v1/locks/ and decodes a 200 answer into
// out. It reads every response to its end, so the connection is reused.
func (l *httpLocker) post(ctx context.Context, path string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := l.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("lockd-http: %s: %s: %s", path, strconv.Itoa(resp.StatusCode), bytes.TrimSpace(b))
	}
	return json.Unmarshal(b, out)
}

func (l *httpLocker) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = l.srv.Shutdown(ctx)
	l.hc.CloseIdleConnections()
	_ = l.engine.Close()
}
