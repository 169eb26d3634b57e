package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/syncbuf"
	"github.com/lockd/lockd/memlock"
)

func newMetrics(t *testing.T) *Metrics {
	t.Helper()
	m, err := New(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func ctxFor(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// value reads the one counter or gauge c collects.
func value(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 1)
	c.Collect(ch)
	var m dto.Metric
	if err := (<-ch).Write(&m); err != nil {
		t.Fatal(err)
	}
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	t.Fatalf("%v is neither a counter nor a gauge", c)
	return 0
}

// delta runs op and returns how much the collector c moved.
func delta(t *testing.T, c prometheus.Collector, op func()) float64 {
	t.Helper()
	before := value(t, c)
	op()
	return value(t, c) - before
}

func histCount(t *testing.T, m *Metrics, name string) uint64 {
	t.Helper()
	mfs, err := m.reg.(prometheus.Gatherer).Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, x := range mf.GetMetric() {
				n += x.GetHistogram().GetSampleCount()
			}
		}
	}
	return n
}

// TestEngineMetrics: every operation moves the counters it should, and
// only those.
func TestEngineMetrics(t *testing.T) {
	m := newMetrics(t)
	e := Engine(memlock.New(), m)
	t.Cleanup(func() { _ = e.Close() })
	acquireOK := m.ops.WithLabelValues("acquire", "ok")
	var a lockd.Lease
	if d := delta(t, acquireOK, func() {
		var err error
		a, err = e.Acquire(ctxFor(t), "m", lockd.AcquireOptions{Owner: "a", TTL: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
	}); d != 1 {
		t.Errorf("acquire ok moved %v, want 1", d)
	}
	if d := delta(t, m.denials, func() {
		_, err := e.Acquire(ctxFor(t), "m", lockd.AcquireOptions{Owner: "b"})
		if !errors.Is(err, lockd.ErrNotObtained) {
			t.Fatalf("b: %v", err)
		}
	}); d != 1 {
		t.Errorf("denials moved %v, want 1", d)
	}
	if got := value(t, m.ops.WithLabelValues("acquire", lockd.CodeLockHeld)); got != 1 {
		t.Errorf("acquire lock_held %v, want 1", got)
	}

	t.Run("Waiters", func(t *testing.T) {
		done := make(chan error, 1)
		go func() {
			_, err := e.Acquire(ctxFor(t), "m", lockd.AcquireOptions{Owner: "w", TTL: time.Second, Wait: 5 * time.Second})
			done <- err
		}()
		deadline := time.Now().Add(5 * time.Second)
		for value(t, m.waiters) != 1 {
			if time.Now().After(deadline) {
				t.Fatal("the waiting acquire never showed in lockd_waiters")
			}
			time.Sleep(5 * time.Millisecond)
		}
		held := histCount(t, m, "lockd_hold_seconds")
		if _, err := e.Release(ctxFor(t), "m", a.ID); err != nil {
			t.Fatal(err)
		}
		if got := histCount(t, m, "lockd_hold_seconds") - held; got != 1 {
			t.Errorf("hold times observed %d, want 1", got)
		}
		if err := <-done; err != nil {
			t.Fatalf("waiter: %v", err)
		}
		if got := value(t, m.waiters); got != 0 {
			t.Errorf("lockd_waiters %v after the wait, want 0", got)
		}
	})

	t.Run("Lost", func(t *testing.T) {
		l, err := e.Acquire(ctxFor(t), "short", lockd.AcquireOptions{Owner: "s", TTL: lockd.MinTTL})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * lockd.MinTTL)
		if d := delta(t, m.lost, func() { _, _ = e.Extend(ctxFor(t), "short", l.ID, 0) }); d != 1 {
			t.Errorf("locks lost moved %v, want 1", d)
		}
		if d := delta(t, m.ops.WithLabelValues("release", lockd.CodeNotHeld), func() { _, _ = e.Release(ctxFor(t), "short", l.ID) }); d != 1 {
			t.Errorf("release not_held moved %v, want 1", d)
		}
	})

	t.Run("Permits", func(t *testing.T) {
		sem := e.(lockd.Semaphores)
		p, err := sem.AcquirePermit(ctxFor(t), "s", 1, lockd.AcquireOptions{Owner: "p"})
		if err != nil {
			t.Fatal(err)
		}
		if d := delta(t, m.ops.WithLabelValues("release_permit", "ok"), func() { _, _ = sem.ReleasePermit(ctxFor(t), "s", p.ID) }); d != 1 {
			t.Errorf("release_permit ok moved %v, want 1", d)
		}
	})

	t.Run("BadInput", func(t *testing.T) {
		if d := delta(t, m.ops.WithLabelValues("acquire", lockd.CodeInvalidArgument), func() { _, _ = e.Acquire(ctxFor(t), "bad name", lockd.AcquireOptions{Owner: "x"}) }); d != 1 {
			t.Errorf("acquire invalid_argument moved %v, want 1", d)
		}
	})
}

// TestNodeMetrics: node states move the state gauges and the count of
// nodes up; calls count their failures.
func TestNodeMetrics(t *testing.T) {
	m := newMetrics(t)
	m.Nodes([]string{"n1:6379", "n2:6379", "n3:6379"}, 2)
	if got := value(t, m.nodesUp); got != 3 {
		t.Fatalf("nodes up %v, want 3", got)
	}
	m.NodeState("n2:6379", lockd.NodeRejoining)
	if got := value(t, m.nodesUp); got != 2 {
		t.Errorf("nodes up %v after one rejoins, want 2", got)
	}
	if got := value(t, m.nodeState.WithLabelValues("n2:6379", lockd.NodeRejoining)); got != 1 {
		t.Errorf("n2 rejoining %v, want 1", got)
	}
	if got := value(t, m.nodeState.WithLabelValues("n2:6379", lockd.NodeUp)); got != 0 {
		t.Errorf("n2 up %v, want 0", got)
	}
	m.NodeState("n2:6379", lockd.NodeUp)
	if got := value(t, m.nodesUp); got != 3 {
		t.Errorf("nodes up %v after it is back, want 3", got)
	}
	if d := delta(t, m.nodeErrs.WithLabelValues("n1:6379"), func() { m.NodeCall("n1:6379", time.Millisecond, errors.New("timeout")) }); d != 1 {
		t.Errorf("node errors moved %v, want 1", d)
	}
	if d := delta(t, m.nodeErrs.WithLabelValues("n1:6379"), func() { m.NodeCall("n1:6379", time.Millisecond, nil) }); d != 0 {
		t.Errorf("node errors moved %v on a good call, want 0", d)
	}
}

// TestGrantsBounded: the hold-time bookkeeping never holds more than
// maxGrants leases, and makes room by forgetting expired ones.
func TestGrantsBounded(t *testing.T) {
	g := grants{at: map[string]grant{}}
	past, future := time.Now().Add(-time.Second), time.Now().Add(time.Hour)
	for i := range maxGrants {
		g.add(grantKey(kindLock, "n", string(rune(i))), grant{at: past, expires: past})
	}
	g.add("one more", grant{at: past, expires: future})
	if len(g.at) != 1 {
		t.Fatalf("%d grants remembered, want the expired ones forgotten and 1 left", len(g.at))
	}
	for i := range maxGrants + 10 {
		g.add(grantKey(kindLock, "n", string(rune(i))), grant{at: past, expires: future})
	}
	if len(g.at) != maxGrants {
		t.Errorf("%d grants remembered, want at most %d", len(g.at), maxGrants)
	}
}

// TestEventLog: one info line per grant, refusal after a wait, loss and
// release, with name, owner, fence and times; none without the option.
func TestEventLog(t *testing.T) {
	var buf syncbuf.Buffer
	e := Engine(memlock.New(), newMetrics(t), WithEventLog(slog.New(slog.NewJSONHandler(&buf, nil))))
	t.Cleanup(func() { _ = e.Close() })
	a, err := e.Acquire(ctxFor(t), "ev", lockd.AcquireOptions{Owner: "a", TTL: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Acquire(ctxFor(t), "ev", lockd.AcquireOptions{Owner: "b", Wait: 50 * time.Millisecond}); !errors.Is(err, lockd.ErrNotObtained) {
		t.Fatalf("b: %v", err)
	}
	if _, err := e.Acquire(ctxFor(t), "ev", lockd.AcquireOptions{Owner: "c"}); !errors.Is(err, lockd.ErrNotObtained) {
		t.Fatalf("c: %v", err)
	}
	if _, err := e.Release(ctxFor(t), "ev", a.ID); err != nil {
		t.Fatal(err)
	}
	s, err := e.Acquire(ctxFor(t), "short", lockd.AcquireOptions{Owner: "s", TTL: lockd.MinTTL})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * lockd.MinTTL)
	if _, err := e.Extend(ctxFor(t), "short", s.ID, 0); !errors.Is(err, lockd.ErrLost) {
		t.Fatalf("extend after expiry: %v", err)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		got = append(got, fmt.Sprintf("%v %v %v", m["msg"], m["name"], m["owner"]))
		if m["msg"] == "released" && (m["fence"] != float64(a.Fence) || m["held_ms"] == nil) {
			t.Errorf("release line %v, want fence %d and a hold time", m, a.Fence)
		}
	}
	want := []string{"granted ev a", "not obtained after waiting ev b", "released ev a", "granted short s", "lost short s"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("event lines %v, want %v (no line for c, which did not wait)", got, want)
	}
}
