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
)

// Index names. The TTL index is found by its key ({at: 1}), whatever its
// name, so one made by hand is adopted rather than duplicated.
const (
	historyIndexName = "name_at_id"
	leaseIndexName   = "lease"
	ttlIndexName     = "at_ttl"
)

// MongoDB error codes the Store tells apart.
const (
	codeDuplicateKey          = 11000
	codeIndexNotFound         = 27
	codeIndexAlreadyExists    = 68
	codeIndexOptionsConflict  = 85
	codeIndexKeySpecsConflict = 86
	codeNotImplemented        = 238 // FerretDB, for what it lacks
)

// ensureAttempts bounds how often ensureIndexes starts over when another
// lockd instance changed the TTL index under it.
const ensureAttempts = 3

// ensureIndexes creates the history index and makes the TTL index expire
// after the configured retention. Running it again, from any number of
// instances, changes nothing once the indexes are right.
func (s *Store) ensureIndexes(ctx context.Context) error {
	_, err := s.events.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "name", Value: 1}, {Key: "at", Value: -1}, {Key: "_id", Value: -1}},
		Options: options.Index().SetName(historyIndexName),
	})
	if err != nil {
		return fmt.Errorf("create index %s: %w", historyIndexName, err)
	}
	_, err = s.events.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "lease", Value: 1}},
		Options: options.Index().SetName(leaseIndexName),
	})
	if err != nil {
		return fmt.Errorf("create index %s: %w", leaseIndexName, err)
	}
	for range ensureAttempts {
		err = s.ensureTTLIndex(ctx)
		if !hasCode(err, codeIndexAlreadyExists, codeIndexOptionsConflict, codeIndexKeySpecsConflict, codeIndexNotFound) {
			return err
		}
	}
	return err
}

// ensureTTLIndex makes one pass at the TTL index on lock_events.at: keep it
// when its expireAfterSeconds is right, change it with collMod when not,
// and drop and recreate it when collMod fails (older servers cannot turn a
// plain index into a TTL one).
func (s *Store) ensureTTLIndex(ctx context.Context) error {
	want := int32(s.cfg.retention / time.Second)
	specs, err := s.events.Indexes().ListSpecifications(ctx)
	if err != nil {
		return fmt.Errorf("list indexes: %w", err)
	}
	for _, sp := range specs {
		if !isAtAscending(sp.KeysDocument) {
			continue
		}
		if sp.ExpireAfterSeconds != nil && *sp.ExpireAfterSeconds == want {
			return nil
		}
		cmd := bson.D{
			{Key: "collMod", Value: eventsCollection},
			{Key: "index", Value: bson.D{{Key: "name", Value: sp.Name}, {Key: "expireAfterSeconds", Value: want}}},
		}
		err := s.db.RunCommand(ctx, cmd).Err()
		if err == nil {
			s.log.Info("mongostore: changed journal retention", slog.String("index", sp.Name), slog.Int("expire_after_seconds", int(want)))
			return nil
		}
		s.log.Warn("mongostore: collMod failed; recreating the TTL index", slog.String("index", sp.Name), slog.Any("err", err))
		if err := s.events.Indexes().DropOne(ctx, sp.Name); err != nil && !hasCode(err, codeIndexNotFound) {
			return fmt.Errorf("drop index %s: %w", sp.Name, err)
		}
		break
	}
	_, err = s.events.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "at", Value: 1}},
		Options: options.Index().SetName(ttlIndexName).SetExpireAfterSeconds(want),
	})
	if hasCode(err, codeNotImplemented) {
		// FerretDB 1.x rejects expireAfterSeconds (and collMod) as not
		// implemented. The writer deletes expired events itself instead.
		s.prune = true
		s.log.Warn("mongostore: the server has no TTL indexes; the journal writer deletes expired events itself", slog.Any("err", err))
		return nil
	}
	if err != nil {
		return fmt.Errorf("create index %s: %w", ttlIndexName, err)
	}
	return nil
}

// isAtAscending reports whether an index key document is exactly {at: 1}.
func isAtAscending(keys bson.Raw) bool {
	elems, err := keys.Elements()
	if err != nil || len(elems) != 1 || elems[0].Key() != "at" {
		return false
	}
	n, ok := elems[0].Value().AsInt64OK()
	return ok && n == 1
}

// hasCode reports whether err is a server error with one of codes.
func hasCode(err error, codes ...int) bool {
	var se mongo.ServerError
	if !errors.As(err, &se) {
		return false
	}
	for _, c := range codes {
		if se.HasErrorCode(c) {
			return true
		}
	}
	return false
}

// pruneInterval is how often the writer deletes expired events when the
// server has no TTL index: half the retention, between 1s and an hour.
func pruneInterval(retention time.Duration) time.Duration {
	return min(max(retention/2, time.Second), time.Hour)
}

// pruneJournal deletes journal events older than the retention, standing
// in for the TTL index on servers without one. A failure is logged; the
// next tick tries again.
func (s *Store) pruneJournal() {
	ctx, cancel := context.WithTimeout(s.wctx, s.cfg.opTimeout)
	defer cancel()
	cutoff := time.Now().Add(-s.cfg.retention)
	res, err := s.events.DeleteMany(ctx, bson.D{{Key: "at", Value: bson.D{{Key: "$lt", Value: cutoff}}}})
	if err != nil {
		s.log.Warn("mongostore: deleting expired journal events failed", slog.Any("err", err))
		return
	}
	if res.DeletedCount > 0 {
		s.log.Info("mongostore: deleted expired journal events", slog.Int64("events", res.DeletedCount))
	}
}
