package client_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/client"
	"github.com/lockd/lockd/election"
	"github.com/lockd/lockd/httpapi"
	"github.com/lockd/lockd/locktest"
	"github.com/lockd/lockd/memlock"
)

// bothWays runs fn with a client over HTTP and with a NewLocal one, each
// over a fresh memory engine.
func bothWays(t *testing.T, fn func(t *testing.T, c *client.Client)) {
	t.Run("HTTP", func(t *testing.T) {
		eng := memlock.New()
		srv := httptest.NewServer(httpapi.New(eng, httpapi.WithLogger(slog.New(slog.DiscardHandler)), httpapi.WithElectionPoll(20*time.Millisecond)))
		t.Cleanup(func() {
			srv.Close()
			_ = eng.Close()
		})
		fn(t, newClient(t, srv.URL))
	})
	t.Run("Local", func(t *testing.T) {
		eng := memlock.New()
		t.Cleanup(func() { _ = eng.Close() })
		c, err := client.NewLocal(eng)
		if err != nil {
			t.Fatal(err)
		}
		fn(t, c)
	})
}

// TestCampaign: a leadership kept alive outlives its TTL; a second
// campaign waits and is refused; Resign ends it (Done, ErrReleased) and
// frees the election.
func TestCampaign(t *testing.T) {
	bothWays(t, func(t *testing.T, c *client.Client) {
		ctx := ctxFor(t)
		a, err := c.Campaign(ctx, "e", client.Owner("a"), client.TTL(300*time.Millisecond), client.Metadata(map[string]string{"addr": "10.0.0.1:80"}))
		if err != nil {
			t.Fatalf("Campaign: %v", err)
		}
		if a.Term() < 1 || a.Name() != "e" || a.Owner() != "a" || a.Term() != a.Lease().Fence() {
			t.Errorf("got name %q owner %q term %d, want e, a, the fence", a.Name(), a.Owner(), a.Term())
		}
		time.Sleep(time.Second) // three TTLs: keep-alive renews it
		l, err := c.Leader(ctx, "e")
		if err != nil || !l.Leading || l.Owner != "a" || l.Term != a.Term() || string(l.Metadata) != `{"addr":"10.0.0.1:80"}` {
			t.Fatalf("Leader: %+v, %v; want a in term %d", l, err, a.Term())
		}
		_, err = c.Campaign(ctx, "e", client.Owner("b"), client.Wait(100*time.Millisecond))
		var noe *lockd.NotObtainedError
		if !errors.As(err, &noe) || noe.Holder == nil || noe.Holder.Owner != "a" {
			t.Errorf("second campaign: %v, want *NotObtainedError naming a", err)
		}
		if err := a.Resign(ctx); err != nil {
			t.Fatalf("Resign: %v", err)
		}
		select {
		case <-a.Done():
		default:
			t.Fatal("Done open after Resign")
		}
		if !errors.Is(a.Err(), client.ErrReleased) {
			t.Errorf("Err: %v, want ErrReleased", a.Err())
		}
		if err := a.Resign(ctx); !errors.Is(err, lockd.ErrNotHeld) {
			t.Errorf("Resign twice: %v, want ErrNotHeld", err)
		}
		if l, err := c.Leader(ctx, "e"); err != nil || l.Leading {
			t.Errorf("Leader after Resign: %+v, %v; want nobody", l, err)
		}
	})
}

// TestCampaignTakeover: a leader without keep-alive loses the election
// at its TTL to a campaigner that waits, and its Done closes.
func TestCampaignTakeover(t *testing.T) {
	bothWays(t, func(t *testing.T, c *client.Client) {
		ctx := ctxFor(t)
		obs, err := c.Observe(ctx, "e")
		if err != nil {
			t.Fatalf("Observe: %v", err)
		}
		log := locktest.LogLeaders(obs)
		a, err := c.Campaign(ctx, "e", client.Owner("a"), client.TTL(300*time.Millisecond), client.NoKeepAlive())
		if err != nil {
			t.Fatalf("Campaign a: %v", err)
		}
		b, err := c.Campaign(ctx, "e", client.Owner("b"), client.Wait(5*time.Second))
		if err != nil {
			t.Fatalf("Campaign b: %v", err)
		}
		defer b.Resign(ctx)
		select {
		case <-a.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("a's Done still open after b won")
		}
		if !errors.Is(a.Err(), lockd.ErrLost) {
			t.Errorf("a's Err: %v, want ErrLost", a.Err())
		}
		if b.Term() <= a.Term() {
			t.Errorf("b's term %d after a's %d", b.Term(), a.Term())
		}
		log.WaitFor(t, 5*time.Second, "b leading", func(s []election.Leader) bool {
			return len(s) > 0 && s[len(s)-1].Owner == "b"
		})
		seen := log.Seen()
		locktest.CheckLeaderOrder(t, "e", seen)
		want := fmt.Sprintf("[none a@%d", a.Term())
		if got := locktest.DescribeLeaders(seen); got[:len(want)] != want {
			t.Errorf("observer saw %s, want it to start with %s]", got, want)
		}
	})
}

// TestOneLeader: campaigners with keep-alive never lead at once, terms
// grow, and an observer sees every term, in order.
func TestOneLeader(t *testing.T) {
	bothWays(t, func(t *testing.T, c *client.Client) {
		const campaigners, rounds = 4, 5
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		obs, err := c.Observe(ctx, "e")
		if err != nil {
			t.Fatalf("Observe: %v", err)
		}
		log := locktest.LogLeaders(obs)
		var (
			leaders atomic.Int32
			mu      sync.Mutex
			terms   []int64
			wg      sync.WaitGroup
		)
		for i := range campaigners {
			wg.Go(func() {
				for range rounds {
					l, err := c.Campaign(ctx, "e", client.Owner(fmt.Sprint("c", i)), client.TTL(time.Second), client.Wait(20*time.Second))
					if err != nil {
						t.Errorf("Campaign: %v", err)
						return
					}
					if n := leaders.Add(1); n != 1 {
						t.Errorf("%d leaders at once", n)
					}
					mu.Lock()
					if len(terms) > 0 && l.Term() <= terms[len(terms)-1] {
						t.Errorf("term %d after %d", l.Term(), terms[len(terms)-1])
					}
					terms = append(terms, l.Term())
					mu.Unlock()
					time.Sleep(10 * time.Millisecond)
					select {
					case <-l.Done():
						t.Errorf("leadership lost while leading: %v", l.Err())
					default:
					}
					leaders.Add(-1)
					if err := l.Resign(ctx); err != nil {
						t.Errorf("Resign: %v", err)
					}
				}
			})
		}
		wg.Wait()
		mu.Lock()
		want := fmt.Sprint(terms)
		mu.Unlock()
		log.WaitFor(t, 5*time.Second, "every term", func(s []election.Leader) bool {
			return len(s) > 0 && !s[len(s)-1].Leading && fmt.Sprint(leaderTermsOf(s)) == want
		})
		cancel()
		log.WaitClosed(t, 5*time.Second)
		locktest.CheckLeaderOrder(t, "e", log.Seen())
	})
}

func leaderTermsOf(seen []election.Leader) []int64 {
	var terms []int64
	for _, l := range seen {
		if l.Leading {
			terms = append(terms, l.Term)
		}
	}
	return terms
}

// TestObserveReconnects: when the stream's connection breaks, Observe
// connects again; the first state after is the current one, and nothing
// goes back in term order.
func TestObserveReconnects(t *testing.T) {
	eng := memlock.New()
	srv := httptest.NewServer(httpapi.New(eng, httpapi.WithLogger(slog.New(slog.DiscardHandler))))
	t.Cleanup(func() {
		srv.Close()
		_ = eng.Close()
	})
	c := newClient(t, srv.URL)
	ctx := ctxFor(t)
	obs, err := c.Observe(ctx, "e")
	if err != nil {
		t.Fatal(err)
	}
	log := locktest.LogLeaders(obs)
	a, err := c.Campaign(ctx, "e", client.Owner("a"))
	if err != nil {
		t.Fatal(err)
	}
	log.WaitFor(t, 5*time.Second, "a", func(s []election.Leader) bool { return len(s) == 2 })
	srv.CloseClientConnections()
	if err := a.Resign(ctx); err != nil {
		t.Fatal(err)
	}
	b, err := c.Campaign(ctx, "e", client.Owner("b"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Resign(ctx)
	log.WaitFor(t, 5*time.Second, "b after the reconnect", func(s []election.Leader) bool {
		return len(s) > 0 && s[len(s)-1].Owner == "b"
	})
	locktest.CheckLeaderOrder(t, "e", log.Seen())
}

// TestObserveEnds: the channel closes when the context ends.
func TestObserveEnds(t *testing.T) {
	bothWays(t, func(t *testing.T, c *client.Client) {
		ctx, cancel := context.WithCancel(ctxFor(t))
		obs, err := c.Observe(ctx, "e")
		if err != nil {
			t.Fatal(err)
		}
		log := locktest.LogLeaders(obs)
		log.WaitFor(t, 5*time.Second, "the first state", func(s []election.Leader) bool { return len(s) == 1 })
		cancel()
		log.WaitClosed(t, 5*time.Second)
	})
}

// TestElectionErrInvalidArgument: bad input is an *lockd.ArgumentError
// naming the field, over HTTP and in-process alike.
func TestElectionErrInvalidArgument(t *testing.T) {
	bothWays(t, func(t *testing.T, c *client.Client) {
		ctx := ctxFor(t)
		tests := []struct {
			name, field string
			call        func() error
		}{
			{"CampaignBadName", "name", func() error { _, err := c.Campaign(ctx, "bad name"); return err }},
			{"CampaignBadTTL", "ttl_ms", func() error { _, err := c.Campaign(ctx, "e", client.TTL(time.Millisecond)); return err }},
			{"CampaignBadWait", "wait_ms", func() error { _, err := c.Campaign(ctx, "e", client.Wait(time.Hour)); return err }},
			{"CampaignFair", "fair", func() error { _, err := c.Campaign(ctx, "e", client.Fair()); return err }},
			{"CampaignBadOwner", "owner", func() error { _, err := c.Campaign(ctx, "e", client.Owner("")); return err }},
			{"LeaderBadName", "name", func() error { _, err := c.Leader(ctx, "a/b"); return err }},
			{"ObserveBadName", "name", func() error { _, err := c.Observe(ctx, ".."); return err }},
			{"ResignBadLease", "lease", func() error { _, err := c.Engine().Release(ctx, "e", "not-a-lease"); return err }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var ae *lockd.ArgumentError
				if err := tt.call(); !errors.As(err, &ae) || ae.Field != tt.field {
					t.Errorf("got %v, want an ArgumentError on %s", err, tt.field)
				}
			})
		}
	})
}

// TestObserveTooMany: past the server's observer cap, Observe returns
// lockd.ErrUnavailable.
func TestObserveTooMany(t *testing.T) {
	eng := memlock.New()
	srv := httptest.NewServer(httpapi.New(eng, httpapi.WithLogger(slog.New(slog.DiscardHandler)), httpapi.WithMaxObservers(1)))
	t.Cleanup(func() {
		srv.Close()
		_ = eng.Close()
	})
	c := newClient(t, srv.URL, client.WithRetry(0))
	ctx := ctxFor(t)
	if _, err := c.Observe(ctx, "e"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Observe(ctx, "e"); !errors.Is(err, lockd.ErrUnavailable) {
		t.Errorf("second Observe: %v, want ErrUnavailable", err)
	}
}

// TestObserveSurvivesShutdown: when the lockd serving the stream shuts
// down, Observe connects again (here to a lockd started at the same
// address) and goes on.
func TestObserveSurvivesShutdown(t *testing.T) {
	eng := memlock.New()
	t.Cleanup(func() { _ = eng.Close() })
	serveAt := func(addr string) (*http.Server, string) {
		t.Helper()
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		hs := &http.Server{Handler: httpapi.New(eng, httpapi.WithLogger(slog.New(slog.DiscardHandler)))}
		go func() { _ = hs.Serve(ln) }()
		t.Cleanup(func() { _ = hs.Close() })
		return hs, ln.Addr().String()
	}
	first, addr := serveAt("127.0.0.1:0")
	c := newClient(t, "http://"+addr)
	ctx := ctxFor(t)
	obs, err := c.Observe(ctx, "e")
	if err != nil {
		t.Fatal(err)
	}
	log := locktest.LogLeaders(obs)
	log.WaitFor(t, 5*time.Second, "the first state", func(s []election.Leader) bool { return len(s) == 1 })
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := first.Shutdown(sctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	serveAt(addr)
	a, err := c.Campaign(ctx, "e", client.Owner("a"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Resign(ctx)
	log.WaitFor(t, 10*time.Second, "a, after the reconnect", func(s []election.Leader) bool {
		return len(s) > 0 && s[len(s)-1].Owner == "a"
	})
	locktest.CheckLeaderOrder(t, "e", log.Seen())
}

// TestElectionWithToken: against a lockd that asks for API keys, the
// election calls and the observe stream carry the client's token; a
// read-only key may observe but not campaign.
func TestElectionWithToken(t *testing.T) {
	eng := memlock.New()
	key := func(name, token string, role httpapi.Role) httpapi.Key {
		h, _ := httpapi.ParseKeyHash(httpapi.HashToken(token))
		return httpapi.Key{Name: name, Hash: h, Role: role}
	}
	srv := httptest.NewServer(httpapi.New(eng, httpapi.WithLogger(slog.New(slog.DiscardHandler)),
		httpapi.WithKeys([]httpapi.Key{key("writer", "w-token", httpapi.RoleWrite), key("reader", "r-token", httpapi.RoleRead)})))
	t.Cleanup(func() {
		srv.Close()
		_ = eng.Close()
	})
	ctx := ctxFor(t)
	reader := newClient(t, srv.URL, client.WithToken("r-token"), client.WithRetry(0))
	obs, err := reader.Observe(ctx, "e")
	if err != nil {
		t.Fatalf("Observe with a read key: %v", err)
	}
	log := locktest.LogLeaders(obs)
	if _, err := reader.Campaign(ctx, "e"); !errors.Is(err, lockd.ErrPermissionDenied) {
		t.Errorf("Campaign with a read key: %v, want ErrPermissionDenied", err)
	}
	if _, err := newClient(t, srv.URL, client.WithRetry(0)).Observe(ctx, "e"); !errors.Is(err, lockd.ErrUnauthenticated) {
		t.Errorf("Observe without a token: %v, want ErrUnauthenticated", err)
	}
	a, err := newClient(t, srv.URL, client.WithToken("w-token")).Campaign(ctx, "e", client.Owner("a"))
	if err != nil {
		t.Fatalf("Campaign with a write key: %v", err)
	}
	defer a.Resign(ctx)
	log.WaitFor(t, 5*time.Second, "a", func(s []election.Leader) bool { return len(s) == 2 && s[1].Owner == "a" })
}
