package redlock

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/testenv"
)

// deleteRaw deletes name's lock on one node behind the engine's back, as
// data loss would.
func deleteRaw(t *testing.T, e *Engine, f *faultNode, name, lease string) {
	t.Helper()
	if _, err := f.node.eval(ctx(t), releaseScript, []string{e.lockKey(name)}, []string{lease, "", ""}); err != nil {
		t.Fatal(err)
	}
}

// TestExtendCannotTell has A hold the lease, B not, and C not answer:
// the lease may still be on a quorum (A and C), so extend says it cannot
// tell, and deletes nothing.
func TestExtendCannotTell(t *testing.T) {
	e, faults, _ := newFaultEngine(t, 3)
	name := "cannot-tell"
	a, err := e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "a"})
	if err != nil {
		t.Fatal(err)
	}
	deleteRaw(t, e, faults[1], name, a.ID)
	faults[2].mode.Store(modeDown)
	_, err = e.Extend(ctx(t), name, a.ID, 10*time.Second)
	if !errors.Is(err, lockd.ErrQuorumUnavailable) || errors.Is(err, lockd.ErrLost) {
		t.Fatalf("got %v, want ErrQuorumUnavailable (not ErrLost)", err)
	}
	for _, f := range []*faultNode{faults[0]} {
		if got := rawLease(t, e, f, name); got != a.ID {
			t.Errorf("node %s holds %q after the extend, want %s untouched", f.addr(), got, a.ID)
		}
	}
	faults[2].mode.Store(modeOK)
	if _, err := e.Extend(ctx(t), name, a.ID, 10*time.Second); err != nil {
		t.Errorf("with C back: %v", err)
	}
}

// TestExtendReseeds restarts one node empty while a lease is held: extend
// writes the lease back there, so a second node lost after that does not
// lose the lease.
func TestExtendReseeds(t *testing.T) {
	servers := testenv.StartRedis(t, 3)
	// The restarted node votes at once here; with the rejoin delay it
	// would come back only after the leases it lost ran out, and extend
	// would then reseed the leases granted while it was out.
	e, err := New(testenv.Addrs(servers), WithRejoinDelay(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	name := "reseed"
	a, err := e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "a", TTL: 10 * time.Second, Metadata: []byte(`{"k":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	servers[2].Restart()
	deadline := time.Now().Add(10 * time.Second)
	for {
		x, err := e.Extend(ctx(t), name, a.ID, 10*time.Second)
		if err == nil {
			if x.Fence != a.Fence {
				t.Fatalf("extend: fence %d, want %d", x.Fence, a.Fence)
			}
			e.settle()
			info := inspectNode(t, e, servers[2].Addr(), name)
			if info.lease == a.ID {
				if info.fence != a.Fence || info.owner != "a" || info.meta != `{"k":1}` {
					t.Errorf("reseeded entry %+v, want owner a fence %d meta {\"k\":1}", info, a.Fence)
				}
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("restarted node never got the lease back (last extend: %v)", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	servers[1].Kill()
	// A connection broken by the restart may fail one call first (EOF;
	// it did once in CI): a client retries quorum_unavailable. Anything
	// else, or no success within 10s, means the lease was not kept.
	var xErr error
	testenv.Eventually(t, "extend answered", func() bool {
		_, xErr = e.Extend(ctx(t), name, a.ID, 10*time.Second)
		return !errors.Is(xErr, lockd.ErrQuorumUnavailable)
	})
	if xErr != nil {
		t.Fatalf("extend after losing a second node: %v, want the lease kept on nodes 1 and 3", xErr)
	}
	// A connection broken by the restart may fail one call first (EOF, on
	// the in-process fallback server): a client retries quorum_unavailable.
	var bErr error
	testenv.Eventually(t, "b's acquire answered", func() bool {
		_, bErr = e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "b"})
		return !errors.Is(bErr, lockd.ErrQuorumUnavailable)
	})
	if !errors.Is(bErr, lockd.ErrNotObtained) {
		t.Errorf("b: got %v, want ErrNotObtained", bErr)
	}
}

// TestReleaseNeedsQuorum has two of three nodes fail while the third
// deletes the lease: the lease still holds on a quorum, so release is not
// done, and a retry once they are back is.
func TestReleaseNeedsQuorum(t *testing.T) {
	e, faults, _ := newFaultEngine(t, 3)
	name := "release-quorum"
	a, err := e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "a"})
	if err != nil {
		t.Fatal(err)
	}
	faults[1].mode.Store(modeDown)
	faults[2].mode.Store(modeDown)
	if _, err := e.Release(ctx(t), name, a.ID); !errors.Is(err, lockd.ErrQuorumUnavailable) {
		t.Fatalf("got %v, want ErrQuorumUnavailable", err)
	}
	faults[1].mode.Store(modeOK)
	faults[2].mode.Store(modeOK)
	if _, err := e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "b"}); !errors.Is(err, lockd.ErrNotObtained) {
		t.Fatalf("b after the failed release: got %v, want ErrNotObtained (a still holds nodes 2 and 3)", err)
	}
	r, err := e.Release(ctx(t), name, a.ID)
	if err != nil || r.Owner != "a" || r.Fence != a.Fence {
		t.Fatalf("retried release: got %+v, %v; want a's lease released", r, err)
	}
	if _, err := e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "b"}); err != nil {
		t.Errorf("b after the release: %v", err)
	}
}

// TestWaitKeepsCause waits on a lock with every node down: the answer is
// the real cause (quorum unavailable) joined with the context's end, not
// lock held.
func TestWaitKeepsCause(t *testing.T) {
	e, faults, _ := newFaultEngine(t, 3)
	setModes(faults, modeDown, 0b111)
	for _, wait := range []time.Duration{0, 5 * time.Second} {
		c, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		_, err := e.Acquire(c, "all-down", lockd.AcquireOptions{Owner: "a", Wait: wait})
		cancel()
		if !errors.Is(err, lockd.ErrQuorumUnavailable) || errors.Is(err, lockd.ErrNotObtained) {
			t.Errorf("wait %v: got %v, want ErrQuorumUnavailable and not ErrNotObtained", wait, err)
		}
		if wait > 0 && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("wait %v: got %v, want it joined with context.DeadlineExceeded", wait, err)
		}
	}
}

// TestRetryAfterPartialAttempt leaves a failed attempt's lease on one node
// (its clean-up lost) and retries with the same lease: the grant is
// whole, and the fence is above every earlier grant.
func TestRetryAfterPartialAttempt(t *testing.T) {
	e, faults, _ := newFaultEngine(t, 3)
	name := "partial"
	prev, err := e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Release(ctx(t), name, prev.ID); err != nil {
		t.Fatal(err)
	}
	id := lockd.NewLeaseID()
	faults[1].mode.Store(modeDown)
	faults[2].mode.Store(modeDown)
	if _, err := e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "a", Lease: id}); !errors.Is(err, lockd.ErrQuorumUnavailable) {
		t.Fatalf("got %v, want ErrQuorumUnavailable", err)
	}
	faults[1].mode.Store(modeOK)
	faults[2].mode.Store(modeOK)
	l, err := e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "a", Lease: id})
	if err != nil {
		t.Fatal(err)
	}
	if l.Fence <= prev.Fence {
		t.Errorf("got fence %d, want above %d", l.Fence, prev.Fence)
	}
	for _, f := range faults {
		if got := rawLease(t, e, f, name); got != id {
			t.Errorf("node %s holds %q, want %s", f.addr(), got, id)
		}
	}
	again, err := e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "a", Lease: id})
	if err != nil || again.Fence != l.Fence {
		t.Errorf("second retry: got %+v, %v; want fence %d", again, err, l.Fence)
	}
}

// rawEntry is one node's view of a lock.
type rawEntry struct {
	lease, owner, meta string
	fence              int64
}

// inspectNode reads name's lock on the server at addr directly.
func inspectNode(t *testing.T, e *Engine, addr, name string) rawEntry {
	t.Helper()
	c := adminClient(t, addr)
	vals, err := c.Do(ctx(t), c.B().Hmget().Key(e.lockKey(name)).Field("lease", "owner", "fence", "meta").Build()).ToArray()
	if err != nil {
		t.Fatalf("HMGET on %s: %v", addr, err)
	}
	s := make([]string, len(vals))
	for i, v := range vals {
		s[i], _ = v.ToString()
	}
	var out rawEntry
	out.lease, out.owner, out.meta = s[0], s[1], s[3]
	out.fence = toInt(strings.TrimSpace(s[2]))
	return out
}
