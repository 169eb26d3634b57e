package mongostore

import (
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/testenv/mongoenv"
)

func TestIndexes(t *testing.T) {
	m := mongoenv.Start(t)
	db := rawDB(t, m)

	t.Run("NewTwice", func(t *testing.T) {
		newStore(t, m)
		newStore(t, m) // both open: start-up is idempotent
		specs := indexSpecs(t, db)
		if _, ok := specs[historyIndexName]; !ok {
			t.Errorf("got indexes %v, want %s", keys(specs), historyIndexName)
		}
		ttl := 0
		for _, sp := range specs {
			if isAtAscending(sp.KeysDocument) {
				ttl++
			}
		}
		if want := map[bool]int{true: 0, false: 1}[m.Embedded()]; ttl != want {
			t.Errorf("got %d indexes on {at: 1}, want %d", ttl, want)
		}
	})

	t.Run("Retention", func(t *testing.T) {
		if m.Embedded() {
			t.Skip("FerretDB has no TTL indexes; TestPruneWithoutTTL covers its stand-in")
		}
		for _, retention := range []time.Duration{time.Hour, 2 * time.Hour, time.Hour} {
			newStore(t, m, WithJournalRetention(retention))
			sp, ok := indexSpecs(t, db)[ttlIndexName]
			if !ok || sp.ExpireAfterSeconds == nil {
				t.Fatalf("retention %v: no TTL index %s", retention, ttlIndexName)
			}
			if got, want := *sp.ExpireAfterSeconds, int32(retention/time.Second); got != want {
				t.Errorf("retention %v: got expireAfterSeconds %d, want %d", retention, got, want)
			}
		}
	})
}

// TestPruneWithoutTTL checks the stand-in for the TTL index on FerretDB:
// a Store deletes events older than its retention when it starts.
func TestPruneWithoutTTL(t *testing.T) {
	m := mongoenv.Start(t)
	if !m.Embedded() {
		t.Skipf("%s is a real MongoDB: its TTL index expires events (TestIndexes/Retention)", mongoenv.URIEnv)
	}
	db := rawDB(t, m)
	now := time.Now()
	writer, _ := newStore(t, m)
	if !writer.prune {
		t.Fatal("got a Store that relies on a TTL index on FerretDB, want one that prunes")
	}
	for _, age := range []time.Duration{3 * time.Hour, 30 * time.Minute, time.Minute} {
		writer.Record(ctxFor(t), lockd.Event{Kind: lockd.EventDenied, Name: "prune", Owner: age.String(), At: now.Add(-age)})
	}
	closeStore(t, writer)
	if got := countEvents(t, db, bson.D{{Key: "name", Value: "prune"}}); got != 3 {
		t.Fatalf("got %d events, want 3", got)
	}

	for _, tt := range []struct {
		name      string
		retention time.Duration
		want      int64
	}{
		{"OneHour", time.Hour, 2},
		{"TenMinutes", 10 * time.Minute, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			newStore(t, m, WithJournalRetention(tt.retention))
			deadline := time.Now().Add(10 * time.Second)
			for {
				got := countEvents(t, db, bson.D{{Key: "name", Value: "prune"}})
				if got == tt.want {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("retention %v: got %d events after 10s, want %d", tt.retention, got, tt.want)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

func indexSpecs(t *testing.T, db *mongo.Database) map[string]mongo.IndexSpecification {
	t.Helper()
	specs, err := db.Collection(eventsCollection).Indexes().ListSpecifications(ctxFor(t))
	if err != nil {
		t.Fatalf("list indexes: %v", err)
	}
	out := make(map[string]mongo.IndexSpecification, len(specs))
	for _, sp := range specs {
		out[sp.Name] = sp
	}
	return out
}

func keys(m map[string]mongo.IndexSpecification) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
