package lockd_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/memlock"
)

// bare is an Engine that offers nothing beyond Engine.
type bare struct{ lockd.Engine }

// TestPassthrough: a wrapper built on Passthrough offers what the engine it
// wraps offers, and answers ErrNotConfigured for what it does not.
func TestPassthrough(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m := memlock.New()
	defer m.Close()
	p := lockd.Passthrough{Engine: m}
	permit, err := p.AcquirePermit(ctx, "s", 1, lockd.AcquireOptions{Owner: "o"})
	if err != nil {
		t.Fatalf("AcquirePermit through: %v", err)
	}
	if _, err := p.ExtendPermit(ctx, "s", permit.ID, 0); err != nil {
		t.Errorf("ExtendPermit through: %v", err)
	}
	if info, err := p.InspectSemaphore(ctx, "s"); err != nil || len(info.Permits) != 1 {
		t.Errorf("InspectSemaphore through: %+v, %v", info, err)
	}
	if _, err := p.ReleasePermit(ctx, "s", permit.ID); err != nil {
		t.Errorf("ReleasePermit through: %v", err)
	}
	if _, err := m.Acquire(ctx, "l", lockd.AcquireOptions{Owner: "o"}); err != nil {
		t.Fatal(err)
	}
	if page, err := p.ListLocks(ctx, "", 0, ""); err != nil || len(page.Locks) != 1 {
		t.Errorf("ListLocks through: %+v, %v", page, err)
	}
	if r, err := p.ForceRelease(ctx, "l", "test"); err != nil || r.Owner != "o" {
		t.Errorf("ForceRelease through: %+v, %v", r, err)
	}

	none := lockd.Passthrough{Engine: bare{m}}
	for name, err := range map[string]error{
		"AcquirePermit": func() error { _, err := none.AcquirePermit(ctx, "s", 1, lockd.AcquireOptions{Owner: "o"}); return err }(),
		"ListLocks":     func() error { _, err := none.ListLocks(ctx, "", 0, ""); return err }(),
		"ForceRelease":  func() error { _, err := none.ForceRelease(ctx, "l", "test"); return err }(),
	} {
		if !errors.Is(err, lockd.ErrNotConfigured) {
			t.Errorf("%s over an engine without it: %v, want ErrNotConfigured", name, err)
		}
	}
}
