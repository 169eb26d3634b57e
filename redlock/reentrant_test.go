package redlock

import (
	"errors"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/lockd/lockd"
)

// rawHolds returns the holds list of name's lock on node f ("" when none).
func rawHolds(t *testing.T, e *Engine, f *faultNode, name string) string {
	t.Helper()
	e.settle()
	c := adminClient(t, f.addr())
	v, err := c.Do(ctx(t), c.B().Hget().Key(e.lockKey(name)).Field("holds").Build()).ToString()
	if err != nil && !rueidis.IsRedisNil(err) {
		t.Fatalf("HGET holds on %s: %v", f.addr(), err)
	}
	return v
}

// TestReentrantFailedInnerKeepsOuter has an inner hold's acquire write on
// two nodes, but reach a quorum of answers on none (one node down, one
// whose reply is lost): its cleanup removes the inner hold and leaves the
// outer one, which still holds the lock and frees it on release.
func TestReentrantFailedInnerKeepsOuter(t *testing.T) {
	e, faults, _ := newFaultEngine(t, 3)
	name := "reentrant-failed-inner"
	id, h1, h2 := lockd.NewLeaseID(), lockd.NewLeaseID(), lockd.NewLeaseID()
	outer, err := e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "a", Lease: id, Reentrant: true, Hold: h1, TTL: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	faults[1].mode.Store(modeDown)
	faults[2].mode.Store(modeGhost)
	_, err = e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "a", Lease: id, Reentrant: true, Hold: h2, TTL: 10 * time.Second})
	if !errors.Is(err, lockd.ErrQuorumUnavailable) {
		t.Fatalf("inner acquire: got %v, want ErrQuorumUnavailable", err)
	}
	setModes(faults, modeOK, 0)
	for _, f := range faults {
		if got := rawHolds(t, e, f, name); got != h1 {
			t.Errorf("node %s has holds %q, want only the outer %s", f.addr(), got, h1)
		}
	}
	if _, err := e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "b"}); !errors.Is(err, lockd.ErrNotObtained) {
		t.Fatalf("b after the failed inner acquire: got %v, want ErrNotObtained", err)
	}
	x, err := e.Extend(ctx(t), name, id, 0)
	if err != nil || x.Holds != 1 || x.Fence != outer.Fence {
		t.Fatalf("Extend: got %+v, %v; want holds 1, fence %d", x, err, outer.Fence)
	}
	if r, err := e.ReleaseHold(ctx(t), name, id, h1); err != nil || r.Holds != 0 {
		t.Fatalf("ReleaseHold of the outer: got %+v, %v; want the lock freed", r, err)
	}
	for _, f := range faults {
		if got := rawLease(t, e, f, name); got != "" {
			t.Errorf("node %s kept %q after the last hold's release", f.addr(), got)
		}
	}
}

// TestReentrantFailedRetryKeepsOtherHolds: a retry of the inner hold whose
// attempt fails removes the inner hold where that attempt wrote it, never
// the outer.
func TestReentrantFailedRetryKeepsOtherHolds(t *testing.T) {
	e, faults, _ := newFaultEngine(t, 3)
	name := "reentrant-failed-retry"
	id, h1, h2 := lockd.NewLeaseID(), lockd.NewLeaseID(), lockd.NewLeaseID()
	for _, h := range []string{h1, h2} {
		if _, err := e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "a", Lease: id, Reentrant: true, Hold: h}); err != nil {
			t.Fatal(err)
		}
	}
	setModes(faults, modeDown, 0b110)
	if _, err := e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "a", Lease: id, Reentrant: true, Hold: h2}); !errors.Is(err, lockd.ErrQuorumUnavailable) {
		t.Fatalf("retry of the inner hold: got %v, want ErrQuorumUnavailable", err)
	}
	setModes(faults, modeOK, 0)
	want := []string{h1, h1 + " " + h2, h1 + " " + h2}
	for i, f := range faults {
		if got := rawHolds(t, e, f, name); got != want[i] {
			t.Errorf("node %d has holds %q, want %q", i, got, want[i])
		}
	}
	if r, err := e.ReleaseHold(ctx(t), name, id, h2); err != nil || r.Holds != 1 {
		t.Fatalf("ReleaseHold of the inner: got %+v, %v; want holds 1", r, err)
	}
	if _, err := e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "b"}); !errors.Is(err, lockd.ErrNotObtained) {
		t.Fatalf("b with the outer hold left: got %v, want ErrNotObtained", err)
	}
}

// TestReentrantNodeFaults uses reentrant holds while one of three nodes is
// killed, then while one is paused (SIGSTOP): the counts hold, nobody else
// gets in until the last hold goes, and then they do.
func TestReentrantNodeFaults(t *testing.T) {
	for _, fault := range []string{"Killed", "Paused"} {
		t.Run(fault, func(t *testing.T) {
			e, _, servers := newFaultEngine(t, 3, WithNodeTimeout(100*time.Millisecond))
			dialled(t, e)
			name := "reentrant-" + fault
			id := lockd.NewLeaseID()
			acquire := func(hold string) lockd.Lease {
				t.Helper()
				l, err := e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "a", Lease: id, Reentrant: true, Hold: hold, TTL: 5 * time.Second})
				if err != nil {
					t.Fatalf("Acquire hold %s: %v", hold, err)
				}
				return l
			}
			h1, h2, h3 := lockd.NewLeaseID(), lockd.NewLeaseID(), lockd.NewLeaseID()
			outer := acquire(h1)
			if fault == "Killed" {
				servers[0].Kill()
			} else {
				servers[0].Pause()
				defer servers[0].Resume()
			}
			if l := acquire(h2); l.Holds != 2 || l.Fence != outer.Fence {
				t.Fatalf("second hold: got holds %d fence %d, want 2 %d", l.Holds, l.Fence, outer.Fence)
			}
			if l := acquire(h2); l.Holds != 2 {
				t.Fatalf("retried second hold: got holds %d, want 2", l.Holds)
			}
			if l := acquire(h3); l.Holds != 3 {
				t.Fatalf("third hold: got holds %d, want 3", l.Holds)
			}
			for _, h := range []string{h3, h1} {
				if _, err := e.ReleaseHold(ctx(t), name, id, h); err != nil {
					t.Fatalf("ReleaseHold %s: %v", h, err)
				}
				if _, err := e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "b"}); !errors.Is(err, lockd.ErrNotObtained) {
					t.Fatalf("b with holds left: got %v, want ErrNotObtained", err)
				}
			}
			if r, err := e.ReleaseHold(ctx(t), name, id, h2); err != nil || r.Holds != 0 {
				t.Fatalf("last ReleaseHold: got %+v, %v", r, err)
			}
			b, err := e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "b"})
			if err != nil || b.Fence <= outer.Fence {
				t.Fatalf("b after the last hold: got %+v, %v; want a grant with fence > %d", b, err, outer.Fence)
			}
		})
	}
}
