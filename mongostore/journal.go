package mongostore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/lockd/lockd"
)

// Journal writer tuning.
const (
	// maxBatch is the most events one insert carries.
	maxBatch = 500
	// minBackoff and maxBackoff bound the pause between attempts of a
	// batch while MongoDB is away; it doubles from one to the other.
	minBackoff = 50 * time.Millisecond
	maxBackoff = time.Second
	// warnEvery is how many failed attempts of one batch pass between
	// warnings, so that an outage logs a line now and then, not one per
	// attempt.
	warnEvery = 10
)

// eventDoc is a lock_events document. The writer gives every event its
// _id before the first attempt, so a retried insert of an event that was
// already written fails with a duplicate key instead of writing it twice,
// and _id orders events of one writer that share a millisecond.
type eventDoc struct {
	ID        bson.ObjectID `bson:"_id"`
	Kind      string        `bson:"kind"`
	Name      string        `bson:"name"`
	Owner     string        `bson:"owner"`
	Lease     string        `bson:"lease"`
	Fence     int64         `bson:"fence"`
	Instance  string        `bson:"instance"`
	At        time.Time     `bson:"at"`
	ExpiresAt time.Time     `bson:"expires_at,omitempty"`
	Holder    string        `bson:"holder,omitempty"`
	Reason    string        `bson:"reason,omitempty"`
}

func newEventDoc(ev lockd.Event) eventDoc {
	return eventDoc{
		ID:        bson.NewObjectID(),
		Kind:      string(ev.Kind),
		Name:      ev.Name,
		Owner:     ev.Owner,
		Lease:     ev.LeaseID,
		Fence:     ev.Fence,
		Instance:  ev.Instance,
		At:        ev.At,
		ExpiresAt: ev.ExpiresAt,
		Holder:    ev.Holder,
		Reason:    ev.Reason,
	}
}

func (d eventDoc) event() lockd.Event {
	return lockd.Event{
		Kind:      lockd.EventKind(d.Kind),
		Name:      d.Name,
		Owner:     d.Owner,
		LeaseID:   d.Lease,
		Fence:     d.Fence,
		Instance:  d.Instance,
		At:        d.At,
		ExpiresAt: d.ExpiresAt,
		Holder:    d.Holder,
		Reason:    d.Reason,
	}
}

// run is the journal writer: it takes events off the queue in order, in
// batches, and writes each batch until it succeeds. After Close it writes
// what is left and returns.
func (s *Store) run() {
	defer close(s.writerDone)
	var pruneTick <-chan time.Time
	if s.prune {
		s.pruneJournal()
		t := time.NewTicker(pruneInterval(s.cfg.retention))
		defer t.Stop()
		pruneTick = t.C
	}
	batch := make([]eventDoc, 0, maxBatch)
	for {
		select {
		case ev := <-s.queue:
			batch = s.fill(append(batch[:0], newEventDoc(ev)))
			if !s.write(batch) {
				s.abandon(batch)
				return
			}
		case <-pruneTick:
			s.pruneJournal()
		case <-s.drain:
			for {
				batch = s.fill(batch[:0])
				if len(batch) == 0 {
					return
				}
				if !s.write(batch) {
					s.abandon(batch)
					return
				}
			}
		}
	}
}

// fill adds queued events to batch, without waiting, up to maxBatch.
func (s *Store) fill(batch []eventDoc) []eventDoc {
	for len(batch) < maxBatch {
		select {
		case ev := <-s.queue:
			batch = append(batch, newEventDoc(ev))
		default:
			return batch
		}
	}
	return batch
}

// write inserts batch into lock_events and then applies it to the lock
// records, retrying with backoff until both succeed. It returns false,
// with the events not written, when Close's context ended first.
func (s *Store) write(batch []eventDoc) bool {
	inserted := false
	backoff := minBackoff
	for attempt := 1; ; attempt++ {
		var err error
		if !inserted {
			if err = s.insertEvents(batch); err == nil {
				inserted = true
			}
		}
		if inserted {
			if err = s.updateRecords(batch); err == nil {
				return true
			}
		}
		if s.wctx.Err() != nil {
			if inserted {
				s.log.Error("mongostore: lock records not updated at close",
					slog.Int("events", len(batch)), slog.Any("err", err))
				return true
			}
			return false
		}
		if attempt%warnEvery == 1 {
			s.log.Warn("mongostore: journal write failed; retrying",
				slog.Int("events", len(batch)), slog.Int("attempt", attempt), slog.Any("err", err))
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-s.wctx.Done():
			t.Stop()
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// insertEvents inserts batch once. Events an earlier attempt wrote come
// back as duplicate keys and count as written; events MongoDB rejects for
// themselves are dropped, as retrying cannot help them.
func (s *Store) insertEvents(batch []eventDoc) error {
	ctx, cancel := context.WithTimeout(s.wctx, s.cfg.opTimeout)
	defer cancel()
	_, err := s.events.InsertMany(ctx, batch, options.InsertMany().SetOrdered(false))
	if err == nil {
		s.written.Add(int64(len(batch)))
		return nil
	}
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || bwe.WriteConcernError != nil || len(bwe.WriteErrors) == 0 {
		return err
	}
	written := len(batch)
	for _, we := range bwe.WriteErrors {
		if we.HasErrorCode(codeDuplicateKey) {
			continue
		}
		written--
		s.drop(batch[we.Index].event(), fmt.Errorf("rejected by MongoDB: %w", we))
	}
	s.written.Add(int64(written))
	return nil
}

// updateRecords brings the lock records up to date with batch, in order.
// An update MongoDB rejects for itself is logged and skipped.
func (s *Store) updateRecords(batch []eventDoc) error {
	models := make([]mongo.WriteModel, 0, len(batch))
	for _, d := range batch {
		if m := recordUpdate(d); m != nil {
			models = append(models, m)
		}
	}
	if len(models) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(s.wctx, s.cfg.opTimeout)
	defer cancel()
	if err := s.lockRecords(ctx); err != nil {
		return err
	}
	defer s.unlockRecords()
	for len(models) > 0 {
		_, err := s.locks.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(true))
		if err == nil {
			return nil
		}
		var bwe mongo.BulkWriteException
		if !errors.As(err, &bwe) || bwe.WriteConcernError != nil || len(bwe.WriteErrors) == 0 {
			return err
		}
		// Ordered: the first rejected update stopped the rest.
		we := bwe.WriteErrors[0]
		s.log.Error("mongostore: lock record not updated", slog.Any("err", we))
		models = models[we.Index+1:]
	}
	return nil
}

// recordUpdate returns the update of the lock record that d calls for, or
// nil. Every update names the grant, by its lease or, for a release by
// owner (which knows no lease), by its fence, so an old event cannot touch
// a later holder's record. EventAcquired's record was written by
// MintFence; its update here only matters for a retried acquire (same
// lease), which does not mint.
func recordUpdate(d eventDoc) mongo.WriteModel {
	filter := bson.D{{Key: "_id", Value: d.Name}}
	switch {
	case d.Lease != "":
		filter = append(filter, bson.E{Key: "lease", Value: d.Lease})
	case (lockd.EventKind(d.Kind) == lockd.EventReleased || lockd.EventKind(d.Kind) == lockd.EventForceReleased) && d.Fence != 0:
		filter = append(filter, bson.E{Key: "fence", Value: d.Fence})
	default:
		return nil
	}
	switch lockd.EventKind(d.Kind) {
	case lockd.EventAcquired, lockd.EventExtended:
		if d.ExpiresAt.IsZero() {
			return nil
		}
		return mongo.NewUpdateOneModel().SetFilter(filter).
			SetUpdate(bson.D{{Key: "$set", Value: bson.D{{Key: "expires_at", Value: d.ExpiresAt}}}})
	case lockd.EventReleased, lockd.EventForceReleased, lockd.EventLost, lockd.EventExpired:
		filter = append(filter, bson.E{Key: "released_at", Value: nil}) // keep the first end
		return mongo.NewUpdateOneModel().SetFilter(filter).
			SetUpdate(bson.D{{Key: "$set", Value: bson.D{{Key: "released_at", Value: d.At}}}})
	}
	return nil
}

// abandon counts and logs batch and everything still queued as not
// written. Only the writer calls it, at Close, when no event can join the
// queue any more.
func (s *Store) abandon(batch []eventDoc) {
	err := fmt.Errorf("%w before the journal was flushed: %w", errClosed, context.Cause(s.wctx))
	for _, d := range batch {
		s.drop(d.event(), err)
	}
	s.abandoned += len(batch)
	for {
		select {
		case ev := <-s.queue:
			s.drop(ev, err)
			s.abandoned++
		default:
			return
		}
	}
}

// History returns up to limit events of the lock name, newest first (by
// at, then by _id). It waits at most the op timeout. It returns a
// *lockd.ArgumentError for a bad name or a limit outside
// 1..lockd.MaxHistoryLimit, and an error matching
// lockd.ErrStoreUnavailable, with the cause, when the read fails.
func (s *Store) History(ctx context.Context, name string, limit int) ([]lockd.Event, error) {
	if err := lockd.ValidateName(name); err != nil {
		return nil, err
	}
	if limit < 1 || limit > lockd.MaxHistoryLimit {
		return nil, &lockd.ArgumentError{Field: "limit", Reason: fmt.Sprintf("must be in [1, %d]", lockd.MaxHistoryLimit)}
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.opTimeout)
	defer cancel()
	opts := options.Find().
		SetSort(bson.D{{Key: "at", Value: -1}, {Key: "_id", Value: -1}}).
		SetLimit(int64(limit))
	cur, err := s.events.Find(ctx, bson.D{{Key: "name", Value: name}}, opts)
	if err != nil {
		return nil, unavailable(fmt.Errorf("history of %q: %w", name, err))
	}
	var docs []eventDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, unavailable(fmt.Errorf("history of %q: %w", name, err))
	}
	out := make([]lockd.Event, len(docs))
	for i, d := range docs {
		out[i] = d.event()
	}
	return out, nil
}
