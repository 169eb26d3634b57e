package e2e_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/client"
	"github.com/lockd/lockd/httpapi"
	"github.com/lockd/lockd/internal/testenv"
	"github.com/lockd/lockd/locktest"
	"github.com/lockd/lockd/redlock"
)

// cluster is three real Redis nodes with a Redlock engine over them.
type cluster struct {
	nodes []*testenv.Redis
	eng   lockd.Engine
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	nodes := testenv.StartRedis(t, 3)
	eng, err := redlock.New(testenv.Addrs(nodes), redlock.WithRetryDelay(time.Millisecond, 5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	return &cluster{nodes: nodes, eng: eng}
}

// both runs f with a Client that links a Redlock engine on three real
// nodes (NewLocal), and with one that calls it through lockd's HTTP API
// (New).
func both(t *testing.T, f func(t *testing.T, cl *cluster, c *client.Client)) {
	t.Helper()
	for _, mode := range []string{"Local", "Remote"} {
		t.Run(mode, func(t *testing.T) {
			cl := newCluster(t)
			var (
				c   *client.Client
				err error
			)
			if mode == "Local" {
				c, err = client.NewLocal(cl.eng)
			} else {
				srv := httptest.NewServer(httpapi.New(cl.eng, httpapi.WithLogger(slog.New(slog.DiscardHandler))))
				t.Cleanup(srv.Close)
				c, err = client.New(srv.URL)
			}
			if err != nil {
				t.Fatal(err)
			}
			f(t, cl, c)
		})
	}
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// TestKeepAliveHolds keeps a 1s lease alive for 5s on real Redis while
// another holder is refused all along.
func TestKeepAliveHolds(t *testing.T) {
	both(t, func(t *testing.T, cl *cluster, c *client.Client) {
		ctx := ctxFor(t, 30*time.Second)
		l, err := c.Acquire(ctx, "held", client.TTL(time.Second), client.KeepAlive())
		if err != nil {
			t.Fatal(err)
		}
		refused := 0
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
			_, err := c.Acquire(ctx, "held", client.Owner("other"))
			if !errors.Is(err, lockd.ErrNotObtained) {
				t.Fatalf("another Acquire while kept alive: %v, want ErrNotObtained", err)
			}
			refused++
		}
		select {
		case <-l.Done():
			t.Fatalf("Done closed while kept alive: %v", l.Err())
		default:
		}
		if err := l.Release(ctx); err != nil {
			t.Fatalf("Release after 5s: %v", err)
		}
		t.Logf("%d acquires by another refused over 5s", refused)
	})
}

// TestQuorumStopped pauses two of three nodes for longer than the TTL
// while WithLock runs: the lease's Done must close, and fn's context end,
// within the TTL of the pause (the last renewal was sent before it), and
// the release afterwards must say the lease was lost.
func TestQuorumStopped(t *testing.T) {
	const ttl = time.Second
	both(t, func(t *testing.T, cl *cluster, c *client.Client) {
		ctx := ctxFor(t, time.Minute)
		var (
			paused time.Time
			within time.Duration
		)
		err := c.WithLock(ctx, "stopped", func(ctx context.Context, l *client.Lease) error {
			paused = time.Now()
			cl.nodes[0].Pause()
			cl.nodes[1].Pause()
			select {
			case <-ctx.Done():
				within = time.Since(paused)
			case <-time.After(3 * ttl):
				t.Error("fn's context still open 3 TTLs after a quorum stopped")
			}
			if !errors.Is(context.Cause(ctx), client.ErrExpired) {
				t.Errorf("Cause = %v, want ErrExpired", context.Cause(ctx))
			}
			// Stopped for longer than the TTL in all.
			time.Sleep(ttl + 500*time.Millisecond - time.Since(paused))
			return nil
		}, client.TTL(ttl))
		cl.nodes[0].Resume()
		cl.nodes[1].Resume()
		if within > ttl {
			t.Errorf("fn's context ended %v after the pause, want within the TTL %v", within, ttl)
		}
		if !errors.Is(err, lockd.ErrLost) || !errors.Is(err, client.ErrExpired) {
			t.Errorf("WithLock = %v, want the loss (ErrLost, ErrExpired) reported", err)
		}
		t.Logf("fn's context ended %v after the pause; WithLock: %v", within, err)
		// Once the nodes are back, the lock is free: it expired.
		l, err := c.Acquire(ctx, "stopped", client.Wait(5*time.Second))
		if err != nil {
			t.Fatalf("Acquire after the nodes came back: %v", err)
		}
		if err := l.Release(ctx); err != nil {
			t.Errorf("Release: %v", err)
		}
	})
}

// TestReleaseAfterLoss releases a lease that keep-alive lost while a
// quorum was paused, after the nodes came back.
func TestReleaseAfterLoss(t *testing.T) {
	const ttl = 500 * time.Millisecond
	both(t, func(t *testing.T, cl *cluster, c *client.Client) {
		ctx := ctxFor(t, time.Minute)
		l, err := c.Acquire(ctx, "lost", client.TTL(ttl), client.KeepAlive())
		if err != nil {
			t.Fatal(err)
		}
		cl.nodes[1].Pause()
		cl.nodes[2].Pause()
		select {
		case <-l.Done():
		case <-time.After(5 * ttl):
			t.Fatal("Done still open 5 TTLs after a quorum stopped")
		}
		time.Sleep(ttl) // the nodes' own clocks let the key expire
		cl.nodes[1].Resume()
		cl.nodes[2].Resume()
		err = l.Release(ctx)
		if !errors.Is(err, lockd.ErrLost) {
			t.Errorf("Release after loss = %v, want it to say ErrLost", err)
		}
		t.Logf("Release after loss: %v", err)
	})
}

// TestWithLockExcludesRedis has 16 goroutines share one Client and take
// turns with WithLock on one name over real Redis, 200 times each.
func TestWithLockExcludesRedis(t *testing.T) {
	both(t, func(t *testing.T, cl *cluster, c *client.Client) {
		start := time.Now()
		locktest.Exclusive(t, 16, 200, 5*time.Minute, func(ctx context.Context, critical func(int64)) error {
			return c.WithLock(ctx, "counter", func(_ context.Context, l *client.Lease) error {
				critical(l.Fence())
				return nil
			}, client.Wait(time.Minute))
		})
		t.Logf("3200 WithLock cycles in %v", time.Since(start).Round(time.Millisecond))
	})
}
