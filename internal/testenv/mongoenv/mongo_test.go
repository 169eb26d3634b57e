package mongoenv

import (
	"context"
	"net"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/lockd/lockd/internal/redisproc"
)

func TestStart(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		a, b := Start(t), Start(t)
		if a.Database() == b.Database() {
			t.Errorf("got database %q twice, want a fresh name per Start", a.Database())
		}
		c := connectMongo(t, a.URI())
		want := bson.D{{Key: "_id", Value: "k"}, {Key: "v", Value: int64(42)}}
		if _, err := c.Database(a.Database()).Collection("c").InsertOne(ctxFor(t), want); err != nil {
			t.Fatalf("insert: %v", err)
		}
		if got := findV(t, c, a.Database()); got != 42 {
			t.Errorf("got v=%d, want 42", got)
		}
	})
	t.Run("StopStart", func(t *testing.T) {
		m := Start(t)
		if !m.Embedded() {
			t.Skipf("%s is set: Stop and Start need the embedded FerretDB", URIEnv)
		}
		c := connectMongo(t, m.URI())
		if _, err := c.Database(m.Database()).Collection("c").InsertOne(ctxFor(t), bson.D{{Key: "_id", Value: "k"}, {Key: "v", Value: int64(7)}}); err != nil {
			t.Fatalf("insert: %v", err)
		}
		uri := m.URI()
		m.Stop()
		m.Stop() // stopping twice is harmless
		if conn, err := net.DialTimeout("tcp", hostOf(t, uri), time.Second); err == nil {
			conn.Close()
			t.Fatalf("dial %s after Stop: got a connection, want refused", uri)
		}
		m.Start()
		if got := m.URI(); got != uri {
			t.Errorf("got URI %q after Start, want %q", got, uri)
		}
		// The driver notices the restarted server on its own; give it a
		// bounded time to reconnect.
		var got int64
		deadline := time.Now().Add(redisproc.StartTimeout)
		for {
			got = findVMaybe(c, m.Database())
			if got == 7 || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if got != 7 {
			t.Errorf("got v=%d after Stop/Start, want 7 (data kept)", got)
		}
	})
	t.Run("NoLeaks", func(t *testing.T) {
		t.Run("Run", func(t *testing.T) {
			m := Start(t)
			if !m.Embedded() {
				t.Skipf("%s is set: no embedded FerretDB to leak", URIEnv)
			}
			c := connectMongo(t, m.URI())
			if err := c.Ping(ctxFor(t), nil); err != nil {
				t.Fatalf("ping: %v", err)
			}
		})
		// The subtest's cleanup has stopped FerretDB and disconnected the
		// client; their goroutines must be gone (give them a moment to
		// return after their channels close).
		deadline := time.Now().Add(5 * time.Second)
		for {
			left := goroutinesIn("github.com/FerretDB/", "go.mongodb.org/mongo-driver/")
			if left == "" {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("got goroutines left after the test, want none:\n%s", left)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// connectMongo returns a client of uri that is disconnected when the test
// ends.
func connectMongo(t *testing.T, uri string) *mongo.Client {
	t.Helper()
	c, err := mongo.Connect(options.Client().ApplyURI(uri).SetServerSelectionTimeout(redisproc.StartTimeout))
	if err != nil {
		t.Fatalf("connect %s: %v", uri, err)
	}
	t.Cleanup(func() { disconnect(c) })
	return c
}

// findV returns field v of document "k" in collection c of db.
func findV(t *testing.T, c *mongo.Client, db string) int64 {
	t.Helper()
	var doc struct {
		V int64 `bson:"v"`
	}
	if err := c.Database(db).Collection("c").FindOne(ctxFor(t), bson.D{{Key: "_id", Value: "k"}}).Decode(&doc); err != nil {
		t.Fatalf("find: %v", err)
	}
	return doc.V
}

// findVMaybe is findV that returns -1 on any error.
func findVMaybe(c *mongo.Client, db string) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var doc struct {
		V int64 `bson:"v"`
	}
	if err := c.Database(db).Collection("c").FindOne(ctx, bson.D{{Key: "_id", Value: "k"}}).Decode(&doc); err != nil {
		return -1
	}
	return doc.V
}

func ctxFor(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func hostOf(t *testing.T, uri string) string {
	t.Helper()
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatalf("parse %q: %v", uri, err)
	}
	return u.Host
}

// goroutinesIn returns the stacks of running goroutines that mention any
// of the given import path prefixes, or "" when there are none.
func goroutinesIn(prefixes ...string) string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		for _, p := range prefixes {
			if strings.Contains(g, p) {
				out = append(out, g)
				break
			}
		}
	}
	return strings.Join(out, "\n\n")
}
