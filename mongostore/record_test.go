package mongostore

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/syncbuf"
	"github.com/lockd/lockd/internal/testenv/mongoenv"
	"github.com/lockd/lockd/memlock"
)

// fullStore returns a Store with a queue of one whose server is stopped:
// its writer holds one event it cannot write, one event waits in the
// queue, and a third event found no room. Each Record gets a context of its
// own that ends soon, so that a Record that waits for room cannot hang the
// test.
func fullStore(t *testing.T) (*Store, *syncbuf.Buffer) {
	t.Helper()
	m := mongoenv.Start(t)
	s, logs := newStore(t, m, WithQueueSize(1), WithOpTimeout(200*time.Millisecond))
	t.Cleanup(func() { closeQuickly(s) })
	m.Stop()
	base := time.Now()
	record := func(i int) {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		s.Record(ctx, journalEvent("full", base, i))
	}
	record(0)
	// Once the writer has failed to write the event, it retries that
	// batch for as long as the server is away and takes no more.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "journal write failed") {
		if time.Now().After(deadline) {
			t.Fatalf("the journal writer did not fail to write within 10s:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	record(1)
	record(2)
	if got := s.Dropped(); got != 1 {
		t.Fatalf("3 events recorded into a queue of one with the writer stuck: got Dropped() = %d, want 1", got)
	}
	return s, logs
}

// closeQuickly closes s without waiting for a stopped server to come back.
func closeQuickly(s *Store) error {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	return s.Close(ctx)
}

// TestRecordNeverWaits: with the queue full, Record drops and counts the
// event and returns at once, and a grant through Journaled comes back with
// its validity left, not after the journal gave up on it.
func TestRecordNeverWaits(t *testing.T) {
	// Record used to wait for room until its context ended: far longer
	// than this, on any machine.
	const quick = 100 * time.Millisecond

	t.Run("Record", func(t *testing.T) {
		s, _ := fullStore(t)
		before := s.Dropped()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		s.Record(ctx, journalEvent("full", time.Now(), 99))
		if took := time.Since(start); took > quick {
			t.Errorf("Record with a full queue took %v, want under %v", took, quick)
		}
		if got := s.Dropped(); got != before+1 {
			t.Errorf("got Dropped() = %d, want %d", got, before+1)
		}
	})

	t.Run("Journaled", func(t *testing.T) {
		const ttl = 500 * time.Millisecond
		s, _ := fullStore(t)
		e := lockd.Journaled(memlock.New(), s, "test")
		defer e.Close()
		before := s.Dropped()
		type result struct {
			l   lockd.Lease
			err error
		}
		done := make(chan result, 1)
		start := time.Now()
		go func() {
			l, err := e.Acquire(ctxFor(t), "grant", lockd.AcquireOptions{Owner: "a", TTL: ttl})
			done <- result{l, err}
		}()
		var r result
		select {
		case r = <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Acquire still waiting for the journal after 5s") // the store's Close ends the wait
		}
		took := time.Since(start)
		if r.err != nil {
			t.Fatalf("Acquire: %v", r.err)
		}
		if took > quick {
			t.Errorf("Acquire with a full journal queue took %v, want under %v", took, quick)
		}
		if left := time.Until(r.l.ExpiresAt); left < ttl-quick {
			t.Errorf("the lease came back with %v of its %v left, want at least %v", left, ttl, ttl-quick)
		}
		if got := s.Dropped(); got != before+1 {
			t.Errorf("got Dropped() = %d, want %d (the acquired event)", got, before+1)
		}
	})
}

// dropLine matches the rate-limited log lines of events Record dropped.
var dropLine = regexp.MustCompile(`msg="mongostore: journal events dropped".* dropped=(\d+)`)

// droppedLines returns the rate-limited lines in logs and the number of
// events they report in all.
func droppedLines(logs *syncbuf.Buffer) (lines int, events int64) {
	for _, line := range strings.Split(logs.String(), "\n") {
		if m := dropLine.FindStringSubmatch(line); m != nil {
			n, _ := strconv.ParseInt(m[1], 10, 64)
			lines++
			events += n
		}
	}
	return lines, events
}

// waitDroppedLogged waits, within a deadline, until the rate-limited lines
// report want events.
func waitDroppedLogged(t *testing.T, logs *syncbuf.Buffer, want int64) {
	t.Helper()
	deadline := time.Now().Add(5 * dropLogInterval)
	for {
		_, got := droppedLines(logs)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log reports %d dropped events after %v, want %d:\n%s", got, 5*dropLogInterval, want, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRecordDropLog floods a full queue: every event is counted, the log
// gets one line a second, not one per event, and the lines add up to every
// event dropped.
func TestRecordDropLog(t *testing.T) {
	const flood = 1000
	s, logs := fullStore(t)
	before := s.Dropped()
	// An ended context: a Record that waits for room would drop at once
	// too, so this test is only about what reaches the log.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	errorsBefore := strings.Count(logs.String(), "level=ERROR")
	start := time.Now()
	for i := range flood {
		s.Record(ctx, journalEvent("flood", start, i))
	}
	took := time.Since(start)
	if got := s.Dropped(); got != before+flood {
		t.Errorf("got Dropped() = %d, want %d", got, before+flood)
	}
	lines := strings.Count(logs.String(), "level=ERROR") - errorsBefore
	if most := 1 + int(took/dropLogInterval); lines > most {
		t.Errorf("%d events dropped in %v wrote %d log lines, want at most %d", flood, took, lines, most)
	}
	waitDroppedLogged(t, logs, s.Dropped())
	if lines, _ := droppedLines(logs); lines > 3 {
		t.Errorf("got %d log lines for %d dropped events, want one a second", lines, s.Dropped())
	}
}

// TestJournalDropped: an event that finds no room is counted and logged
// with its content, Close, unable to flush, counts and logs the rest, and
// an event recorded after Close is counted and logged too.
func TestJournalDropped(t *testing.T) {
	s, logs := fullStore(t)
	recorded := s.Dropped() // fullStore stopped at the first drop
	if recorded != 1 {
		t.Fatalf("got Dropped() = %d, want 1", recorded)
	}
	out := logs.String()
	if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "owner=owner-") || !strings.Contains(out, "fence=") {
		t.Errorf("got log %q, want an Error line with the dropped event's content", out)
	}
	if strings.Contains(out, "lease=") {
		t.Errorf("got log %q, want no lease values: they prove ownership", out)
	}

	err := closeQuickly(s)
	if !errors.Is(err, lockd.ErrStoreUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close with the server away: got %v, want ErrStoreUnavailable joined with DeadlineExceeded", err)
	}
	abandoned := strings.Count(logs.String(), "journal event not written")
	if abandoned == 0 {
		t.Errorf("Close left events unwritten but logged none of them:\n%s", logs.String())
	}
	if got := s.Dropped(); got != recorded+int64(abandoned) {
		t.Errorf("after Close: got Dropped() = %d, want %d (1 dropped by Record, %d logged by Close)", got, recorded+int64(abandoned), abandoned)
	}

	before := s.Dropped()
	s.Record(ctxFor(t), journalEvent("dropped", time.Now(), 99))
	if got := s.Dropped(); got != before+1 {
		t.Errorf("Record after Close: got Dropped() = %d, want %d", got, before+1)
	}
	waitDroppedLogged(t, logs, 2) // the first drop and this one
	if err2 := closeQuickly(s); err2 != err {
		t.Errorf("second Close: got %v, want the first result %v", err2, err)
	}
}
