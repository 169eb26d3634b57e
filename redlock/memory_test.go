package redlock

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/testenv"
)

// keysOn returns the keys under prefix on the server at addr. SCAN also
// drops keys that expired but were not yet collected.
func keysOn(t *testing.T, addr, prefix string) []string {
	t.Helper()
	c := adminClient(t, addr)
	var out []string
	var cursor uint64
	for range 10000 {
		e, err := c.Do(ctx(t), c.B().Scan().Cursor(cursor).Match(prefix+"*").Count(1000).Build()).AsScanEntry()
		if err != nil {
			t.Fatalf("SCAN on %s: %v", addr, err)
		}
		out = append(out, e.Elements...)
		if cursor = e.Cursor; cursor == 0 {
			return out
		}
	}
	t.Fatalf("SCAN on %s did not end", addr)
	return nil
}

// TestFootprintGoesToZero uses many lock names once each: once they are
// released or expired, the nodes keep one shared fence counter and nothing
// per name.
func TestFootprintGoesToZero(t *testing.T) {
	servers := testenv.StartRedis(t, 3)
	e, _ := newLoggedEngine(t, testenv.Addrs(servers))
	var last int64
	for i := range 300 {
		l, err := e.Acquire(ctx(t), fmt.Sprintf("once:%d", i), lockd.AcquireOptions{Owner: "a"})
		if err != nil {
			t.Fatal(err)
		}
		if l.Fence <= last {
			t.Fatalf("fence %d after %d", l.Fence, last)
		}
		last = l.Fence
		if _, err := e.Release(ctx(t), l.Name, l.ID); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 300 {
		if _, err := e.Acquire(ctx(t), fmt.Sprintf("expires:%d", i), lockd.AcquireOptions{Owner: "a", TTL: lockd.MinTTL}); err != nil {
			t.Fatal(err)
		}
	}
	e.settle()
	time.Sleep(3 * lockd.MinTTL)
	for _, s := range servers {
		if got := keysOn(t, s.Addr(), DefaultKeyPrefix); len(got) != 1 || got[0] != e.fenceKey() {
			t.Errorf("node %s keeps %d keys (%q...), want only %s", s.Addr(), len(got), got[:min(len(got), 3)], e.fenceKey())
		}
	}
}

// TestFloodUnderNoeviction fills the nodes' memory (noeviction) with
// leases on unique names until acquires fail for want of memory; once the
// leases expire, nothing per name is left behind, and acquires and /readyz
// recover. (Readiness while a node is full is TestOOMIsNodeError's: at the
// edge, a small write may still fit where a large lease does not.)
func TestFloodUnderNoeviction(t *testing.T) {
	servers := testenv.StartRedis(t, 3)
	if !testenv.Real() {
		t.Skip("miniredis has no maxmemory; install redis-server to run this test")
	}
	e, _ := newLoggedEngine(t, testenv.Addrs(servers))
	for _, s := range servers {
		c := adminClient(t, s.Addr())
		info, err := c.Do(ctx(t), c.B().Info().Section("memory").Build()).ToString()
		if err != nil {
			t.Fatal(err)
		}
		used, _ := strconv.ParseInt(parseInfo(info)["used_memory"], 10, 64)
		configSet(t, s.Addr(), "maxmemory", strconv.FormatInt(used+1<<20, 10))
	}
	ttl := 3 * time.Second
	deadline := time.Now().Add(20 * time.Second)
	var err error
	for i := 0; err == nil; i++ {
		if time.Now().After(deadline) {
			t.Fatal("the flood never filled the nodes")
		}
		_, err = e.Acquire(ctx(t), fmt.Sprintf("flood:%d:%s", i, strings.Repeat("x", 150)), lockd.AcquireOptions{Owner: "flood", TTL: ttl, Metadata: []byte(`{"pad":"` + strings.Repeat("p", 2000) + `"}`)})
	}
	if !errors.Is(err, lockd.ErrQuorumUnavailable) || !strings.Contains(err.Error(), "OOM") {
		t.Fatalf("flood ended with %v, want ErrQuorumUnavailable for OOM", err)
	}
	e.settle()
	testenv.Eventually(t, "nodes empty again after the leases expire", func() bool {
		for _, s := range servers {
			if len(keysOn(t, s.Addr(), DefaultKeyPrefix+"lock:")) > 0 {
				return false
			}
		}
		return true
	})
	for _, s := range servers {
		if got := keysOn(t, s.Addr(), DefaultKeyPrefix); len(got) != 1 || got[0] != e.fenceKey() {
			t.Errorf("node %s keeps %d keys after the flood, want only %s", s.Addr(), len(got), e.fenceKey())
		}
	}
	if _, err := e.Acquire(ctx(t), "after-flood", lockd.AcquireOptions{Owner: "a"}); err != nil {
		t.Errorf("after the flood expired: %v", err)
	}
	if h := e.Health(ctx(t)); !h.Ready {
		t.Errorf("health after: %+v, want ready", h)
	}
}
