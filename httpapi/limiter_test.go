package httpapi

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/lockd/lockd"
)

// TestLimiterClientsBounded: the rate limiter follows at most maxClients
// clients; past that a new one is refused until a sweep, at most once a
// second, forgets the clients whose buckets are full again.
func TestLimiterClientsBounded(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newLimiter(Limits{Rate: 1, Burst: 1}, func() time.Time { return now })
	for i := range maxClients {
		if err := l.request("c" + strconv.Itoa(i)); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
	}
	if err := l.request("new"); !errors.Is(err, lockd.ErrRateLimited) {
		t.Fatalf("a client past the bound: %v, want ErrRateLimited", err)
	}
	now = now.Add(500 * time.Millisecond) // buckets half full: nothing to forget, no sweep yet
	if err := l.request("new2"); !errors.Is(err, lockd.ErrRateLimited) {
		t.Fatalf("a client past the bound within a second: %v, want ErrRateLimited", err)
	}
	now = now.Add(time.Second) // every bucket full again
	if err := l.request("new3"); err != nil {
		t.Fatalf("a new client after the sweep: %v", err)
	}
	if len(l.buckets) != 1 {
		t.Errorf("%d buckets after the sweep, want 1", len(l.buckets))
	}
}
