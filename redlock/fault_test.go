package redlock

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/testenv"
)

// Failure modes of a faultNode.
const (
	modeOK    = iota
	modeDown  // fails before the script runs
	modeGhost // runs the script, then reports a failure (the reply is lost)
	modeSlow  // runs the script after a delay, ignoring the caller's deadline
)

var errInjected = errors.New("injected failure")

// faultNode is a real node that fails on demand.
type faultNode struct {
	node
	mode  atomic.Int32
	delay time.Duration
}

func (f *faultNode) eval(ctx context.Context, s *script, keys, args []string) (any, error) {
	switch f.mode.Load() {
	case modeDown:
		return nil, errInjected
	case modeGhost:
		_, _ = f.node.eval(context.WithoutCancel(ctx), s, keys, args)
		return nil, errInjected
	case modeSlow:
		time.Sleep(f.delay)
		return f.node.eval(context.WithoutCancel(ctx), s, keys, args)
	}
	return f.node.eval(ctx, s, keys, args)
}

func (f *faultNode) check(ctx context.Context) error {
	if f.mode.Load() != modeOK {
		return errInjected
	}
	return f.node.check(ctx)
}

// newFaultEngine starts n real redis-server nodes behind fault nodes. Its
// node timeout is 1s unless opts set one: a call that a loaded machine
// (CI, with -race) stalls past the default 200ms would fail a test that
// injects no such fault (one did). Faults that hold a call past it say
// what they need.
func newFaultEngine(t *testing.T, n int, opts ...Option) (*Engine, []*faultNode, []*testenv.Redis) {
	t.Helper()
	opts = append([]Option{WithNodeTimeout(time.Second)}, opts...)
	servers := testenv.StartRedis(t, n)
	cfg, err := newConfig(opts)
	if err != nil {
		t.Fatal(err)
	}
	faults := make([]*faultNode, n)
	nodes := make([]node, n)
	for i, rn := range newRedisNodes(testenv.Addrs(servers), &cfg) {
		faults[i] = &faultNode{node: rn}
		nodes[i] = faults[i]
	}
	e, err := newWithNodes(nodes, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e, faults, servers
}

// dialled waits until every node of e answers, so that a test's first
// call does not dial: a loaded machine can stall a dial past a short node
// timeout (it did in CI), which is not what such a test tests. Tests that
// need a node never seen before a fault do not call it.
func dialled(t *testing.T, e *Engine) {
	t.Helper()
	testenv.Eventually(t, "every node answering", func() bool { return allOK(e.Health(ctx(t)).Nodes) })
}

// allOK reports whether every node of a health report is OK.
func allOK(nodes []lockd.NodeHealth) bool {
	for _, n := range nodes {
		if !n.OK {
			return false
		}
	}
	return true
}

func setModes(faults []*faultNode, mode int32, mask int) {
	for i, f := range faults {
		if mask&(1<<i) != 0 {
			f.mode.Store(mode)
		} else {
			f.mode.Store(modeOK)
		}
	}
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// rawLease returns the lease value node i holds for name ("" when none).
func rawLease(t *testing.T, e *Engine, f *faultNode, name string) string {
	t.Helper()
	e.settle()
	v, err := f.node.eval(ctx(t), inspectScript, []string{e.lockKey(name)}, nil)
	if err != nil {
		t.Fatalf("inspect node %s: %v", f.addr(), err)
	}
	a, _ := v.([]any)
	if len(a) == 0 {
		return ""
	}
	return toStr(a[0])
}

// rawCounter returns node i's fence counter for name.
func rawCounter(t *testing.T, e *Engine, f *faultNode, name string) int64 {
	t.Helper()
	e.settle()
	get := &script{name: "get", lua: rueidis.NewLuaScript("return redis.call('GET', KEYS[1]) or '0'")}
	v, err := f.node.eval(ctx(t), get, []string{e.fenceKey()}, nil)
	if err != nil {
		t.Fatalf("read counter on %s: %v", f.addr(), err)
	}
	return toInt(v)
}

func setCounter(t *testing.T, e *Engine, f *faultNode, name string, v int64) {
	t.Helper()
	set := &script{name: "set", lua: rueidis.NewLuaScript("return redis.call('SET', KEYS[1], ARGV[1])")}
	if _, err := f.node.eval(ctx(t), set, []string{e.fenceKey()}, []string{fmt.Sprint(v)}); err != nil {
		t.Fatalf("set counter on %s: %v", f.addr(), err)
	}
}

// TestQuorumSubsets fails every subset of nodes, both before the script
// runs and after (reply lost), and checks that a lock is granted exactly
// when a quorum is up, that a grant is exclusive, and that a refusal leaves
// nothing behind on any node.
func TestQuorumSubsets(t *testing.T) {
	for _, n := range []int{3, 5} {
		e, faults, _ := newFaultEngine(t, n)
		for _, mode := range []int32{modeDown, modeGhost} {
			for mask := range 1 << n {
				up := n - bits.OnesCount(uint(mask))
				t.Run(fmt.Sprintf("N=%d/mode=%d/failed=%0*b", n, mode, n, mask), func(t *testing.T) {
					name := fmt.Sprintf("subset:%d:%d:%d", n, mode, mask)
					setModes(faults, mode, mask)
					l, err := e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "a", TTL: 10 * time.Second})
					setModes(faults, modeOK, 0)
					if up < e.Quorum() {
						if !errors.Is(err, lockd.ErrQuorumUnavailable) {
							t.Fatalf("%d of %d up: got %v, want ErrQuorumUnavailable", up, n, err)
						}
						var ne *lockd.NodeError
						if !errors.As(err, &ne) || !errors.Is(err, errInjected) {
							t.Errorf("got %v, want a *NodeError wrapping the injected failure", err)
						}
						for _, f := range faults {
							if got := rawLease(t, e, f, name); got != "" {
								t.Errorf("node %s kept lease %s after a refused acquire", f.addr(), got)
							}
						}
						return
					}
					if err != nil {
						t.Fatalf("%d of %d up: got %v, want a grant", up, n, err)
					}
					holders := 0
					for _, f := range faults {
						if rawLease(t, e, f, name) == l.ID {
							holders++
						}
					}
					if holders < e.Quorum() {
						t.Errorf("lease on %d nodes, want at least %d", holders, e.Quorum())
					}
					if _, err := e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "b"}); !errors.Is(err, lockd.ErrNotObtained) {
						t.Errorf("second owner: got %v, want ErrNotObtained", err)
					}
				})
			}
		}
	}
}

// TestFencesSurviveNodeRestarts restarts each node in turn (empty, as after
// kill -9) between grants: fences still grow strictly, since every quorum
// keeps one node with the latest counter.
func TestFencesSurviveNodeRestarts(t *testing.T) {
	// The restarted nodes vote at once: the commit round alone keeps
	// fences growing (with the rejoin delay they would not vote at all).
	e, _, servers := newFaultEngine(t, 3, WithRejoinDelay(0))
	name := "restarts"
	var last int64
	for round := range 7 {
		l, err := e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: fmt.Sprint("o", round), TTL: 10 * time.Second, Wait: 5 * time.Second})
		if err != nil {
			t.Fatalf("round %d: Acquire: %v", round, err)
		}
		if l.Fence <= last {
			t.Fatalf("round %d: fence %d after %d", round, l.Fence, last)
		}
		last = l.Fence
		servers[round%3].Restart()
		// Right after a restart the release may find the restarted node's
		// connection broken and, on the in-process fallback server, the
		// previous round's node still reconnecting: a quorum_unavailable
		// that a client retries, as here. A retry may then find the lease
		// gone: the failed attempt's deletes still land in the background.
		attempts := 0
		testenv.Eventually(t, fmt.Sprintf("round %d: Release", round), func() bool {
			_, err = e.Release(ctx(t), name, l.ID)
			attempts++
			return !errors.Is(err, lockd.ErrQuorumUnavailable)
		})
		if err != nil && (attempts == 1 || !errors.Is(err, lockd.ErrNotHeld)) {
			t.Fatalf("round %d: Release (attempt %d): %v", round, attempts, err)
		}
	}
}

// TestNodeKilledWhileHeld kills one of three nodes while a lock is held:
// the lock stays held and exclusive, and its holder can extend and release.
func TestNodeKilledWhileHeld(t *testing.T) {
	e, _, servers := newFaultEngine(t, 3)
	name := "killed"
	a, err := e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "a", TTL: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	servers[0].Kill()
	if _, err := e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "b"}); !errors.Is(err, lockd.ErrNotObtained) {
		t.Fatalf("b while a holds with a node down: got %v, want ErrNotObtained", err)
	}
	info, err := e.Inspect(ctx(t), name)
	if err != nil || !info.Held || info.Owner != "a" {
		t.Fatalf("Inspect: got %+v, %v; want held by a", info, err)
	}
	if _, err := e.Extend(ctx(t), name, a.ID, 10*time.Second); err != nil {
		t.Fatalf("Extend with a node down: %v", err)
	}
	if _, err := e.Release(ctx(t), name, a.ID); err != nil {
		t.Fatalf("Release with a node down: %v", err)
	}
	b, err := e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "b"})
	if err != nil || b.Fence <= a.Fence {
		t.Fatalf("b after release: got %+v, %v; want a grant with fence > %d", b, err, a.Fence)
	}
}

// TestTwoOfThreeDown kills two of three nodes: acquire, inspect and health
// say the quorum is unavailable and nothing is granted; once the nodes are
// back, locking resumes without a new engine.
func TestTwoOfThreeDown(t *testing.T) {
	e, _, servers := newFaultEngine(t, 3)
	servers[1].Kill()
	servers[2].Kill()
	name := "two-down"
	_, err := e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "a", Wait: 300 * time.Millisecond})
	if !errors.Is(err, lockd.ErrQuorumUnavailable) || errors.Is(err, lockd.ErrNotObtained) {
		t.Fatalf("got %v, want ErrQuorumUnavailable", err)
	}
	if _, err := e.Inspect(ctx(t), name); !errors.Is(err, lockd.ErrQuorumUnavailable) {
		t.Errorf("Inspect: got %v, want ErrQuorumUnavailable", err)
	}
	if h := e.Health(ctx(t)); h.Ready || !h.Nodes[0].OK || h.Nodes[1].OK || h.Nodes[2].OK {
		t.Errorf("Health: got %+v, want not ready with only node 0 OK", h)
	}
	servers[1].Restart()
	servers[2].Restart()
	if _, err := e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "a", Wait: 5 * time.Second}); err != nil {
		t.Fatalf("after restart: %v", err)
	}
}

// TestPausedNode stops one of three nodes with SIGSTOP: calls to it time
// out, and the other two keep granting, extending and releasing.
func TestPausedNode(t *testing.T) {
	e, _, servers := newFaultEngine(t, 3, WithNodeTimeout(100*time.Millisecond))
	dialled(t, e)
	servers[2].Pause()
	defer servers[2].Resume()
	name := "paused"
	for i := range 3 {
		l, err := e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "a", TTL: 5 * time.Second})
		if err != nil {
			t.Fatalf("round %d: Acquire: %v", i, err)
		}
		if _, err := e.Extend(ctx(t), name, l.ID, 5*time.Second); err != nil {
			t.Fatalf("round %d: Extend: %v", i, err)
		}
		if _, err := e.Release(ctx(t), name, l.ID); err != nil {
			t.Fatalf("round %d: Release: %v", i, err)
		}
	}
}

// TestCommitRaisesLaggingCounters gives one node a counter far ahead of
// the others: the grant's fence goes above it and the commit round writes it
// to a quorum, so a later grant without that node still goes higher.
func TestCommitRaisesLaggingCounters(t *testing.T) {
	e, faults, _ := newFaultEngine(t, 3)
	name := "lagging"
	setCounter(t, e, faults[0], name, 100)
	a, err := e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Fence != 101 {
		t.Errorf("got fence %d, want 101", a.Fence)
	}
	for _, f := range faults {
		if c := rawCounter(t, e, f, name); c != 101 {
			t.Errorf("node %s counter %d, want 101", f.addr(), c)
		}
	}
	if _, err := e.Release(ctx(t), name, a.ID); err != nil {
		t.Fatal(err)
	}
	faults[0].mode.Store(modeDown)
	b, err := e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "b"})
	if err != nil || b.Fence <= a.Fence {
		t.Fatalf("got %+v, %v; want fence > %d without the leading node", b, err, a.Fence)
	}
}

// TestRetriedAcquireRebinds acquires with one node down, then retries the
// acquire with the same lease once it is back: the same lease and fence
// come back, and the returning node gets that lease, so one release clears
// every node. The same owner without the lease is refused.
func TestRetriedAcquireRebinds(t *testing.T) {
	e, faults, _ := newFaultEngine(t, 3)
	name := "retry"
	faults[2].mode.Store(modeDown)
	a, err := e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "a"})
	if err != nil {
		t.Fatal(err)
	}
	faults[2].mode.Store(modeOK)
	if _, err := e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "a"}); !errors.Is(err, lockd.ErrNotObtained) {
		t.Fatalf("same owner without the lease: got %v, want ErrNotObtained", err)
	}
	again, err := e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "a", Lease: a.ID})
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != a.ID || again.Fence != a.Fence {
		t.Fatalf("got lease %s fence %d, want %s fence %d", again.ID, again.Fence, a.ID, a.Fence)
	}
	for _, f := range faults {
		if got := rawLease(t, e, f, name); got != a.ID {
			t.Errorf("node %s holds %q, want %s", f.addr(), got, a.ID)
		}
	}
	if _, err := e.Release(ctx(t), name, a.ID); err != nil {
		t.Fatal(err)
	}
	for _, f := range faults {
		if got := rawLease(t, e, f, name); got != "" {
			t.Errorf("node %s kept %q after release", f.addr(), got)
		}
	}
}

// TestRefusalCleansUp has b hold a lock on two nodes only; a's acquire wins
// the third node but not a quorum, and must delete its lease there.
func TestRefusalCleansUp(t *testing.T) {
	e, faults, _ := newFaultEngine(t, 3)
	name := "refusal"
	faults[2].mode.Store(modeDown)
	if _, err := e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "b"}); err != nil {
		t.Fatal(err)
	}
	faults[2].mode.Store(modeOK)
	_, err := e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "a"})
	var noe *lockd.NotObtainedError
	if !errors.As(err, &noe) || noe.Holder == nil || noe.Holder.Owner != "b" {
		t.Fatalf("got %v, want not obtained, held by b", err)
	}
	if got := rawLease(t, e, faults[2], name); got != "" {
		t.Errorf("refused acquire left lease %q on the third node", got)
	}
}

// TestExtendLostWhenQuorumGone deletes a lease from two of three nodes (as
// data loss would): extend reports ErrLost, and the remaining copy does not
// keep anyone else out (two free nodes are a quorum).
func TestExtendLostWhenQuorumGone(t *testing.T) {
	e, faults, _ := newFaultEngine(t, 3)
	name := "lost"
	a, err := e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "a"})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range faults[:2] {
		if _, err := f.node.eval(ctx(t), releaseScript, []string{e.lockKey(name)}, []string{a.ID, "", ""}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Extend(ctx(t), name, a.ID, 10*time.Second); !errors.Is(err, lockd.ErrLost) {
		t.Fatalf("got %v, want ErrLost", err)
	}
	b, err := e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "b"})
	if err != nil || b.Fence <= a.Fence {
		t.Fatalf("after the loss: got %+v, %v; want b granted with a fence above %d", b, err, a.Fence)
	}
	faults[0].mode.Store(modeDown)
	faults[1].mode.Store(modeDown)
	if _, err := e.Extend(ctx(t), name, a.ID, 10*time.Second); !errors.Is(err, lockd.ErrQuorumUnavailable) {
		t.Errorf("with two nodes down: got %v, want ErrQuorumUnavailable", err)
	}
	if _, err := e.Release(ctx(t), name, a.ID); !errors.Is(err, lockd.ErrQuorumUnavailable) {
		t.Errorf("release with two nodes down: got %v, want ErrQuorumUnavailable", err)
	}
}

// TestTooSlowIsNotGranted delays every node past the lease's validity: the
// quorum said yes, but too late, so nothing is granted and nothing is left.
func TestTooSlowIsNotGranted(t *testing.T) {
	e, faults, _ := newFaultEngine(t, 3)
	for _, f := range faults {
		f.delay = 250 * time.Millisecond
		f.mode.Store(modeSlow)
	}
	name := "slow"
	_, err := e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "a", TTL: 200 * time.Millisecond})
	if !errors.Is(err, lockd.ErrQuorumUnavailable) {
		t.Fatalf("got %v, want ErrQuorumUnavailable", err)
	}
	setModes(faults, modeOK, 0)
	for _, f := range faults {
		if got := rawLease(t, e, f, name); got != "" {
			t.Errorf("node %s kept %q", f.addr(), got)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	cases := []struct {
		name  string
		addrs []string
		opts  []Option
	}{
		{"NoNodes", nil, nil},
		{"NoPort", []string{"127.0.0.1"}, nil},
		{"Repeated", []string{"127.0.0.1:1", "127.0.0.1:1"}, nil},
		{"ZeroTimeout", []string{"127.0.0.1:1"}, []Option{WithNodeTimeout(0)}},
		{"RetryOrder", []string{"127.0.0.1:1"}, []Option{WithRetryDelay(time.Second, time.Millisecond)}},
		{"ZeroDialTimeout", []string{"127.0.0.1:1"}, []Option{WithDialTimeout(0)}},
		{"FlushDelayTooLong", []string{"127.0.0.1:1"}, []Option{WithMaxFlushDelay(2 * time.Millisecond)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := New(c.addrs, c.opts...); !errors.Is(err, lockd.ErrInvalidArgument) {
				t.Errorf("got %v, want ErrInvalidArgument", err)
			}
		})
	}
}

// TestStartsWithNodeDown builds an engine while one of three nodes is not
// listening yet: it grants at once, and uses the node once it comes up.
func TestStartsWithNodeDown(t *testing.T) {
	servers := testenv.StartRedis(t, 3)
	servers[2].Kill()
	e, err := New(testenv.Addrs(servers))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, err := e.Acquire(ctx(t), "start", lockd.AcquireOptions{Owner: "a"}); err != nil {
		t.Fatalf("with one node down at start: %v", err)
	}
	servers[2].Restart()
	deadline := time.Now().Add(5 * time.Second)
	for !e.Health(ctx(t)).Nodes[2].OK {
		if time.Now().After(deadline) {
			t.Fatal("restarted node never became healthy")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestColdStartBurst sends a burst of acquires to a fresh engine, whose
// connections are not made yet: calls wait for the first dial instead of
// failing.
func TestColdStartBurst(t *testing.T) {
	servers := testenv.StartRedis(t, 3)
	e, err := New(testenv.Addrs(servers))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	errs := make(chan error, 32)
	for i := range 32 {
		go func() {
			_, err := e.Acquire(ctx(t), fmt.Sprintf("burst:%d", i), lockd.AcquireOptions{Owner: "a"})
			errs <- err
		}()
	}
	for range 32 {
		if err := <-errs; err != nil {
			t.Errorf("acquire on a fresh engine: %v", err)
		}
	}
}

// TestKeyPrefix runs two engines with different key prefixes on the same
// nodes: each writes only under its own prefix, so they do not see each
// other's locks.
func TestKeyPrefix(t *testing.T) {
	a, faults, servers := newFaultEngine(t, 3, WithKeyPrefix("tenant-a:"))
	b, err := New(testenv.Addrs(servers), WithKeyPrefix("tenant-b:"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	la, err := a.Acquire(ctx(t), "shared", lockd.AcquireOptions{Owner: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Acquire(ctx(t), "shared", lockd.AcquireOptions{Owner: "b"}); err != nil {
		t.Fatalf("other prefix: got %v, want a grant", err)
	}
	if k := a.lockKey("shared"); k != "tenant-a:lock:shared" {
		t.Errorf("got key %q, want tenant-a:lock:shared", k)
	}
	for _, f := range faults {
		if got := rawLease(t, a, f, "shared"); got != la.ID {
			t.Errorf("node %s holds %q under tenant-a:, want %s", f.addr(), got, la.ID)
		}
	}
}
