package mongostore

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/syncbuf"
	"github.com/lockd/lockd/internal/testenv/mongoenv"
)

// testTimeout bounds every call a test makes, so a hang fails the test
// instead of stalling the run.
const testTimeout = 30 * time.Second

// ctxFor returns a context that ends after testTimeout or with the test.
func ctxFor(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// newStore opens a Store on m's database, logging into the returned
// buffer, and closes it when the test ends.
func newStore(t *testing.T, m *mongoenv.Mongo, opts ...Option) (*Store, *syncbuf.Buffer) {
	t.Helper()
	logs := &syncbuf.Buffer{}
	opts = append([]Option{
		WithDatabase(m.Database()),
		WithLogger(slog.New(slog.NewTextHandler(logs, nil))),
		WithInstance("test"),
	}, opts...)
	s, err := New(ctxFor(t), m.URI(), opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		_ = s.Close(ctx) // tests that care about Close's result call it first
	})
	return s, logs
}

// rawDB returns m's database through a client of the test's own, for
// looking at what the Store wrote.
func rawDB(t *testing.T, m *mongoenv.Mongo) *mongo.Database {
	t.Helper()
	c, err := mongo.Connect(options.Client().ApplyURI(m.URI()).SetServerSelectionTimeout(testTimeout))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.Disconnect(ctx)
	})
	return c.Database(m.Database())
}

// countEvents returns how many lock_events documents match filter.
func countEvents(t *testing.T, db *mongo.Database, filter bson.D) int64 {
	t.Helper()
	n, err := db.Collection(eventsCollection).CountDocuments(ctxFor(t), filter)
	if err != nil {
		t.Fatalf("count events: %v", err)
	}
	return n
}

// mint mints a fence for name, failing the test on error.
func mint(t *testing.T, s *Store, name string) int64 {
	t.Helper()
	f, err := s.MintFence(ctxFor(t), testLease(name, "owner"))
	if err != nil {
		t.Fatalf("MintFence(%q): %v", name, err)
	}
	return f
}

// testLease returns a fresh lease of name, as an engine would mint for.
func testLease(name, owner string) lockd.Lease {
	now := time.Now()
	return lockd.Lease{
		Name: name, Owner: owner, ID: lockd.NewLeaseID(), TTL: 10 * time.Second,
		AcquiredAt: now, ExpiresAt: now.Add(10 * time.Second),
	}
}

// closeStore closes s within testTimeout and fails the test on error.
func closeStore(t *testing.T, s *Store) {
	t.Helper()
	if err := s.Close(ctxFor(t)); err != nil {
		t.Fatalf("Close: %v", err)
	}
}
