package redlock

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/testenv"
)

// TestReleaseHandsOff: a release in the engine where the next acquire
// waits grants it in the release's own round: one script per node for
// both, no acquire of the waiter's own, a fence above the holder's, and
// the release's answer as without a hand-off.
func TestReleaseHandsOff(t *testing.T) {
	e, counts := newCountEngine(t, WithWaitPoll(time.Hour))
	a, err := e.Acquire(ctx(t), "hand", lockd.AcquireOptions{Owner: "a", TTL: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan lockd.Lease, 1)
	go func() {
		l, err := e.Acquire(ctx(t), "hand", lockd.AcquireOptions{Owner: "b", TTL: 5 * time.Second, Wait: 10 * time.Second})
		if err != nil {
			t.Errorf("waiting Acquire: %v", err)
		}
		got <- l
	}()
	testenv.Eventually(t, "the waiter's offer", func() bool { return e.lines.Len("hand") == 1 && offered(e, "hand") })
	acquires, handoffs := totalAcquires(counts), totalHandoffs(counts)
	rel, err := e.Release(ctx(t), "hand", a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rel.Owner != "a" || rel.Fence != a.Fence {
		t.Errorf("Release = %+v, want owner a, fence %d", rel, a.Fence)
	}
	var b lockd.Lease
	select {
	case b = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("waiter not granted within 5s of the release")
	}
	if b.Owner != "b" || b.Fence <= a.Fence {
		t.Errorf("waiter's lease %+v, want owner b with a fence above %d", b, a.Fence)
	}
	e.settle()
	if n := totalHandoffs(counts) - handoffs; n != 3 {
		t.Errorf("%d hand-off scripts ran, want 3 (one per node)", n)
	}
	if n := totalAcquires(counts) - acquires; n != 3 {
		t.Errorf("%d acquire attempts ran on the nodes for the waiter, want 3: the hand-off alone", n)
	}
	// The lock is b's on every node, and b's release frees it.
	in, err := e.Inspect(ctx(t), "hand")
	if err != nil || in.Owner != "b" || in.Fence != b.Fence {
		t.Errorf("Inspect = %+v, %v; want b's grant", in, err)
	}
	if _, err := e.Release(ctx(t), "hand", b.ID); err != nil {
		t.Errorf("the waiter's Release: %v", err)
	}
	if _, err := e.Release(ctx(t), "hand", a.ID); !errors.Is(err, lockd.ErrNotHeld) {
		t.Errorf("second Release of a's lease = %v, want ErrNotHeld", err)
	}
}

// TestReleaserQueuesAfterHandOff: the holder releases to the head of the
// line and at once waits for the lock again, as a worker in a loop does.
// Its acquire joins the line behind the waiter it handed the lock to,
// without an attempt of its own, which the nodes would refuse: the
// waiter may not have settled its grant yet when the releaser is back.
// One processor makes that the case every time: the releaser's goroutine
// runs on until its acquire waits.
func TestReleaserQueuesAfterHandOff(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	e, counts := newCountEngine(t, WithWaitPoll(time.Hour))
	a, err := e.Acquire(ctx(t), "again", lockd.AcquireOptions{Owner: "a", TTL: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	granted, release := make(chan lockd.Lease, 1), make(chan struct{})
	go func() {
		l, err := e.Acquire(ctx(t), "again", lockd.AcquireOptions{Owner: "b", TTL: 30 * time.Second, Wait: 10 * time.Second})
		granted <- l
		if err != nil {
			t.Errorf("b's waiting Acquire: %v", err)
			return
		}
		<-release
		if _, err := e.Release(ctx(t), "again", l.ID); err != nil {
			t.Errorf("b's Release: %v", err)
		}
	}()
	testenv.Eventually(t, "b's offer", func() bool { return e.lines.Len("again") == 1 && offered(e, "again") })
	acquires := totalAcquires(counts)
	var attempts int64
	go func() {
		defer close(release)
		select {
		case b := <-granted:
			if b.Owner != "b" {
				t.Errorf("granted %+v, want b, the head of the line", b)
			}
		case <-time.After(5 * time.Second):
			t.Error("b not granted within 5s of the release")
			return
		}
		testenv.Eventually(t, "a waiting, alone in line", func() bool { return e.lines.Len("again") == 1 && offered(e, "again") })
		e.settle()
		attempts = totalAcquires(counts) - acquires
	}()
	if _, err := e.Release(ctx(t), "again", a.ID); err != nil {
		t.Fatal(err)
	}
	again, err := e.Acquire(ctx(t), "again", lockd.AcquireOptions{Owner: "a", TTL: 30 * time.Second, Wait: 10 * time.Second})
	if err != nil {
		t.Fatalf("a's Acquire after its release: %v", err)
	}
	if again.Fence <= a.Fence {
		t.Errorf("a's new lease %+v, want a fence above %d", again, a.Fence)
	}
	if attempts != 3 {
		t.Errorf("%d acquire attempts ran on the nodes before b's release, want 3 (b's, in the hand-off): a's acquire after its release must queue without one", attempts)
	}
}

// TestHolderAfterHandOffThatFreedNothing: a release that runs a hand-off
// but frees nothing (one hold of a reentrant lease of several, or a lease
// that does not hold the lock) leaves the holder noted as the holder, so
// the holder's next waiting acquire (one more hold, a retry) attempts at
// once instead of queuing behind the waiter it holds the lock against.
// One processor, so that the holder's acquire runs before the waiter has
// settled its refused attempt.
func TestHolderAfterHandOffThatFreedNothing(t *testing.T) {
	for _, tc := range []struct {
		name    string
		release func(e *Engine, id, hold string) error
	}{
		{"OneHoldOfTwo", func(e *Engine, id, hold string) error {
			r, err := e.ReleaseHold(ctx(t), "kept", id, hold)
			if err == nil && r.Holds != 1 {
				t.Errorf("ReleaseHold left %d holds, want 1", r.Holds)
			}
			return err
		}},
		{"AnotherLease", func(e *Engine, _, _ string) error {
			if _, err := e.Release(ctx(t), "kept", lockd.NewLeaseID()); !errors.Is(err, lockd.ErrNotHeld) {
				t.Errorf("Release with another lease: %v, want ErrNotHeld", err)
			}
			return nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
			e, _ := newCountEngine(t, WithWaitPoll(time.Hour))
			opts := lockd.AcquireOptions{Owner: "holder", Lease: lockd.NewLeaseID(), Reentrant: true, TTL: 30 * time.Second}
			holds := []string{lockd.NewLeaseID(), lockd.NewLeaseID()}
			for _, h := range holds {
				o := opts
				o.Hold = h
				if _, err := e.Acquire(ctx(t), "kept", o); err != nil {
					t.Fatal(err)
				}
			}
			wctx, cancel := context.WithCancel(ctx(t))
			defer cancel()
			go func() {
				_, _ = e.Acquire(wctx, "kept", lockd.AcquireOptions{Owner: "other", TTL: time.Second, Wait: 20 * time.Second})
			}()
			testenv.Eventually(t, "the other's offer", func() bool { return offered(e, "kept") })
			if err := tc.release(e, opts.Lease, holds[1]); err != nil {
				t.Fatal(err)
			}
			o := opts
			o.Hold, o.Wait = lockd.NewLeaseID(), 10*time.Second
			start := time.Now()
			l, err := e.Acquire(ctx(t), "kept", o)
			if err != nil {
				t.Fatalf("the holder's next hold: %v", err)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("the holder's next hold took %v, want it at once: it queued behind the waiter", took)
			}
			if l.Owner != "holder" || l.Holds < 2 {
				t.Errorf("the holder's next hold: %+v, want holder with 2 holds or more", l)
			}
		})
	}
}

// twoEngines returns two engines over the same three new real nodes, as
// two lockd instances would be, waiting with poll.
func twoEngines(t *testing.T, poll time.Duration) (*Engine, *Engine) {
	t.Helper()
	servers := testenv.StartRedis(t, 3)
	newEngine := func() *Engine {
		e, err := New(testenv.Addrs(servers), WithWaitPoll(poll))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.Close() })
		return e
	}
	return newEngine(), newEngine()
}

// offered reports whether the head of name's line has an offer standing.
func offered(e *Engine, name string) bool { return e.lines.Offered(name) }

// TestHandOffLeavesOtherEngines: an engine whose own waiters keep handing
// the lock on among themselves does not starve a waiter at another engine.
// Its refusal marks the lock, and a hand-off of a lock so marked is a plain
// release, announced to every engine's line.
func TestHandOffLeavesOtherEngines(t *testing.T) {
	busy, other := twoEngines(t, 200*time.Millisecond)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var cycles atomic.Int64
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				l, err := busy.Acquire(context.Background(), "busy", lockd.AcquireOptions{Owner: fmt.Sprint("w", w), TTL: 5 * time.Second, Wait: 5 * time.Second})
				if err != nil {
					continue
				}
				cycles.Add(1)
				time.Sleep(time.Millisecond)
				_, _ = busy.Release(context.Background(), "busy", l.ID)
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()
	testenv.Eventually(t, "hand-offs among the busy engine's waiters", func() bool { return cycles.Load() > 50 })
	start := time.Now()
	l, err := other.Acquire(ctx(t), "busy", lockd.AcquireOptions{Owner: "other", TTL: 5 * time.Second, Wait: 10 * time.Second})
	if err != nil {
		t.Fatalf("the other engine's waiter: %v (after %v, %d cycles at the busy engine)", err, time.Since(start), cycles.Load())
	}
	t.Logf("the other engine's waiter was granted after %v", time.Since(start).Round(time.Millisecond))
	if _, err := other.Release(ctx(t), "busy", l.ID); err != nil {
		t.Error(err)
	}
}

// TestHandOffToGoneWaiter: a waiter whose context ends while a release
// runs its attempt does not keep the grant it can no longer use.
func TestHandOffToGoneWaiter(t *testing.T) {
	e, faults, _ := newFaultEngine(t, 3, WithWaitPoll(time.Hour))
	a, err := e.Acquire(ctx(t), "gone", lockd.AcquireOptions{Owner: "a", TTL: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx(t))
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := e.Acquire(wctx, "gone", lockd.AcquireOptions{Owner: "w", TTL: 30 * time.Second, Wait: 10 * time.Second})
		done <- err
	}()
	testenv.Eventually(t, "the waiter's offer", func() bool { return offered(e, "gone") })
	for _, f := range faults {
		f.delay = 300 * time.Millisecond
	}
	setModes(faults, modeSlow, 0b111)
	released := make(chan error, 1)
	go func() {
		_, err := e.Release(ctx(t), "gone", a.ID)
		released <- err
	}()
	testenv.Eventually(t, "the hand-off under way", func() bool { return !offered(e, "gone") })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("the gone waiter's Acquire = %v, want context.Canceled", err)
	}
	if err := <-released; err != nil {
		t.Errorf("Release: %v", err)
	}
	setModes(faults, modeOK, 0)
	e.settle()
	if l, err := e.Acquire(ctx(t), "gone", lockd.AcquireOptions{Owner: "c", TTL: time.Second}); err != nil {
		t.Errorf("the lock after the gone waiter: %v, want it free", err)
	} else if l.Fence <= a.Fence {
		t.Errorf("fence %d after %d", l.Fence, a.Fence)
	}
}

// TestHandOffExclusion: 8 goroutines take one lock in turn through one
// engine, so that nearly every grant is a hand-off, while one of three
// nodes is killed or paused: never two holders at once.
func TestHandOffExclusion(t *testing.T) {
	for _, fault := range []string{"kill", "pause"} {
		t.Run(fault, func(t *testing.T) {
			e, counts, servers := startCountEngine(t, false, WithWaitPoll(100*time.Millisecond))
			var holders, violations, grants atomic.Int64
			stop := time.Now().Add(3 * time.Second)
			var wg sync.WaitGroup
			for w := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for time.Now().Before(stop) {
						l, err := e.Acquire(context.Background(), "x", lockd.AcquireOptions{Owner: fmt.Sprint("w", w), TTL: 2 * time.Second, Wait: 2 * time.Second})
						if err != nil {
							continue
						}
						grants.Add(1)
						if holders.Add(1) != 1 {
							violations.Add(1)
						}
						time.Sleep(200 * time.Microsecond)
						holders.Add(-1)
						rctx, cancel := context.WithTimeout(context.Background(), time.Second)
						_, _ = e.Release(rctx, "x", l.ID)
						cancel()
					}
				}()
			}
			time.Sleep(time.Second)
			if fault == "kill" {
				servers[0].Kill()
			} else {
				servers[0].Pause()
				defer servers[0].Resume()
			}
			wg.Wait()
			if v := violations.Load(); v > 0 {
				t.Errorf("%d grants overlapped another holder", v)
			}
			h := totalHandoffs(counts) / 3
			t.Logf("%d grants, about %d hand-offs", grants.Load(), h)
			if grants.Load() < 20 || h < grants.Load()/4 {
				t.Errorf("%d grants and about %d hand-offs: too few to test anything", grants.Load(), h)
			}
		})
	}
}

// TestHandOffMarkArg: a hand-off works out the writer mark and the
// others-wait flag of the attempt it runs again, at the places newAttempt
// put them.
func TestHandOffMarkArg(t *testing.T) {
	e, err := New([]string{"127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	a := e.newAttempt("x", lockd.AcquireOptions{Owner: "o", TTL: time.Second, Lease: "l"}, true, 1234*time.Millisecond)
	if a.args[markArg] != "1234" || a.args[othersWaitArg] != "1" {
		t.Errorf("args[%d], args[%d] = %q, %q, want the mark 1234 and others waiting: %q",
			markArg, othersWaitArg, a.args[markArg], a.args[othersWaitArg], a.args)
	}
}

// TestHolderAcquiresAheadOfLine: the holder acquiring its lock again (a
// retry with its lease, or one more reentrant hold) while others wait for
// it is not put behind them: they wait for its release, so it would wait
// out its whole wait.
func TestHolderAcquiresAheadOfLine(t *testing.T) {
	for _, reentrant := range []bool{false, true} {
		t.Run(fmt.Sprintf("reentrant=%v", reentrant), func(t *testing.T) {
			e, _ := newCountEngine(t, WithWaitPoll(time.Hour))
			opts := lockd.AcquireOptions{Owner: "holder", TTL: 30 * time.Second, Lease: lockd.NewLeaseID(), Reentrant: reentrant}
			if reentrant {
				opts.Hold = lockd.NewLeaseID()
			}
			if _, err := e.Acquire(ctx(t), "again", opts); err != nil {
				t.Fatal(err)
			}
			wctx, cancel := context.WithCancel(ctx(t))
			defer cancel()
			go func() {
				_, _ = e.Acquire(wctx, "again", lockd.AcquireOptions{Owner: "other", TTL: time.Second, Wait: 10 * time.Second})
			}()
			testenv.Eventually(t, "the other's offer", func() bool { return offered(e, "again") })
			again := opts
			again.Wait = 5 * time.Second
			if reentrant {
				again.Hold = lockd.NewLeaseID()
			}
			start := time.Now()
			l, err := e.Acquire(ctx(t), "again", again)
			if err != nil {
				t.Fatalf("the holder's acquire again: %v", err)
			}
			if el := time.Since(start); el > again.Wait/2 {
				t.Errorf("the holder's acquire again took %v: it waited in line behind those waiting for it", el)
			}
			if reentrant && l.Holds != 2 {
				t.Errorf("holds = %d, want 2", l.Holds)
			}
		})
	}
}

// TestReaderAtOtherEngineWoken: a reader waiting at another engine marks
// the lock as waited for by a foreign engine, so a release there is
// announced, not handed to the writer in line here without a word.
func TestReaderAtOtherEngineWoken(t *testing.T) {
	here, there := twoEngines(t, 5*time.Second)
	a, err := here.Acquire(ctx(t), "rw", lockd.AcquireOptions{Owner: "a", TTL: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx(t))
	defer cancel()
	writer := make(chan lockd.Lease, 1)
	go func() {
		l, err := here.Acquire(wctx, "rw", lockd.AcquireOptions{Owner: "w", TTL: 30 * time.Second, Wait: 20 * time.Second})
		if err == nil {
			writer <- l
		}
	}()
	testenv.Eventually(t, "the writer's offer", func() bool { return offered(here, "rw") })
	reader := make(chan time.Time, 1)
	go func() {
		if _, err := there.Acquire(ctx(t), "rw", lockd.AcquireOptions{Owner: "r", TTL: 30 * time.Second, Wait: 20 * time.Second, Mode: lockd.ModeRead}); err != nil {
			t.Errorf("reader: %v", err)
		}
		reader <- time.Now()
	}()
	testenv.Eventually(t, "the reader in line", func() bool { return there.lines.Len(lockd.ReadLine("rw")) == 1 })
	time.Sleep(100 * time.Millisecond) // past its first attempt, which marked the lock
	if _, err := here.Release(ctx(t), "rw", a.ID); err != nil {
		t.Fatal(err)
	}
	// The release was announced: the writer here and the reader there
	// raced for the lock. When the writer won, its release must wake the
	// reader at once too.
	select {
	case <-reader:
	case w := <-writer:
		released := time.Now()
		if _, err := here.Release(ctx(t), "rw", w.ID); err != nil {
			t.Fatal(err)
		}
		select {
		case at := <-reader:
			if d := at.Sub(released); d > time.Second {
				t.Errorf("the reader was granted %v after the writer's release, want at once (its poll is 5s)", d)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the reader was not granted")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("neither the writer nor the reader was granted after the release")
	}
}
