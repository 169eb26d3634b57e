package mongostore

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/testenv/mongoenv"
)

// journalEvent returns event i of a test sequence. Two events share each
// millisecond, so History's order also rests on the _id tie-break.
func journalEvent(name string, base time.Time, i int) lockd.Event {
	return lockd.Event{
		Kind: lockd.EventExtended, Name: name, Owner: fmt.Sprintf("owner-%d", i),
		LeaseID: "0123456789abcdef0123456789abcdef", Fence: int64(i),
		At: base.Add(time.Duration(i/2) * time.Millisecond), ExpiresAt: base.Add(time.Hour),
	}
}

// TestJournalOutage records events while the server is away for a while:
// Record returns at once, the queue holds them, and after the server is
// back every event is written once and in order.
func TestJournalOutage(t *testing.T) {
	const n = 200
	m := mongoenv.Start(t)
	s, _ := newStore(t, m, WithQueueSize(n), WithOpTimeout(500*time.Millisecond))
	base := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	for i := range n / 2 {
		s.Record(ctxFor(t), journalEvent("outage", base, i))
	}

	m.Stop()
	for i := n / 2; i < n; i++ {
		s.Record(ctxFor(t), journalEvent("outage", base, i))
	}
	time.Sleep(500 * time.Millisecond) // the server stays away a while
	m.Start()
	closeStore(t, s)
	if got := s.Dropped(); got != 0 {
		t.Errorf("got Dropped() = %d, want 0", got)
	}
	db := rawDB(t, m)
	if got := countEvents(t, db, bson.D{{Key: "name", Value: "outage"}}); got != n {
		t.Errorf("got %d events in %s, want %d", got, eventsCollection, n)
	}

	reader, _ := newStore(t, m)
	t.Run("History/All", func(t *testing.T) {
		got, err := reader.History(ctxFor(t), "outage", lockd.MaxHistoryLimit)
		if err != nil {
			t.Fatalf("History: %v", err)
		}
		if len(got) != n {
			t.Fatalf("got %d events, want %d", len(got), n)
		}
		for j, ev := range got {
			want := journalEvent("outage", base, n-1-j)
			want.Instance = "test"
			if !eventsEqual(ev, want) {
				t.Fatalf("event %d: got %+v, want %+v", j, ev, want)
			}
		}
	})
	t.Run("History/Limit", func(t *testing.T) {
		got, err := reader.History(ctxFor(t), "outage", 7)
		if err != nil {
			t.Fatalf("History: %v", err)
		}
		if len(got) != 7 || got[0].Fence != n-1 || got[6].Fence != n-7 {
			t.Errorf("got %d events from fence %d, want 7 from %d down to %d", len(got), firstFence(got), n-1, n-7)
		}
	})
	t.Run("History/Unknown", func(t *testing.T) {
		got, err := reader.History(ctxFor(t), "never-used", 10)
		if err != nil || len(got) != 0 {
			t.Errorf("got %v, %v; want no events", got, err)
		}
	})
}

func TestHistoryArgumentError(t *testing.T) {
	m := mongoenv.Start(t)
	s, _ := newStore(t, m)
	tests := []struct {
		name  string
		lock  string
		limit int
		field string
	}{
		{"LimitZero", "ok", 0, "limit"},
		{"LimitNegative", "ok", -1, "limit"},
		{"LimitTooLarge", "ok", lockd.MaxHistoryLimit + 1, "limit"},
		{"NameEmpty", "", 10, "name"},
		{"NameBad", "a/b", 10, "name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.History(ctxFor(t), tt.lock, tt.limit)
			var ae *lockd.ArgumentError
			if !errors.As(err, &ae) || ae.Field != tt.field || !errors.Is(err, lockd.ErrInvalidArgument) {
				t.Errorf("History(%q, %d): got %v, want *lockd.ArgumentError for %q", tt.lock, tt.limit, err, tt.field)
			}
		})
	}
	for _, limit := range []int{1, lockd.MaxHistoryLimit} {
		t.Run(fmt.Sprintf("Limit%d", limit), func(t *testing.T) {
			if _, err := s.History(ctxFor(t), "ok", limit); err != nil {
				t.Errorf("History(limit %d): got %v, want nil", limit, err)
			}
		})
	}
}

// TestLockRecord follows one lock record through mint, extend, release
// and a second grant.
func TestLockRecord(t *testing.T) {
	m := mongoenv.Start(t)
	s, _ := newStore(t, m)
	db := rawDB(t, m)
	type record struct {
		Fence      int64      `bson:"fence"`
		Owner      string     `bson:"owner"`
		Lease      string     `bson:"lease"`
		AcquiredAt time.Time  `bson:"acquired_at"`
		ExpiresAt  time.Time  `bson:"expires_at"`
		ReleasedAt *time.Time `bson:"released_at"`
		Metadata   bson.Raw   `bson:"metadata"`
	}
	read := func(t *testing.T) record {
		t.Helper()
		var r record
		if err := db.Collection(locksCollection).FindOne(ctxFor(t), bson.D{{Key: "_id", Value: "rec"}}).Decode(&r); err != nil {
			t.Fatalf("read lock record: %v", err)
		}
		return r
	}
	// flush returns once the writer has applied every event recorded so
	// far to the lock records: it records a marker and waits for it to be
	// written, twice, since the first marker may share a batch (inserted
	// before the batch's record updates) with the events before it.
	syncs := 0
	flush := func(t *testing.T) {
		t.Helper()
		for range 2 {
			syncs++
			owner := fmt.Sprintf("sync-%d", syncs)
			s.Record(ctxFor(t), lockd.Event{Kind: lockd.EventDenied, Name: "rec-sync", Owner: owner})
			deadline := time.Now().Add(10 * time.Second)
			for countEvents(t, db, bson.D{{Key: "owner", Value: owner}}) == 0 {
				if time.Now().After(deadline) {
					t.Fatalf("the journal writer did not write %s within 10s", owner)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}

	a := withMetadata(testLease("rec", "alice"), `{"job":"nightly","n":3}`)
	fa, err := s.MintFence(ctxFor(t), a)
	if err != nil {
		t.Fatalf("MintFence: %v", err)
	}
	t.Run("Minted", func(t *testing.T) {
		r := read(t)
		var md struct {
			Job string `bson:"job"`
			N   int64  `bson:"n"`
		}
		if err := bson.Unmarshal(r.Metadata, &md); err != nil {
			t.Fatalf("metadata: %v", err)
		}
		if r.Fence != fa || r.Owner != "alice" || r.Lease != a.ID || r.ReleasedAt != nil ||
			!r.ExpiresAt.Equal(a.ExpiresAt.Truncate(time.Millisecond)) || md.Job != "nightly" || md.N != 3 {
			t.Errorf("got %+v (metadata %+v), want fence %d held by alice's lease with its metadata", r, md, fa)
		}
	})

	extended := a.ExpiresAt.Add(time.Minute).Truncate(time.Millisecond)
	s.Record(ctxFor(t), lockd.Event{Kind: lockd.EventAcquired, Name: "rec", Owner: "alice", LeaseID: a.ID, Fence: fa, ExpiresAt: a.ExpiresAt})
	s.Record(ctxFor(t), lockd.Event{Kind: lockd.EventExtended, Name: "rec", Owner: "alice", LeaseID: a.ID, Fence: fa, ExpiresAt: extended})
	s.Record(ctxFor(t), lockd.Event{Kind: lockd.EventExtended, Name: "rec", Owner: "mallory", LeaseID: lockd.NewLeaseID(), ExpiresAt: extended.Add(time.Hour)})
	releasedAt := time.Now().Truncate(time.Millisecond)
	s.Record(ctxFor(t), lockd.Event{Kind: lockd.EventReleased, Name: "rec", Owner: "alice", LeaseID: a.ID, Fence: fa, At: releasedAt})
	s.Record(ctxFor(t), lockd.Event{Kind: lockd.EventLost, Name: "rec", Owner: "alice", LeaseID: a.ID, Fence: fa, At: releasedAt.Add(time.Second)})
	flush(t)
	t.Run("ExtendedReleased", func(t *testing.T) {
		r := read(t)
		if !r.ExpiresAt.Equal(extended) {
			t.Errorf("got expires_at %v, want %v (the extend; another lease's event must not count)", r.ExpiresAt, extended)
		}
		if r.ReleasedAt == nil || !r.ReleasedAt.Equal(releasedAt) {
			t.Errorf("got released_at %v, want %v (the first end; a later one must not move it)", r.ReleasedAt, releasedAt)
		}
	})

	b := testLease("rec", "bob")
	fb, err := s.MintFence(ctxFor(t), b)
	if err != nil {
		t.Fatalf("MintFence: %v", err)
	}
	t.Run("Regranted", func(t *testing.T) {
		r := read(t)
		if fb != fa+1 || r.Fence != fb || r.Owner != "bob" || r.Lease != b.ID || r.ReleasedAt != nil || r.Metadata != nil {
			t.Errorf("got fence %d and %+v, want fence %d held by bob's lease, not released, no metadata", fb, r, fa+1)
		}
	})
	t.Run("LateEventOfOldLease", func(t *testing.T) {
		s.Record(ctxFor(t), lockd.Event{Kind: lockd.EventExpired, Name: "rec", Owner: "alice", LeaseID: a.ID, Fence: fa})
		flush(t)
		if r := read(t); r.ReleasedAt != nil || r.Lease != b.ID {
			t.Errorf("got %+v, want bob's record untouched by alice's late event", r)
		}
	})
	// A release by owner knows the fence it deleted, not the lease.
	t.Run("ReleasedByOwner/OldFence", func(t *testing.T) {
		s.Record(ctxFor(t), lockd.Event{Kind: lockd.EventReleased, Name: "rec", Owner: "bob", Fence: fa})
		flush(t)
		if r := read(t); r.ReleasedAt != nil || r.Fence != fb {
			t.Errorf("got %+v, want bob's record (fence %d) untouched by a release of fence %d", r, fb, fa)
		}
	})
	t.Run("ReleasedByOwner", func(t *testing.T) {
		at := time.Now().Truncate(time.Millisecond)
		s.Record(ctxFor(t), lockd.Event{Kind: lockd.EventReleased, Name: "rec", Owner: "bob", Fence: fb, At: at})
		flush(t)
		if r := read(t); r.ReleasedAt == nil || !r.ReleasedAt.Equal(at) {
			t.Errorf("got released_at %v, want %v", r.ReleasedAt, at)
		}
	})
}

func eventsEqual(a, b lockd.Event) bool {
	return a.Kind == b.Kind && a.Name == b.Name && a.Owner == b.Owner && a.LeaseID == b.LeaseID &&
		a.Fence == b.Fence && a.Instance == b.Instance && a.Holder == b.Holder &&
		a.At.Equal(b.At) && a.ExpiresAt.Equal(b.ExpiresAt.Truncate(time.Millisecond))
}

func firstFence(evs []lockd.Event) int64 {
	if len(evs) == 0 {
		return -1
	}
	return evs[0].Fence
}

// TestEventsAsRecorded: the journal writes events as the engine reported
// them and reads nothing back. A release carries the owner and fence the
// engine deleted; a lost or expired event, for which the engine cannot know
// them, carries the lease only, even when the lease's acquire is in the
// journal.
func TestEventsAsRecorded(t *testing.T) {
	m := mongoenv.Start(t)
	s, _ := newStore(t, m)
	db := rawDB(t, m)
	acquired := lockd.NewLeaseID()
	s.Record(ctxFor(t), lockd.Event{Kind: lockd.EventAcquired, Name: "asis", Owner: "early", LeaseID: acquired, Fence: 7})
	deadline := time.Now().Add(10 * time.Second)
	for countEvents(t, db, bson.D{{Key: "lease", Value: acquired}}) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("acquire event not written within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	tests := []struct {
		name string
		ev   lockd.Event
	}{
		{"Released", lockd.Event{Kind: lockd.EventReleased, Name: "asis", Owner: "late", LeaseID: lockd.NewLeaseID(), Fence: 8}},
		{"ReleasedByOwner", lockd.Event{Kind: lockd.EventReleased, Name: "asis", Owner: "front-7", Fence: 9}},
		{"Lost", lockd.Event{Kind: lockd.EventLost, Name: "asis", LeaseID: acquired}},
		{"Expired", lockd.Event{Kind: lockd.EventExpired, Name: "asis", LeaseID: acquired}},
	}
	base := time.Now().Truncate(time.Millisecond)
	for i := range tests {
		tests[i].ev.At = base.Add(time.Duration(i) * time.Millisecond)
		tests[i].ev.Instance = "test"
		s.Record(ctxFor(t), tests[i].ev)
	}
	closeStore(t, s)
	reader, _ := newStore(t, m)
	evs, err := reader.History(ctxFor(t), "asis", 10)
	if err != nil {
		t.Fatalf("History: %v", err)
	}
	if len(evs) != len(tests)+1 {
		t.Fatalf("got %d events %+v, want %d", len(evs), evs, len(tests)+1)
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := evs[len(tests)-1-i]; !eventsEqual(got, tt.ev) {
				t.Errorf("got %+v, want %+v", got, tt.ev)
			}
		})
	}
}
