package locktest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/lockd/lockd"
)

// semaphore runs the semaphore tests when the engine serves semaphores
// (lockd.Semaphores), and skips them otherwise.
func (s *suite) semaphore(t *testing.T) {
	sem, err := lockd.AsSemaphores(s.e)
	if err != nil {
		t.Skip(err)
	}
	ss := &semSuite{suite: s, sem: sem}
	tests := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"OK", ss.ok},
		{"Expiry", ss.expiry},
		{"Extend", ss.extend},
		{"RetrySameLease", ss.retrySameLease},
		{"ReleaseErrNotHeld", ss.releaseTwice},
		{"ErrLimitConflict", ss.limitConflict},
		{"WakeOnRelease", ss.wakeOnRelease},
		{"WakeMany", ss.wakeMany},
		{"WaitOrder", ss.waitOrder},
		{"ContextCancel", ss.contextCancel},
		{"OwnNamespace", ss.namespace},
		{"ErrInvalidArgument", ss.invalid},
		{"NeverOverLimit", ss.neverOverLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.fn)
	}
}

type semSuite struct {
	*suite
	sem lockd.Semaphores
}

func (s *semSuite) mustPermit(t *testing.T, name string, limit int, o lockd.AcquireOptions) lockd.Lease {
	t.Helper()
	l, err := s.sem.AcquirePermit(ctxFor(t), name, limit, o)
	if err != nil {
		t.Fatalf("AcquirePermit(%q, %d, owner %q): %v", name, limit, o.Owner, err)
	}
	return l
}

func (s *semSuite) mustRelease(t *testing.T, name string, l lockd.Lease) {
	t.Helper()
	if _, err := s.sem.ReleasePermit(ctxFor(t), name, l.ID); err != nil {
		t.Fatalf("ReleasePermit(%q, owner %q): %v", name, l.Owner, err)
	}
}

// ok: limit permits are granted with growing fences, one more is refused
// naming a holder, Inspect lists them without lease values, and a release
// makes room.
func (s *semSuite) ok(t *testing.T) {
	name := lockName(t)
	var held []lockd.Lease
	for i := range 3 {
		l := s.mustPermit(t, name, 3, lockd.AcquireOptions{Owner: fmt.Sprint("p", i), TTL: 5 * time.Second})
		if !leaseRE.MatchString(l.ID) || l.Name != name || l.TTL != 5*time.Second {
			t.Errorf("permit %d: got %+v", i, l)
		}
		if i > 0 && l.Fence <= held[i-1].Fence {
			t.Errorf("permit %d: fence %d after %d", i, l.Fence, held[i-1].Fence)
		}
		held = append(held, l)
	}
	_, err := s.sem.AcquirePermit(ctxFor(t), name, 3, lockd.AcquireOptions{Owner: "late", TTL: 5 * time.Second})
	var noe *lockd.NotObtainedError
	if !errors.As(err, &noe) || noe.Holder == nil || noe.Name != name {
		t.Fatalf("a fourth permit of 3: got %v, want *NotObtainedError naming %q with a holder", err, name)
	}
	info, err := s.sem.InspectSemaphore(ctxFor(t), name)
	if err != nil {
		t.Fatalf("InspectSemaphore: %v", err)
	}
	if info.Name != name || info.Limit != 3 || len(info.Permits) != 3 {
		t.Fatalf("got %+v, want limit 3 and 3 permits", info)
	}
	owners := map[string]int64{}
	for _, p := range info.Permits {
		owners[p.Owner] = p.Fence
	}
	for _, l := range held {
		if owners[l.Owner] != l.Fence {
			t.Errorf("Inspect: owner %s has fence %d, want %d", l.Owner, owners[l.Owner], l.Fence)
		}
	}
	s.mustRelease(t, name, held[1])
	l := s.mustPermit(t, name, 3, lockd.AcquireOptions{Owner: "late", TTL: 5 * time.Second})
	if l.Fence <= held[2].Fence {
		t.Errorf("permit after a release: fence %d, want > %d", l.Fence, held[2].Fence)
	}
	for _, l := range []lockd.Lease{held[0], held[2], l} {
		s.mustRelease(t, name, l)
	}
	info, err = s.sem.InspectSemaphore(ctxFor(t), name)
	if err != nil || info.Limit != 0 || len(info.Permits) != 0 {
		t.Errorf("after every release: got %+v, %v; want no permits and limit 0", info, err)
	}
}

// expiry: a permit that is not extended frees its place by itself.
func (s *semSuite) expiry(t *testing.T) {
	name := lockName(t)
	s.mustPermit(t, name, 1, lockd.AcquireOptions{Owner: "a", TTL: 200 * time.Millisecond})
	if _, err := s.sem.AcquirePermit(ctxFor(t), name, 1, lockd.AcquireOptions{Owner: "b"}); !errors.Is(err, lockd.ErrNotObtained) {
		t.Fatalf("while a holds the only permit: got %v, want ErrNotObtained", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := s.sem.AcquirePermit(ctxFor(t), name, 1, lockd.AcquireOptions{Owner: "b", TTL: 5 * time.Second})
		if err == nil {
			return
		}
		if !errors.Is(err, lockd.ErrNotObtained) || time.Now().After(deadline) {
			t.Fatalf("after a's permit ran out: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// extend: an extend keeps the permit past its first TTL, keeps the TTL when
// given 0, and fails with ErrLost once the permit is gone.
func (s *semSuite) extend(t *testing.T) {
	name := lockName(t)
	a := s.mustPermit(t, name, 1, lockd.AcquireOptions{Owner: "a", TTL: 300 * time.Millisecond})
	time.Sleep(150 * time.Millisecond)
	x, err := s.sem.ExtendPermit(ctxFor(t), name, a.ID, 5*time.Second)
	if err != nil {
		t.Fatalf("ExtendPermit: %v", err)
	}
	if x.Fence != a.Fence || x.Owner != "a" || x.TTL != 5*time.Second || x.ID != a.ID {
		t.Errorf("got %+v, want a's permit (fence %d) with TTL 5s", x, a.Fence)
	}
	time.Sleep(300 * time.Millisecond)
	if _, err := s.sem.AcquirePermit(ctxFor(t), name, 1, lockd.AcquireOptions{Owner: "b"}); !errors.Is(err, lockd.ErrNotObtained) {
		t.Fatalf("past the first TTL of an extended permit: got %v, want ErrNotObtained", err)
	}
	if x, err = s.sem.ExtendPermit(ctxFor(t), name, a.ID, 0); err != nil || x.TTL != 5*time.Second {
		t.Errorf("ExtendPermit with ttl 0: got %+v, %v; want TTL 5s kept", x, err)
	}
	s.mustRelease(t, name, a)
	if _, err := s.sem.ExtendPermit(ctxFor(t), name, a.ID, time.Second); !errors.Is(err, lockd.ErrLost) {
		t.Errorf("ExtendPermit after release: got %v, want ErrLost", err)
	}
}

// retrySameLease: an acquire with the lease of a permit is a retry: the
// same permit and fence, and no second place taken.
func (s *semSuite) retrySameLease(t *testing.T) {
	name := lockName(t)
	id := lockd.NewLeaseID()
	a := s.mustPermit(t, name, 2, lockd.AcquireOptions{Owner: "a", Lease: id, TTL: 5 * time.Second})
	again := s.mustPermit(t, name, 2, lockd.AcquireOptions{Owner: "a", Lease: id, TTL: 5 * time.Second})
	if again.ID != id || again.Fence != a.Fence {
		t.Fatalf("retry: got lease %s fence %d, want %s fence %d", again.ID, again.Fence, id, a.Fence)
	}
	b := s.mustPermit(t, name, 2, lockd.AcquireOptions{Owner: "b", TTL: 5 * time.Second})
	if _, err := s.sem.AcquirePermit(ctxFor(t), name, 2, lockd.AcquireOptions{Owner: "c"}); !errors.Is(err, lockd.ErrNotObtained) {
		t.Fatalf("third permit of 2 after a retry: got %v, want ErrNotObtained", err)
	}
	s.mustRelease(t, name, a)
	s.mustRelease(t, name, b)
}

// releaseTwice: a second release of a permit, or one with a lease that
// never held one, deletes nothing and says ErrNotHeld.
func (s *semSuite) releaseTwice(t *testing.T) {
	name := lockName(t)
	a := s.mustPermit(t, name, 2, lockd.AcquireOptions{Owner: "a", TTL: 5 * time.Second})
	b := s.mustPermit(t, name, 2, lockd.AcquireOptions{Owner: "b", TTL: 5 * time.Second})
	r, err := s.sem.ReleasePermit(ctxFor(t), name, a.ID)
	if err != nil || r.Owner != "a" || r.Fence != a.Fence {
		t.Fatalf("ReleasePermit: got %+v, %v; want owner a, fence %d", r, err, a.Fence)
	}
	if _, err := s.sem.ReleasePermit(ctxFor(t), name, a.ID); !errors.Is(err, lockd.ErrNotHeld) {
		t.Errorf("second release: got %v, want ErrNotHeld", err)
	}
	if _, err := s.sem.ReleasePermit(ctxFor(t), name, lockd.NewLeaseID()); !errors.Is(err, lockd.ErrNotHeld) {
		t.Errorf("release with a stranger's lease: got %v, want ErrNotHeld", err)
	}
	if _, err := s.sem.ExtendPermit(ctxFor(t), name, b.ID, 0); err != nil {
		t.Errorf("b's permit after a's releases: %v", err)
	}
	s.mustRelease(t, name, b)
}

// limitConflict: while permits granted under one limit live, an acquire
// under another is refused with ErrLimitConflict naming the limit in
// force, and changes nothing; once they are all released, or expired, the
// new limit takes effect.
func (s *semSuite) limitConflict(t *testing.T) {
	name := lockName(t)
	a := s.mustPermit(t, name, 2, lockd.AcquireOptions{Owner: "a", TTL: 5 * time.Second})
	_, err := s.sem.AcquirePermit(ctxFor(t), name, 3, lockd.AcquireOptions{Owner: "b", TTL: 5 * time.Second})
	var lce *lockd.LimitConflictError
	if !errors.As(err, &lce) || lce.Limit != 2 || lce.Asked != 3 || !errors.Is(err, lockd.ErrLimitConflict) {
		t.Fatalf("limit 3 while a permit of 2 lives: got %v, want *LimitConflictError{Limit: 2, Asked: 3}", err)
	}
	// A waiting acquire is refused at once too: waiting would not help
	// while the permit lives.
	start := time.Now()
	if _, err := s.sem.AcquirePermit(ctxFor(t), name, 1, lockd.AcquireOptions{Owner: "b", Wait: 10 * time.Second}); !errors.Is(err, lockd.ErrLimitConflict) {
		t.Fatalf("waiting acquire under limit 1: got %v, want ErrLimitConflict", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("a limit conflict took %v to be refused", el)
	}
	info, err := s.sem.InspectSemaphore(ctxFor(t), name)
	if err != nil || info.Limit != 2 || len(info.Permits) != 1 {
		t.Fatalf("after refused conflicts: got %+v, %v; want limit 2 and a's permit", info, err)
	}
	s.mustRelease(t, name, a)
	// Every permit released: the next acquire sets the limit.
	for i := range 3 {
		s.mustPermit(t, name, 3, lockd.AcquireOptions{Owner: fmt.Sprint("t", i), TTL: 300 * time.Millisecond})
	}
	if _, err := s.sem.AcquirePermit(ctxFor(t), name, 2, lockd.AcquireOptions{Owner: "d"}); !errors.Is(err, lockd.ErrLimitConflict) {
		t.Fatalf("limit 2 while permits of 3 live: got %v, want ErrLimitConflict", err)
	}
	// Every permit expired: the same.
	deadline := time.Now().Add(5 * time.Second)
	for {
		l, err := s.sem.AcquirePermit(ctxFor(t), name, 1, lockd.AcquireOptions{Owner: "d", TTL: 5 * time.Second})
		if err == nil {
			s.mustRelease(t, name, l)
			break
		}
		if !errors.Is(err, lockd.ErrLimitConflict) || time.Now().After(deadline) {
			t.Fatalf("limit 1 after the permits of 3 expired: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// namespace: a semaphore and a lock of one name do not meet.
func (s *semSuite) namespace(t *testing.T) {
	name := lockName(t)
	l := s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "lock", TTL: 5 * time.Second})
	p := s.mustPermit(t, name, 1, lockd.AcquireOptions{Owner: "permit", TTL: 5 * time.Second})
	if _, err := s.sem.ReleasePermit(ctxFor(t), name, l.ID); !errors.Is(err, lockd.ErrNotHeld) {
		t.Errorf("ReleasePermit with the lock's lease: got %v, want ErrNotHeld", err)
	}
	if _, err := s.e.Release(ctxFor(t), name, p.ID); !errors.Is(err, lockd.ErrNotHeld) {
		t.Errorf("Release with the permit's lease: got %v, want ErrNotHeld", err)
	}
	if info, err := s.e.Inspect(ctxFor(t), name); err != nil || info.Owner != "lock" {
		t.Errorf("Inspect: got %+v, %v; want the lock's holder", info, err)
	}
	s.mustRelease(t, name, p)
	if _, err := s.e.Release(ctxFor(t), name, l.ID); err != nil {
		t.Errorf("Release of the lock: %v", err)
	}
}

func (s *semSuite) invalid(t *testing.T) {
	name := lockName(t)
	good := lockd.AcquireOptions{Owner: "a"}
	cases := []struct {
		name  string
		field string
		call  func(ctx context.Context) error
	}{
		{"LimitZero", "limit", func(ctx context.Context) error {
			_, err := s.sem.AcquirePermit(ctx, name, 0, good)
			return err
		}},
		{"LimitNegative", "limit", func(ctx context.Context) error {
			_, err := s.sem.AcquirePermit(ctx, name, -1, good)
			return err
		}},
		{"LimitTooLarge", "limit", func(ctx context.Context) error {
			_, err := s.sem.AcquirePermit(ctx, name, lockd.MaxLimit+1, good)
			return err
		}},
		{"BadName", "name", func(ctx context.Context) error {
			_, err := s.sem.AcquirePermit(ctx, "a/b", 1, good)
			return err
		}},
		{"NoOwner", "owner", func(ctx context.Context) error {
			_, err := s.sem.AcquirePermit(ctx, name, 1, lockd.AcquireOptions{})
			return err
		}},
		{"ShortTTL", "ttl_ms", func(ctx context.Context) error {
			_, err := s.sem.AcquirePermit(ctx, name, 1, lockd.AcquireOptions{Owner: "a", TTL: time.Millisecond})
			return err
		}},
		{"BadLease", "lease", func(ctx context.Context) error {
			_, err := s.sem.AcquirePermit(ctx, name, 1, lockd.AcquireOptions{Owner: "a", Lease: "XYZ"})
			return err
		}},
		{"Reentrant", "reentrant", func(ctx context.Context) error {
			_, err := s.sem.AcquirePermit(ctx, name, 1, lockd.AcquireOptions{Owner: "a", Reentrant: true})
			return err
		}},
		{"ReadMode", "mode", func(ctx context.Context) error {
			_, err := s.sem.AcquirePermit(ctx, name, 1, lockd.AcquireOptions{Owner: "a", Mode: lockd.ModeRead})
			return err
		}},
		{"ReleaseByOwner", "release_by_owner", func(ctx context.Context) error {
			_, err := s.sem.AcquirePermit(ctx, name, 1, lockd.AcquireOptions{Owner: "a", ReleaseByOwner: true})
			return err
		}},
		{"ExtendBadLease", "lease", func(ctx context.Context) error {
			_, err := s.sem.ExtendPermit(ctx, name, "nope", time.Second)
			return err
		}},
		{"ExtendBadTTL", "ttl_ms", func(ctx context.Context) error {
			_, err := s.sem.ExtendPermit(ctx, name, lockd.NewLeaseID(), lockd.MaxTTL+time.Second)
			return err
		}},
		{"ReleaseBadLease", "lease", func(ctx context.Context) error {
			_, err := s.sem.ReleasePermit(ctx, name, "")
			return err
		}},
		{"InspectBadName", "name", func(ctx context.Context) error {
			_, err := s.sem.InspectSemaphore(ctx, "")
			return err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.call(ctxFor(t))
			var ae *lockd.ArgumentError
			if !errors.As(err, &ae) || ae.Field != c.field {
				t.Fatalf("got %v, want *ArgumentError on %q", err, c.field)
			}
		})
	}
}
