package election_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/election"
	"github.com/lockd/lockd/locktest"
	"github.com/lockd/lockd/memlock"
)

func ctxFor(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// gatedEngine counts Inspect calls and, while gate is set, holds each one
// after it has read the engine until the gate is closed.
type gatedEngine struct {
	lockd.Engine
	inspects atomic.Int64
	mu       sync.Mutex
	gate     chan struct{}
	reading  chan struct{} // gets a value when a held Inspect has read
}

func (g *gatedEngine) Inspect(ctx context.Context, name string) (lockd.LockInfo, error) {
	g.inspects.Add(1)
	info, err := g.Engine.Inspect(ctx, name)
	g.mu.Lock()
	gate := g.gate
	g.mu.Unlock()
	if gate != nil {
		g.reading <- struct{}{}
		<-gate
	}
	return info, err
}

func newGated(t *testing.T) *gatedEngine {
	e := memlock.New()
	t.Cleanup(func() { _ = e.Close() })
	return &gatedEngine{Engine: e, reading: make(chan struct{}, 1)}
}

// TestStalePollDropped: a poll that read the engine before a campaign
// made through the hub, and answers after it, does not undo it: the
// observer never sees "no leader" after the new leader.
func TestStalePollDropped(t *testing.T) {
	g := newGated(t)
	h := election.NewHub(g, election.WithPollInterval(10*time.Millisecond))
	t.Cleanup(func() { _ = h.Close() })
	o, err := h.Observe(ctxFor(t), "e")
	if err != nil {
		t.Fatal(err)
	}
	log := locktest.LogLeaders(o.C())
	gate := make(chan struct{})
	g.mu.Lock()
	g.gate = gate
	g.mu.Unlock()
	<-g.reading // a poll has read "no leader" and is held
	a, err := h.Campaign(ctxFor(t), "e", lockd.AcquireOptions{Owner: "a", TTL: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	g.gate = nil
	g.mu.Unlock()
	close(gate)
	log.WaitFor(t, 5*time.Second, "a leading", func(s []election.Leader) bool { return len(s) >= 2 })
	time.Sleep(100 * time.Millisecond) // more polls, which read a leading
	o.Close()
	log.WaitClosed(t, 5*time.Second)
	seen := log.Seen()
	locktest.CheckLeaderOrder(t, "e", seen)
	if len(seen) != 2 || !seen[1].Leading || seen[1].Term != a.Fence {
		t.Errorf("seen %s, want [none a@%d]", locktest.DescribeLeaders(seen), a.Fence)
	}
}

// TestSlowObserver: an observer that leaves more than ObserverBuffer
// changes unread is dropped with ErrSlowObserver; the others are not.
func TestSlowObserver(t *testing.T) {
	e := memlock.New()
	t.Cleanup(func() { _ = e.Close() })
	h := election.NewHub(e)
	t.Cleanup(func() { _ = h.Close() })
	slow, err := h.Observe(ctxFor(t), "e")
	if err != nil {
		t.Fatal(err)
	}
	fast, err := h.Observe(ctxFor(t), "e")
	if err != nil {
		t.Fatal(err)
	}
	log := locktest.LogLeaders(fast.C())
	for i := range election.ObserverBuffer {
		l, err := h.Campaign(ctxFor(t), "e", lockd.AcquireOptions{Owner: "a"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.Resign(ctxFor(t), "e", l.ID); err != nil {
			t.Fatal(err)
		}
		// The fast observer keeps up: it has read each change.
		log.WaitFor(t, 5*time.Second, "the changes so far", func(s []election.Leader) bool { return len(s) == 3+2*i })
	}
	n := 0
	for range slow.C() {
		n++
	}
	if !errors.Is(slow.Err(), election.ErrSlowObserver) {
		t.Errorf("slow observer's Err: %v, want ErrSlowObserver", slow.Err())
	}
	if n != election.ObserverBuffer {
		t.Errorf("slow observer got %d states, want the %d buffered", n, election.ObserverBuffer)
	}
	log.WaitFor(t, 5*time.Second, "every change", func(s []election.Leader) bool { return len(s) == 1+2*election.ObserverBuffer })
	if fast.Err() != nil {
		t.Errorf("fast observer's Err: %v, want nil", fast.Err())
	}
	locktest.CheckLeaderOrder(t, "e", log.Seen())
}

// TestPollerStops: one poller serves every observer of an election, and
// it stops when the last one leaves (its context ends).
func TestPollerStops(t *testing.T) {
	g := newGated(t)
	h := election.NewHub(g, election.WithPollInterval(5*time.Millisecond))
	t.Cleanup(func() { _ = h.Close() })
	ctx, cancel := context.WithCancel(ctxFor(t))
	var obs []*election.Observer
	for range 10 {
		o, err := h.Observe(ctx, "e")
		if err != nil {
			t.Fatal(err)
		}
		obs = append(obs, o)
	}
	start := g.inspects.Load()
	time.Sleep(100 * time.Millisecond)
	// 20 intervals passed: one poller makes about 20 reads, ten would make
	// about 200.
	if n := g.inspects.Load() - start; n > 40 {
		t.Errorf("%d reads in 20 poll intervals with 10 observers, want one poller's (about 20)", n)
	}
	cancel()
	for _, o := range obs {
		for range o.C() {
		}
		if o.Err() != nil {
			t.Errorf("Err after the context ended: %v, want nil", o.Err())
		}
	}
	time.Sleep(20 * time.Millisecond) // a read under way ends
	stopped := g.inspects.Load()
	time.Sleep(100 * time.Millisecond)
	if n := g.inspects.Load() - stopped; n != 0 {
		t.Errorf("%d reads after the last observer left, want 0", n)
	}
}

// TestClose: Close ends every observer with ErrClosed and refuses new
// ones.
func TestClose(t *testing.T) {
	e := memlock.New()
	t.Cleanup(func() { _ = e.Close() })
	h := election.NewHub(e)
	o, err := h.Observe(ctxFor(t), "e")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	for range o.C() {
	}
	if !errors.Is(o.Err(), election.ErrClosed) {
		t.Errorf("Err: %v, want ErrClosed", o.Err())
	}
	if _, err := h.Observe(ctxFor(t), "e"); !errors.Is(err, election.ErrClosed) || !errors.Is(err, lockd.ErrUnavailable) {
		t.Errorf("Observe after Close: %v, want ErrClosed matching ErrUnavailable", err)
	}
}
