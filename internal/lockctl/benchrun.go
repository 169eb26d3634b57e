package lockctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/client"
)

// errorPause is how long a bench worker rests after a failure other than
// not obtained, so that a lockd that is down is not spun against.
const errorPause = 100 * time.Millisecond

// progressEvery is how often the progress line is redrawn.
const progressEvery = 250 * time.Millisecond

// benchRun is one bench run: its workers, counters and latency histogram.
type benchRun struct {
	c     *client.Client
	owner string // the workers' owners are owner/w<i>
	cfg   benchConfig
	names []string

	cycles      atomic.Int64
	notObtained atomic.Int64
	errors      atomic.Int64

	mu    sync.Mutex
	hist  *hdrhistogram.Histogram // cycle latency in µs
	first error                   // the first failure
}

// newBenchRun prepares a run of cfg through c, whose requests time out
// after timeout, on lock names under prefix, by workers whose owners are
// owner/w<i>.
func newBenchRun(c *client.Client, owner string, timeout time.Duration, cfg benchConfig, prefix string) *benchRun {
	// A cycle is two requests, each bounded by the timeout (the acquire's
	// plus its wait); a second on top covers the rest.
	highest := (2*timeout + cfg.wait + time.Second).Microseconds()
	return &benchRun{
		c:     c,
		owner: owner,
		cfg:   cfg,
		names: cfg.names(prefix),
		hist:  hdrhistogram.New(1, highest, 3),
	}
}

// run runs the workers until ctx ends and returns how long they ran, from
// the first cycle's start to the last worker's end.
func (r *benchRun) run(ctx context.Context) time.Duration {
	start := time.Now()
	var wg sync.WaitGroup
	for i, name := range r.names {
		owner := workerOwner(r.owner, i)
		wg.Go(func() { r.worker(ctx, name, owner) })
	}
	wg.Wait()
	return time.Since(start)
}

// workerOwner is the owner of worker i: base/w<i>, with base cut short
// when the whole would pass the longest owner lockd takes. Workers that
// share a name are different owners, as separate clients are: lockd lets
// an acquire by the holder's own owner make an attempt on arrival (it may
// be the holder retrying), which would make the figures those of one
// client retrying against itself.
func workerOwner(base string, i int) string {
	suffix := "/w" + strconv.Itoa(i)
	if n := lockd.MaxOwnerLen - len(suffix); len(base) > n {
		base = strings.ToValidUTF8(base[:n], "")
	}
	return base + suffix
}

// worker runs acquire/release cycles on name as owner until ctx ends. A
// cycle cut short by the end of the run is not counted; a lock acquired
// is always released, within the client's timeout, even after the end.
func (r *benchRun) worker(ctx context.Context, name, owner string) {
	for ctx.Err() == nil {
		start := time.Now()
		l, err := r.c.Acquire(ctx, name, client.Owner(owner), client.TTL(r.cfg.ttl), client.Wait(r.cfg.wait))
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case errors.Is(err, lockd.ErrNotObtained):
			r.notObtained.Add(1)
			continue
		case err != nil:
			r.fail(ctx, err)
			continue
		}
		if err := l.Release(context.WithoutCancel(ctx)); err != nil {
			r.fail(ctx, err)
			continue
		}
		r.record(time.Since(start))
	}
}

// record counts one cycle of latency d.
func (r *benchRun) record(d time.Duration) {
	us := max(d.Microseconds(), 1)
	r.mu.Lock()
	defer r.mu.Unlock()
	// A value past the histogram's range can only come from a slow
	// cycle: count it at the top rather than lose it.
	_ = r.hist.RecordValue(min(us, r.hist.HighestTrackableValue()))
	r.cycles.Add(1)
}

// fail counts a failure, keeps the first, and rests for errorPause or
// until ctx ends.
func (r *benchRun) fail(ctx context.Context, err error) {
	r.errors.Add(1)
	r.mu.Lock()
	if r.first == nil {
		r.first = err
	}
	r.mu.Unlock()
	t := time.NewTimer(errorPause)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// firstErr returns the first failure, or nil.
func (r *benchRun) firstErr() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.first
}

// report summarises the run, which lasted elapsed.
func (r *benchRun) report(elapsed time.Duration) benchReport {
	distinct := make(map[string]bool, len(r.names))
	for _, n := range r.names {
		distinct[n] = true
	}
	rep := benchReport{
		Workers:     r.cfg.workers,
		Keys:        len(distinct),
		DurationMs:  r.cfg.duration.Milliseconds(),
		TTLMs:       r.cfg.ttl.Milliseconds(),
		WaitMs:      r.cfg.wait.Milliseconds(),
		ElapsedMs:   elapsed.Milliseconds(),
		Cycles:      r.cycles.Load(),
		NotObtained: r.notObtained.Load(),
		Errors:      r.errors.Load(),
	}
	if elapsed > 0 {
		rep.CyclesPerSec = math.Round(10*float64(rep.Cycles)/elapsed.Seconds()) / 10
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.first != nil {
		rep.FirstError = r.first.Error()
	}
	q := r.hist.ValueAtPercentilesSlice([]float64{50, 90, 99, 99.9})
	rep.LatencyUs = benchLatency{
		Min: r.hist.Min(), Mean: int64(math.Round(r.hist.Mean())), Max: r.hist.Max(),
		P50: q[0], P90: q[1], P99: q[2], P999: q[3],
	}
	return rep
}

// progress redraws a one-line progress report on w every progressEvery
// until the returned function is called, which erases it.
func (r *benchRun) progress(w io.Writer, total time.Duration) (stop func()) {
	start := time.Now()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				fmt.Fprint(w, "\r\033[K")
				return
			case <-t.C:
			}
			el := time.Since(start)
			n := r.cycles.Load()
			r.mu.Lock()
			p99 := time.Duration(r.hist.ValueAtPercentile(99)) * time.Microsecond
			r.mu.Unlock()
			fmt.Fprintf(w, "\r\033[K%s/%s  cycles %d  %.0f/s  p99 %s  not obtained %d  errors %d",
				el.Round(100*time.Millisecond), total, n, float64(n)/el.Seconds(), p99,
				r.notObtained.Load(), r.errors.Load())
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}
