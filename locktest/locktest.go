// Package locktest is the conformance suite every lockd.Engine must pass:
// acquire, conflict, expiry, extend, release, idempotent release, retried
// acquire with the caller's lease (and no re-acquire by owner label alone),
// release by owner for locks that allow it, wait-then-get, context cancel,
// fencing order and mutual exclusion under concurrency. Engines call Run from their tests.
package locktest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lockd/lockd"
)

// Config tunes the suite for an engine.
type Config struct {
	// New returns the engine under test. The suite calls it once per Run
	// and closes the engine at the end.
	New func(t *testing.T) lockd.Engine
	// Workers and Increments size the mutual-exclusion test. The defaults
	// are 16 and 500.
	Workers, Increments int
}

// testTimeout bounds every engine call the suite makes.
const testTimeout = 30 * time.Second

// Run runs the suite against the engine cfg.New returns.
func Run(t *testing.T, cfg Config) {
	t.Helper()
	if cfg.Workers == 0 {
		cfg.Workers = 16
	}
	if cfg.Increments == 0 {
		cfg.Increments = 500
	}
	e := cfg.New(t)
	t.Cleanup(func() { _ = e.Close() })
	s := &suite{e: e, cfg: cfg}
	tests := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"AcquireOK", s.acquireOK},
		{"ErrNotObtained", s.conflict},
		{"Expiry", s.expiry},
		{"Extend", s.extend},
		{"ExtendErrLost", s.extendLost},
		{"Release", s.release},
		{"ReleaseErrNotHeld", s.releaseIdempotent},
		{"RetrySameLease", s.retrySameLease},
		{"SameOwnerWithoutLease", s.sameOwnerWithoutLease},
		{"ReleaseByOwner", s.releaseByOwner},
		{"ExtendKeepsTTL", s.extendKeepsTTL},
		{"WaitThenGet", s.waitThenGet},
		{"WaitEnds", s.waitEnds},
		{"WakeOnRelease", s.wakeOnRelease},
		{"WaitOrder", s.waitOrder},
		{"Fair", s.fair},
		{"AcquireMany", s.acquireMany},
		{"AcquireManyNoDeadlock", s.acquireManyNoDeadlock},
		{"Election", s.election},
		{"ContextCancel", s.contextCancel},
		{"FencesGrow", s.fencesGrow},
		{"Inspect", s.inspect},
		{"ErrInvalidArgument", s.invalid},
		{"Health", s.health},
		{"ListLocks", s.listLocks},
		{"ForceRelease", s.forceRelease},
		{"MutualExclusion", s.mutex},
		{"Semaphore", s.semaphore},
		{"Reentrant", s.reentrant},
		{"ReentrantRetry", s.reentrantRetry},
		{"ReentrantMismatch", s.reentrantMismatch},
		{"ReentrantInvalid", s.reentrantInvalid},
		{"ReadShared", s.readShared},
		{"ModeMismatch", s.modeMismatch},
		{"ModeInvalid", s.modeInvalid},
		{"ReadWriteExclusion", s.readWriteExclusion},
		{"WriterPreference", s.writerPreference},
		{"WriterGivesUp", s.writerGivesUp},
		{"ReadersWake", s.readersWake},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.fn)
	}
}

type suite struct {
	e   lockd.Engine
	cfg Config
}

var leaseRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

func ctxFor(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// lockName returns a name unique to the running test, so tests that share
// an engine (and its Redis nodes) do not see each other's locks.
func lockName(t *testing.T) string {
	t.Helper()
	n := []byte(t.Name())
	for i, c := range n {
		if lockd.ValidateName(string(c)) != nil {
			n[i] = ':'
		}
	}
	if len(n) > 150 {
		n = n[len(n)-150:]
	}
	return fmt.Sprintf("%s:%d", n, time.Now().UnixNano())
}

func (s *suite) mustAcquire(t *testing.T, name string, o lockd.AcquireOptions) lockd.Lease {
	t.Helper()
	l, err := s.e.Acquire(ctxFor(t), name, o)
	if err != nil {
		t.Fatalf("Acquire(%q, owner %q): %v", name, o.Owner, err)
	}
	return l
}

func (s *suite) acquireOK(t *testing.T) {
	name := lockName(t)
	before := time.Now()
	l := s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "a", TTL: 5 * time.Second})
	if l.Name != name || l.Owner != "a" || l.TTL != 5*time.Second {
		t.Errorf("got name %q owner %q ttl %v, want %q a 5s", l.Name, l.Owner, l.TTL, name)
	}
	if !leaseRE.MatchString(l.ID) {
		t.Errorf("got lease %q, want 32 hex digits", l.ID)
	}
	if l.Fence <= 0 {
		t.Errorf("got fence %d, want > 0", l.Fence)
	}
	if l.ExpiresAt.After(before.Add(5*time.Second+time.Second)) || l.ExpiresAt.Before(before.Add(4*time.Second)) {
		t.Errorf("got expires_at %v, want about %v", l.ExpiresAt, before.Add(5*time.Second))
	}
	if _, err := s.e.Release(ctxFor(t), name, l.ID); err != nil {
		t.Errorf("Release: %v", err)
	}
}

func (s *suite) conflict(t *testing.T) {
	name := lockName(t)
	a := s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "a", TTL: 5 * time.Second})
	_, err := s.e.Acquire(ctxFor(t), name, lockd.AcquireOptions{Owner: "b", TTL: 5 * time.Second})
	if !errors.Is(err, lockd.ErrNotObtained) {
		t.Fatalf("second owner: got %v, want ErrNotObtained", err)
	}
	var noe *lockd.NotObtainedError
	if !errors.As(err, &noe) || noe.Holder == nil {
		t.Fatalf("got %#v, want *NotObtainedError with a holder", err)
	}
	if noe.Holder.Owner != "a" {
		t.Errorf("got holder %q, want a", noe.Holder.Owner)
	}
	if d := noe.Holder.ExpiresAt.Sub(a.ExpiresAt); d < -time.Second || d > time.Second {
		t.Errorf("got holder expiry %v, want about %v", noe.Holder.ExpiresAt, a.ExpiresAt)
	}
}

func (s *suite) expiry(t *testing.T) {
	name := lockName(t)
	a := s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "a", TTL: 200 * time.Millisecond})
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := s.e.Acquire(ctxFor(t), name, lockd.AcquireOptions{Owner: "b", TTL: 5 * time.Second})
		got := time.Now()
		if err == nil {
			if got.Before(a.ExpiresAt) {
				t.Fatalf("b got the lock at %v, before a's lease ran out at %v", got, a.ExpiresAt)
			}
			if b.Fence <= a.Fence {
				t.Errorf("got fence %d after %d, want it larger", b.Fence, a.Fence)
			}
			return
		}
		if !errors.Is(err, lockd.ErrNotObtained) {
			t.Fatalf("got %v, want ErrNotObtained while a holds it", err)
		}
		if got.After(deadline) {
			t.Fatalf("lock never expired: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *suite) extend(t *testing.T) {
	name := lockName(t)
	a := s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "a", TTL: 300 * time.Millisecond, Metadata: json.RawMessage(`{"k":"v"}`)})
	x, err := s.e.Extend(ctxFor(t), name, a.ID, 5*time.Second)
	if err != nil {
		t.Fatalf("Extend: %v", err)
	}
	if x.ID != a.ID || x.Fence != a.Fence || x.Owner != "a" || x.Name != name || x.TTL != 5*time.Second {
		t.Errorf("got %+v, want the same lease with ttl 5s", x)
	}
	if !x.ExpiresAt.After(a.ExpiresAt) {
		t.Errorf("got expires_at %v, want after %v", x.ExpiresAt, a.ExpiresAt)
	}
	if string(x.Metadata) != `{"k":"v"}` {
		t.Errorf("got metadata %s, want {\"k\":\"v\"}", x.Metadata)
	}
	time.Sleep(500 * time.Millisecond) // past the first TTL
	if _, err := s.e.Acquire(ctxFor(t), name, lockd.AcquireOptions{Owner: "b"}); !errors.Is(err, lockd.ErrNotObtained) {
		t.Errorf("after extend, b got %v, want ErrNotObtained", err)
	}
}

func (s *suite) extendLost(t *testing.T) {
	name := lockName(t)
	a := s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "a", TTL: 150 * time.Millisecond})
	if _, err := s.e.Extend(ctxFor(t), name, lockd.NewLeaseID(), time.Second); !errors.Is(err, lockd.ErrLost) {
		t.Errorf("wrong lease: got %v, want ErrLost", err)
	}
	time.Sleep(400 * time.Millisecond)
	if _, err := s.e.Extend(ctxFor(t), name, a.ID, time.Second); !errors.Is(err, lockd.ErrLost) {
		t.Errorf("expired lease: got %v, want ErrLost", err)
	}
	b := s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "b", TTL: 5 * time.Second})
	if _, err := s.e.Extend(ctxFor(t), name, a.ID, time.Second); !errors.Is(err, lockd.ErrLost) {
		t.Errorf("lease of a while b holds: got %v, want ErrLost", err)
	}
	info, err := s.e.Inspect(ctxFor(t), name)
	if err != nil || !info.Held || info.Owner != "b" || info.Fence != b.Fence {
		t.Errorf("got %+v, %v; want b still holding with fence %d", info, err, b.Fence)
	}
}

func (s *suite) release(t *testing.T) {
	name := lockName(t)
	a := s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "a", TTL: 5 * time.Second})
	if _, err := s.e.Release(ctxFor(t), name, a.ID); err != nil {
		t.Fatalf("Release: %v", err)
	}
	b := s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "b", TTL: 5 * time.Second})
	if b.Fence <= a.Fence {
		t.Errorf("got fence %d after %d, want it larger", b.Fence, a.Fence)
	}
}

func (s *suite) releaseIdempotent(t *testing.T) {
	name := lockName(t)
	a := s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "a", TTL: 5 * time.Second})
	if _, err := s.e.Release(ctxFor(t), name, a.ID); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if _, err := s.e.Release(ctxFor(t), name, a.ID); !errors.Is(err, lockd.ErrNotHeld) {
		t.Errorf("second release: got %v, want ErrNotHeld", err)
	}
	b := s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "b", TTL: 5 * time.Second})
	if _, err := s.e.Release(ctxFor(t), name, a.ID); !errors.Is(err, lockd.ErrNotHeld) {
		t.Errorf("stale release while b holds: got %v, want ErrNotHeld", err)
	}
	info, err := s.e.Inspect(ctxFor(t), name)
	if err != nil || !info.Held || info.Owner != "b" || info.Fence != b.Fence {
		t.Fatalf("after a stale release got %+v, %v; want b still holding", info, err)
	}
	short := s.mustAcquire(t, lockName(t), lockd.AcquireOptions{Owner: "c", TTL: 100 * time.Millisecond})
	time.Sleep(300 * time.Millisecond)
	if _, err := s.e.Release(ctxFor(t), short.Name, short.ID); !errors.Is(err, lockd.ErrNotHeld) {
		t.Errorf("release after expiry: got %v, want ErrNotHeld", err)
	}
}

// retrySameLease retries an acquire with the caller's own lease: the same
// grant comes back, with the same fence and a refreshed TTL.
func (s *suite) retrySameLease(t *testing.T) {
	name := lockName(t)
	id := lockd.NewLeaseID()
	a := s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "a", Lease: id, TTL: 2 * time.Second})
	if a.ID != id {
		t.Fatalf("got lease %q, want the caller's %q", a.ID, id)
	}
	time.Sleep(50 * time.Millisecond)
	again := s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "a", Lease: id, TTL: 5 * time.Second})
	if again.ID != a.ID || again.Fence != a.Fence {
		t.Errorf("got lease %s fence %d, want the same lease %s fence %d", again.ID, again.Fence, a.ID, a.Fence)
	}
	if !again.ExpiresAt.After(a.ExpiresAt) {
		t.Errorf("got expires_at %v, want later than %v", again.ExpiresAt, a.ExpiresAt)
	}
	if _, err := s.e.Acquire(ctxFor(t), name, lockd.AcquireOptions{Owner: "b", Lease: lockd.NewLeaseID()}); !errors.Is(err, lockd.ErrNotObtained) {
		t.Errorf("another lease while a holds: got %v, want ErrNotObtained", err)
	}
	if _, err := s.e.Release(ctxFor(t), name, a.ID); err != nil {
		t.Errorf("release of the retried lease: %v", err)
	}
}

// sameOwnerWithoutLease is the attack of a caller that knows only the
// holder's public owner label: it must neither get the lease nor shorten
// the holder's TTL.
func (s *suite) sameOwnerWithoutLease(t *testing.T) {
	name := lockName(t)
	a := s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "svc-a-1", TTL: 30 * time.Second})
	for _, o := range []lockd.AcquireOptions{
		{Owner: "svc-a-1", TTL: 100 * time.Millisecond},
		{Owner: "svc-a-1", TTL: 100 * time.Millisecond, Lease: lockd.NewLeaseID()},
	} {
		l, err := s.e.Acquire(ctxFor(t), name, o)
		var noe *lockd.NotObtainedError
		if !errors.As(err, &noe) {
			t.Fatalf("acquire by the holder's owner label without its lease: got %+v, %v; want ErrNotObtained", l, err)
		}
		if noe.Holder == nil || noe.Holder.Owner != "svc-a-1" {
			t.Errorf("got holder %+v, want svc-a-1", noe.Holder)
		}
	}
	time.Sleep(300 * time.Millisecond)
	if _, err := s.e.Acquire(ctxFor(t), name, lockd.AcquireOptions{Owner: "mallory"}); !errors.Is(err, lockd.ErrNotObtained) {
		t.Fatalf("after the attempts, mallory got %v, want ErrNotObtained", err)
	}
	info, err := s.e.Inspect(ctxFor(t), name)
	if err != nil || !info.Held || info.Fence != a.Fence {
		t.Fatalf("got %+v, %v; want a still holding", info, err)
	}
	if d := info.ExpiresAt.Sub(a.ExpiresAt); d < -time.Second {
		t.Errorf("holder's expiry moved from %v to %v", a.ExpiresAt, info.ExpiresAt)
	}
	if _, err := s.e.Extend(ctxFor(t), name, a.ID, 0); err != nil {
		t.Errorf("the holder's lease stopped working: %v", err)
	}
}

// releaseByOwner frees, by owner label, only locks acquired with
// ReleaseByOwner, and only the owner's.
func (s *suite) releaseByOwner(t *testing.T) {
	ctx := ctxFor(t)
	name := lockName(t)
	a := s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "front-7", TTL: 5 * time.Second, ReleaseByOwner: true})
	if _, err := s.e.ReleaseByOwner(ctx, name, "front-8"); !errors.Is(err, lockd.ErrNotHeld) {
		t.Errorf("another owner: got %v, want ErrNotHeld", err)
	}
	r, err := s.e.ReleaseByOwner(ctx, name, "front-7")
	if err != nil {
		t.Fatalf("ReleaseByOwner: %v", err)
	}
	if r.Name != name || r.Owner != "front-7" || r.Fence != a.Fence {
		t.Errorf("got %+v, want %s front-7 fence %d", r, name, a.Fence)
	}
	if _, err := s.e.ReleaseByOwner(ctx, name, "front-7"); !errors.Is(err, lockd.ErrNotHeld) {
		t.Errorf("second release: got %v, want ErrNotHeld", err)
	}
	if _, err := s.e.Release(ctx, name, a.ID); !errors.Is(err, lockd.ErrNotHeld) {
		t.Errorf("release by lease after: got %v, want ErrNotHeld", err)
	}

	v1 := lockName(t)
	b := s.mustAcquire(t, v1, lockd.AcquireOptions{Owner: "front-7", TTL: 5 * time.Second})
	if _, err := s.e.ReleaseByOwner(ctx, v1, "front-7"); !errors.Is(err, lockd.ErrNotHeld) {
		t.Errorf("lock taken without ReleaseByOwner: got %v, want ErrNotHeld", err)
	}
	info, err := s.e.Inspect(ctx, v1)
	if err != nil || !info.Held || info.Fence != b.Fence {
		t.Errorf("got %+v, %v; want still held with fence %d", info, err, b.Fence)
	}
	if _, err := s.e.ReleaseByOwner(ctx, lockName(t), "front-7"); !errors.Is(err, lockd.ErrNotHeld) {
		t.Errorf("free lock: got %v, want ErrNotHeld", err)
	}
}

// extendKeepsTTL extends with ttl 0, which keeps the lease's TTL.
func (s *suite) extendKeepsTTL(t *testing.T) {
	name := lockName(t)
	a := s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "a", TTL: 2 * time.Second})
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	x, err := s.e.Extend(ctxFor(t), name, a.ID, 0)
	if err != nil {
		t.Fatalf("Extend: %v", err)
	}
	if x.TTL != 2*time.Second {
		t.Errorf("got ttl %v, want the lease's 2s", x.TTL)
	}
	if want := start.Add(2 * time.Second); x.ExpiresAt.Before(want.Add(-time.Second)) || x.ExpiresAt.After(want.Add(time.Second)) {
		t.Errorf("got expires_at %v, want about %v", x.ExpiresAt, want)
	}
	info, err := s.e.Inspect(ctxFor(t), name)
	if err != nil || info.ExpiresAt.Before(a.ExpiresAt) {
		t.Errorf("got %+v, %v; want expiry past %v", info, err, a.ExpiresAt)
	}
}

func (s *suite) waitThenGet(t *testing.T) {
	name := lockName(t)
	a := s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "a", TTL: 10 * time.Second})
	type result struct {
		l   lockd.Lease
		err error
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		l, err := s.e.Acquire(ctxFor(t), name, lockd.AcquireOptions{Owner: "b", TTL: 5 * time.Second, Wait: 5 * time.Second})
		done <- result{l, err}
	}()
	time.Sleep(150 * time.Millisecond)
	select {
	case r := <-done:
		t.Fatalf("b returned while a held the lock: %+v %v", r.l, r.err)
	default:
	}
	if _, err := s.e.Release(ctxFor(t), name, a.ID); err != nil {
		t.Fatalf("Release: %v", err)
	}
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("waiting acquire: %v", r.err)
		}
		if r.l.Owner != "b" || r.l.Fence <= a.Fence {
			t.Errorf("got %+v, want owner b with fence > %d", r.l, a.Fence)
		}
		// The granting attempt began after the release, 150ms in.
		if w := r.l.Waited; w < 100*time.Millisecond || w > time.Since(start) {
			t.Errorf("Waited = %v, want about 150ms (the time until the release), at most %v", w, time.Since(start))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waiting acquire did not return")
	}
}

func (s *suite) waitEnds(t *testing.T) {
	name := lockName(t)
	s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "a", TTL: 10 * time.Second})
	start := time.Now()
	_, err := s.e.Acquire(ctxFor(t), name, lockd.AcquireOptions{Owner: "b", Wait: 300 * time.Millisecond})
	if !errors.Is(err, lockd.ErrNotObtained) {
		t.Fatalf("got %v, want ErrNotObtained", err)
	}
	if el := time.Since(start); el < 300*time.Millisecond || el > 5*time.Second {
		t.Errorf("wait of 300ms returned after %v", el)
	}
}

func (s *suite) contextCancel(t *testing.T) {
	name := lockName(t)
	s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "a", TTL: 10 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(150*time.Millisecond, cancel)
	start := time.Now()
	_, err := s.e.Acquire(ctx, name, lockd.AcquireOptions{Owner: "b", Wait: 20 * time.Second})
	if !errors.Is(err, lockd.ErrNotObtained) || !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want ErrNotObtained joined with context.Canceled", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("cancel took %v to end the wait", el)
	}
}

func (s *suite) fencesGrow(t *testing.T) {
	name := lockName(t)
	var last int64
	for i := range 20 {
		l := s.mustAcquire(t, name, lockd.AcquireOptions{Owner: fmt.Sprintf("o%d", i%3), TTL: 5 * time.Second})
		if l.Fence <= last {
			t.Fatalf("grant %d: got fence %d after %d", i, l.Fence, last)
		}
		last = l.Fence
		if _, err := s.e.Release(ctxFor(t), name, l.ID); err != nil {
			t.Fatalf("Release: %v", err)
		}
	}
}

func (s *suite) inspect(t *testing.T) {
	name := lockName(t)
	info, err := s.e.Inspect(ctxFor(t), name)
	if err != nil || info.Held || info.Name != name {
		t.Fatalf("free lock: got %+v, %v; want not held", info, err)
	}
	a := s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "a", TTL: 5 * time.Second, Metadata: json.RawMessage(`{ "job": 7 }`)})
	info, err = s.e.Inspect(ctxFor(t), name)
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	if !info.Held || info.Owner != "a" || info.Fence != a.Fence || string(info.Metadata) != `{"job":7}` {
		t.Errorf("got %+v, want held by a, fence %d, metadata {\"job\":7}", info, a.Fence)
	}
	if d := info.ExpiresAt.Sub(a.ExpiresAt); d < -time.Second || d > time.Second {
		t.Errorf("got expires_at %v, want about %v", info.ExpiresAt, a.ExpiresAt)
	}
}

func (s *suite) invalid(t *testing.T) {
	ok := lockName(t)
	lease := lockd.NewLeaseID()
	cases := []struct {
		name, field string
		call        func(ctx context.Context) error
	}{
		{"EmptyName", "name", func(ctx context.Context) error {
			_, err := s.e.Acquire(ctx, "", lockd.AcquireOptions{Owner: "a"})
			return err
		}},
		{"BadName", "name", func(ctx context.Context) error {
			_, err := s.e.Acquire(ctx, "a b", lockd.AcquireOptions{Owner: "a"})
			return err
		}},
		{"LongName", "name", func(ctx context.Context) error {
			_, err := s.e.Acquire(ctx, strings.Repeat("x", 201), lockd.AcquireOptions{Owner: "a"})
			return err
		}},
		{"NoOwner", "owner", func(ctx context.Context) error {
			_, err := s.e.Acquire(ctx, ok, lockd.AcquireOptions{})
			return err
		}},
		{"LongOwner", "owner", func(ctx context.Context) error {
			_, err := s.e.Acquire(ctx, ok, lockd.AcquireOptions{Owner: strings.Repeat("o", 129)})
			return err
		}},
		{"ShortTTL", "ttl_ms", func(ctx context.Context) error {
			_, err := s.e.Acquire(ctx, ok, lockd.AcquireOptions{Owner: "a", TTL: 99 * time.Millisecond})
			return err
		}},
		{"LongTTL", "ttl_ms", func(ctx context.Context) error {
			_, err := s.e.Acquire(ctx, ok, lockd.AcquireOptions{Owner: "a", TTL: time.Hour + time.Millisecond})
			return err
		}},
		{"NegativeWait", "wait_ms", func(ctx context.Context) error {
			_, err := s.e.Acquire(ctx, ok, lockd.AcquireOptions{Owner: "a", Wait: -time.Millisecond})
			return err
		}},
		{"MetadataNotObject", "metadata", func(ctx context.Context) error {
			_, err := s.e.Acquire(ctx, ok, lockd.AcquireOptions{Owner: "a", Metadata: json.RawMessage(`[1]`)})
			return err
		}},
		{"MetadataTooBig", "metadata", func(ctx context.Context) error {
			big := `{"x":"` + strings.Repeat("y", lockd.MaxMetadataLen) + `"}`
			_, err := s.e.Acquire(ctx, ok, lockd.AcquireOptions{Owner: "a", Metadata: json.RawMessage(big)})
			return err
		}},
		{"ExtendBadLease", "lease", func(ctx context.Context) error {
			_, err := s.e.Extend(ctx, ok, "nope", time.Second)
			return err
		}},
		{"ShortLease", "lease", func(ctx context.Context) error {
			_, err := s.e.Acquire(ctx, ok, lockd.AcquireOptions{Owner: "a", Lease: lease[:31]})
			return err
		}},
		{"UppercaseLease", "lease", func(ctx context.Context) error {
			_, err := s.e.Acquire(ctx, ok, lockd.AcquireOptions{Owner: "a", Lease: strings.ToUpper(lease)})
			return err
		}},
		{"LongLease", "lease", func(ctx context.Context) error {
			_, err := s.e.Acquire(ctx, ok, lockd.AcquireOptions{Owner: "a", Lease: lease + lease + "0"})
			return err
		}},
		{"ExtendBadTTL", "ttl_ms", func(ctx context.Context) error {
			_, err := s.e.Extend(ctx, ok, lease, 50*time.Millisecond)
			return err
		}},
		{"ReleaseBadLease", "lease", func(ctx context.Context) error {
			_, err := s.e.Release(ctx, ok, "")
			return err
		}},
		{"ReleaseByOwnerNoOwner", "owner", func(ctx context.Context) error {
			_, err := s.e.ReleaseByOwner(ctx, ok, "")
			return err
		}},
		{"InspectBadName", "name", func(ctx context.Context) error {
			_, err := s.e.Inspect(ctx, "..")
			return err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.call(ctxFor(t))
			var ae *lockd.ArgumentError
			if !errors.Is(err, lockd.ErrInvalidArgument) || !errors.As(err, &ae) {
				t.Fatalf("got %v, want *ArgumentError", err)
			}
			if ae.Field != c.field {
				t.Errorf("got field %q, want %q", ae.Field, c.field)
			}
		})
	}
	if info, err := s.e.Inspect(ctxFor(t), ok); err != nil || info.Held {
		t.Errorf("bad input changed state: %+v, %v", info, err)
	}
}

func (s *suite) health(t *testing.T) {
	h := s.e.Health(ctxFor(t))
	if !h.Ready || len(h.Nodes) == 0 {
		t.Fatalf("got %+v, want ready with nodes", h)
	}
	for _, n := range h.Nodes {
		if !n.OK || n.Addr == "" {
			t.Errorf("node %+v not OK", n)
		}
	}
}

// mutex runs Workers goroutines that each add Increments times to a plain
// int under the lock, and checks the total and that fences grow in the
// order holders enter.
func (s *suite) mutex(t *testing.T) {
	name := lockName(t)
	Exclusive(t, s.cfg.Workers, s.cfg.Increments, 4*testTimeout, func(ctx context.Context, critical func(int64)) error {
		l, err := s.e.Acquire(ctx, name, lockd.AcquireOptions{Owner: "worker", TTL: 10 * time.Second, Wait: 20 * time.Second})
		if err != nil {
			return fmt.Errorf("Acquire: %w", err)
		}
		critical(l.Fence)
		if _, err := s.e.Release(ctx, name, l.ID); err != nil {
			return fmt.Errorf("Release: %w", err)
		}
		return nil
	})
}
