package locktest

import (
	"errors"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/minttest"
)

// permitMinter is RunMinter's check of permits: a new permit takes its
// fence from the minter and a retry does not mint; a failing or too slow
// mint fails the acquire closed (ErrStoreUnavailable) and leaves its place
// free.
func permitMinter(t *testing.T, e lockd.Engine, m *minttest.Minter) {
	sem, err := lockd.AsSemaphores(e)
	if err != nil {
		t.Skip(err)
	}
	s := &semSuite{suite: &suite{e: e}, sem: sem}
	t.Run("FenceFromMinter", func(t *testing.T) {
		name := lockName(t)
		a := s.mustPermit(t, name, 2, lockd.AcquireOptions{Owner: "a", TTL: 5 * time.Second})
		calls, last := m.Calls()
		if a.Fence < 1000 || last.ID != a.ID || last.Owner != "a" || last.Name != name {
			t.Fatalf("got fence %d, minted for %+v; want >= 1000 minted for this permit", a.Fence, last)
		}
		again := s.mustPermit(t, name, 2, lockd.AcquireOptions{Owner: "a", Lease: a.ID, TTL: 5 * time.Second})
		if n, _ := m.Calls(); n != calls || again.Fence != a.Fence {
			t.Errorf("retry: got fence %d after %d mints, want %d with no new mint", again.Fence, n-calls, a.Fence)
		}
		if x, err := s.sem.ExtendPermit(ctxFor(t), name, a.ID, 0); err != nil || x.Fence != a.Fence {
			t.Errorf("ExtendPermit: got %+v, %v; want fence %d", x, err, a.Fence)
		}
		info, err := s.sem.InspectSemaphore(ctxFor(t), name)
		if err != nil || len(info.Permits) != 1 || info.Permits[0].Fence != a.Fence {
			t.Errorf("InspectSemaphore: got %+v, %v; want a's permit with fence %d", info, err, a.Fence)
		}
		b := s.mustPermit(t, name, 2, lockd.AcquireOptions{Owner: "b", TTL: 5 * time.Second})
		if b.Fence <= a.Fence {
			t.Errorf("got fence %d after %d", b.Fence, a.Fence)
		}
	})
	failed := func(t *testing.T, ttl time.Duration) {
		t.Helper()
		name := lockName(t)
		_, err := s.sem.AcquirePermit(ctxFor(t), name, 1, lockd.AcquireOptions{Owner: "a", TTL: ttl})
		m.SetDown(false)
		m.SetDelay(0)
		if !errors.Is(err, lockd.ErrStoreUnavailable) {
			t.Fatalf("got %v, want ErrStoreUnavailable", err)
		}
		if info, err := s.sem.InspectSemaphore(ctxFor(t), name); err != nil || len(info.Permits) != 0 {
			t.Fatalf("after a failed mint: got %+v, %v; want no permit", info, err)
		}
		s.mustPermit(t, name, 1, lockd.AcquireOptions{Owner: "b", TTL: 5 * time.Second})
	}
	t.Run("ErrStoreUnavailable", func(t *testing.T) {
		m.SetDown(true)
		failed(t, 5*time.Second)
	})
	t.Run("MintPastValidity", func(t *testing.T) {
		m.SetDelay(time.Second)
		failed(t, 300*time.Millisecond)
	})
}
