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
