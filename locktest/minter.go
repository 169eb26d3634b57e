package locktest

import (
	"errors"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/minttest"
)

// RunMinter checks an engine's use of a lockd.FenceMinter: new grants take
// their fence from it and a retried acquire (same lease) does not mint; a failing or too slow
// mint fails the acquire closed (ErrStoreUnavailable) and leaves the lock
// free. newEngine must build the engine over m.
func RunMinter(t *testing.T, newEngine func(t *testing.T, m lockd.FenceMinter) lockd.Engine) {
	t.Helper()
	m := minttest.New(1000)
	e := newEngine(t, m)
	t.Cleanup(func() { _ = e.Close() })
	s := &suite{e: e}

	t.Run("FenceFromMinter", func(t *testing.T) {
		name := lockName(t)
		a := s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "a", TTL: 5 * time.Second})
		calls, last := m.Calls()
		if a.Fence < 1000 || last.ID != a.ID || last.Owner != "a" || last.Name != name {
			t.Fatalf("got fence %d, minted for %+v; want >= 1000 minted for this lease", a.Fence, last)
		}
		again := s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "a", Lease: a.ID, TTL: 5 * time.Second})
		if n, _ := m.Calls(); n != calls || again.Fence != a.Fence {
			t.Errorf("re-acquire: got fence %d after %d mints, want %d with no new mint", again.Fence, n-calls, a.Fence)
		}
		info, err := s.e.Inspect(ctxFor(t), name)
		if err != nil || info.Fence != a.Fence {
			t.Errorf("Inspect: got %+v, %v; want fence %d", info, err, a.Fence)
		}
		x, err := s.e.Extend(ctxFor(t), name, a.ID, 5*time.Second)
		if err != nil || x.Fence != a.Fence {
			t.Errorf("Extend: got %+v, %v; want fence %d", x, err, a.Fence)
		}
		if _, err := s.e.Release(ctxFor(t), name, a.ID); err != nil {
			t.Fatal(err)
		}
		b := s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "b", TTL: 5 * time.Second})
		if b.Fence <= a.Fence {
			t.Errorf("got fence %d after %d", b.Fence, a.Fence)
		}
	})
	t.Run("ErrStoreUnavailable", func(t *testing.T) {
		name := lockName(t)
		m.SetDown(true)
		_, err := s.e.Acquire(ctxFor(t), name, lockd.AcquireOptions{Owner: "a", TTL: 5 * time.Second})
		m.SetDown(false)
		if !errors.Is(err, lockd.ErrStoreUnavailable) {
			t.Fatalf("got %v, want ErrStoreUnavailable", err)
		}
		if info, err := s.e.Inspect(ctxFor(t), name); err != nil || info.Held {
			t.Fatalf("after a failed mint: got %+v, %v; want the lock free", info, err)
		}
		s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "b", TTL: 5 * time.Second})
	})
	t.Run("Semaphore", func(t *testing.T) { permitMinter(t, e, m) })
	t.Run("Modes", func(t *testing.T) { modesMinter(t, s, m) })
	t.Run("MintPastValidity", func(t *testing.T) {
		name := lockName(t)
		m.SetDelay(time.Second)
		_, err := s.e.Acquire(ctxFor(t), name, lockd.AcquireOptions{Owner: "a", TTL: 300 * time.Millisecond})
		m.SetDelay(0)
		if !errors.Is(err, lockd.ErrStoreUnavailable) {
			t.Fatalf("got %v, want ErrStoreUnavailable", err)
		}
		if info, err := s.e.Inspect(ctxFor(t), name); err != nil || info.Held {
			t.Fatalf("after a slow mint: got %+v, %v; want the lock free", info, err)
		}
	})
}
