package e2e_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockd/lockd/client"
	"github.com/lockd/lockd/internal/testenv"
)

// TestWithPermitNodeFault runs 16 workers through WithPermit on a
// semaphore of 3 over three real Redis nodes, in-process and over HTTP,
// while one node is paused (SIGSTOP) for a second, resumed, and killed:
// never more than 3 run at once, and they keep running all along.
func TestWithPermitNodeFault(t *testing.T) {
	if !testenv.Real() {
		t.Skip("needs redis-server to pause and kill")
	}
	both(t, permitsThroughFaults)
}

// permitsThroughFaults is TestWithPermitNodeFault with one client.
func permitsThroughFaults(t *testing.T, cl *cluster, c *client.Client) {
	const (
		workers = 16
		limit   = 3
	)
	ctx := ctxFor(t, time.Minute)
	var (
		in, most, runs atomic.Int64
		stop           atomic.Bool
		wg             sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			for !stop.Load() {
				err := c.WithPermit(ctx, "e2e-pool", limit, func(ctx context.Context, l *client.Lease) error {
					n := in.Add(1)
					defer in.Add(-1)
					for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
					}
					time.Sleep(5 * time.Millisecond)
					runs.Add(1)
					return nil
				}, client.Wait(20*time.Second), client.TTL(5*time.Second), client.Owner(fmt.Sprint("w", w)))
				if err != nil && !stop.Load() {
					t.Errorf("worker %d: WithPermit: %v", w, err)
					return
				}
			}
		})
	}
	// One node at a time: paused for a second, back for a second, then
	// killed.
	phase := func(d time.Duration) int64 {
		n := runs.Load()
		time.Sleep(d)
		return runs.Load() - n
	}
	before := phase(300 * time.Millisecond)
	cl.nodes[1].Pause()
	paused := phase(time.Second)
	cl.nodes[1].Resume()
	resumed := phase(time.Second)
	cl.nodes[1].Kill()
	killed := phase(1500 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	if m := most.Load(); m > limit {
		t.Errorf("%d workers ran at once under a semaphore of %d", m, limit)
	}
	if paused == 0 || resumed == 0 || killed == 0 {
		t.Errorf("runs: %d before the pause, %d while paused, %d after, %d once killed: want some in each", before, paused, resumed, killed)
	}
	t.Logf("runs: %d before the pause, %d while paused, %d after, %d once killed; at most %d at once", before, paused, resumed, killed, most.Load())
}
