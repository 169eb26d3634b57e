package redlock

import (
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/syncbuf"
	"github.com/lockd/lockd/internal/testenv"
)

// newLoggedEngine returns an engine over addrs that logs to the returned
// buffer.
func newLoggedEngine(t *testing.T, addrs []string, opts ...Option) (*Engine, *syncbuf.Buffer) {
	t.Helper()
	var buf syncbuf.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e, err := New(addrs, append([]Option{WithLogger(log)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e, &buf
}

// logLines counts the lines of logs that hold every one of parts.
func logLines(logs *syncbuf.Buffer, parts ...string) int {
	n := 0
	for _, line := range strings.Split(logs.String(), "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			n++
		}
	}
	return n
}

func nodeHealth(t *testing.T, e *Engine, addr string) lockd.NodeHealth {
	t.Helper()
	for _, n := range e.Health(ctx(t)).Nodes {
		if n.Addr == addr {
			return n
		}
	}
	return lockd.NodeHealth{}
}

// TestPausedNodeFailsFast pauses one node of three: calls keep working,
// the node is marked down once (one log line, however many calls), calls
// to it then fail at once, and it is counted again once it answers.
func TestPausedNodeFailsFast(t *testing.T) {
	servers := testenv.StartRedis(t, 3)
	e, logs := newLoggedEngine(t, testenv.Addrs(servers))
	paused := servers[2]
	paused.Pause()
	resumed := false
	t.Cleanup(func() {
		if !resumed {
			paused.Resume()
		}
	})
	for i := range 50 {
		l, err := e.Acquire(ctx(t), "paused", lockd.AcquireOptions{Owner: "a"})
		if err != nil {
			t.Fatalf("acquire %d: %v", i, err)
		}
		if _, err := e.Release(ctx(t), "paused", l.ID); err != nil {
			t.Fatalf("release %d: %v", i, err)
		}
	}
	testenv.Eventually(t, "paused node marked down", func() bool {
		return logLines(logs, "not counted in quorums", "node="+paused.Addr()) > 0
	})
	start := time.Now()
	_, err := e.nodes[2].eval(ctx(t), inspectScript, []string{e.lockKey("paused")}, nil)
	if !errors.Is(err, errNodeDown) {
		t.Fatalf("call to the paused node: got %v, want errNodeDown", err)
	}
	if el := time.Since(start); el >= e.cfg.nodeTimeout {
		t.Errorf("call to a node marked down took %v, want a fast failure", el)
	}
	if n := logLines(logs, "not counted in quorums"); n != 1 {
		t.Errorf("got %d 'not counted' lines, want 1:\n%s", n, logs.String())
	}
	paused.Resume()
	resumed = true
	testenv.Eventually(t, "resumed node counted again", func() bool {
		return logLines(logs, "counted in quorums again", "node="+paused.Addr()) > 0
	})
	if h := nodeHealth(t, e, paused.Addr()); !h.OK {
		t.Errorf("resumed node health %+v, want OK", h)
	}
}

// TestEvictionPolicyRefused gives two of three nodes a policy that can
// evict lock keys: they get no vote (so nothing is granted), /readyz says
// why, and they vote again once the policy is noeviction, or when eviction
// is allowed explicitly.
func TestEvictionPolicyRefused(t *testing.T) {
	servers := testenv.StartRedis(t, 3)
	if !testenv.Real() {
		t.Skip("miniredis has no maxmemory-policy; install redis-server to run this test")
	}
	for _, s := range servers[:2] {
		configSet(t, s.Addr(), "maxmemory-policy", "allkeys-lru")
	}
	e, logs := newLoggedEngine(t, testenv.Addrs(servers))
	_, err := e.Acquire(ctx(t), "evict", lockd.AcquireOptions{Owner: "a"})
	if !errors.Is(err, lockd.ErrQuorumUnavailable) || !strings.Contains(err.Error(), "maxmemory-policy is allkeys-lru") {
		t.Fatalf("got %v, want ErrQuorumUnavailable naming the policy", err)
	}
	h := e.Health(ctx(t))
	if h.Ready || h.Nodes[0].OK || !strings.Contains(h.Nodes[0].Error, "allkeys-lru") || !h.Nodes[2].OK {
		t.Errorf("health %+v, want not ready, nodes 1-2 refused for their policy", h)
	}
	if n := strings.Count(logs.String(), "maxmemory-policy is allkeys-lru"); n != 2 {
		t.Errorf("got %d log lines about the policy, want one per node:\n%s", n, logs.String())
	}

	allowed, _ := newLoggedEngine(t, testenv.Addrs(servers), WithAllowEviction(true))
	if _, err := allowed.Acquire(ctx(t), "evict-allowed", lockd.AcquireOptions{Owner: "a"}); err != nil {
		t.Errorf("with eviction allowed: %v", err)
	}

	for _, s := range servers[:2] {
		configSet(t, s.Addr(), "maxmemory-policy", "noeviction")
	}
	testenv.Eventually(t, "nodes counted once their policy is noeviction", func() bool {
		_, err := e.Acquire(ctx(t), "evict", lockd.AcquireOptions{Owner: "a"})
		return err == nil
	})
}

// TestSameServerTwice lists one server under two addresses: it gets one
// vote, so with the only other server gone nothing is granted.
func TestSameServerTwice(t *testing.T) {
	servers := testenv.StartRedis(t, 2)
	if !testenv.Real() {
		t.Skip("miniredis has no run_id; install redis-server to run this test")
	}
	_, port, _ := net.SplitHostPort(servers[0].Addr())
	alias := net.JoinHostPort("localhost", port)
	e, logs := newLoggedEngine(t, []string{servers[0].Addr(), alias, servers[1].Addr()})
	// Waits, so that first dials slowed past the node timeout by a loaded
	// machine are retried.
	if _, err := e.Acquire(ctx(t), "dup", lockd.AcquireOptions{Owner: "a", TTL: time.Second, Wait: 5 * time.Second}); err != nil {
		t.Fatalf("with both servers up: %v", err)
	}
	h := e.Health(ctx(t))
	if h.Nodes[1].OK || !strings.Contains(h.Nodes[1].Error, "same Redis server") {
		t.Errorf("alias health %+v, want refused as the same server", h.Nodes[1])
	}
	if !strings.Contains(logs.String(), "same Redis server") {
		t.Errorf("no log line about the duplicate:\n%s", logs.String())
	}
	servers[1].Kill()
	_, err := e.Acquire(ctx(t), "dup-2", lockd.AcquireOptions{Owner: "a"})
	if !errors.Is(err, lockd.ErrQuorumUnavailable) {
		t.Fatalf("one real server up: got %v, want ErrQuorumUnavailable", err)
	}
}

// TestOOMIsNodeError fills every node (maxmemory 1 byte, noeviction): an
// acquire fails naming the nodes' out-of-memory errors, /readyz is not
// ready although every node answers ping, and both recover when memory
// does.
func TestOOMIsNodeError(t *testing.T) {
	servers := testenv.StartRedis(t, 3)
	if !testenv.Real() {
		t.Skip("miniredis has no maxmemory; install redis-server to run this test")
	}
	e, _ := newLoggedEngine(t, testenv.Addrs(servers))
	// Polled: a loaded machine can stall the first, cold call past the
	// node timeout (it did once in CI).
	testenv.Eventually(t, "every node ready before", func() bool { return e.Health(ctx(t)).Ready })
	for _, s := range servers {
		configSet(t, s.Addr(), "maxmemory", "1")
	}
	_, err := e.Acquire(ctx(t), "oom", lockd.AcquireOptions{Owner: "a"})
	if !errors.Is(err, lockd.ErrQuorumUnavailable) {
		t.Fatalf("got %v, want ErrQuorumUnavailable", err)
	}
	// The round is decided once two nodes failed: on a loaded machine the
	// third may still be on its way ("no answer yet"), which is a failure
	// too. Every node that answered must have answered OOM.
	msg := err.Error()
	ooms, pending := strings.Count(msg, "OOM"), strings.Count(msg, errPending.Error())
	if ooms < 2 || ooms+pending != 3 || !strings.Contains(msg, "0 of 3 nodes agreed") || !strings.Contains(msg, "3 failed") {
		t.Errorf("got %q, want every node that answered to fail with OOM", msg)
	}
	h := e.Health(ctx(t))
	if h.Ready {
		t.Errorf("health while full: %+v, want not ready", h)
	}
	for _, n := range h.Nodes {
		if n.OK || !strings.Contains(n.Error, "not writable") {
			t.Errorf("node %+v, want not writable", n)
		}
	}
	for _, s := range servers {
		configSet(t, s.Addr(), "maxmemory", "0")
	}
	if _, err := e.Acquire(ctx(t), "oom", lockd.AcquireOptions{Owner: "a"}); err != nil {
		t.Errorf("after memory is back: %v", err)
	}
	if h := e.Health(ctx(t)); !h.Ready {
		t.Errorf("health after: %+v", h)
	}
}

// TestReadOnlyReplicaNotReady turns one node into a read-only replica: it
// still answers ping, but it takes no writes, so /readyz reports it.
func TestReadOnlyReplicaNotReady(t *testing.T) {
	servers := testenv.StartRedis(t, 3)
	if !testenv.Real() {
		t.Skip("miniredis has no replication; install redis-server to run this test")
	}
	e, _ := newLoggedEngine(t, testenv.Addrs(servers))
	host, port, _ := net.SplitHostPort(servers[0].Addr())
	c := adminClient(t, servers[2].Addr())
	if err := c.Do(ctx(t), c.B().Replicaof().Host(host).Port(mustAtoi(t, port)).Build()).Error(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Do(ctx(t), c.B().Replicaof().No().One().Build()).Error() })
	h := e.Health(ctx(t))
	if !h.Ready || h.Nodes[2].OK || !strings.Contains(h.Nodes[2].Error, "READONLY") {
		t.Errorf("health %+v, want ready (two writable nodes) and node 3 READONLY", h)
	}
}
