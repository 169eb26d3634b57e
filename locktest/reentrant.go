package locktest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lockd/lockd"
)

// reentrant acquires are counted: each hold of the lease must be released
// before anyone else gets the lock, and every hold has the same fence.
func (s *suite) reentrant(t *testing.T) {
	ctx := ctxFor(t)
	name := lockName(t)
	id, h1, h2 := lockd.NewLeaseID(), lockd.NewLeaseID(), lockd.NewLeaseID()
	outer := s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "a", Lease: id, Reentrant: true, Hold: h1, TTL: 5 * time.Second})
	if outer.Holds != 1 || outer.Hold != h1 {
		t.Fatalf("first hold: got holds %d hold %q, want 1 %s", outer.Holds, outer.Hold, h1)
	}
	inner := s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "a", Lease: id, Reentrant: true, Hold: h2, TTL: 5 * time.Second})
	if inner.Holds != 2 || inner.Fence != outer.Fence || inner.ID != id {
		t.Fatalf("second hold: got holds %d fence %d lease %s, want 2 %d %s", inner.Holds, inner.Fence, inner.ID, outer.Fence, id)
	}
	if _, err := s.e.Acquire(ctx, name, lockd.AcquireOptions{Owner: "b", Reentrant: true}); !errors.Is(err, lockd.ErrNotObtained) {
		t.Fatalf("another lease, reentrant: got %v, want ErrNotObtained", err)
	}
	if x, err := s.e.Extend(ctx, name, id, 0); err != nil || x.Holds != 2 || x.Fence != outer.Fence {
		t.Errorf("Extend: got %+v, %v; want holds 2, fence %d", x, err, outer.Fence)
	}
	r, err := s.e.ReleaseHold(ctx, name, id, h2)
	if err != nil || r.Holds != 1 || r.Fence != outer.Fence || r.Owner != "a" {
		t.Fatalf("release of the inner hold: got %+v, %v; want holds 1, fence %d", r, err, outer.Fence)
	}
	if _, err := s.e.ReleaseHold(ctx, name, id, h2); !errors.Is(err, lockd.ErrNotHeld) {
		t.Errorf("the inner hold released twice: got %v, want ErrNotHeld", err)
	}
	if _, err := s.e.Acquire(ctx, name, lockd.AcquireOptions{Owner: "b"}); !errors.Is(err, lockd.ErrNotObtained) {
		t.Fatalf("with one hold left, b got %v, want ErrNotObtained", err)
	}
	if info, err := s.e.Inspect(ctx, name); err != nil || !info.Held || info.Owner != "a" || info.Fence != outer.Fence {
		t.Errorf("Inspect with one hold left: got %+v, %v", info, err)
	}
	if r, err := s.e.ReleaseHold(ctx, name, id, h1); err != nil || r.Holds != 0 {
		t.Fatalf("release of the last hold: got %+v, %v; want holds 0", r, err)
	}
	if _, err := s.e.ReleaseHold(ctx, name, id, h1); !errors.Is(err, lockd.ErrNotHeld) {
		t.Errorf("the last hold released twice: got %v, want ErrNotHeld", err)
	}
	b := s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "b"})
	if b.Fence <= outer.Fence {
		t.Errorf("got fence %d after %d, want it larger", b.Fence, outer.Fence)
	}
}

// reentrantRetry retries a reentrant acquire with the same hold: it counts
// once, so one release frees the lock.
func (s *suite) reentrantRetry(t *testing.T) {
	ctx := ctxFor(t)
	name := lockName(t)
	o := lockd.AcquireOptions{Owner: "a", Lease: lockd.NewLeaseID(), Reentrant: true, Hold: lockd.NewLeaseID()}
	first := s.mustAcquire(t, name, o)
	again := s.mustAcquire(t, name, o)
	if again.Holds != 1 || again.Fence != first.Fence {
		t.Fatalf("retry of the hold: got holds %d fence %d, want 1 %d", again.Holds, again.Fence, first.Fence)
	}
	o2 := o
	o2.Hold = lockd.NewLeaseID()
	s.mustAcquire(t, name, o2)
	if l := s.mustAcquire(t, name, o2); l.Holds != 2 {
		t.Fatalf("retry of the second hold: got holds %d, want 2", l.Holds)
	}
	// Release without a hold removes the most recent one.
	if r, err := s.e.Release(ctx, name, o.Lease); err != nil || r.Holds != 1 {
		t.Fatalf("Release: got %+v, %v; want holds 1", r, err)
	}
	if _, err := s.e.ReleaseHold(ctx, name, o.Lease, o2.Hold); !errors.Is(err, lockd.ErrNotHeld) {
		t.Errorf("the hold Release removed: got %v, want ErrNotHeld", err)
	}
	if r, err := s.e.Release(ctx, name, o.Lease); err != nil || r.Holds != 0 {
		t.Fatalf("second Release: got %+v, %v; want holds 0", r, err)
	}
	if _, err := s.e.Release(ctx, name, o.Lease); !errors.Is(err, lockd.ErrNotHeld) {
		t.Errorf("third Release: got %v, want ErrNotHeld", err)
	}
	s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "b"})
}

// reentrantMismatch: a lease is reentrant or not from its first grant on;
// an acquire with it under the other rule is refused and changes nothing.
func (s *suite) reentrantMismatch(t *testing.T) {
	ctx := ctxFor(t)
	for _, first := range []bool{false, true} {
		name := lockName(t)
		id := lockd.NewLeaseID()
		a := s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "a", Lease: id, Reentrant: first, TTL: 5 * time.Second})
		_, err := s.e.Acquire(ctx, name, lockd.AcquireOptions{Owner: "a", Lease: id, Reentrant: !first, TTL: 5 * time.Second})
		var ae *lockd.ArgumentError
		if !errors.As(err, &ae) || ae.Field != "reentrant" {
			t.Fatalf("first reentrant %v, then %v: got %v, want an ArgumentError on reentrant", first, !first, err)
		}
		if x, err := s.e.Extend(ctx, name, id, 0); err != nil || x.Fence != a.Fence {
			t.Errorf("after the refusal, Extend: got %+v, %v", x, err)
		}
		if r, err := s.e.Release(ctx, name, id); err != nil || r.Holds != 0 {
			t.Errorf("Release: got %+v, %v; want the lock freed", r, err)
		}
	}
	// A hold of a lease that is not reentrant is never there.
	name := lockName(t)
	a := s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "a"})
	if _, err := s.e.ReleaseHold(ctx, name, a.ID, lockd.NewLeaseID()); !errors.Is(err, lockd.ErrNotHeld) {
		t.Errorf("ReleaseHold of a plain lease: got %v, want ErrNotHeld", err)
	}
	if _, err := s.e.Extend(ctx, name, a.ID, 0); err != nil {
		t.Errorf("the plain lease after ReleaseHold: %v", err)
	}
}

// reentrantInvalid checks the argument errors of reentrant holds.
func (s *suite) reentrantInvalid(t *testing.T) {
	name := lockName(t)
	lease := lockd.NewLeaseID()
	cases := []struct {
		name, field string
		call        func(ctx context.Context) error
	}{
		{"HoldWithoutReentrant", "hold", func(ctx context.Context) error {
			_, err := s.e.Acquire(ctx, name, lockd.AcquireOptions{Owner: "a", Hold: lease})
			return err
		}},
		{"BadHold", "hold", func(ctx context.Context) error {
			_, err := s.e.Acquire(ctx, name, lockd.AcquireOptions{Owner: "a", Reentrant: true, Hold: "nope"})
			return err
		}},
		{"ReleaseBadHold", "hold", func(ctx context.Context) error {
			_, err := s.e.ReleaseHold(ctx, name, lease, "XYZ")
			return err
		}},
		{"ReleaseEmptyHold", "hold", func(ctx context.Context) error {
			_, err := s.e.ReleaseHold(ctx, name, lease, "")
			return err
		}},
		{"AcquireMany", "reentrant", func(ctx context.Context) error {
			_, err := lockd.AcquireMany(ctx, s.e, []string{name}, lockd.AcquireOptions{Owner: "a", Reentrant: true})
			return err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.call(ctxFor(t))
			var ae *lockd.ArgumentError
			if !errors.As(err, &ae) || ae.Field != c.field {
				t.Fatalf("got %v, want an ArgumentError on %s", err, c.field)
			}
		})
	}
	if info, err := s.e.Inspect(ctxFor(t), name); err != nil || info.Held {
		t.Errorf("after bad calls: got %+v, %v; want the lock free", info, err)
	}
}
