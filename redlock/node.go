package redlock

import (
	"context"
	"embed"
	"errors"
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
	dialing  bool      // a dial is under way; others fail fast rather than queue
	lastErr  error     // the last dial's failure
	lastFail time.Time // when it failed; no redial within redialAfter
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
			Username:          cfg.username,
			Password:          cfg.password,
			Dialer:            net.Dialer{Timeout: cfg.dialTimeout, KeepAlive: time.Second},
			ConnWriteTimeout:  cfg.connTimeout,
			ClientName:        "lockd",
		},
	}
}

func (n *redisNode) addr() string { return n.address }

// get returns the client, dialling if there is none yet.
func (n *redisNode) get() (rueidis.Client, error) {
	n.mu.Lock()
	switch {
	case n.closed:
		n.mu.Unlock()
		return nil, errNodeClosed
	case n.client != nil:
		c := n.client
		n.mu.Unlock()
		return c, nil
	case n.dialing:
		n.mu.Unlock()
		return nil, errDialing
	case n.lastErr != nil && time.Since(n.lastFail) < redialAfter:
		err := n.lastErr
		n.mu.Unlock()
		return nil, err
	}
	n.dialing = true
	n.mu.Unlock()

	c, err := rueidis.NewClient(n.opt)

	n.mu.Lock()
	defer n.mu.Unlock()
	n.dialing = false
	if err != nil {
		n.lastErr, n.lastFail = err, time.Now()
		return nil, err
	}
	if n.closed {
		c.Close()
		return nil, errNodeClosed
	}
	n.lastErr = nil
	n.client = c
	return c, nil
}

func (n *redisNode) eval(ctx context.Context, s *script, keys, args []string) (any, error) {
	c, err := n.get()
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
	c, err := n.get()
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
