package redlock

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/testenv"
)

// countNode is a real node that counts the acquire scripts it runs, and
// apart the hand-offs (a release and an acquire in one script).
type countNode struct {
	node
	acquires, handoffs atomic.Int64
}

func (c *countNode) eval(ctx context.Context, s *script, keys, args []string) (any, error) {
	switch s {
	case acquireScript:
		c.acquires.Add(1)
	case handoffScript:
		c.handoffs.Add(1)
	}
	return c.node.eval(ctx, s, keys, args)
}

// newCountEngine starts three real nodes behind counting nodes.
func newCountEngine(t *testing.T, opts ...Option) (*Engine, []*countNode) {
	t.Helper()
	return newCountEngineRESP(t, false, opts...)
}

// newCountEngineRESP is newCountEngine, speaking only RESP2 when resp2 is
// set, as older servers do: there a subscribed connection can run no other
// command.
func newCountEngineRESP(t *testing.T, resp2 bool, opts ...Option) (*Engine, []*countNode) {
	t.Helper()
	e, counts, _ := startCountEngine(t, resp2, opts...)
	return e, counts
}

// startCountEngine is newCountEngineRESP, returning the servers too.
func startCountEngine(t *testing.T, resp2 bool, opts ...Option) (*Engine, []*countNode, []*testenv.Redis) {
	t.Helper()
	servers := testenv.StartRedis(t, 3)
	cfg, err := newConfig(opts)
	if err != nil {
		t.Fatal(err)
	}
	counts := make([]*countNode, 3)
	nodes := make([]node, 3)
	for i, rn := range newRedisNodes(testenv.Addrs(servers), &cfg) {
		rn.opt.AlwaysRESP2 = resp2
		counts[i] = &countNode{node: rn}
		nodes[i] = counts[i]
	}
	e, err := newWithNodes(nodes, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e, counts, servers
}

// totalAcquires counts the acquire attempts the nodes ran, hand-offs
// included.
func totalAcquires(counts []*countNode) int64 {
	var n int64
	for _, c := range counts {
		n += c.acquires.Load() + c.handoffs.Load()
	}
	return n
}

func totalHandoffs(counts []*countNode) int64 {
	var n int64
	for _, c := range counts {
		n += c.handoffs.Load()
	}
	return n
}

// TestWakeOnRelease: a waiter is granted soon after a release, through the
// nodes' release messages: with a poll interval of an hour and a holder
// whose lease has 30s left, nothing else would wake it.
func TestWakeOnRelease(t *testing.T) {
	for _, resp2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("RESP2=%v", resp2), func(t *testing.T) { wakeOnRelease(t, resp2) })
	}
}

func wakeOnRelease(t *testing.T, resp2 bool) {
	e, _ := newCountEngineRESP(t, resp2, WithWaitPoll(time.Hour))
	a, err := e.Acquire(ctx(t), "wake", lockd.AcquireOptions{Owner: "a", TTL: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan time.Time, 1)
	go func() {
		if _, err := e.Acquire(ctx(t), "wake", lockd.AcquireOptions{Owner: "b", TTL: 5 * time.Second, Wait: 10 * time.Second}); err != nil {
			t.Errorf("waiting Acquire: %v", err)
		}
		got <- time.Now()
	}()
	testenv.Eventually(t, "the waiter in line", func() bool { return e.lines.Len("wake") == 1 })
	time.Sleep(100 * time.Millisecond) // past its first attempt, into its pause
	released := time.Now()
	if _, err := e.Release(ctx(t), "wake", a.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case at := <-got:
		if d := at.Sub(released); d > 200*time.Millisecond {
			t.Errorf("waiter granted %v after the release, want within 200ms", d)
		} else {
			t.Logf("waiter granted %v after the release", d.Round(time.Microsecond))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiter not granted within 5s of the release")
	}
}

// TestWaitersShareOneLoop queues 100 waiters on a held lock: after one
// attempt each on arrival, only the head of the line calls the nodes (about
// once per poll interval), and when the holder releases, every waiter is
// served, in arrival order.
func TestWaitersShareOneLoop(t *testing.T) {
	const (
		waiters = 100
		poll    = 100 * time.Millisecond
	)
	e, counts := newCountEngine(t, WithWaitPoll(poll))
	a, err := e.Acquire(ctx(t), "line", lockd.AcquireOptions{Owner: "a", TTL: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		order []int
		wg    sync.WaitGroup
	)
	for i := range waiters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := e.Acquire(ctx(t), "line", lockd.AcquireOptions{Owner: fmt.Sprint(i), TTL: 5 * time.Second, Wait: 15 * time.Second})
			if err != nil {
				t.Errorf("waiter %d: %v", i, err)
				return
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			if _, err := e.Release(ctx(t), "line", l.ID); err != nil {
				t.Errorf("waiter %d: Release: %v", i, err)
			}
		}()
		// Arrive one at a time, so that arrival order is defined.
		testenv.Eventually(t, "the waiter in line", func() bool { return e.lines.Len("line") == i+1 })
	}
	before := totalAcquires(counts)
	window := 10 * poll
	time.Sleep(window)
	calls := totalAcquires(counts) - before
	// The head alone: about one attempt (on each of 3 nodes) per poll.
	if max := int64(3 * (window/poll + 2)); calls > max {
		t.Errorf("%d acquire calls to the nodes in %v with %d waiters, want at most %d (the head alone)", calls, window, waiters, max)
	}
	t.Logf("%d acquire calls to the nodes in %v with %d waiters in line", calls, window, waiters)
	start := time.Now()
	before = totalAcquires(counts)
	if _, err := e.Release(ctx(t), "line", a.ID); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	took := time.Since(start)
	calls = totalAcquires(counts) - before
	t.Logf("%d waiters served in %v, with %d acquire calls to the nodes", waiters, took.Round(time.Millisecond), calls)
	// Each hand-off is woken by the release (not the poll), and the new head
	// waits for the release of the one granted before it instead of trying
	// at once: one attempt, on 3 nodes, per waiter.
	if took > time.Duration(waiters)*poll/4 {
		t.Errorf("serving %d waiters took %v: hand-offs wait for the poll (%v), not the release", waiters, took, poll)
	}
	if max := int64(3*waiters + 30); calls > max {
		t.Errorf("%d acquire calls to serve %d waiters, want at most %d (one attempt each)", calls, waiters, max)
	}
	for i, w := range order {
		if w != i {
			t.Fatalf("grant order %v, want arrival order", order)
		}
	}
	if len(order) != waiters {
		t.Errorf("%d waiters served, want %d", len(order), waiters)
	}
}

// TestWaitEnds: a waiter that is not yet at the head of the line still
// gives up at its deadline, and its context's end is joined with the
// holder.
func TestWaitEnds(t *testing.T) {
	e, _ := newCountEngine(t)
	if _, err := e.Acquire(ctx(t), "ends", lockd.AcquireOptions{Owner: "a", TTL: 30 * time.Second}); err != nil {
		t.Fatal(err)
	}
	go func() {
		_, _ = e.Acquire(ctx(t), "ends", lockd.AcquireOptions{Owner: "head", TTL: time.Second, Wait: 2 * time.Second})
	}()
	testenv.Eventually(t, "the head in line", func() bool { return e.lines.Len("ends") == 1 })
	start := time.Now()
	_, err := e.Acquire(ctx(t), "ends", lockd.AcquireOptions{Owner: "second", TTL: time.Second, Wait: 300 * time.Millisecond})
	var noe *lockd.NotObtainedError
	if !errors.As(err, &noe) || noe.Holder == nil || noe.Holder.Owner != "a" {
		t.Errorf("second in line = %v, want NotObtainedError held by a", err)
	}
	if el := time.Since(start); el < 300*time.Millisecond || el > 2*time.Second {
		t.Errorf("second in line gave up after %v, want its wait of 300ms", el)
	}
	cctx, cancel := context.WithTimeout(ctx(t), 200*time.Millisecond)
	defer cancel()
	_, err = e.Acquire(cctx, "ends", lockd.AcquireOptions{Owner: "third", TTL: time.Second, Wait: 5 * time.Second})
	if !errors.Is(err, lockd.ErrNotObtained) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiter whose context ended = %v, want ErrNotObtained joined with DeadlineExceeded", err)
	}
	testenv.Eventually(t, "the line empty once the head gives up", func() bool { return e.lines.Len("ends") == 0 })
}

// TestWaitNodePaused: with one of three nodes paused (SIGSTOP) for the
// whole wait, a waiter is still woken by the release the other two
// announce, and granted promptly.
func TestWaitNodePaused(t *testing.T) {
	servers := testenv.StartRedis(t, 3)
	e, err := New(testenv.Addrs(servers), WithWaitPoll(time.Hour), WithNodeTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	dialled(t, e)
	a, err := e.Acquire(ctx(t), "paused", lockd.AcquireOptions{Owner: "a", TTL: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	servers[2].Pause()
	defer servers[2].Resume()
	got := make(chan error, 1)
	go func() {
		_, err := e.Acquire(ctx(t), "paused", lockd.AcquireOptions{Owner: "b", TTL: 5 * time.Second, Wait: 15 * time.Second})
		got <- err
	}()
	testenv.Eventually(t, "the waiter in line", func() bool { return e.lines.Len("paused") == 1 })
	time.Sleep(500 * time.Millisecond) // past its first attempt; the paused node is marked down
	released := time.Now()
	if _, err := e.Release(ctx(t), "paused", a.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("waiter: %v", err)
		}
		if d := time.Since(released); d > time.Second {
			t.Errorf("waiter granted %v after the release with a node paused, want within 1s", d)
		} else {
			t.Logf("waiter granted %v after the release with a node paused", d.Round(time.Microsecond))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waiter not granted within 10s of the release")
	}
}

// TestWaiterEngineDies: two engines (two lockd) share three nodes; the
// first in line at one of them goes away with its engine, and the waiter at
// the other is granted when the holder releases, delayed by nobody.
func TestWaiterEngineDies(t *testing.T) {
	dying, living := twoEngines(t, time.Hour)
	a, err := living.Acquire(ctx(t), "dies", lockd.AcquireOptions{Owner: "a", TTL: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	dctx, kill := context.WithCancel(ctx(t))
	dead := make(chan error, 1)
	go func() {
		_, err := dying.Acquire(dctx, "dies", lockd.AcquireOptions{Owner: "doomed", TTL: 5 * time.Second, Wait: 15 * time.Second})
		dead <- err
	}()
	testenv.Eventually(t, "the doomed waiter in line", func() bool { return dying.lines.Len("dies") == 1 })
	got := make(chan error, 1)
	go func() {
		_, err := living.Acquire(ctx(t), "dies", lockd.AcquireOptions{Owner: "b", TTL: 5 * time.Second, Wait: 15 * time.Second})
		got <- err
	}()
	testenv.Eventually(t, "the other waiter in line", func() bool { return living.lines.Len("dies") == 1 })
	// The doomed lockd goes: its request ends, then the engine closes.
	kill()
	if err := <-dead; !errors.Is(err, context.Canceled) {
		t.Errorf("doomed waiter: %v, want context.Canceled", err)
	}
	_ = dying.Close()
	released := time.Now()
	if _, err := living.Release(ctx(t), "dies", a.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("waiter: %v", err)
		}
		if d := time.Since(released); d > 200*time.Millisecond {
			t.Errorf("waiter granted %v after the release, want within 200ms", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waiter not granted within 10s of the release")
	}
}

// TestAcquireManyNodeDown: AcquireMany from goroutines with overlapping
// sets keeps exclusion, and finishes, though one of three nodes is paused
// half-way through.
func TestAcquireManyNodeDown(t *testing.T) {
	servers := testenv.StartRedis(t, 3)
	e, err := New(testenv.Addrs(servers), WithNodeTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	dialled(t, e)
	const (
		workers = 8
		rounds  = 20
		pool    = 5
	)
	var (
		holders [pool]atomic.Int32
		wg      sync.WaitGroup
		done    atomic.Int32
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				names := []string{fmt.Sprint("many-", (w+r)%pool), fmt.Sprint("many-", (w+2*r+1)%pool)}
				if names[0] == names[1] {
					names = names[:1]
				}
				ls, err := lockd.AcquireMany(ctx(t), e, names, lockd.AcquireOptions{Owner: fmt.Sprint("w", w), TTL: 5 * time.Second, Wait: 15 * time.Second})
				if err != nil {
					t.Errorf("worker %d: AcquireMany %v: %v", w, names, err)
					return
				}
				var idx []int
				for _, n := range names {
					var j int
					fmt.Sscanf(n, "many-%d", &j)
					idx = append(idx, j)
					if h := holders[j].Add(1); h != 1 {
						t.Errorf("%s has %d holders", n, h)
					}
				}
				time.Sleep(2 * time.Millisecond)
				for _, j := range idx {
					holders[j].Add(-1)
				}
				if _, err := lockd.ReleaseMany(ctx(t), e, names, ls[0].ID); err != nil {
					t.Errorf("worker %d: ReleaseMany: %v", w, err)
					return
				}
				if done.Add(1) == workers*rounds/2 {
					servers[2].Pause()
				}
			}
		}()
	}
	wg.Wait()
	servers[2].Resume()
	if n := done.Load(); n != workers*rounds {
		t.Errorf("%d of %d rounds done", n, workers*rounds)
	}
}

// TestCloseEndsWaits: closing the engine ends the acquires that wait in
// it promptly, not at the end of their waits.
func TestCloseEndsWaits(t *testing.T) {
	servers := testenv.StartRedis(t, 3)
	e, err := New(testenv.Addrs(servers))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Acquire(ctx(t), "closing", lockd.AcquireOptions{Owner: "a", TTL: 30 * time.Second}); err != nil {
		t.Fatal(err)
	}
	const waiters = 3
	errs := make(chan error, waiters)
	for i := range waiters {
		go func() {
			_, err := e.Acquire(ctx(t), "closing", lockd.AcquireOptions{Owner: fmt.Sprint("w", i), TTL: time.Second, Wait: time.Minute})
			errs <- err
		}()
	}
	testenv.Eventually(t, "the waiters in line", func() bool { return e.lines.Len("closing") == waiters })
	start := time.Now()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	for range waiters {
		select {
		case err := <-errs:
			if err == nil {
				t.Error("a waiter was granted by a closed engine")
			}
		case <-time.After(time.Second):
			t.Fatal("a waiter still waits 1s after Close")
		}
	}
	t.Logf("waiters ended %v after Close", time.Since(start).Round(time.Millisecond))
}

// TestWaitOnFullNodes: a waiter refused by full nodes (maxmemory reached,
// noeviction) still learns who holds the lock: the mark that asks for the
// release to be announced is a hint, and a refused write must not turn
// the refusal into a node failure.
func TestWaitOnFullNodes(t *testing.T) {
	servers := testenv.StartRedis(t, 3)
	if !testenv.Real() {
		t.Skip("miniredis has no maxmemory; install redis-server to run this test")
	}
	e, err := New(testenv.Addrs(servers))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	if _, err := e.Acquire(ctx(t), "full", lockd.AcquireOptions{Owner: "a", TTL: 30 * time.Second}); err != nil {
		t.Fatal(err)
	}
	for _, s := range servers {
		configSet(t, s.Addr(), "maxmemory", "1")
	}
	defer func() {
		for _, s := range servers {
			configSet(t, s.Addr(), "maxmemory", "0")
		}
	}()
	_, err = e.Acquire(ctx(t), "full", lockd.AcquireOptions{Owner: "b", Wait: 300 * time.Millisecond})
	var noe *lockd.NotObtainedError
	if !errors.As(err, &noe) || noe.Holder == nil || noe.Holder.Owner != "a" {
		t.Errorf("waiting acquire on full nodes: %v, want NotObtainedError held by a", err)
	}
}
