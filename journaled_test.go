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

// wantEvent is what a test expects of one recorded event.
type wantEvent struct {
	kind         lockd.EventKind
	owner, lease string
	fence        int64
	holder       string
}

// checkEvents compares the recorded events of lock name with want.
func checkEvents(t *testing.T, got []lockd.Event, name string, want []wantEvent) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d events %+v, want %d %+v", len(got), got, len(want), want)
	}
	for i, w := range want {
		g := got[i]
		if g.Kind != w.kind || g.Owner != w.owner || g.LeaseID != w.lease || g.Fence != w.fence || g.Holder != w.holder ||
			g.Instance != "lockd-1" || g.Name != name || g.At.IsZero() {
			t.Errorf("event %d: got %+v, want %+v on %q by lockd-1 with a time", i, g, w, name)
		}
	}
}

// TestJournaled runs every outcome of every call once: releases are
// journaled with the owner and fence the engine reports, and calls that
// decided nothing are not events.
func TestJournaled(t *testing.T) {
	rec := &locktest.Journal{}
	e := lockd.Journaled(memlock.New(), rec, "lockd-1")
	defer e.Close()
	ctx := context.Background()
	a, err := e.Acquire(ctx, "j", lockd.AcquireOptions{Owner: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Acquire(ctx, "j", lockd.AcquireOptions{Owner: "b"}); !errors.Is(err, lockd.ErrNotObtained) {
		t.Fatalf("Acquire by b: got %v, want ErrNotObtained", err)
	}
	if _, err := e.Extend(ctx, "j", a.ID, time.Second); err != nil {
		t.Fatal(err)
	}
	r, err := e.Release(ctx, "j", a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := (lockd.Released{Name: "j", Owner: "a", Fence: a.Fence}); r != want {
		t.Errorf("Release: got %+v, want %+v", r, want)
	}
	if _, err := e.Release(ctx, "j", a.ID); !errors.Is(err, lockd.ErrNotHeld) {
		t.Fatalf("second Release: got %v, want ErrNotHeld", err)
	}
	if _, err := e.Extend(ctx, "j", a.ID, time.Second); !errors.Is(err, lockd.ErrLost) {
		t.Fatalf("Extend after Release: got %v, want ErrLost", err)
	}
	if _, err := e.Acquire(ctx, "bad name", lockd.AcquireOptions{Owner: "a"}); !errors.Is(err, lockd.ErrInvalidArgument) {
		t.Fatalf("Acquire of a bad name: got %v, want ErrInvalidArgument", err)
	}
	checkEvents(t, rec.Events(), "j", []wantEvent{
		{lockd.EventAcquired, "a", a.ID, a.Fence, ""},
		{lockd.EventDenied, "b", "", 0, "a"},
		{lockd.EventExtended, "a", a.ID, a.Fence, ""},
		{lockd.EventReleased, "a", a.ID, a.Fence, ""},
		{lockd.EventLost, "", a.ID, 0, ""},
		{lockd.EventExpired, "", a.ID, 0, ""},
	})
}

// TestJournaledReleaseByOwner: a release by owner is journaled as released
// with the owner and fence of the lock it deleted; one the engine refuses
// changed nothing and journals nothing.
func TestJournaledReleaseByOwner(t *testing.T) {
	tests := []struct {
		name    string
		byOwner bool   // the lock is acquired with ReleaseByOwner
		owner   string // who asks to release it
		wantErr error
	}{
		{"OK", true, "front-7", nil},
		{"ErrNotHeld/OtherOwner", true, "front-8", lockd.ErrNotHeld},
		{"ErrNotHeld/AcquiredWithoutByOwner", false, "front-7", lockd.ErrNotHeld},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &locktest.Journal{}
			e := lockd.Journaled(memlock.New(), rec, "lockd-1")
			defer e.Close()
			ctx := context.Background()
			l, err := e.Acquire(ctx, "acct-42", lockd.AcquireOptions{Owner: "front-7", ReleaseByOwner: tt.byOwner})
			if err != nil {
				t.Fatal(err)
			}
			r, err := e.ReleaseByOwner(ctx, "acct-42", tt.owner)
			want := []wantEvent{{lockd.EventAcquired, "front-7", l.ID, l.Fence, ""}}
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("ReleaseByOwner: got %v, want nil", err)
				}
				if w := (lockd.Released{Name: "acct-42", Owner: "front-7", Fence: l.Fence}); r != w {
					t.Errorf("ReleaseByOwner: got %+v, want %+v", r, w)
				}
				want = append(want, wantEvent{lockd.EventReleased, "front-7", "", l.Fence, ""})
			} else if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ReleaseByOwner: got %v, want %v", err, tt.wantErr)
			}
			checkEvents(t, rec.Events(), "acct-42", want)
		})
	}
	t.Run("ErrNotHeld/Free", func(t *testing.T) {
		rec := &locktest.Journal{}
		e := lockd.Journaled(memlock.New(), rec, "lockd-1")
		defer e.Close()
		if _, err := e.ReleaseByOwner(context.Background(), "acct-42", "front-7"); !errors.Is(err, lockd.ErrNotHeld) {
			t.Fatalf("ReleaseByOwner of a free lock: got %v, want ErrNotHeld", err)
		}
		checkEvents(t, rec.Events(), "acct-42", nil)
	})
}
