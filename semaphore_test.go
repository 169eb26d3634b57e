package lockd_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/locktest"
	"github.com/lockd/lockd/memlock"
)

// plainEngine is an engine without semaphores.
type plainEngine struct{ lockd.Engine }

// TestJournaledSemaphores: the journaled engine serves its engine's
// permits, records nothing for them, and says ErrNotConfigured over an
// engine without semaphores.
func TestJournaledSemaphores(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rec := &locktest.Journal{}
	e := lockd.Journaled(memlock.New(), rec, "lockd-1")
	defer e.Close()
	sem, err := lockd.AsSemaphores(e)
	if err != nil {
		t.Fatal(err)
	}
	l, err := sem.AcquirePermit(ctx, "pool", 1, lockd.AcquireOptions{Owner: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sem.AcquirePermit(ctx, "pool", 1, lockd.AcquireOptions{Owner: "b"}); !errors.Is(err, lockd.ErrNotObtained) {
		t.Errorf("second permit of 1: got %v, want ErrNotObtained", err)
	}
	if _, err := sem.ExtendPermit(ctx, "pool", l.ID, 0); err != nil {
		t.Errorf("ExtendPermit: %v", err)
	}
	if info, err := sem.InspectSemaphore(ctx, "pool"); err != nil || len(info.Permits) != 1 {
		t.Errorf("InspectSemaphore: got %+v, %v", info, err)
	}
	if _, err := sem.ReleasePermit(ctx, "pool", l.ID); err != nil {
		t.Errorf("ReleasePermit: %v", err)
	}
	if evs, _ := rec.History(ctx, "pool", 100); len(evs) != 0 {
		t.Errorf("permits were journaled: %+v", evs)
	}

	plain := lockd.Journaled(plainEngine{memlock.New()}, rec, "lockd-1")
	defer plain.Close()
	sem, err = lockd.AsSemaphores(plain)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sem.AcquirePermit(ctx, "pool", 1, lockd.AcquireOptions{Owner: "a"}); !errors.Is(err, lockd.ErrNotConfigured) {
		t.Errorf("over an engine without semaphores: got %v, want ErrNotConfigured", err)
	}
	if _, err := lockd.AsSemaphores(plainEngine{memlock.New()}); !errors.Is(err, lockd.ErrNotConfigured) {
		t.Errorf("AsSemaphores of a plain engine: got %v, want ErrNotConfigured", err)
	}
}

func TestValidateLimit(t *testing.T) {
	for _, tt := range []struct {
		limit int
		ok    bool
	}{{1, true}, {lockd.MaxLimit, true}, {0, false}, {-1, false}, {lockd.MaxLimit + 1, false}} {
		err := lockd.ValidateLimit(tt.limit)
		var ae *lockd.ArgumentError
		if tt.ok != (err == nil) || !tt.ok && (!errors.As(err, &ae) || ae.Field != "limit") {
			t.Errorf("ValidateLimit(%d) = %v, want ok %v or an ArgumentError on limit", tt.limit, err, tt.ok)
		}
	}
	err := &lockd.LimitConflictError{Name: "x", Limit: 2, Asked: 3}
	if !errors.Is(err, lockd.ErrLimitConflict) || lockd.ErrorCode(err) != lockd.CodeLimitConflict || lockd.CodeError(lockd.CodeLimitConflict) != lockd.ErrLimitConflict {
		t.Errorf("LimitConflictError does not map to %s both ways", lockd.CodeLimitConflict)
	}
}
