package fence_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/client"
	"github.com/lockd/lockd/fence"
	"github.com/lockd/lockd/httpapi"
	"github.com/lockd/lockd/internal/testenv/mongoenv"
	"github.com/lockd/lockd/memlock"
)

// opTimeout bounds every call a test makes to MongoDB or lockd.
const opTimeout = 15 * time.Second

// account is the shape of the test documents.
type account struct {
	ID      string `bson:"_id"`
	Balance int64  `bson:"balance"`
	Fence   *int64 `bson:"_fence"`
}

// collection starts a MongoDB-compatible server and returns an empty
// collection in a database of the test's own.
func collection(t *testing.T) *mongo.Collection {
	t.Helper()
	m := mongoenv.Start(t)
	cl, err := mongo.Connect(options.Client().ApplyURI(m.URI()).SetTimeout(opTimeout))
	if err != nil {
		t.Fatalf("mongo.Connect(%q): %v", m.URI(), err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		if err := cl.Disconnect(ctx); err != nil {
			t.Errorf("Disconnect: %v", err)
		}
	})
	return cl.Database(m.Database()).Collection("accounts")
}

// insert stores doc, failing the test on error.
func insert(t *testing.T, coll *mongo.Collection, doc bson.D) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if _, err := coll.InsertOne(ctx, doc); err != nil {
		t.Fatalf("InsertOne(%v): %v", doc, err)
	}
}

// get reads the account id, failing the test when it is missing.
func get(t *testing.T, coll *mongo.Collection, id string) account {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	var a account
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&a); err != nil {
		t.Fatalf("FindOne(%q): %v", id, err)
	}
	return a
}

// wantAccount fails the test unless the account has the balance and fence.
func wantAccount(t *testing.T, coll *mongo.Collection, id string, balance, fenceToken int64) {
	t.Helper()
	a := get(t, coll, id)
	if a.Balance != balance {
		t.Errorf("%s: balance = %d, want %d", id, a.Balance, balance)
	}
	if a.Fence == nil {
		t.Errorf("%s: _fence missing, want %d", id, fenceToken)
	} else if *a.Fence != fenceToken {
		t.Errorf("%s: _fence = %d, want %d", id, *a.Fence, fenceToken)
	}
}

// update runs fence.UpdateOne with a bounded context.
func update(coll *mongo.Collection, id string, upd any, token int64) (*mongo.UpdateResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	return fence.UpdateOne(ctx, coll, bson.D{{Key: "_id", Value: id}}, upd, token)
}

func setBalance(b int64) bson.D {
	return bson.D{{Key: "$set", Value: bson.D{{Key: "balance", Value: b}}}}
}

// mustApply fails the test unless the fenced write matched one document.
func mustApply(t *testing.T, coll *mongo.Collection, id string, upd any, token int64) {
	t.Helper()
	res, err := update(coll, id, upd, token)
	if err != nil {
		t.Fatalf("UpdateOne(%s, token %d) = %v, want applied", id, token, err)
	}
	if res.MatchedCount != 1 {
		t.Fatalf("UpdateOne(%s, token %d): MatchedCount = %d, want 1", id, token, res.MatchedCount)
	}
}

func TestUpdateOne(t *testing.T) {
	coll := collection(t)

	t.Run("FreshDocument", func(t *testing.T) {
		insert(t, coll, bson.D{{Key: "_id", Value: "fresh"}, {Key: "balance", Value: int64(10)}})
		res, err := update(coll, "fresh", setBalance(20), 5)
		if err != nil {
			t.Fatalf("UpdateOne: %v", err)
		}
		if res.MatchedCount != 1 || res.ModifiedCount != 1 {
			t.Errorf("MatchedCount, ModifiedCount = %d, %d, want 1, 1", res.MatchedCount, res.ModifiedCount)
		}
		wantAccount(t, coll, "fresh", 20, 5)
	})

	t.Run("SameTokenTwice", func(t *testing.T) {
		insert(t, coll, bson.D{{Key: "_id", Value: "twice"}, {Key: "balance", Value: int64(0)}})
		mustApply(t, coll, "twice", setBalance(1), 7)
		mustApply(t, coll, "twice", setBalance(2), 7)
		wantAccount(t, coll, "twice", 2, 7)
	})

	t.Run("HigherTokenGrows", func(t *testing.T) {
		insert(t, coll, bson.D{{Key: "_id", Value: "grows"}, {Key: "balance", Value: int64(0)}})
		mustApply(t, coll, "grows", setBalance(1), 3)
		mustApply(t, coll, "grows", setBalance(2), 4)
		wantAccount(t, coll, "grows", 2, 4)
	})

	t.Run("ErrStale", func(t *testing.T) {
		insert(t, coll, bson.D{{Key: "_id", Value: "stale"}, {Key: "balance", Value: int64(0)}})
		mustApply(t, coll, "stale", setBalance(900), 9)
		res, err := update(coll, "stale", setBalance(800), 8)
		if !errors.Is(err, fence.ErrStale) {
			t.Fatalf("UpdateOne with lower token: err = %v, want fence.ErrStale", err)
		}
		if res != nil {
			t.Errorf("UpdateOne with lower token: result = %+v, want nil", res)
		}
		wantAccount(t, coll, "stale", 900, 9)
	})

	t.Run("ErrNoDocuments", func(t *testing.T) {
		res, err := update(coll, "missing", setBalance(1), 1)
		if !errors.Is(err, mongo.ErrNoDocuments) {
			t.Fatalf("UpdateOne on a missing document: err = %v, want mongo.ErrNoDocuments", err)
		}
		if errors.Is(err, fence.ErrStale) {
			t.Errorf("UpdateOne on a missing document: err = %v matches fence.ErrStale", err)
		}
		if res != nil {
			t.Errorf("UpdateOne on a missing document: result = %+v, want nil", res)
		}
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		if n, err := coll.CountDocuments(ctx, bson.D{{Key: "_id", Value: "missing"}}); err != nil || n != 0 {
			t.Errorf("CountDocuments(missing) = %d, %v; want 0, nil (no upsert)", n, err)
		}
	})

	t.Run("Inc", func(t *testing.T) {
		insert(t, coll, bson.D{{Key: "_id", Value: "inc"}, {Key: "balance", Value: int64(100)}})
		mustApply(t, coll, "inc", bson.M{"$inc": bson.M{"balance": int64(-30)}}, 2)
		wantAccount(t, coll, "inc", 70, 2)
	})

	t.Run("Claim", func(t *testing.T) {
		insert(t, coll, bson.D{{Key: "_id", Value: "claim"}, {Key: "balance", Value: int64(40)}})
		mustApply(t, coll, "claim", bson.D{{Key: "$set", Value: bson.D{}}}, 12)
		wantAccount(t, coll, "claim", 40, 12)
		if _, err := update(coll, "claim", setBalance(0), 11); !errors.Is(err, fence.ErrStale) {
			t.Fatalf("UpdateOne after a claim with a higher token: err = %v, want fence.ErrStale", err)
		}
		wantAccount(t, coll, "claim", 40, 12)
	})

	t.Run("SetMergedWithInc", func(t *testing.T) {
		insert(t, coll, bson.D{{Key: "_id", Value: "merged"}, {Key: "balance", Value: int64(1)}})
		upd := bson.D{
			{Key: "$inc", Value: bson.D{{Key: "balance", Value: int64(4)}}},
			{Key: "$set", Value: bson.D{{Key: "note", Value: "kept"}}},
		}
		mustApply(t, coll, "merged", upd, 6)
		wantAccount(t, coll, "merged", 5, 6)
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		var got struct {
			Note string `bson:"note"`
		}
		if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "merged"}}).Decode(&got); err != nil {
			t.Fatalf("FindOne: %v", err)
		}
		if got.Note != "kept" {
			t.Errorf("note = %q, want %q (the caller's $set is kept)", got.Note, "kept")
		}
	})
}

func TestUpdateOneRejects(t *testing.T) {
	coll := collection(t)
	insert(t, coll, bson.D{{Key: "_id", Value: "acct"}, {Key: "balance", Value: int64(50)}})
	mustApply(t, coll, "acct", setBalance(60), 4)

	tests := []struct {
		name   string
		filter any
		update any
		token  int64
	}{
		{"TokenZero", bson.D{{Key: "_id", Value: "acct"}}, setBalance(1), 0},
		{"TokenNegative", bson.D{{Key: "_id", Value: "acct"}}, setBalance(1), -5},
		{"Replacement", bson.D{{Key: "_id", Value: "acct"}}, bson.M{"balance": int64(1)}, 5},
		{"ReplacementStruct", bson.D{{Key: "_id", Value: "acct"}}, account{ID: "acct", Balance: 1}, 5},
		{"SetsFence", bson.D{{Key: "_id", Value: "acct"}}, bson.M{"$set": bson.M{"balance": int64(1), "_fence": int64(99)}}, 5},
		{"IncsFence", bson.D{{Key: "_id", Value: "acct"}}, bson.M{"$inc": bson.M{"_fence": int64(1)}}, 5},
		{"UnsetsFenceField", bson.D{{Key: "_id", Value: "acct"}}, bson.M{"$unset": bson.M{"_fence.x": ""}}, 5},
		{"RenamesOntoFence", bson.D{{Key: "_id", Value: "acct"}}, bson.M{"$rename": bson.M{"balance": "_fence"}}, 5},
		{"Pipeline", bson.D{{Key: "_id", Value: "acct"}}, mongo.Pipeline{setBalance(1)}, 5},
		{"OperatorNotDocument", bson.D{{Key: "_id", Value: "acct"}}, bson.M{"$set": int64(1)}, 5},
		{"EmptyUpdate", bson.D{{Key: "_id", Value: "acct"}}, bson.D{}, 5},
		{"NilUpdate", bson.D{{Key: "_id", Value: "acct"}}, nil, 5},
		{"NilFilter", nil, setBalance(1), 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
			defer cancel()
			res, err := fence.UpdateOne(ctx, coll, tt.filter, tt.update, tt.token)
			if !errors.Is(err, fence.ErrInvalidArgument) {
				t.Fatalf("UpdateOne: err = %v, want fence.ErrInvalidArgument", err)
			}
			if res != nil {
				t.Errorf("UpdateOne: result = %+v, want nil", res)
			}
			wantAccount(t, coll, "acct", 60, 4)
		})
	}
}

// TestStaleHolder is the case fences exist for: holder A pauses past its
// lease, B takes the lock and writes, and A's late write must not land.
func TestStaleHolder(t *testing.T) {
	coll := collection(t)
	insert(t, coll, bson.D{{Key: "_id", Value: "acct-1"}, {Key: "balance", Value: int64(0)}})

	srv := httptest.NewServer(httpapi.New(memlock.New()))
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL, client.WithTimeout(opTimeout))
	if err != nil {
		t.Fatalf("client.New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const lock = "bank:acct-1"

	a, err := c.Acquire(ctx, lock, client.Owner("holder-a"), client.TTL(200*time.Millisecond))
	if err != nil {
		t.Fatalf("A: Acquire: %v", err)
	}
	mustApply(t, coll, "acct-1", setBalance(100), a.Fence())

	// A stops renewing (a GC pause, say) until lockd frees the lock.
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := c.Inspect(ctx, lock)
		if err != nil {
			t.Fatalf("Inspect: %v", err)
		}
		if !info.Held {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lock still held by %q 10s after a 200ms lease", info.Owner)
		}
		time.Sleep(20 * time.Millisecond)
	}

	b, err := c.Acquire(ctx, lock, client.Owner("holder-b"), client.TTL(10*time.Second))
	if err != nil {
		t.Fatalf("B: Acquire: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		if err := b.Release(ctx); err != nil {
			t.Errorf("B: Release: %v", err)
		}
	})
	if b.Fence() <= a.Fence() {
		t.Fatalf("B's fence = %d, want > A's fence %d", b.Fence(), a.Fence())
	}
	mustApply(t, coll, "acct-1", setBalance(200), b.Fence())

	// A wakes up and writes what it computed before the pause.
	_, err = update(coll, "acct-1", setBalance(999), a.Fence())
	if !errors.Is(err, fence.ErrStale) {
		t.Fatalf("A's late write: err = %v, want fence.ErrStale", err)
	}
	wantAccount(t, coll, "acct-1", 200, b.Fence())
	if err := a.Extend(ctx, time.Second); !errors.Is(err, lockd.ErrLost) {
		t.Errorf("A: Extend after the pause = %v, want lockd.ErrLost", err)
	}
}
