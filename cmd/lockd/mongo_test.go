package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/lockd/lockd/internal/testenv"
	"github.com/lockd/lockd/internal/testenv/mongoenv"
)

// mongoArgs are the flags that point lockd at m.
func mongoArgs(m *mongoenv.Mongo) []string {
	return []string{"--mongo", m.URI(), "--mongo-db", m.Database(), "--instance", "test-lockd"}
}

// grant acquires name for owner over HTTP and returns the lease and fence.
func grant(t *testing.T, base, name, owner string) (string, int64) {
	t.Helper()
	code, body := post(t, base+"/v1/locks/"+name+"/acquire", fmt.Sprintf(`{"owner":%q,"ttl_ms":10000,"wait_ms":20000}`, owner))
	if code != http.StatusOK {
		t.Fatalf("acquire %s: got %d %v", name, code, body)
	}
	return body["lease"].(string), int64(body["fence"].(float64))
}

func release(t *testing.T, base, name, lease string) {
	t.Helper()
	code, body := post(t, base+"/v1/locks/"+name+"/release", fmt.Sprintf(`{"lease":%q}`, lease))
	if code != http.StatusOK || body["released"] != true {
		t.Fatalf("release %s: got %d %v", name, code, body)
	}
}

// countEvents counts lock_events documents matching filter.
func countEvents(t *testing.T, m *mongoenv.Mongo, filter bson.D) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := mongo.Connect(options.Client().ApplyURI(m.URI()).SetTimeout(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Disconnect(ctx) }()
	n, err := c.Database(m.Database()).Collection("lock_events").CountDocuments(ctx, filter)
	if err != nil {
		t.Fatalf("count events: %v", err)
	}
	return n
}

// TestMongoFencesAcrossRestart: a new lockd on the same MongoDB goes on
// from the last fence, and serves the first one's history.
func TestMongoFencesAcrossRestart(t *testing.T) {
	m := mongoenv.Start(t)
	s1 := start(t, mongoArgs(m)...)
	base := "http://" + s1.addr
	lease, f1 := grant(t, base, "restart", "a")
	release(t, base, "restart", lease)
	if err := s1.stop(t); err != nil {
		t.Fatal(err)
	}
	s2 := start(t, mongoArgs(m)...)
	base = "http://" + s2.addr
	_, f2 := grant(t, base, "restart", "b")
	if f2 <= f1 {
		t.Fatalf("fence %d after restart, want > %d", f2, f1)
	}
	// The journal is written behind the lock path: poll until it shows up.
	want := fmt.Sprintf("[acquired:b:%d released:a:%d acquired:a:%d]", f2, f1, f1)
	var kinds []string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		code, body := get(t, base+"/v1/locks/restart/history?limit=10")
		if code != http.StatusOK {
			t.Fatalf("history: got %d %v", code, body)
		}
		kinds = kinds[:0]
		for _, e := range body["events"].([]any) {
			ev := e.(map[string]any)
			kinds = append(kinds, fmt.Sprint(ev["kind"], ":", ev["owner"], ":", ev["fence"]))
		}
		if fmt.Sprint(kinds) == want {
			break
		}
	}
	if fmt.Sprint(kinds) != want {
		t.Errorf("got history %v, want %s", kinds, want)
	}
	if code, body := get(t, base+"/v1/locks/restart/history?limit=1001"); code != http.StatusBadRequest {
		t.Errorf("limit 1001: got %d %v, want 400", code, body)
	}
}

// TestMongoFencesAcrossRedisLoss kills and restarts every Redis node (all
// data lost): fences from MongoDB still grow. The rejoin delay is off so
// that the restarted nodes vote at once; no lock is held across the
// restarts.
func TestMongoFencesAcrossRedisLoss(t *testing.T) {
	m := mongoenv.Start(t)
	nodes := testenv.StartRedis(t, 3)
	s := start(t, append(mongoArgs(m), "--redis", strings.Join(testenv.Addrs(nodes), ","), "--rejoin-delay", "0")...)
	base := "http://" + s.addr
	lease, f1 := grant(t, base, "wiped", "a")
	release(t, base, "wiped", lease)
	for _, n := range nodes {
		n.Restart()
	}
	_, f2 := grant(t, base, "wiped", "b")
	if f2 <= f1 {
		t.Fatalf("fence %d after every Redis node lost its data, want > %d", f2, f1)
	}
}

// TestMongoConcurrentAcquirers has 8 acquirers take turns on one lock:
// each holder sees a fence larger than every holder before it.
func TestMongoConcurrentAcquirers(t *testing.T) {
	m := mongoenv.Start(t)
	nodes := testenv.StartRedis(t, 3)
	s := start(t, append(mongoArgs(m), "--redis", strings.Join(testenv.Addrs(nodes), ","))...)
	base := "http://" + s.addr
	var (
		last  int64 // guarded by the lock under test
		seen  = map[int64]bool{}
		mu    sync.Mutex // guards seen, which is checked after the run
		wg    sync.WaitGroup
		turns = 10
	)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range turns {
				code, body := post(t, base+"/v1/locks/shared/acquire", fmt.Sprintf(`{"owner":"w%d","ttl_ms":10000,"wait_ms":30000}`, w))
				if code != http.StatusOK {
					t.Errorf("w%d: acquire got %d %v", w, code, body)
					return
				}
				f := int64(body["fence"].(float64))
				if f <= last {
					t.Errorf("w%d: fence %d after %d", w, f, last)
				}
				last = f
				mu.Lock()
				seen[f] = true
				mu.Unlock()
				code, body = post(t, base+"/v1/locks/shared/release", fmt.Sprintf(`{"lease":%q}`, body["lease"]))
				if code != http.StatusOK || body["released"] != true {
					t.Errorf("w%d: release got %d %v", w, code, body)
					return
				}
			}
		}()
	}
	wg.Wait()
	if len(seen) != 8*turns {
		t.Errorf("got %d distinct fences, want %d", len(seen), 8*turns)
	}
}

// TestMongoOutage stops MongoDB under load: acquires fail closed with 503
// store_unavailable and no grant comes without a fence; once MongoDB is
// back, locking resumes in the same lockd; after shutdown the journal has
// an acquired and a released event for every successful grant.
func TestMongoOutage(t *testing.T) {
	m := mongoenv.Start(t)
	if !m.Embedded() {
		t.Skip("needs the embedded server to stop MongoDB; LOCKD_TEST_MONGO_URI points at an external one")
	}
	nodes := testenv.StartRedis(t, 3)
	s := start(t, append(mongoArgs(m), "--redis", strings.Join(testenv.Addrs(nodes), ","))...)
	base := "http://" + s.addr

	type outcome struct {
		sent    time.Time // when the acquire was sent
		at      time.Time // when its answer came
		code    int
		errCode string
		fence   int64
	}
	var (
		mu       sync.Mutex
		outcomes []outcome
		fences   = map[string]bool{} // name:fence
		released int
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("outage-%d", w)
			for {
				select {
				case <-stop:
					return
				default:
				}
				sent := time.Now()
				code, body := post(t, base+"/v1/locks/"+name+"/acquire", fmt.Sprintf(`{"owner":"w%d","ttl_ms":10000}`, w))
				o := outcome{sent: sent, at: time.Now(), code: code}
				if e, ok := body["error"].(map[string]any); ok {
					o.errCode, _ = e["code"].(string)
				}
				if code == http.StatusOK {
					o.fence = int64(body["fence"].(float64))
				}
				mu.Lock()
				outcomes = append(outcomes, o)
				if code == http.StatusOK {
					key := fmt.Sprint(name, ":", o.fence)
					if o.fence <= 0 || fences[key] {
						t.Errorf("grant of %s with fence %d (zero or repeated)", name, o.fence)
					}
					fences[key] = true
				}
				mu.Unlock()
				if code == http.StatusOK {
					rc, rb := post(t, base+"/v1/locks/"+name+"/release", fmt.Sprintf(`{"lease":%q}`, body["lease"]))
					if rc != http.StatusOK || rb["released"] != true {
						t.Errorf("release got %d %v", rc, rb)
					} else {
						mu.Lock()
						released++
						mu.Unlock()
					}
				}
			}
		}()
	}
	time.Sleep(time.Second)
	m.Stop()
	down := time.Now()
	time.Sleep(3 * time.Second)
	if code, body := get(t, base+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("readyz with MongoDB down: got %d %v, want 503", code, body)
	}
	up := time.Now()
	m.Start()
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		last := outcomes[len(outcomes)-1]
		mu.Unlock()
		if last.code == http.StatusOK && last.at.After(up) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("locking did not resume within 30s of MongoDB's return")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	if err := s.stop(t); err != nil { // flushes the journal
		t.Fatal(err)
	}

	var granted, refused int
	for _, o := range outcomes {
		switch {
		case o.code == http.StatusOK:
			granted++
			// Sent once MongoDB was down and answered before it came back:
			// a grant without a fence from the store. (One sent before
			// may have been minted just before the stop and answered after.)
			if o.sent.After(down) && o.at.Before(up) {
				t.Errorf("sent at %v and granted at %v while MongoDB was down (%v to %v)", o.sent, o.at, down, up)
			}
		case o.code == http.StatusServiceUnavailable && o.errCode == "store_unavailable":
			refused++
		default:
			t.Errorf("unexpected answer %d %q", o.code, o.errCode)
		}
	}
	if refused == 0 {
		t.Error("no acquire was refused while MongoDB was down")
	}
	t.Logf("%d grants, %d refused with store_unavailable", granted, refused)
	filter := func(kind string) bson.D {
		return bson.D{{Key: "kind", Value: kind}, {Key: "name", Value: bson.D{{Key: "$regex", Value: "^outage-"}}}}
	}
	if n := countEvents(t, m, filter("acquired")); n != int64(granted) {
		t.Errorf("journal has %d acquired events, want %d", n, granted)
	}
	if n := countEvents(t, m, filter("released")); n != int64(released) {
		t.Errorf("journal has %d released events, want %d", n, released)
	}
}
