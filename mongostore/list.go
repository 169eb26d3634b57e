package mongostore

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/lockd/lockd"
)

// ListLocks lists the locks whose records say they are held: a grant
// recorded, no release, loss or expiry recorded after it, and an expiry
// still ahead. Names start with prefix and come after the cursor after, in
// name order. The records follow the journal, so a change reaches them
// within the journal's write delay; a record holds a name's latest grant
// (of a read lease or a permit too, since they mint under that name). It
// returns *lockd.ArgumentError for bad arguments and an error matching
// lockd.ErrStoreUnavailable when the read fails.
func (s *Store) ListLocks(ctx context.Context, prefix string, limit int, after string) (lockd.LockPage, error) {
	limit, err := lockd.ValidateList(prefix, limit, after)
	if err != nil {
		return lockd.LockPage{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.opTimeout)
	defer cancel()
	filter := bson.D{
		{Key: "_id", Value: bson.D{{Key: "$gt", Value: after}, {Key: "$regex", Value: "^" + regexp.QuoteMeta(prefix)}}},
		{Key: "released_at", Value: nil},
		{Key: "expires_at", Value: bson.D{{Key: "$gt", Value: time.Now()}}},
	}
	opts := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit) + 1)
	cur, err := s.locks.Find(ctx, filter, opts)
	if err != nil {
		return lockd.LockPage{}, unavailable(fmt.Errorf("listing locks: %w", err))
	}
	var docs []struct {
		Name      string    `bson:"_id"`
		Owner     string    `bson:"owner"`
		Fence     int64     `bson:"fence"`
		ExpiresAt time.Time `bson:"expires_at"`
		Metadata  bson.Raw  `bson:"metadata,omitempty"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return lockd.LockPage{}, unavailable(fmt.Errorf("listing locks: %w", err))
	}
	var page lockd.LockPage
	for i, d := range docs {
		if i == limit {
			page.Next = docs[i-1].Name
			break
		}
		info := lockd.LockInfo{Name: d.Name, Held: true, Owner: d.Owner, Fence: d.Fence, ExpiresAt: d.ExpiresAt}
		if len(d.Metadata) > 0 {
			if b, err := bson.MarshalExtJSON(d.Metadata, false, false); err == nil && json.Valid(b) {
				info.Metadata = b
			}
		}
		page.Locks = append(page.Locks, info)
	}
	return page, nil
}

var _ lockd.Lister = (*Store)(nil)
