package mongostore

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/lockd/lockd"
)

// dropLogInterval is the least time between two log lines about events
// that Record dropped, so that a flood of them cannot flood the log.
const dropLogInterval = time.Second

// errQueueFull is why Record drops an event when the queue has no room.
var errQueueFull = errors.New("mongostore: journal queue full")

// dropLog rate-limits the log lines of events Record dropped: the first
// drop after a quiet interval is logged at once, with its content; later
// ones are counted into one line per interval.
type dropLog struct {
	mu      sync.Mutex
	last    time.Time   // when the last line was written
	pending int64       // events dropped since then and not yet logged
	timer   *time.Timer // logs pending at the end of the interval; nil when not armed
	gen     int         // tells the armed timer from one that Close superseded
}

// Record queues ev for the journal writer and returns at once: it never
// waits, so the lock path never waits for MongoDB. An event without At
// gets the current time and one without Instance gets the Store's; ctx is
// not used. An event that cannot be queued (the queue is full, or Close
// has begun) is dropped and counted by Dropped, and logged at Error: at
// most one line per second, the first with the event's content, the next
// with how many were dropped since the line before.
func (s *Store) Record(_ context.Context, ev lockd.Event) {
	if ev.At.IsZero() {
		ev.At = time.Now()
	}
	if ev.Instance == "" {
		ev.Instance = s.cfg.instance
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		s.dropRecorded(ev, errClosed)
		return
	}
	select {
	case s.queue <- ev:
	default:
		s.dropRecorded(ev, errQueueFull)
	}
}

// dropRecorded counts ev, which Record could not queue, and logs it
// unless a line was written less than dropLogInterval ago; then it is
// left for the line at the end of the interval.
func (s *Store) dropRecorded(ev lockd.Event, why error) {
	s.dropped.Add(1)
	dl := &s.drops
	dl.mu.Lock()
	if dl.timer == nil && time.Since(dl.last) >= dropLogInterval {
		dl.last = time.Now()
		dl.mu.Unlock()
		s.log.Error("mongostore: journal events dropped", append([]any{
			slog.Any("err", why), slog.Int64("dropped", 1), slog.Int("queue", cap(s.queue)),
		}, eventAttrs(ev)...)...)
		return
	}
	dl.pending++
	if dl.timer == nil {
		gen := dl.gen
		dl.timer = time.AfterFunc(dropLogInterval-time.Since(dl.last), func() { s.logDrops(gen) })
	}
	dl.mu.Unlock()
}

// logDrops writes the line of the events dropped since the last one, if
// any. The timer armed in generation gen calls it; a stale timer (Close
// already wrote its line) does nothing.
func (s *Store) logDrops(gen int) {
	dl := &s.drops
	dl.mu.Lock()
	if gen != dl.gen {
		dl.mu.Unlock()
		return
	}
	n := dl.pending
	dl.pending, dl.timer = 0, nil
	if n > 0 {
		dl.last = time.Now()
	}
	dl.mu.Unlock()
	if n > 0 {
		s.log.Error("mongostore: journal events dropped",
			slog.Int64("dropped", n), slog.Int64("dropped_total", s.Dropped()), slog.Int("queue", cap(s.queue)))
	}
}

// flushDrops writes the line of the events dropped since the last one now,
// instead of at the end of the interval. Close calls it.
func (s *Store) flushDrops() {
	dl := &s.drops
	dl.mu.Lock()
	if dl.timer != nil {
		dl.timer.Stop()
	}
	dl.gen++
	dl.timer = nil
	gen := dl.gen
	dl.mu.Unlock()
	s.logDrops(gen)
}

// drop counts ev as not written and logs it with its content, so that the
// journal can be completed from the log. The writer calls it for events it
// holds (rejected by MongoDB, or left when Close ended), which number at
// most the queue size.
func (s *Store) drop(ev lockd.Event, why error) {
	s.dropped.Add(1)
	s.log.Error("mongostore: journal event not written", append([]any{slog.Any("err", why)}, eventAttrs(ev)...)...)
}

// eventAttrs returns ev's content as log attributes, but for its lease
// value: that proves ownership of a lock that may still be held, and logs
// travel further than the journal (name and fence tell the grant).
func eventAttrs(ev lockd.Event) []any {
	return []any{
		slog.String("kind", string(ev.Kind)),
		slog.String("name", ev.Name),
		slog.String("owner", ev.Owner),
		slog.Int64("fence", ev.Fence),
		slog.String("instance", ev.Instance),
		slog.Time("at", ev.At),
		slog.Time("expires_at", ev.ExpiresAt),
		slog.String("holder", ev.Holder),
	}
}
