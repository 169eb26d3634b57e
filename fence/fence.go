// Package fence makes MongoDB writes refuse a lock holder whose lease ran
// out: a fenced write carries the lease's fencing token, and the document
// remembers the highest token that wrote to it in a field named _fence.
//
// Why: a holder can pause (a GC pause, a slow disk, a VM migration) past
// the end of its lease while it still believes it holds the lock. lockd has
// then granted the lock to someone else, with a larger fence. Without a
// check at the resource, the paused holder wakes up and overwrites the new
// holder's work: a lost update. With it, the late write matches no document
// and is refused.
//
// A write with token t is applied when the document's _fence is missing or
// at most t, so the same holder may write several times under one grant,
// and in the same atomic operation it sets _fence to t. Once a newer holder
// (token > t) has written, every write with t is refused.
//
// # The pattern, for services not written in Go
//
// Any MongoDB client can do the same with one updateOne. For the account
// "acct-3" and a lease whose fence is 42, in mongosh:
//
//	db.accounts.updateOne(
//	  { $and: [
//	    { _id: "acct-3" },
//	    { $or: [ { _fence: { $lte: 42 } }, { _fence: { $exists: false } } ] }
//	  ] },
//	  { $set: { balance: 950, _fence: 42 } }
//	)
//
// Put the fence in the filter and in the $set of the same update; never
// check first and write second, which reopens the race. When matchedCount
// is 0, count the documents matching the original filter alone
// (db.accounts.countDocuments({ _id: "acct-3" }, { limit: 1 })): 1 means
// the write was stale and must be dropped (stop acting on the lock), 0
// means there is no such document.
//
// # Limits
//
// A fence refuses a late write once a newer holder has written. It cannot
// refuse one that lands after a newer holder has read the document but
// before it writes: the newer holder then computes from a value about to
// change. A newer holder that reads, computes and writes can shut older
// holders out first by claiming the document, a fenced write of _fence
// alone ({$set: {}} with its token), before it reads.
//
// A fence guards one document per write. An operation that writes several
// documents can be cut off between two of them when its lease runs out; use
// a transaction or make each write safe on its own (a ledger entry, an
// idempotent step) where that matters.
package fence

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Field is the name of the document field that holds the highest fence
// that wrote to the document.
const Field = "_fence"

var (
	// ErrStale means the document exists but a writer with a larger fence
	// has written to it since: the lease that produced the token has run
	// out and the lock has been granted again. Nothing was written.
	ErrStale = errors.New("fence: stale token")
	// ErrInvalidArgument means the token is not positive, or the filter or
	// update cannot be fenced. Nothing was sent to the server.
	ErrInvalidArgument = errors.New("fence: invalid argument")
)

// UpdateOne applies update to the document matching filter if, and only if,
// the document's _fence field is missing or not above token, and sets
// _fence to token in the same atomic operation.
//
// filter should identify one document (by _id, typically). update must be a
// document of update operators ($set, $inc, ...), such as a bson.D or
// bson.M; it is marshalled with the default BSON registry and _fence is
// merged into its $set. An update of {$set: {}} claims the document: it
// sets _fence alone, refusing older holders from then on.
//
// UpdateOne returns an error wrapping ErrInvalidArgument, without sending
// anything, when token is not positive, filter is nil, or update is nil,
// empty, a replacement document, an update pipeline, or touches _fence
// itself. When no document is applied, a follow-up count on filter tells
// why: it returns ErrStale when a matching document exists (its _fence is
// above token) and mongo.ErrNoDocuments when none does. Driver and server
// errors are returned wrapped. On error the result is nil.
//
// Between the update and the follow-up count another writer may insert or
// delete the document; the answer then describes the document as the count
// found it, and in either case nothing was written.
func UpdateOne(ctx context.Context, coll *mongo.Collection, filter, update any, token int64) (*mongo.UpdateResult, error) {
	if token <= 0 {
		return nil, fmt.Errorf("%w: token %d: want > 0", ErrInvalidArgument, token)
	}
	if filter == nil {
		return nil, fmt.Errorf("%w: filter is nil", ErrInvalidArgument)
	}
	fenced, err := fencedUpdate(update, token)
	if err != nil {
		return nil, err
	}
	guarded := bson.D{{Key: "$and", Value: bson.A{
		filter,
		bson.D{{Key: "$or", Value: bson.A{
			bson.D{{Key: Field, Value: bson.D{{Key: "$lte", Value: token}}}},
			bson.D{{Key: Field, Value: bson.D{{Key: "$exists", Value: false}}}},
		}}},
	}}}
	res, err := coll.UpdateOne(ctx, guarded, fenced)
	if err != nil {
		return nil, fmt.Errorf("fence: update: %w", err)
	}
	if res.MatchedCount > 0 {
		return res, nil
	}
	n, err := coll.CountDocuments(ctx, filter, options.Count().SetLimit(1))
	if err != nil {
		return nil, fmt.Errorf("fence: nothing updated; counting to tell why: %w", err)
	}
	if n > 0 {
		return nil, ErrStale
	}
	return nil, mongo.ErrNoDocuments
}

// fencedUpdate returns update with {_fence: token} merged into its $set. It
// returns an error wrapping ErrInvalidArgument for anything but a non-empty
// document of update operators that leaves _fence alone.
func fencedUpdate(update any, token int64) (bson.D, error) {
	raw, err := toRaw(update)
	if err != nil {
		return nil, err
	}
	elems, err := raw.Elements()
	if err != nil {
		return nil, fmt.Errorf("%w: update: %w", ErrInvalidArgument, err)
	}
	if len(elems) == 0 {
		return nil, fmt.Errorf("%w: update is empty", ErrInvalidArgument)
	}
	out := make(bson.D, 0, len(elems)+1)
	merged := false
	for _, e := range elems {
		op := e.Key()
		if !strings.HasPrefix(op, "$") {
			return nil, fmt.Errorf("%w: update: %q is not an update operator; replacement documents cannot be fenced", ErrInvalidArgument, op)
		}
		fields, ok := e.Value().DocumentOK()
		if !ok {
			return nil, fmt.Errorf("%w: update: %s takes a document", ErrInvalidArgument, op)
		}
		fieldElems, err := fields.Elements()
		if err != nil {
			return nil, fmt.Errorf("%w: update: %s: %w", ErrInvalidArgument, op, err)
		}
		for _, f := range fieldElems {
			if touchesFence(f.Key()) {
				return nil, fmt.Errorf("%w: update: %s sets %s, which only the fence may set", ErrInvalidArgument, op, f.Key())
			}
			// $rename names its target in the value.
			if to, ok := f.Value().StringValueOK(); ok && op == "$rename" && touchesFence(to) {
				return nil, fmt.Errorf("%w: update: $rename onto %s, which only the fence may set", ErrInvalidArgument, to)
			}
		}
		if op != "$set" {
			out = append(out, bson.E{Key: op, Value: e.Value()})
			continue
		}
		set := make(bson.D, 0, len(fieldElems)+1)
		for _, f := range fieldElems {
			set = append(set, bson.E{Key: f.Key(), Value: f.Value()})
		}
		out = append(out, bson.E{Key: "$set", Value: append(set, bson.E{Key: Field, Value: token})})
		merged = true
	}
	if !merged {
		out = append(out, bson.E{Key: "$set", Value: bson.D{{Key: Field, Value: token}}})
	}
	return out, nil
}

// toRaw marshals update to a BSON document. Pipelines (slices) are refused:
// their stages could compute _fence, which the filter could not guard.
func toRaw(update any) (bson.Raw, error) {
	switch u := update.(type) {
	case nil:
		return nil, fmt.Errorf("%w: update is nil", ErrInvalidArgument)
	case bson.Raw:
		return u, nil
	case []byte:
		return bson.Raw(u), nil
	case bson.D:
		// A document, though a slice; marshalled below.
	default:
		if k := reflect.ValueOf(update).Kind(); k == reflect.Slice || k == reflect.Array {
			return nil, fmt.Errorf("%w: update is a %T; update pipelines cannot be fenced, use a document of update operators", ErrInvalidArgument, update)
		}
	}
	b, err := bson.Marshal(update)
	if err != nil {
		return nil, fmt.Errorf("%w: update: %w", ErrInvalidArgument, err)
	}
	return bson.Raw(b), nil
}

// touchesFence reports whether the field path names _fence or a field
// inside it.
func touchesFence(path string) bool {
	return path == Field || strings.HasPrefix(path, Field+".")
}
