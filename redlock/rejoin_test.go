package redlock

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/testenv"
)

// newRejoinEngine is an engine over three fresh nodes whose leases last at
// most maxTTL; opts come after the test's defaults.
func newRejoinEngine(t *testing.T, maxTTL time.Duration, opts ...Option) (*Engine, []*testenv.Redis) {
	t.Helper()
	servers := testenv.StartRedis(t, 3)
	opts = append([]Option{WithMaxTTL(maxTTL), WithProbeInterval(50 * time.Millisecond), WithLogger(nil)}, opts...)
	e, err := New(testenv.Addrs(servers), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e, servers
}

// rejoining reports whether node i shows as rejoining in e's health.
func rejoining(t *testing.T, e *Engine, i int) bool {
	t.Helper()
	n := e.Health(ctx(t)).Nodes[i]
	return !n.OK && n.State == lockd.NodeRejoining && strings.Contains(n.Error, "rejoining")
}

// TestRejoinDelay restarts two of three nodes empty while a lock is held:
// they get no vote until the delay has passed, so the lock is never granted
// to anyone else while its lease can be live, and /readyz's health says
// why; after the delay they vote again.
func TestRejoinDelay(t *testing.T) {
	const maxTTL = 3 * time.Second
	e, servers := newRejoinEngine(t, maxTTL)
	name := "rejoin"
	a, err := e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "a", TTL: maxTTL})
	if err != nil {
		t.Fatal(err)
	}
	servers[1].Restart()
	servers[2].Restart()
	restarted := time.Now()
	var last error
	for time.Since(restarted) < maxTTL*2/3 {
		b, err := e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "b", TTL: time.Second})
		if err == nil {
			t.Fatalf("b granted %+v %v after the restart, while a's lease (until %v) may be live", b, time.Since(restarted), a.ExpiresAt)
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	if !errors.Is(last, lockd.ErrQuorumUnavailable) || !strings.Contains(last.Error(), "rejoining") {
		t.Errorf("b's last acquire: %v, want quorum unavailable with two nodes rejoining", last)
	}
	if h := e.Health(ctx(t)); h.Ready || !h.Nodes[0].OK || !rejoining(t, e, 1) || !rejoining(t, e, 2) {
		t.Errorf("health within the delay: %+v, want not ready, nodes 1 and 2 rejoining", h)
	}
	var b lockd.Lease
	testenv.Eventually(t, "b's grant once the delay is over", func() bool {
		b, err = e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "b", TTL: time.Second})
		return err == nil
	})
	if d := time.Since(restarted); d < maxTTL {
		t.Errorf("b granted %v after the restart, within the rejoin delay %v", d, maxTTL)
	}
	if !e.Health(ctx(t)).Ready {
		t.Error("not ready after the delay")
	}
	if b.Fence <= a.Fence {
		t.Errorf("b's fence %d, want above a's %d", b.Fence, a.Fence)
	}
}

// TestNoRejoinDelayGrantsTwice is the hazard the delay exists for: with
// it off, two nodes restarted empty outvote the one that remembers the
// lock, and it is granted again while its first lease is live.
func TestNoRejoinDelayGrantsTwice(t *testing.T) {
	e, servers := newRejoinEngine(t, 10*time.Second, WithRejoinDelay(0))
	name := "twice"
	a, err := e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "a", TTL: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	servers[1].Restart()
	servers[2].Restart()
	testenv.Eventually(t, "b's grant on the restarted nodes", func() bool {
		_, err = e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "b", TTL: time.Second})
		return err == nil
	})
	if time.Now().After(a.ExpiresAt) {
		t.Fatalf("a's lease ran out (%v) before b's grant: the hazard was not shown", a.ExpiresAt)
	}
}

// TestRestartWithinDelay restarts a node again while it rejoins: its delay
// starts over from when the second restart is seen.
func TestRestartWithinDelay(t *testing.T) {
	const delay = 2 * time.Second
	e, servers := newRejoinEngine(t, delay)
	if _, err := e.Acquire(ctx(t), "seen", lockd.AcquireOptions{Owner: "a", TTL: time.Second}); err != nil {
		t.Fatal(err) // every node's run_id is known from here on
	}
	servers[1].Restart()
	testenv.Eventually(t, "node 1 rejoining", func() bool { return rejoining(t, e, 1) })
	first := time.Now()
	time.Sleep(delay / 2)
	servers[1].Restart()
	time.Sleep(time.Until(first.Add(delay + delay/4)))
	if !rejoining(t, e, 1) {
		t.Errorf("node 1 votes %v after its first restart was seen, though it restarted again within the delay", time.Since(first))
	}
	testenv.Eventually(t, "node 1 back", func() bool { return e.Health(ctx(t)).Nodes[1].OK })
}

// TestObserveRestart covers what counts as a restart: a new run_id, or an
// uptime that went back more than uptimeJitter with the same run_id; not
// an uptime that grew, nor one a second behind (Redis caches its clock).
func TestObserveRestart(t *testing.T) {
	for _, tc := range []struct {
		name        string
		second      map[string]string
		delay       time.Duration
		wantRejoins bool
	}{
		{"SameServer", map[string]string{"run_id": "r1", "uptime_in_seconds": "101"}, time.Minute, false},
		{"NewRunID", map[string]string{"run_id": "r2", "uptime_in_seconds": "1"}, time.Minute, true},
		{"UptimeBack", map[string]string{"run_id": "r1", "uptime_in_seconds": "3"}, time.Minute, true},
		{"UptimeJitter", map[string]string{"run_id": "r1", "uptime_in_seconds": "98"}, time.Minute, false},
		{"NoUptime", map[string]string{"run_id": "r1"}, time.Minute, false},
		{"DelayOff", map[string]string{"run_id": "r2"}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := newConfig([]Option{WithRejoinDelay(tc.delay), WithLogger(nil)})
			if err != nil {
				t.Fatal(err)
			}
			n := newRedisNodes([]string{"127.0.0.1:1"}, &cfg)[0]
			if err := n.observe(map[string]string{"run_id": "r1", "uptime_in_seconds": "100"}); err != nil {
				t.Fatalf("first sight: %v", err)
			}
			err = n.observe(tc.second)
			if got := errors.Is(err, errRejoining); got != tc.wantRejoins {
				t.Fatalf("second reading %v: %v, want rejoining %v", tc.second, err, tc.wantRejoins)
			}
			if got := n.rejoinLeft() > 0; got != tc.wantRejoins {
				t.Errorf("rejoinLeft %v, want rejoining %v", n.rejoinLeft(), tc.wantRejoins)
			}
		})
	}
}

// TestMaxTTL: leases longer than the engine's maximum are refused, since
// the rejoin delay could not cover them.
func TestMaxTTL(t *testing.T) {
	e, _ := newRejoinEngine(t, time.Second)
	var ae *lockd.ArgumentError
	if _, err := e.Acquire(ctx(t), "long", lockd.AcquireOptions{Owner: "a", TTL: 2 * time.Second}); !errors.As(err, &ae) || ae.Field != "ttl_ms" {
		t.Errorf("acquire above the maximum TTL: %v, want ArgumentError on ttl_ms", err)
	}
	l, err := e.Acquire(ctx(t), "long", lockd.AcquireOptions{Owner: "a", TTL: time.Second})
	if err != nil {
		t.Fatalf("acquire at the maximum TTL: %v", err)
	}
	if _, err := e.Extend(ctx(t), "long", l.ID, 2*time.Second); !errors.As(err, &ae) || ae.Field != "ttl_ms" {
		t.Errorf("extend above the maximum TTL: %v, want ArgumentError on ttl_ms", err)
	}
	for _, bad := range []Option{WithMaxTTL(lockd.MinTTL - 1), WithMaxTTL(lockd.MaxTTL + 1), WithRejoinDelay(-time.Second)} {
		if _, err := New([]string{"127.0.0.1:1"}, bad); !errors.Is(err, lockd.ErrInvalidArgument) {
			t.Errorf("New with a bad option: %v, want ErrInvalidArgument", err)
		}
	}
}
