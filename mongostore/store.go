// Package mongostore is lockd's durable store on MongoDB: it mints fencing
// tokens, keeps a record of each lock's current holder and keeps the
// journal of what happened to every lock.
//
// It uses two collections of one database:
//
//   - locks holds one document per lock name ever granted, _id = name:
//     fence (the last fence minted), owner, lease, acquired_at, expires_at,
//     released_at (null while held) and metadata (the lease's JSON object as
//     a BSON document, absent when there is none). Never delete these
//     documents: the fence counter lives in them.
//   - lock_events holds the journal, one document per event: kind, name,
//     owner, lease, fence, instance, at, and expires_at and holder when set.
//     A TTL index on at deletes events older than the retention.
//
// Guarantees. MintFence is one atomic findOneAndUpdate acknowledged by a
// majority of the replica set, so the fences of a name grow strictly
// across Store instances, lockd restarts and MongoDB fail-overs; a fence is
// returned only once MongoDB confirmed it, and a failed mint may leave a
// gap but never a repeat. The journal is written behind the lock path: one
// writer goroutine drains a bounded queue in order, in batches, retrying
// while MongoDB is away; events already written are not written twice.
// Record never waits: an event that finds the queue full is dropped rather
// than delay a grant. An event that cannot be written (full queue, Close
// before it was flushed) is counted by Dropped and logged at Error, in
// rate-limited lines when Record dropped it; none is dropped silently. The lock records' expiry and
// release times are written by the same writer, so they trail the journal
// queue.
//
// FerretDB (which lockd's tests run on) differs from MongoDB: its
// findAndModify reads and then writes without a transaction, and it has no
// TTL indexes. On FerretDB a Store therefore runs one write to the locks
// collection at a time, which keeps fences strict for a single lockd
// process only, and deletes expired journal events itself. Run production
// on MongoDB.
package mongostore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"

	"github.com/lockd/lockd"
)

// Collection names.
const (
	locksCollection  = "locks"
	eventsCollection = "lock_events"
)

var (
	_ lockd.FenceMinter = (*Store)(nil)
	_ lockd.Journal     = (*Store)(nil)
)

// errClosed is why events recorded during or after Close are dropped.
var errClosed = errors.New("mongostore: store closed")

// Store is the MongoDB store. It is safe for concurrent use.
type Store struct {
	cfg    config
	log    *slog.Logger
	client *mongo.Client
	db     *mongo.Database
	locks  *mongo.Collection // write concern majority: fences must survive a fail-over
	events *mongo.Collection

	// serial, when not nil, admits one write to locks at a time. Only
	// FerretDB needs it (see the package doc and New).
	serial chan struct{}
	// prune is set when the server has no TTL indexes: the writer then
	// deletes expired journal events itself.
	prune bool

	queue chan lockd.Event
	// mu is held for reading while Record puts an event on the queue and
	// for writing while Close sets closed, so that once closed is set no
	// event can join the queue and the writer can drain it to the end.
	mu     sync.RWMutex
	closed bool
	drain  chan struct{} // closed once closed is set; the writer flushes and exits

	// wctx bounds the writer's operations: it ends when Close's context
	// does. abandoned is how many events the writer gave up on at Close.
	wctx       context.Context
	wcancel    context.CancelFunc
	writerDone chan struct{}
	abandoned  int

	closeOnce sync.Once
	closeErr  error
	dropped   atomic.Int64
	written   atomic.Int64
	drops     dropLog
}

// New connects to the MongoDB at uri, creates the indexes it needs (or
// fixes their options, so starting any number of times is safe) and starts
// the journal writer. It waits at most ConnectTimeout, less if ctx ends
// first. It returns an error matching lockd.ErrStoreUnavailable, with the
// cause, when the server cannot be reached or the indexes cannot be made,
// and a *lockd.ArgumentError for a malformed uri or an option out of range.
func New(ctx context.Context, uri string, opts ...Option) (*Store, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, ConnectTimeout)
	defer cancel()
	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetConnectTimeout(cfg.opTimeout))
	if err != nil {
		return nil, &lockd.ArgumentError{Field: "uri", Reason: err.Error()}
	}
	s := &Store{
		cfg:        cfg,
		log:        cfg.log,
		client:     client,
		db:         client.Database(cfg.database),
		queue:      make(chan lockd.Event, cfg.queueSize),
		drain:      make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	s.locks = s.db.Collection(locksCollection, options.Collection().SetWriteConcern(writeconcern.Majority()))
	s.events = s.db.Collection(eventsCollection)
	if err := s.start(ctx); err != nil {
		s.disconnect()
		return nil, unavailable(err)
	}
	s.wctx, s.wcancel = context.WithCancel(context.Background())
	go s.run()
	return s, nil
}

// start checks the server and prepares the collections.
func (s *Store) start(ctx context.Context) error {
	if err := s.client.Ping(ctx, readpref.Primary()); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	var info struct {
		FerretDB string `bson:"ferretdbVersion"`
	}
	if err := s.client.Database("admin").RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		return fmt.Errorf("buildInfo: %w", err)
	}
	if info.FerretDB != "" {
		// FerretDB's findAndModify and update read the document, change
		// it in memory and write it back whole, outside any transaction,
		// so two concurrent writes to one lock record can both read fence
		// n and both write n+1. Running them one at a time in this
		// process closes that race for a single lockd instance.
		s.serial = make(chan struct{}, 1)
		s.log.Warn("mongostore: the server is FerretDB; fences are strictly increasing only while a single lockd instance mints them",
			slog.String("ferretdb_version", info.FerretDB))
	}
	return s.ensureIndexes(ctx)
}

// Ping checks that the primary answers, within the op timeout. It returns
// an error matching lockd.ErrStoreUnavailable, with the cause, when it
// does not.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.opTimeout)
	defer cancel()
	if err := s.client.Ping(ctx, readpref.Primary()); err != nil {
		return unavailable(fmt.Errorf("ping: %w", err))
	}
	return nil
}

// Dropped returns how many journal events were counted as not written:
// Record found the queue full, they were recorded after Close began,
// MongoDB rejected them, or Close ended before they were flushed. All were
// logged at Error: the last two one line each, with their content; those
// Record dropped in lines of at most one a second (see Record).
func (s *Store) Dropped() int64 { return s.dropped.Load() }

// Written returns how many journal events have been written to MongoDB.
func (s *Store) Written() int64 { return s.written.Load() }

// Queued returns how many journal events wait in the queue to be written.
func (s *Store) Queued() int { return len(s.queue) }

// Close stops accepting journal events, writes those still queued (waiting
// for MongoDB while ctx lasts) and disconnects. Events it could not write
// before ctx ended are counted by Dropped and logged; Close then returns an
// error matching lockd.ErrStoreUnavailable that says how many, joined with
// ctx's error. Closing twice returns the first Close's result.
func (s *Store) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		stop := context.AfterFunc(ctx, s.wcancel)
		close(s.drain)
		<-s.writerDone
		stop()
		s.wcancel()
		s.flushDrops()
		if s.abandoned > 0 {
			s.closeErr = fmt.Errorf("%w: %d journal events not written at close: %w",
				lockd.ErrStoreUnavailable, s.abandoned, context.Cause(ctx))
		}
		s.disconnect()
	})
	return s.closeErr
}

// disconnect closes the client's connections, waiting at most the op
// timeout for operations in flight.
func (s *Store) disconnect() {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.opTimeout)
	defer cancel()
	if err := s.client.Disconnect(ctx); err != nil {
		s.log.Warn("mongostore: disconnect", slog.Any("err", err))
	}
}

// lockRecords waits for the right to write to the locks collection, which
// is only limited on FerretDB. It returns ctx's error if ctx ends first.
func (s *Store) lockRecords(ctx context.Context) error {
	if s.serial == nil {
		return nil
	}
	select {
	case s.serial <- struct{}{}:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// unlockRecords gives back what lockRecords took.
func (s *Store) unlockRecords() {
	if s.serial != nil {
		<-s.serial
	}
}

// unavailable wraps err so that it matches lockd.ErrStoreUnavailable and
// still unwraps to err.
func unavailable(err error) error {
	return fmt.Errorf("%w: %w", lockd.ErrStoreUnavailable, err)
}
