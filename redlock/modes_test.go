package redlock

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/locktest"
)

// TestReadWriteNodeFaults runs readers and writers on one lock while one of
// three nodes is killed, or paused (SIGSTOP), part-way: a writer is never in
// with anyone, readers still overlap, and every acquire is served.
func TestReadWriteNodeFaults(t *testing.T) {
	for _, fault := range []string{"Killed", "Paused"} {
		t.Run(fault, func(t *testing.T) {
			if fault == "Paused" {
				needRedisServer(t, "the in-process fallback cannot be paused")
			}
			e, _, servers := newFaultEngine(t, 3, WithNodeTimeout(100*time.Millisecond), WithRetryDelay(time.Millisecond, 5*time.Millisecond))
			dialled(t, e)
			c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if fault == "Paused" {
				defer servers[1].Resume()
			}
			locktest.ReadWriteLoad(c, t, e, "rw-"+fault, locktest.ReadWriteOptions{
				Workers: 6, Rounds: 15, TTL: 5 * time.Second, Wait: 30 * time.Second,
				WriteHold: 2 * time.Millisecond, ReadHold: 10 * time.Millisecond,
				// A release that cannot tell (quorum unavailable while the
				// fault is new) is retried; the lease runs out otherwise.
				RetryReleases: true,
				During: func() {
					time.Sleep(150 * time.Millisecond)
					if fault == "Killed" {
						servers[1].Kill()
					} else {
						servers[1].Pause()
					}
				},
			})
		})
	}
}

// TestWriterMarkOutlivesDeadWriter: a writer that waits for a reader, and
// whose context ends (as when its caller dies), keeps new readers out no
// longer than WriterMark.
func TestWriterMarkOutlivesDeadWriter(t *testing.T) {
	e, _, _ := newFaultEngine(t, 3)
	name := "rw-dead-writer"
	if _, err := e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "r", Mode: lockd.ModeRead, TTL: 30 * time.Second}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx(t), 300*time.Millisecond)
	defer cancel()
	if _, err := e.Acquire(wctx, name, lockd.AcquireOptions{Owner: "w", Wait: time.Minute}); !errors.Is(err, lockd.ErrNotObtained) {
		t.Fatalf("writer behind the reader: got %v, want ErrNotObtained", err)
	}
	died := time.Now()
	if _, err := e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "r2", Mode: lockd.ModeRead}); !errors.Is(err, lockd.ErrNotObtained) {
		t.Fatalf("a reader right after the writer died: got %v, want ErrNotObtained (the mark lives)", err)
	}
	if _, err := e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "r2", Mode: lockd.ModeRead, Wait: 10 * time.Second}); err != nil {
		t.Fatalf("a reader once the mark ran out: %v", err)
	}
	if d := time.Since(died); d > WriterMark+time.Second {
		t.Errorf("a dead writer kept readers out %v, want at most about %v", d, WriterMark)
	}
	t.Logf("a dead writer kept new readers out %v", time.Since(died).Round(time.Millisecond))
}

// TestWriterPreferenceNodeDown: with one of three nodes killed, or paused
// (SIGSTOP), a writer waiting among readers that keep arriving (each
// overlapping the last) is still granted, and no reader gets in while it
// holds.
func TestWriterPreferenceNodeDown(t *testing.T) {
	for _, fault := range []string{"Killed", "Paused"} {
		t.Run(fault, func(t *testing.T) { writerPreferenceNodeDown(t, fault) })
	}
}

func writerPreferenceNodeDown(t *testing.T, fault string) {
	e, _, servers := newFaultEngine(t, 3, WithNodeTimeout(100*time.Millisecond))
	dialled(t, e)
	if fault == "Killed" {
		servers[2].Kill()
	} else {
		servers[2].Pause()
		defer servers[2].Resume()
	}
	name := "rw-preference-" + fault
	c := ctx(t)
	var (
		stop, writing atomic.Bool
		wg            sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		var prev string
		for !stop.Load() {
			l, err := e.Acquire(c, name, lockd.AcquireOptions{Owner: "r", Mode: lockd.ModeRead, TTL: 5 * time.Second})
			if err == nil && writing.Load() {
				t.Errorf("a reader got in while the writer held the lock")
			}
			if prev != "" {
				wg.Add(1)
				go func(id string) {
					defer wg.Done()
					time.Sleep(150 * time.Millisecond)
					_, _ = e.Release(c, name, id)
				}(prev)
			}
			prev = ""
			if err == nil {
				prev = l.ID
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	defer func() {
		stop.Store(true)
		wg.Wait()
	}()
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	w, err := e.Acquire(ctx(t), name, lockd.AcquireOptions{Owner: "w", TTL: 5 * time.Second, Wait: 10 * time.Second})
	if err != nil {
		t.Fatalf("writer among arriving readers: %v", err)
	}
	writing.Store(true)
	t.Logf("the writer got in after %v", time.Since(start).Round(time.Millisecond))
	time.Sleep(100 * time.Millisecond)
	writing.Store(false)
	if _, err := e.Release(ctx(t), name, w.ID); err != nil {
		t.Errorf("writer release: %v", err)
	}
}
