package locktest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/election"
)

// electionPoll is the poll interval of the suite's hubs: short, so that
// changes made elsewhere show quickly.
const electionPoll = 50 * time.Millisecond

// election runs the leader-election checks over the engine, through an
// election.Hub: one leader at a time with growing terms, observers that
// see every change in order, a takeover when the leader stops renewing,
// resign, the observer cap and bad input.
func (s *suite) election(t *testing.T) {
	tests := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"OneLeader", s.electionOneLeader},
		{"Observe", s.electionObserve},
		{"Takeover", s.electionTakeover},
		{"Leader", s.electionLeader},
		{"Resign", s.electionResign},
		{"ErrTooManyObservers", s.electionObserverCap},
		{"ErrInvalidArgument", s.electionInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.fn)
	}
}

// hub returns a hub over the suite's engine, closed when t ends.
func (s *suite) hub(t *testing.T, opts ...election.Option) *election.Hub {
	t.Helper()
	h := election.NewHub(s.e, append([]election.Option{election.WithPollInterval(electionPoll)}, opts...)...)
	t.Cleanup(func() { _ = h.Close() })
	return h
}

// LeaderLog records what an observer sees, for checks made after the
// fact.
type LeaderLog struct {
	mu   sync.Mutex
	seen []election.Leader
	done chan struct{}
}

// LogLeaders reads c until it closes, in a goroutine of its own.
func LogLeaders(c <-chan election.Leader) *LeaderLog {
	l := &LeaderLog{done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for v := range c {
			l.mu.Lock()
			l.seen = append(l.seen, v)
			l.mu.Unlock()
		}
	}()
	return l
}

// Seen returns a copy of what was seen so far.
func (l *LeaderLog) Seen() []election.Leader {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]election.Leader(nil), l.seen...)
}

// WaitFor waits until ok holds for what was seen, or fails t after
// within.
func (l *LeaderLog) WaitFor(t testing.TB, within time.Duration, what string, ok func([]election.Leader) bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok(l.Seen()) {
		if time.Now().After(deadline) {
			t.Fatalf("not seen within %v: %s; seen %s", within, what, DescribeLeaders(l.Seen()))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// WaitClosed waits until the channel closes, or fails t after within.
func (l *LeaderLog) WaitClosed(t testing.TB, within time.Duration) {
	t.Helper()
	select {
	case <-l.done:
	case <-time.After(within):
		t.Fatalf("observer channel still open after %v", within)
	}
}

// DescribeLeaders renders a sequence of states for failure messages.
func DescribeLeaders(seen []election.Leader) string {
	s := "["
	for i, l := range seen {
		if i > 0 {
			s += " "
		}
		if l.Leading {
			s += fmt.Sprintf("%s@%d", l.Owner, l.Term)
		} else {
			s += "none"
		}
	}
	return s + "]"
}

// CheckLeaderOrder fails t unless seen keeps the observer's promises: leaders
// in strictly growing term order, "no leader" only after a leader, no
// state twice in a row, every state named name.
func CheckLeaderOrder(t testing.TB, name string, seen []election.Leader) {
	t.Helper()
	var last int64
	for i, l := range seen {
		if l.Name != name {
			t.Errorf("event %d names %q, want %q", i, l.Name, name)
		}
		switch {
		case l.Leading && l.Term <= last:
			t.Errorf("event %d: term %d after term %d: %s", i, l.Term, last, DescribeLeaders(seen))
		case l.Leading:
			last = l.Term
		case i > 0 && !seen[i-1].Leading:
			t.Errorf("event %d: no leader twice in a row: %s", i, DescribeLeaders(seen))
		}
	}
}

// leaderTerms returns the terms of the leaders in seen.
func leaderTerms(seen []election.Leader) []int64 {
	var terms []int64
	for _, l := range seen {
		if l.Leading {
			terms = append(terms, l.Term)
		}
	}
	return terms
}

// electionOneLeader: campaigners that keep their leadership alive while
// they lead never lead at once, terms grow with every leader, and an
// observer sees every one of them, in order.
func (s *suite) electionOneLeader(t *testing.T) {
	const (
		campaigners = 4
		rounds      = 5
		ttl         = time.Second
	)
	name := lockName(t)
	h := s.hub(t)
	o, err := h.Observe(ctxFor(t), name)
	if err != nil {
		t.Fatalf("Observe: %v", err)
	}
	changes := LogLeaders(o.C())
	var (
		leaders  atomic.Int32
		mu       sync.Mutex
		lastTerm int64
		terms    []int64 // granted, in grant order
		wg       sync.WaitGroup
	)
	for i := range campaigners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := fmt.Sprint("c", i)
			for range rounds {
				l, err := h.Campaign(ctxFor(t), name, lockd.AcquireOptions{Owner: owner, TTL: ttl, Wait: 20 * time.Second})
				if err != nil {
					t.Errorf("%s: Campaign: %v", owner, err)
					return
				}
				if n := leaders.Add(1); n != 1 {
					t.Errorf("%d leaders at once", n)
				}
				mu.Lock()
				if l.Fence <= lastTerm {
					t.Errorf("%s: term %d after term %d", owner, l.Fence, lastTerm)
				}
				lastTerm = l.Fence
				terms = append(terms, l.Fence)
				mu.Unlock()
				lost := keepLeading(ctxFor(t), s.e, l)
				time.Sleep(time.Duration(rand.N(40)) * time.Millisecond)
				if err := lost(); err != nil {
					t.Errorf("%s: leadership lost while leading: %v", owner, err)
				}
				leaders.Add(-1)
				if _, err := h.Resign(ctxFor(t), name, l.ID); err != nil {
					t.Errorf("%s: Resign: %v", owner, err)
				}
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	want := append([]int64(nil), terms...)
	mu.Unlock()
	changes.WaitFor(t, 5*time.Second, "every term", func(seen []election.Leader) bool {
		got := leaderTerms(seen)
		return len(got) >= len(want) && !seen[len(seen)-1].Leading
	})
	o.Close()
	changes.WaitClosed(t, 5*time.Second)
	seen := changes.Seen()
	CheckLeaderOrder(t, name, seen)
	if got := leaderTerms(seen); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("observer saw terms %v, want every one granted: %v", got, want)
	}
	if seen[0].Leading {
		t.Errorf("first event %s, want no leader", DescribeLeaders(seen[:1]))
	}
}

// keepLeading renews l about every third of its TTL, as a leader's
// keep-alive does, until the returned function is called; that returns the
// renewal failure that ended the leadership, if any.
func keepLeading(ctx context.Context, e lockd.Engine, l lockd.Lease) func() error {
	ctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		tick := time.NewTicker(l.TTL / 3)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				errc <- nil
				return
			case <-tick.C:
			}
			if _, err := e.Extend(ctx, l.Name, l.ID, 0); err != nil && ctx.Err() == nil {
				errc <- err
				return
			}
		}
	}()
	return func() error {
		cancel()
		return <-errc
	}
}

// electionObserve: an observer sees the current state first, then each
// change made through the hub, and the changes made elsewhere (an expiry,
// an acquire straight on the engine) through polling.
func (s *suite) electionObserve(t *testing.T) {
	name := lockName(t)
	h := s.hub(t)
	a, err := h.Campaign(ctxFor(t), name, lockd.AcquireOptions{Owner: "a", TTL: 5 * time.Second, Metadata: json.RawMessage(`{"addr":"10.0.0.1:80"}`)})
	if err != nil {
		t.Fatalf("Campaign a: %v", err)
	}
	o, err := h.Observe(ctxFor(t), name)
	if err != nil {
		t.Fatalf("Observe: %v", err)
	}
	changes := LogLeaders(o.C())
	changes.WaitFor(t, 5*time.Second, "a leading", func(seen []election.Leader) bool { return len(seen) >= 1 })
	first := changes.Seen()[0]
	if !first.Leading || first.Owner != "a" || first.Term != a.Fence || string(first.Metadata) != `{"addr":"10.0.0.1:80"}` {
		t.Fatalf("first event %+v, want a leading with term %d and its metadata", first, a.Fence)
	}
	if _, err := h.Resign(ctxFor(t), name, a.ID); err != nil {
		t.Fatalf("Resign a: %v", err)
	}
	b, err := h.Campaign(ctxFor(t), name, lockd.AcquireOptions{Owner: "b", TTL: 300 * time.Millisecond})
	if err != nil {
		t.Fatalf("Campaign b: %v", err)
	}
	// b does not renew: the poll sees it expire.
	changes.WaitFor(t, 5*time.Second, "b expiring", func(seen []election.Leader) bool { return len(seen) >= 4 })
	c := s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "c", TTL: 5 * time.Second}) // not through the hub
	changes.WaitFor(t, 5*time.Second, "c leading", func(seen []election.Leader) bool { return len(seen) >= 5 })
	o.Close()
	changes.WaitClosed(t, 5*time.Second)
	seen := changes.Seen()
	CheckLeaderOrder(t, name, seen)
	want := fmt.Sprintf("[a@%d none b@%d none c@%d]", a.Fence, b.Fence, c.Fence)
	if got := DescribeLeaders(seen); got != want {
		t.Errorf("observer saw %s, want %s", got, want)
	}
	if err := o.Err(); err != nil {
		t.Errorf("Err after Close: %v, want nil", err)
	}
}

// electionTakeover: a leader that stops renewing loses the leadership at
// its TTL, not before, to a campaigner that waits; the term grows, and an
// observer sees the new leader.
func (s *suite) electionTakeover(t *testing.T) {
	name := lockName(t)
	h := s.hub(t)
	o, err := h.Observe(ctxFor(t), name)
	if err != nil {
		t.Fatalf("Observe: %v", err)
	}
	changes := LogLeaders(o.C())
	a, err := h.Campaign(ctxFor(t), name, lockd.AcquireOptions{Owner: "a", TTL: 400 * time.Millisecond})
	if err != nil {
		t.Fatalf("Campaign a: %v", err)
	}
	b, err := h.Campaign(ctxFor(t), name, lockd.AcquireOptions{Owner: "b", TTL: 5 * time.Second, Wait: 10 * time.Second})
	if err != nil {
		t.Fatalf("Campaign b: %v", err)
	}
	if now := time.Now(); now.Before(a.ExpiresAt) {
		t.Errorf("b leads at %v, before a's leadership ran out at %v", now, a.ExpiresAt)
	}
	if b.Fence <= a.Fence {
		t.Errorf("b's term %d after a's %d, want it larger", b.Fence, a.Fence)
	}
	changes.WaitFor(t, 5*time.Second, "b leading", func(seen []election.Leader) bool {
		return len(seen) > 0 && seen[len(seen)-1].Owner == "b"
	})
	l, err := h.Leader(ctxFor(t), name)
	if err != nil || !l.Leading || l.Owner != "b" || l.Term != b.Fence {
		t.Errorf("Leader: %+v, %v; want b with term %d", l, err, b.Fence)
	}
	o.Close()
	changes.WaitClosed(t, 5*time.Second)
	seen := changes.Seen()
	CheckLeaderOrder(t, name, seen)
	if terms := leaderTerms(seen); fmt.Sprint(terms) != fmt.Sprint([]int64{a.Fence, b.Fence}) {
		t.Errorf("observer saw %s, want a@%d then b@%d", DescribeLeaders(seen), a.Fence, b.Fence)
	}
}

// electionLeader: Leader reports no leader, then the leader with its term
// and metadata.
func (s *suite) electionLeader(t *testing.T) {
	name := lockName(t)
	h := s.hub(t)
	l, err := h.Leader(ctxFor(t), name)
	if err != nil || l.Leading || l.Name != name {
		t.Fatalf("Leader before any campaign: %+v, %v; want no leader", l, err)
	}
	a, err := h.Campaign(ctxFor(t), name, lockd.AcquireOptions{Owner: "a", TTL: 5 * time.Second, Metadata: json.RawMessage(`{"k": 1}`)})
	if err != nil {
		t.Fatalf("Campaign: %v", err)
	}
	l, err = h.Leader(ctxFor(t), name)
	if err != nil || !l.Leading || l.Owner != "a" || l.Term != a.Fence || string(l.Metadata) != `{"k":1}` {
		t.Fatalf("Leader: %+v, %v; want a with term %d and metadata", l, err, a.Fence)
	}
	if d := l.ExpiresAt.Sub(a.ExpiresAt); d < -time.Second || d > time.Second {
		t.Errorf("expires_at %v, want about %v", l.ExpiresAt, a.ExpiresAt)
	}
	_, err = h.Campaign(ctxFor(t), name, lockd.AcquireOptions{Owner: "b", TTL: 5 * time.Second})
	var noe *lockd.NotObtainedError
	if !errors.As(err, &noe) || noe.Holder == nil || noe.Holder.Owner != "a" {
		t.Errorf("second campaign: %v, want *NotObtainedError naming a", err)
	}
}

// electionResign: resigning frees the election once; again, or with a
// lease that does not lead, is ErrNotHeld; a retried campaign with the
// same lease keeps its term.
func (s *suite) electionResign(t *testing.T) {
	name := lockName(t)
	h := s.hub(t)
	lease := lockd.NewLeaseID()
	a, err := h.Campaign(ctxFor(t), name, lockd.AcquireOptions{Owner: "a", Lease: lease, TTL: 5 * time.Second})
	if err != nil {
		t.Fatalf("Campaign: %v", err)
	}
	again, err := h.Campaign(ctxFor(t), name, lockd.AcquireOptions{Owner: "a", Lease: lease, TTL: 5 * time.Second})
	if err != nil || again.Fence != a.Fence {
		t.Errorf("retried campaign: term %d, %v; want the same term %d", again.Fence, err, a.Fence)
	}
	if _, err := h.Resign(ctxFor(t), name, lockd.NewLeaseID()); !errors.Is(err, lockd.ErrNotHeld) {
		t.Errorf("resign with another lease: %v, want ErrNotHeld", err)
	}
	rel, err := h.Resign(ctxFor(t), name, a.ID)
	if err != nil || rel.Fence != a.Fence || rel.Owner != "a" {
		t.Errorf("Resign: %+v, %v; want a's term %d", rel, err, a.Fence)
	}
	if _, err := h.Resign(ctxFor(t), name, a.ID); !errors.Is(err, lockd.ErrNotHeld) {
		t.Errorf("resign twice: %v, want ErrNotHeld", err)
	}
	if l, err := h.Leader(ctxFor(t), name); err != nil || l.Leading {
		t.Errorf("Leader after resign: %+v, %v; want no leader", l, err)
	}
}

// electionObserverCap: past the hub's maximum, Observe is refused with
// ErrTooManyObservers (matching lockd.ErrUnavailable) until one leaves.
func (s *suite) electionObserverCap(t *testing.T) {
	name := lockName(t)
	h := s.hub(t, election.WithMaxObservers(2))
	o1, err := h.Observe(ctxFor(t), name)
	if err != nil {
		t.Fatalf("Observe 1: %v", err)
	}
	if _, err := h.Observe(ctxFor(t), name+":other"); err != nil {
		t.Fatalf("Observe 2: %v", err)
	}
	_, err = h.Observe(ctxFor(t), name)
	if !errors.Is(err, election.ErrTooManyObservers) || !errors.Is(err, lockd.ErrUnavailable) {
		t.Fatalf("Observe 3: %v, want ErrTooManyObservers matching ErrUnavailable", err)
	}
	o1.Close()
	if _, err := h.Observe(ctxFor(t), name); err != nil {
		t.Errorf("Observe after one left: %v", err)
	}
}

// electionInvalid: bad names and options are *lockd.ArgumentError.
func (s *suite) electionInvalid(t *testing.T) {
	h := s.hub(t)
	name := lockName(t)
	var ae *lockd.ArgumentError
	if _, err := h.Campaign(ctxFor(t), "bad name", lockd.AcquireOptions{Owner: "a"}); !errors.As(err, &ae) || ae.Field != "name" {
		t.Errorf("Campaign with a bad name: %v, want an ArgumentError on name", err)
	}
	if _, err := h.Campaign(ctxFor(t), name, lockd.AcquireOptions{Owner: "a", TTL: time.Millisecond}); !errors.As(err, &ae) || ae.Field != "ttl_ms" {
		t.Errorf("Campaign with a bad ttl: %v, want an ArgumentError on ttl_ms", err)
	}
	if _, err := h.Observe(ctxFor(t), "bad/name"); !errors.As(err, &ae) || ae.Field != "name" {
		t.Errorf("Observe with a bad name: %v, want an ArgumentError on name", err)
	}
	if _, err := h.Leader(ctxFor(t), ""); !errors.As(err, &ae) || ae.Field != "name" {
		t.Errorf("Leader with no name: %v, want an ArgumentError on name", err)
	}
	if _, err := h.Resign(ctxFor(t), name, "not-a-lease"); !errors.As(err, &ae) || ae.Field != "lease" {
		t.Errorf("Resign with a bad lease: %v, want an ArgumentError on lease", err)
	}
}
