package locktest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/minttest"
)

// readShared: readers share a lock, each with its own lease and fence, and
// keep writers out until the last one goes; a writer keeps readers out.
func (s *suite) readShared(t *testing.T) {
	ctx := ctxFor(t)
	name := lockName(t)
	read := lockd.AcquireOptions{Mode: lockd.ModeRead, TTL: 5 * time.Second}
	r1o, r2o := read, read
	r1o.Owner, r2o.Owner = "r1", "r2"
	r1 := s.mustAcquire(t, name, r1o)
	r2 := s.mustAcquire(t, name, r2o)
	if r1.Mode != lockd.ModeRead || r2.Mode != lockd.ModeRead || r1.ID == r2.ID || r1.Fence <= 0 || r2.Fence <= r1.Fence {
		t.Fatalf("readers: got %+v and %+v; want two read leases, fences growing", r1, r2)
	}
	if _, err := s.e.Acquire(ctx, name, lockd.AcquireOptions{Owner: "w"}); !errors.Is(err, lockd.ErrNotObtained) {
		t.Fatalf("a writer while readers hold: got %v, want ErrNotObtained", err)
	}
	info, err := s.e.Inspect(ctx, name)
	if err != nil || !info.Held || info.Mode != lockd.ModeRead || info.Readers != 2 {
		t.Fatalf("Inspect: got %+v, %v; want held by 2 readers", info, err)
	}
	again := s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "r1", Lease: r1.ID, Mode: lockd.ModeRead, TTL: 5 * time.Second})
	if again.Fence != r1.Fence || again.ID != r1.ID {
		t.Errorf("retried read: got fence %d, want %d", again.Fence, r1.Fence)
	}
	if x, err := s.e.Extend(ctx, name, r2.ID, 10*time.Second); err != nil || x.Fence != r2.Fence || x.Mode != lockd.ModeRead || x.TTL != 10*time.Second {
		t.Errorf("Extend of a reader: got %+v, %v", x, err)
	}
	if r, err := s.e.Release(ctx, name, r1.ID); err != nil || r.Owner != "r1" || r.Fence != r1.Fence {
		t.Fatalf("Release of r1: got %+v, %v", r, err)
	}
	if _, err := s.e.Release(ctx, name, r1.ID); !errors.Is(err, lockd.ErrNotHeld) {
		t.Errorf("r1 released twice: got %v, want ErrNotHeld", err)
	}
	if _, err := s.e.Extend(ctx, name, r1.ID, 0); !errors.Is(err, lockd.ErrLost) {
		t.Errorf("Extend of released r1: got %v, want ErrLost", err)
	}
	if _, err := s.e.Acquire(ctx, name, lockd.AcquireOptions{Owner: "w"}); !errors.Is(err, lockd.ErrNotObtained) {
		t.Fatalf("a writer with r2 left: got %v, want ErrNotObtained", err)
	}
	if _, err := s.e.Release(ctx, name, r2.ID); err != nil {
		t.Fatalf("Release of r2: %v", err)
	}
	w := s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "w", TTL: 5 * time.Second})
	if w.Mode != "" || w.Fence <= r2.Fence {
		t.Errorf("writer: got %+v; want a write lease with fence > %d", w, r2.Fence)
	}
	if _, err := s.e.Acquire(ctx, name, r1o); !errors.Is(err, lockd.ErrNotObtained) {
		t.Errorf("a reader while a writer holds: got %v, want ErrNotObtained", err)
	}
	if info, err := s.e.Inspect(ctx, name); err != nil || info.Mode != "" || info.Readers != 0 || info.Owner != "w" {
		t.Errorf("Inspect with a writer: got %+v, %v", info, err)
	}
}

// modeMismatch: a lease keeps the mode of its first grant.
func (s *suite) modeMismatch(t *testing.T) {
	ctx := ctxFor(t)
	for _, first := range []string{lockd.ModeRead, lockd.ModeWrite} {
		name := lockName(t)
		id := lockd.NewLeaseID()
		s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "a", Lease: id, Mode: first})
		other := lockd.ModeRead
		if first == lockd.ModeRead {
			other = lockd.ModeWrite
		}
		_, err := s.e.Acquire(ctx, name, lockd.AcquireOptions{Owner: "a", Lease: id, Mode: other})
		var ae *lockd.ArgumentError
		if !errors.As(err, &ae) || ae.Field != "mode" {
			t.Errorf("%s then %s with one lease: got %v, want an ArgumentError on mode", first, other, err)
		}
		if _, err := s.e.Release(ctx, name, id); err != nil {
			t.Errorf("Release after the refusal: %v", err)
		}
	}
}

// modeInvalid checks the argument errors of modes.
func (s *suite) modeInvalid(t *testing.T) {
	name := lockName(t)
	for _, c := range []struct {
		name string
		opts lockd.AcquireOptions
	}{
		{"Unknown", lockd.AcquireOptions{Owner: "a", Mode: "exclusive"}},
		{"ReadReentrant", lockd.AcquireOptions{Owner: "a", Mode: lockd.ModeRead, Reentrant: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.e.Acquire(ctxFor(t), name, c.opts)
			var ae *lockd.ArgumentError
			if !errors.As(err, &ae) || ae.Field != "mode" {
				t.Fatalf("got %v, want an ArgumentError on mode", err)
			}
		})
	}
	t.Run("AcquireMany", func(t *testing.T) {
		_, err := lockd.AcquireMany(ctxFor(t), s.e, []string{name}, lockd.AcquireOptions{Owner: "a", Mode: lockd.ModeRead})
		var ae *lockd.ArgumentError
		if !errors.As(err, &ae) || ae.Field != "mode" {
			t.Fatalf("got %v, want an ArgumentError on mode", err)
		}
	})
}

// readWriteExclusion runs readers and writers on one lock: a writer is
// never in with anyone, readers overlap, and a counter changed only
// under the lock loses no increment (ReadWriteLoad).
func (s *suite) readWriteExclusion(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	ReadWriteLoad(ctx, t, s.e, lockName(t), ReadWriteOptions{
		Workers: 8, Rounds: 20, TTL: 10 * time.Second, Wait: 20 * time.Second,
		WriteHold: time.Millisecond, ReadHold: 5 * time.Millisecond,
	})
}

// ReadWriteOptions shape ReadWriteLoad.
type ReadWriteOptions struct {
	Workers, Rounds int           // goroutines (even ones write, odd ones read), and acquires each
	TTL, Wait       time.Duration // of each acquire
	// WriteHold and ReadHold are how long a writer and a reader hold.
	WriteHold, ReadHold time.Duration
	// RetryReleases retries a release that failed (other than not_held)
	// until ctx ends, as a client does while a node fault is new; without
	// it a failed release is a test error.
	RetryReleases bool
	// During, when set, runs once the workers started (a fault to inject);
	// ReadWriteLoad waits for it before it waits for the workers.
	During func()
}

// ReadWriteLoad runs o.Workers goroutines on the lock name of e, half of
// them writers and half readers, each acquiring o.Rounds times, and
// checks with shared counters that a writer is never in with anyone else,
// that readers overlapped, and that a counter changed only under a write
// lease lost no increment. It returns once every worker is done.
func ReadWriteLoad(ctx context.Context, t *testing.T, e lockd.Engine, name string, o ReadWriteOptions) {
	t.Helper()
	var (
		readers, writers, maxReaders atomic.Int32
		counter                      int // changed only under a write lease
		wg                           sync.WaitGroup
	)
	release := func(mode string, id string) bool {
		for {
			_, err := e.Release(context.WithoutCancel(ctx), name, id)
			switch {
			case err == nil:
				return true
			case !o.RetryReleases:
				t.Errorf("%s release: %v", mode, err)
				return false
			case errors.Is(err, lockd.ErrNotHeld) || ctx.Err() != nil:
				return true
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	for i := range o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mode := lockd.ModeRead
			if i%2 == 0 {
				mode = lockd.ModeWrite
			}
			for range o.Rounds {
				l, err := e.Acquire(ctx, name, lockd.AcquireOptions{Owner: mode, Mode: mode, TTL: o.TTL, Wait: o.Wait})
				if err != nil {
					t.Errorf("%s acquire: %v", mode, err)
					return
				}
				if mode == lockd.ModeWrite {
					if n := writers.Add(1); n != 1 || readers.Load() != 0 {
						t.Errorf("a writer in with %d writers and %d readers", n-1, readers.Load())
					}
					v := counter
					time.Sleep(o.WriteHold)
					counter = v + 1
					writers.Add(-1)
				} else {
					n := readers.Add(1)
					if writers.Load() != 0 {
						t.Errorf("a reader in with a writer")
					}
					for m := maxReaders.Load(); n > m && !maxReaders.CompareAndSwap(m, n); m = maxReaders.Load() {
					}
					time.Sleep(o.ReadHold)
					readers.Add(-1)
				}
				if !release(mode, l.ID) {
					return
				}
			}
		}()
	}
	if o.During != nil {
		o.During()
	}
	wg.Wait()
	if want := (o.Workers + 1) / 2 * o.Rounds; counter != want {
		t.Errorf("counter = %d, want %d", counter, want)
	}
	if maxReaders.Load() < 2 {
		t.Errorf("readers never overlapped (at most %d at once)", maxReaders.Load())
	}
}

// writerPreference: while readers keep arriving, each overlapping the
// last, a waiting writer still gets in: new readers are refused once it
// waits.
func (s *suite) writerPreference(t *testing.T) {
	name := lockName(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	first := s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "r", Mode: lockd.ModeRead, TTL: 5 * time.Second})
	var (
		stop    atomic.Bool
		writing atomic.Bool
		wg      sync.WaitGroup
	)
	wg.Add(1)
	go func() { // a reader every 20ms, each held 150ms
		defer wg.Done()
		prev := first.ID
		for !stop.Load() {
			l, err := s.e.Acquire(ctx, name, lockd.AcquireOptions{Owner: "r", Mode: lockd.ModeRead, TTL: 5 * time.Second})
			if err == nil && writing.Load() {
				t.Errorf("a reader got in while the writer held the lock")
			}
			if prev != "" {
				wg.Add(1)
				go func(id string) {
					defer wg.Done()
					time.Sleep(150 * time.Millisecond)
					_, _ = s.e.Release(context.WithoutCancel(ctx), name, id)
				}(prev)
			}
			prev = ""
			if err == nil {
				prev = l.ID
			}
			time.Sleep(20 * time.Millisecond)
		}
		if prev != "" {
			_, _ = s.e.Release(context.WithoutCancel(ctx), name, prev)
		}
	}()
	time.Sleep(100 * time.Millisecond) // readers overlap by now
	start := time.Now()
	w, err := s.e.Acquire(ctx, name, lockd.AcquireOptions{Owner: "w", TTL: 5 * time.Second, Wait: 15 * time.Second})
	if err != nil {
		stop.Store(true)
		wg.Wait()
		t.Fatalf("writer among arriving readers: %v after %v", err, time.Since(start))
	}
	writing.Store(true)
	time.Sleep(100 * time.Millisecond)
	writing.Store(false)
	if _, err := s.e.Release(ctx, name, w.ID); err != nil {
		t.Errorf("writer release: %v", err)
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("the writer got in after %v", time.Since(start).Round(time.Millisecond))
}

// writerGivesUp: a writer that waited for readers and gave up keeps new
// readers out no longer than its engine's mark lives (bounded here by a
// reader's wait of 5s); a writer that is granted wakes no reader early.
func (s *suite) writerGivesUp(t *testing.T) {
	ctx := ctxFor(t)
	name := lockName(t)
	r := s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "r", Mode: lockd.ModeRead, TTL: 10 * time.Second})
	if _, err := s.e.Acquire(ctx, name, lockd.AcquireOptions{Owner: "w", Wait: 300 * time.Millisecond}); !errors.Is(err, lockd.ErrNotObtained) {
		t.Fatalf("writer behind a reader: got %v, want ErrNotObtained", err)
	}
	start := time.Now()
	r2, err := s.e.Acquire(ctx, name, lockd.AcquireOptions{Owner: "r2", Mode: lockd.ModeRead, Wait: 5 * time.Second})
	if err != nil {
		t.Fatalf("a reader after the writer gave up: %v", err)
	}
	t.Logf("a reader got in %v after the writer gave up", time.Since(start).Round(time.Millisecond))
	// A writer waiting for both readers is woken by the last release.
	done := make(chan error, 1)
	go func() {
		_, err := s.e.Acquire(ctx, name, lockd.AcquireOptions{Owner: "w", Wait: 10 * time.Second})
		done <- err
	}()
	time.Sleep(200 * time.Millisecond)
	for _, id := range []string{r.ID, r2.ID} {
		if _, err := s.e.Release(ctx, name, id); err != nil {
			t.Fatalf("Release: %v", err)
		}
	}
	released := time.Now()
	if err := <-done; err != nil {
		t.Fatalf("writer waiting for the readers: %v", err)
	}
	d := time.Since(released)
	if d > time.Second {
		t.Errorf("writer granted %v after the last reader's release, want well under 1s", d)
	}
	t.Logf("the writer was granted %v after the last reader's release", d.Round(100*time.Microsecond))
}

// readersWake: readers waiting for a writer are all granted soon after its
// release, and hold the lock together.
func (s *suite) readersWake(t *testing.T) {
	ctx := ctxFor(t)
	name := lockName(t)
	w := s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "w", TTL: 10 * time.Second})
	const n = 3
	got := make(chan time.Time, n)
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := s.e.Acquire(ctx, name, lockd.AcquireOptions{Owner: "r", Mode: lockd.ModeRead, TTL: 10 * time.Second, Wait: 10 * time.Second})
			if err != nil {
				errs <- err
				return
			}
			got <- time.Now()
		}()
	}
	time.Sleep(300 * time.Millisecond) // all three wait by now
	released := time.Now()
	if _, err := s.e.Release(ctx, name, w.ID); err != nil {
		t.Fatal(err)
	}
	var last time.Duration
	for range n {
		select {
		case at := <-got:
			last = max(last, at.Sub(released))
		case err := <-errs:
			t.Fatalf("a waiting reader: %v", err)
		}
	}
	if last > time.Second {
		t.Errorf("the last reader was granted %v after the writer's release, want well under 1s", last)
	}
	t.Logf("%d waiting readers granted within %v of the writer's release", n, last.Round(100*time.Microsecond))
	if info, err := s.e.Inspect(ctx, name); err != nil || info.Readers != n {
		t.Errorf("Inspect: got %+v, %v; want %d readers", info, err, n)
	}
}

// modesMinter checks read leases and reentrant holds over a fence minter:
// each reader's fence is minted, a retried read or an inner hold mints
// nothing, and a failed mint leaves no reader behind.
func modesMinter(t *testing.T, s *suite, m *minttest.Minter) {
	ctx := ctxFor(t)
	name := lockName(t)
	n0, _ := m.Calls()
	r1 := s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "r1", Mode: lockd.ModeRead})
	again := s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "r1", Lease: r1.ID, Mode: lockd.ModeRead})
	r2 := s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "r2", Mode: lockd.ModeRead})
	if n, _ := m.Calls(); n-n0 != 2 || r1.Fence < 1000 || again.Fence != r1.Fence || r2.Fence <= r1.Fence {
		t.Errorf("readers: %d mints, fences %d, %d (retry), %d; want 2 mints, fences from the minter, the retry's unchanged", n-n0, r1.Fence, again.Fence, r2.Fence)
	}
	if info, err := s.e.Inspect(ctx, name); err != nil || info.Readers != 2 {
		t.Errorf("Inspect: got %+v, %v", info, err)
	}
	m.SetDown(true)
	_, err := s.e.Acquire(ctx, name, lockd.AcquireOptions{Owner: "r3", Mode: lockd.ModeRead})
	m.SetDown(false)
	if !errors.Is(err, lockd.ErrStoreUnavailable) {
		t.Fatalf("a reader with the store down: got %v, want ErrStoreUnavailable", err)
	}
	if info, err := s.e.Inspect(ctx, name); err != nil || info.Readers != 2 {
		t.Errorf("after a failed mint: got %+v, %v; want the two readers only", info, err)
	}
	for _, id := range []string{r1.ID, r2.ID} {
		if _, err := s.e.Release(ctx, name, id); err != nil {
			t.Fatal(err)
		}
	}
	n1, _ := m.Calls()
	id := lockd.NewLeaseID()
	outer := s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "a", Lease: id, Reentrant: true})
	inner := s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "a", Lease: id, Reentrant: true})
	if n, _ := m.Calls(); n-n1 != 1 || inner.Fence != outer.Fence || inner.Holds != 2 {
		t.Errorf("reentrant: %d mints, fences %d and %d, holds %d; want 1 mint, one fence, 2 holds", n-n1, outer.Fence, inner.Fence, inner.Holds)
	}
}
