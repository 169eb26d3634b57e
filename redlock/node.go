package redlock

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/redis/rueidis"
)

//go:embed scripts/*.lua
var scriptFS embed.FS

// script is one embedded Lua script.
type script struct {
	name string
	lua  *rueidis.Lua
}

func loadScript(name string) *script {
	src, err := scriptFS.ReadFile("scripts/" + name + ".lua")
	if err != nil {
		panic("redlock: missing embedded script " + name)
	}
	return &script{name: name, lua: rueidis.NewLuaScript(string(src))}
}

var (
	acquireScript = loadScript("acquire")
	commitScript  = loadScript("commit")
	extendScript  = loadScript("extend")
	releaseScript = loadScript("release")
	inspectScript = loadScript("inspect")
	reseedScript  = loadScript("reseed")
)

// node is one independent Redis master as the algorithm sees it. eval runs
// a script and returns its reply decoded to int64, string, nil or []any.
// Tests wrap a real node in one that fails on demand.
type node interface {
	addr() string
	eval(ctx context.Context, s *script, keys, args []string) (any, error)
	ping(ctx context.Context) error
	close()
}

// redisNode talks to one Redis server through rueidis, whose automatic
// pipelining lets concurrent calls share round trips. The client is made
// on first use and again after a failed dial, so lockd starts, and keeps
// serving, while a minority of nodes is down.
type redisNode struct {
	address string
	opt     rueidis.ClientOption

	mu       sync.Mutex
	client   rueidis.Client
	closed   bool
	dialing  chan struct{} // non-nil while a dial is under way; closed when it ends
	lastErr  error         // the last dial's failure
	lastFail time.Time     // when it failed; no redial within redialAfter
}

// redialAfter spaces dials to a node that is down, so a dead node costs
// callers a fast failure rather than a dial each.
const redialAfter = 100 * time.Millisecond

var (
	errNodeClosed = errors.New("redlock: node closed")
	errDialing    = errors.New("redlock: connecting to node")
)

func newRedisNode(address string, cfg *config) *redisNode {
	return &redisNode{
		address: address,
		opt: rueidis.ClientOption{
			InitAddress:       []string{address},
			ForceSingleClient: true,
			DisableCache:      true,
			DisableRetry:      true,
			Dialer:            net.Dialer{Timeout: cfg.dialTimeout, KeepAlive: time.Second},
			ConnWriteTimeout:  cfg.connTimeout,
			ClientName:        "lockd",
			MaxFlushDelay:     cfg.flushDelay,
		},
	}
}

func (n *redisNode) addr() string { return n.address }

// get returns the client, dialling if there is none yet. Callers that
// arrive during a dial wait for it (as long as their context allows), so a
// burst of first calls does not fail; after a failed dial, callers fail
// fast with its error until redialAfter has passed.
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
				continue
			case <-ctx.Done():
				return nil, fmt.Errorf("%w: %w", errDialing, ctx.Err())
			}
		case n.lastErr != nil && time.Since(n.lastFail) < redialAfter:
			err := n.lastErr
			n.mu.Unlock()
			return nil, err
		}
		n.dialing = make(chan struct{})
		n.mu.Unlock()
		// The dial is bounded by the dial timeout, not by this caller's
		// context: others may be waiting for it too.
		go n.dial()
	}
}

// dial makes the client and wakes the callers waiting for it.
func (n *redisNode) dial() {
	c, err := rueidis.NewClient(n.opt)
	n.mu.Lock()
	defer n.mu.Unlock()
	close(n.dialing)
	n.dialing = nil
	switch {
	case err != nil:
		n.lastErr, n.lastFail = err, time.Now()
	case n.closed:
		c.Close()
	default:
		n.lastErr = nil
		n.client = c
	}
}

func (n *redisNode) eval(ctx context.Context, s *script, keys, args []string) (any, error) {
	c, err := n.get(ctx)
	if err != nil {
		return nil, err
	}
	v, err := s.lua.Exec(ctx, c, keys, args).ToAny()
	if rueidis.IsRedisNil(err) {
		return nil, nil
	}
	return v, err
}

func (n *redisNode) ping(ctx context.Context) error {
	c, err := n.get(ctx)
	if err != nil {
		return err
	}
	return c.Do(ctx, c.B().Ping().Build()).Error()
}

func (n *redisNode) close() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.closed = true
	if n.client != nil {
		n.client.Close()
		n.client = nil
	}
}
