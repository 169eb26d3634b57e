package httpapi_test

import (
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/httpapi"
	"github.com/lockd/lockd/memlock"
)

// limitCounter is a RequestObserver that counts limit refusals.
type limitCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *limitCounter) ObserveRequest(string, int, time.Duration) {}
func (c *limitCounter) ObserveLimited(limit string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[limit]++
}
func (c *limitCounter) get(limit string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[limit]
}

func wantLimited(t *testing.T, r response) {
	t.Helper()
	wantError(t, r, http.StatusTooManyRequests, lockd.CodeRateLimited, "")
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("Retry-After %q, want a number of seconds", r.header.Get("Retry-After"))
	}
}

// TestLimits: each limit answers 429 rate_limited with Retry-After, is
// counted, and lets requests through again once the pressure is gone.
func TestLimits(t *testing.T) {
	t.Run("Rate", func(t *testing.T) {
		obs := &limitCounter{n: map[string]int{}}
		srv := newServer(t, memlock.New(), httpapi.WithRequestObserver(obs), httpapi.WithLimits(httpapi.Limits{Rate: 5, Burst: 2}))
		wantStatus(t, send(t, srv, "GET", "/v1/locks/a", ""), http.StatusOK)
		wantStatus(t, send(t, srv, "GET", "/v1/locks/a", ""), http.StatusOK)
		wantLimited(t, send(t, srv, "GET", "/v1/locks/a", ""))
		if r := send(t, srv, "POST", "/get-lock", `{"duration":"10","resource":"a","identity":"me"}`); r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
			t.Errorf("prototype route over the rate: %d %s, want 429 with Retry-After", r.status, r.body)
		}
		wantStatus(t, send(t, srv, "GET", "/healthz", ""), http.StatusOK) // probes are never limited
		time.Sleep(300 * time.Millisecond)                                // 1.5 tokens back
		wantStatus(t, send(t, srv, "GET", "/v1/locks/a", ""), http.StatusOK)
		if obs.get("rate") != 2 {
			t.Errorf("rate refusals counted %d, want 2", obs.get("rate"))
		}
	})
	t.Run("RatePerKey", func(t *testing.T) {
		srv := newServer(t, memlock.New(), httpapi.WithLimits(httpapi.Limits{Rate: 0.1, Burst: 1}), httpapi.WithKeys([]httpapi.Key{
			key(t, "a", "a-token", httpapi.RoleRead), key(t, "b", "b-token", httpapi.RoleRead),
		}))
		wantStatus(t, sendAs(t, srv, "a-token", "GET", "/v1/locks/x", ""), http.StatusOK)
		wantLimited(t, sendAs(t, srv, "a-token", "GET", "/v1/locks/x", ""))
		wantStatus(t, sendAs(t, srv, "b-token", "GET", "/v1/locks/x", ""), http.StatusOK)
	})
	t.Run("NamesPerMinute", func(t *testing.T) {
		obs := &limitCounter{n: map[string]int{}}
		srv := newServer(t, memlock.New(), httpapi.WithRequestObserver(obs), httpapi.WithLimits(httpapi.Limits{NamesPerMinute: 2}))
		wantStatus(t, send(t, srv, "GET", "/v1/locks/n1", ""), http.StatusOK)
		wantStatus(t, send(t, srv, "POST", "/v1/locks/n2/acquire", `{"owner":"o"}`), http.StatusOK)
		wantLimited(t, send(t, srv, "GET", "/v1/locks/n3", ""))
		wantStatus(t, send(t, srv, "GET", "/v1/locks/n1", ""), http.StatusOK) // seen this minute
		wantLimited(t, send(t, srv, "POST", "/v1/locks:acquire-many", `{"names":["n1","n4"],"owner":"o"}`))
		if obs.get("names") != 2 {
			t.Errorf("names refusals counted %d, want 2", obs.get("names"))
		}
	})
	t.Run("WaitersPerName", func(t *testing.T) {
		srv := newServer(t, memlock.New(), httpapi.WithLimits(httpapi.Limits{MaxWaiters: 2, MaxWaitersPerName: 1}))
		held := wantStatus(t, send(t, srv, "POST", "/v1/locks/w/acquire", `{"owner":"h","ttl_ms":10000}`), http.StatusOK)
		other := wantStatus(t, send(t, srv, "POST", "/v1/locks/v/acquire", `{"owner":"h","ttl_ms":10000}`), http.StatusOK)
		first := make(chan response, 2)
		for _, p := range []string{"w", "v"} {
			go func() {
				r, err := sendAsync(srv, "POST", "/v1/locks/"+p+"/acquire", `{"owner":"`+p+`1","wait_ms":20000}`)
				if err != nil {
					r = response{status: -1, body: []byte(err.Error())}
				}
				first <- r
			}()
		}
		time.Sleep(time.Second) // both wait by now: each holds a place
		wantLimited(t, send(t, srv, "POST", "/v1/locks/w/acquire", `{"owner":"w2","wait_ms":100}`))
		wantLimited(t, send(t, srv, "POST", "/v1/locks/u/acquire", `{"owner":"u1","wait_ms":100}`))
		wantStatus(t, send(t, srv, "POST", "/v1/locks/u/acquire", `{"owner":"u2"}`), http.StatusOK) // no wait: not a waiter
		wantStatus(t, send(t, srv, "POST", "/v1/locks/w/release", `{"lease":"`+held["lease"].(string)+`"}`), http.StatusOK)
		wantStatus(t, send(t, srv, "POST", "/v1/locks/v/release", `{"lease":"`+other["lease"].(string)+`"}`), http.StatusOK)
		for range 2 {
			wantStatus(t, <-first, http.StatusOK)
		}
		// The places are free again.
		wantStatus(t, send(t, srv, "POST", "/v1/locks/z/acquire", `{"owner":"z","wait_ms":100}`), http.StatusOK)
	})
}
