// Package mongoenv starts a MongoDB-compatible server for a test: an
// embedded FerretDB, or the real MongoDB named by LOCKD_TEST_MONGO_URI. It is
// apart from testenv so that packages whose tests need only Redis do not
// pull FerretDB into the go.sum of modules that import them.
package mongoenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/lockd/lockd/internal/redisproc"
)

// URIEnv names the variable that points Start at a real MongoDB
// (for example "mongodb://127.0.0.1:27017/?replicaSet=rs0") instead of the
// embedded FerretDB.
const URIEnv = "LOCKD_TEST_MONGO_URI"

// mongoStopTimeout bounds how long a stopping FerretDB may take. It gives
// connected clients 3s to hang up before it closes their connections, so
// this must be well above that.
const mongoStopTimeout = 15 * time.Second

// ferretNewMu serialises ferretdb.New: it writes a package-level variable
// of FerretDB's (the build's package name), which parallel tests would
// otherwise race on.
var ferretNewMu sync.Mutex

// Mongo is a MongoDB-compatible server for one test: an embedded FerretDB
// (SQLite handler, data in a temporary directory) on a free loopback port,
// or the real MongoDB named by LOCKD_TEST_MONGO_URI. Every Mongo has its own
// database name. Its methods are safe for concurrent use.
type Mongo struct {
	t        testing.TB
	db       string
	external bool
	uri      string // set for an external server; embedded ones derive it from port
	port     int
	dataDir  string

	mu     sync.Mutex
	cancel context.CancelFunc // stops the running FerretDB; nil while stopped
	done   chan struct{}      // closed when the running FerretDB's Run returns
}

// Start starts an embedded FerretDB, or connects to LOCKD_TEST_MONGO_URI
// when it is set, and waits until the server answers a ping. At the end of
// the test it stops the embedded server and waits for it to exit, or drops
// the test's database on the external one. It fails the test when the
// server does not answer within 10s.
func Start(t testing.TB) *Mongo {
	t.Helper()
	m := &Mongo{t: t, db: "lockd_test_" + randomHex(t, 8)}
	if uri := os.Getenv(URIEnv); uri != "" {
		m.external, m.uri = true, uri
		if err := pingMongo(uri); err != nil {
			t.Fatalf("%s=%s: %v", URIEnv, redact(uri), err)
		}
		t.Cleanup(m.dropDatabase)
		return m
	}
	m.dataDir = t.TempDir()
	var err error
	for range 5 { // a free port may be taken between probe and bind; try another
		m.port = freePort(t)
		if err = m.start(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("start FerretDB: %v", err)
	}
	t.Cleanup(func() {
		if err := m.stop(); err != nil {
			t.Errorf("stop FerretDB: %v", err)
		}
	})
	return m
}

// URI returns the server's connection string. For the embedded server it
// stays the same across Stop and Start.
func (m *Mongo) URI() string {
	if m.external {
		return m.uri
	}
	return (&url.URL{Scheme: "mongodb", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(m.port)), Path: "/"}).String()
}

// Database returns the database name this test should use; it differs
// between Start calls.
func (m *Mongo) Database() string { return m.db }

// Embedded reports whether the server is the in-process FerretDB rather
// than a real MongoDB.
func (m *Mongo) Embedded() bool { return !m.external }

// Stop stops the embedded server and waits until it has closed its port
// and every connection; its data stays on disk. Stopping a stopped server
// does nothing. With an external MongoDB the test is skipped, since lockd's
// tests cannot stop it. Call Stop and Start from the test that called
// Start: they end that test on failure or skip.
func (m *Mongo) Stop() {
	m.t.Helper()
	m.requireEmbedded("Stop")
	if err := m.stop(); err != nil {
		m.t.Fatalf("stop FerretDB: %v", err)
	}
}

// Start starts a stopped embedded server again on the same port and data
// directory, and waits until it answers a ping. Starting a running server
// does nothing. With an external MongoDB the test is skipped.
func (m *Mongo) Start() {
	m.t.Helper()
	m.requireEmbedded("Start")
	var err error
	deadline := time.Now().Add(redisproc.StartTimeout)
	for time.Now().Before(deadline) { // the port may linger briefly after the stop
		if err = m.start(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	m.t.Fatalf("restart FerretDB on port %d: %v", m.port, err)
}

func (m *Mongo) requireEmbedded(op string) {
	m.t.Helper()
	if m.external {
		m.t.Skipf("%s needs the embedded FerretDB; this test cannot stop the MongoDB at %s=%s", op, URIEnv, redact(m.uri))
	}
}

// start runs FerretDB in a goroutine and waits for it to answer a ping.
func (m *Mongo) start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cancel != nil {
		return nil
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(m.port))
	// ferretdb.New opens its SQLite backend before it binds the port and
	// does not close it when the bind fails, so check the port first.
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	l.Close()
	ferretNewMu.Lock()
	f, err := ferretdb.New(&ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: addr},
		// FerretDB logs every connection at Info and every hang-up at
		// its stop at Warn; tests assert on behaviour, not on its log.
		Logger:    slog.New(slog.DiscardHandler),
		Handler:   "sqlite",
		SQLiteURL: "file:" + m.dataDir + "/",
	})
	ferretNewMu.Unlock()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.Run(ctx) // Run always returns nil; it logs its own failures
	}()
	if err := pingMongo(m.URI()); err != nil {
		cancel()
		select {
		case <-done:
			return err
		case <-time.After(mongoStopTimeout):
			return fmt.Errorf("%w; then FerretDB did not stop within %v", err, mongoStopTimeout)
		}
	}
	m.cancel, m.done = cancel, done
	return nil
}

// stop cancels the running FerretDB and waits for Run to return.
func (m *Mongo) stop() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cancel == nil {
		return nil
	}
	m.cancel()
	select {
	case <-m.done:
	case <-time.After(mongoStopTimeout):
		return fmt.Errorf("FerretDB on port %d did not stop within %v", m.port, mongoStopTimeout)
	}
	m.cancel, m.done = nil, nil
	return nil
}

// dropDatabase removes the test's database from the external MongoDB.
func (m *Mongo) dropDatabase() {
	ctx, cancel := context.WithTimeout(context.Background(), redisproc.StartTimeout)
	defer cancel()
	c, err := mongo.Connect(options.Client().ApplyURI(m.uri).SetServerSelectionTimeout(redisproc.StartTimeout))
	if err != nil {
		m.t.Errorf("drop database %s: %v", m.db, err)
		return
	}
	defer disconnect(c)
	if err := c.Database(m.db).Drop(ctx); err != nil {
		m.t.Errorf("drop database %s: %v", m.db, err)
	}
}

// pingMongo connects to uri and pings it until it answers or redisproc.StartTimeout
// passes.
func pingMongo(uri string) error {
	ctx, cancel := context.WithTimeout(context.Background(), redisproc.StartTimeout)
	defer cancel()
	c, err := mongo.Connect(options.Client().ApplyURI(uri).SetServerSelectionTimeout(redisproc.StartTimeout))
	if err != nil {
		return err
	}
	// Disconnect ends the driver's monitor goroutines, so none outlive
	// the ping; it gets its own deadline, as ctx may be spent by then.
	defer disconnect(c)
	var res bson.M
	if err := c.Database("admin").RunCommand(ctx, bson.D{{Key: "ping", Value: 1}}).Decode(&res); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%s did not answer ping within %v: %w", redact(uri), redisproc.StartTimeout, err)
		}
		return err
	}
	return nil
}

// redact returns uri with its password, if any, replaced by "xxxxx", for
// messages.
func redact(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return "(a malformed URI)"
	}
	return u.Redacted()
}

// disconnect closes c, waiting at most 5s for in-flight operations.
func disconnect(c *mongo.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.Disconnect(ctx)
}

// randomHex returns n random bytes in hex.
func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random: %v", err)
	}
	return hex.EncodeToString(b)
}

// freePort asks the kernel for a free loopback port.
func freePort(t testing.TB) int {
	t.Helper()
	port, err := redisproc.FreePort()
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	return port
}
