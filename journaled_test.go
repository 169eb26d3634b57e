package lockd_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/memlock"
)

// recorder is a Journal that keeps events in memory, for checking what the
// decorator records.
type recorder struct {
	mu     sync.Mutex
	events []lockd.Event
}

func (r *recorder) Record(ctx context.Context, ev lockd.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}

func (r *recorder) History(ctx context.Context, name string, limit int) ([]lockd.Event, error) {
	return nil, errors.New("not used")
}

func TestJournaled(t *testing.T) {
	rec := &recorder{}
	e := lockd.Journaled(memlock.New(), rec, "lockd-1")
	defer e.Close()
	ctx := context.Background()
	a, err := e.Acquire(ctx, "j", lockd.AcquireOptions{Owner: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Acquire(ctx, "j", lockd.AcquireOptions{Owner: "b"}); !errors.Is(err, lockd.ErrNotObtained) {
		t.Fatalf("got %v, want ErrNotObtained", err)
	}
	if _, err := e.Extend(ctx, "j", a.ID, time.Second); err != nil {
		t.Fatal(err)
	}
	if err := e.Release(ctx, "j", a.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.Release(ctx, "j", a.ID); !errors.Is(err, lockd.ErrNotHeld) {
		t.Fatalf("got %v, want ErrNotHeld", err)
	}
	if _, err := e.Extend(ctx, "j", a.ID, time.Second); !errors.Is(err, lockd.ErrLost) {
		t.Fatalf("got %v, want ErrLost", err)
	}
	if _, err := e.Acquire(ctx, "bad name", lockd.AcquireOptions{Owner: "a"}); !errors.Is(err, lockd.ErrInvalidArgument) {
		t.Fatalf("got %v, want ErrInvalidArgument", err)
	}
	want := []struct {
		kind         lockd.EventKind
		owner, lease string
		fence        int64
		holder       string
	}{
		{lockd.EventAcquired, "a", a.ID, a.Fence, ""},
		{lockd.EventDenied, "b", "", 0, "a"},
		{lockd.EventExtended, "a", a.ID, a.Fence, ""},
		{lockd.EventReleased, "", a.ID, 0, ""},
		{lockd.EventLost, "", a.ID, 0, ""},
		{lockd.EventExpired, "", a.ID, 0, ""},
	}
	if len(rec.events) != len(want) {
		t.Fatalf("got %d events %+v, want %d", len(rec.events), rec.events, len(want))
	}
	for i, w := range want {
		got := rec.events[i]
		if got.Kind != w.kind || got.Owner != w.owner || got.LeaseID != w.lease || got.Fence != w.fence || got.Holder != w.holder || got.Instance != "lockd-1" || got.Name != "j" || got.At.IsZero() {
			t.Errorf("event %d: got %+v, want %+v", i, got, w)
		}
	}
}
