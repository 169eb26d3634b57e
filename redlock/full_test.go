package redlock

import (
	"errors"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/testenv"
)

// TestReadLeasesOnFullNodes: on nodes that are full (noeviction, maxmemory
// reached) no new read lease is granted, as no new writer is, and a read
// lease or a permit already held can still be extended, as a writer's can.
func TestReadLeasesOnFullNodes(t *testing.T) {
	needRedisServer(t, "the in-process fallback has no maxmemory")
	servers := testenv.StartRedis(t, 3)
	e, err := New(testenv.Addrs(servers), WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	r1, err := e.Acquire(ctx(t), "full", lockd.AcquireOptions{Owner: "r1", Mode: lockd.ModeRead, TTL: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.AcquirePermit(ctx(t), "full", 2, lockd.AcquireOptions{Owner: "p1", TTL: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range servers {
		configSet(t, s.Addr(), "maxmemory", "1")
	}
	t.Cleanup(func() {
		for _, s := range servers {
			configSet(t, s.Addr(), "maxmemory", "0")
		}
	})
	if _, err := e.Acquire(ctx(t), "full", lockd.AcquireOptions{Owner: "r2", Mode: lockd.ModeRead}); !errors.Is(err, lockd.ErrQuorumUnavailable) {
		t.Errorf("a new reader on full nodes: %v, want ErrQuorumUnavailable (refused like a writer)", err)
	}
	if _, err := e.Extend(ctx(t), "full", r1.ID, 10*time.Second); err != nil {
		t.Errorf("extending a read lease on full nodes: %v, want it kept", err)
	}
	if _, err := e.ExtendPermit(ctx(t), "full", p.ID, 10*time.Second); err != nil {
		t.Errorf("extending a permit on full nodes: %v, want it kept", err)
	}
}

// TestHandOffReleaseOnFullNodes: on full nodes (noeviction, maxmemory
// reached), a release of a lease that holds nothing any more, taking a
// waiter's offer, answers ErrNotHeld as it would with nobody waiting. The
// waiter's attempt in the same script is refused by the full nodes (its
// first write), which must not turn the release's part into a node
// failure; and the waiter is not granted.
func TestHandOffReleaseOnFullNodes(t *testing.T) {
	needRedisServer(t, "the in-process fallback has no maxmemory")
	servers := testenv.StartRedis(t, 3)
	e, err := New(testenv.Addrs(servers), WithWaitPoll(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	a, err := e.Acquire(ctx(t), "full", lockd.AcquireOptions{Owner: "a", TTL: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		_, err := e.Acquire(ctx(t), "full", lockd.AcquireOptions{Owner: "b", TTL: 5 * time.Second, Wait: 2 * time.Second})
		got <- err
	}()
	testenv.Eventually(t, "the waiter's offer", func() bool { return e.lines.Len("full") == 1 && offered(e, "full") })
	// a's lock goes from the nodes as an expiry would, unannounced: the
	// waiter's offer stands.
	for _, s := range servers {
		c := adminClient(t, s.Addr())
		if err := c.Do(ctx(t), c.B().Del().Key(e.lockKey("full")).Build()).Error(); err != nil {
			t.Fatal(err)
		}
		configSet(t, s.Addr(), "maxmemory", "1")
	}
	defer func() {
		for _, s := range servers {
			configSet(t, s.Addr(), "maxmemory", "0")
		}
	}()
	if _, err := e.Release(ctx(t), "full", a.ID); !errors.Is(err, lockd.ErrNotHeld) {
		t.Errorf("Release of a lease that holds nothing, on full nodes, with a waiter = %v, want ErrNotHeld", err)
	}
	select {
	case err := <-got:
		if err == nil {
			t.Error("the waiter was granted on full nodes")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiter still waits 10s on")
	}
}
