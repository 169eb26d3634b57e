package mongostore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/lockd/lockd"
)

// mintAttempts bounds the tries of one mint. Two first mints of a new
// name can both try to insert its record; MongoDB usually retries the
// loser itself, FerretDB returns a duplicate key error, and a retry then
// finds the record. The failed try changed nothing.
const mintAttempts = 3

// MintFence returns the next fence of lease.Name and records lease as the
// lock's holder (owner, lease, acquired_at, expires_at, metadata, and
// released_at null), in one findOneAndUpdate on the locks collection that
// a majority of the replica set acknowledged. It waits at most the op
// timeout. It returns an error matching lockd.ErrStoreUnavailable, with
// the cause, when MongoDB did not confirm the write (unreachable, timed
// out, ctx ended, write concern failed); the fence may then have been
// spent, never handed out twice. It returns a *lockd.ArgumentError for a
// bad lease.Name or metadata that is not a JSON object.
func (s *Store) MintFence(ctx context.Context, lease lockd.Lease) (int64, error) {
	if err := lockd.ValidateName(lease.Name); err != nil {
		return 0, err
	}
	set := bson.D{
		{Key: "owner", Value: lease.Owner},
		{Key: "lease", Value: lease.ID},
		{Key: "acquired_at", Value: lease.AcquiredAt},
		{Key: "expires_at", Value: lease.ExpiresAt},
		{Key: "released_at", Value: nil},
	}
	update := bson.D{{Key: "$inc", Value: bson.D{{Key: "fence", Value: int64(1)}}}}
	if len(lease.Metadata) > 0 {
		md, err := metadataDoc(lease.Metadata)
		if err != nil {
			return 0, &lockd.ArgumentError{Field: "metadata", Reason: err.Error()}
		}
		set = append(set, bson.E{Key: "metadata", Value: md})
		update = append(update, bson.E{Key: "$set", Value: set})
	} else {
		update = append(update,
			bson.E{Key: "$set", Value: set},
			bson.E{Key: "$unset", Value: bson.D{{Key: "metadata", Value: ""}}})
	}
	// No projection: FerretDB 1.x rejects findAndModify's "fields", and
	// the whole record is small (metadata is at most 4 KiB).
	opts := options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)

	ctx, cancel := context.WithTimeout(ctx, s.cfg.opTimeout)
	defer cancel()
	if err := s.lockRecords(ctx); err != nil {
		return 0, unavailable(fmt.Errorf("mint fence for %q: %w", lease.Name, err))
	}
	defer s.unlockRecords()
	var err error
	for range mintAttempts {
		var doc struct {
			Fence int64 `bson:"fence"`
		}
		err = s.locks.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: lease.Name}}, update, opts).Decode(&doc)
		if mongo.IsDuplicateKeyError(err) {
			continue
		}
		if err != nil {
			break
		}
		if doc.Fence < 1 {
			return 0, unavailable(fmt.Errorf("mint fence for %q: the server returned fence %d", lease.Name, doc.Fence))
		}
		return doc.Fence, nil
	}
	return 0, unavailable(fmt.Errorf("mint fence for %q: %w", lease.Name, err))
}

// metadataDoc converts a JSON object into a BSON document, keeping the
// order of keys. Integers that fit int64 become int64; other numbers
// become float64. JSON keys are stored as they are, not read as extended
// JSON ({"$numberLong": ...} stays a plain object).
func metadataDoc(raw json.RawMessage) (bson.D, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	v, err := jsonValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("must be a single JSON object")
	}
	doc, ok := v.(bson.D)
	if !ok {
		return nil, errors.New("must be a JSON object")
	}
	return doc, nil
}

// jsonValue reads the next JSON value from dec as a BSON value.
func jsonValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			doc := bson.D{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return nil, fmt.Errorf("invalid JSON: %w", err)
				}
				v, err := jsonValue(dec)
				if err != nil {
					return nil, err
				}
				doc = append(doc, bson.E{Key: k.(string), Value: v})
			}
			_, err = dec.Token() // '}'
			return doc, err
		case '[':
			arr := bson.A{}
			for dec.More() {
				v, err := jsonValue(dec)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			_, err = dec.Token() // ']'
			return arr, err
		}
		return nil, fmt.Errorf("invalid JSON: unexpected %v", t)
	case json.Number:
		if i, err := strconv.ParseInt(t.String(), 10, 64); err == nil {
			return i, nil
		}
		return t.Float64()
	default: // string, bool, nil
		return t, nil
	}
}
