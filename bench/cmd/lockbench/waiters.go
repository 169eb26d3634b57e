package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/client"
)

// waiterOptions configure the waiters scenario.
type waiterOptions struct {
	count    int           // waiters
	wait     time.Duration // each waiter's wait
	stagger  time.Duration // between sending two waiters' acquires
	settle   time.Duration // after lockd holds every waiter's connection
	window   time.Duration // measured while they wait
	deadline time.Duration // for serving them all after the release
}

// Targets of issue 8 for the waiters scenario.
const (
	targetWaitCPU      = 0.05     // of one core
	targetWaitCommands = 100      // Redis commands/s, all nodes
	targetWaitBytes    = 20 << 10 // lockd memory per waiter
)

const (
	// waitersHolderTTL is the holder's TTL: far longer than the waiters
	// wait before the release.
	waitersHolderTTL = 10 * time.Minute
	// waitersWarmCycles is how many acquire+release cycles lockd serves
	// before the baseline, so that its connections to the nodes and its
	// first allocations are not counted against the waiters.
	waitersWarmCycles = 100
	// waitersConnTimeout bounds the wait for lockd to hold a connection
	// per waiter.
	waitersConnTimeout = 30 * time.Second
)

// waitersResult is one run of the waiters scenario.
type waitersResult struct {
	count int
	// waiting is how many acquires were in flight at the start and at
	// the end of the window.
	waitingFrom, waitingTo int
	// early is how many acquires ended before the release (an error, or
	// a grant, which would break exclusion); earlyErr is the first error.
	early    int
	earlyErr error

	window   time.Duration
	lockdCPU time.Duration // in the window
	loadCPU  time.Duration // this process, in the window
	commands int64         // on all nodes in the window, less our own INFO calls

	rssBefore, rssWaiting int64   // lockd's VmRSS before the waiters and at the window's end
	gcBefore, gcWaiting   gcTrace // lockd's latest GC at the same times
	// gcFresh reports whether a GC ran after lockd held every waiter's
	// connection, so that gcWaiting counts them all.
	gcFresh bool

	served       int           // granted after the release
	servedAll    time.Duration // from the release to the last grant
	servedMedian time.Duration // from the release to the median grant
	lateErr      error         // the first error of a waiter after the release
	// relFailed is how many granted waiters' releases failed; notHeld how
	// many of them because the lease had run out (the lock then stayed
	// held by nobody until its TTL). slowest is the longest time from a
	// grant to its release's answer.
	relFailed, notHeld int
	slowest            time.Duration
	inversions         int64   // pairs granted against arrival order
	tau                float64 // Kendall's tau of grant order against arrival order
}

// grant is what one waiter saw.
type grant struct {
	ok           bool
	fence        int64
	at           time.Duration // since the run's base time
	afterRelease bool
	err          error         // of the acquire
	released     time.Duration // when its release returned, since the base time
	relErr       error         // of its release
}

// runWaiters runs the waiters scenario o.repeats times, each on a fresh
// lockd process over the nodes addrs, flushed first.
func runWaiters(ctx context.Context, o options, addrs []string, meter *cpuMeter, stderr io.Writer) ([]waitersResult, error) {
	var out []waitersResult
	for rep := range o.repeats {
		if err := meter.flush(len(addrs)); err != nil {
			return nil, fmt.Errorf("flushing the nodes: %w", err)
		}
		r, err := runWaitersOnce(ctx, o, addrs, meter, rep, stderr)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(stderr, "run %d/%d  waiters %d: waiting %d-%d, lockd CPU %.1f%% of a core, %.0f Redis commands/s, RSS %s/waiter, heap+stacks %s/waiter%s; served %d in %s, Kendall tau %.3f (%d inversions), %d releases failed, slowest release %s%s\n",
			rep+1, o.repeats, r.count, r.waitingFrom, r.waitingTo, 100*r.cpuShare(), r.commandsPerSec(),
			fmtBytes(r.rssPerWaiter()), fmtBytes(r.heapPerWaiter()), staleNote(r.gcFresh), r.served,
			fmtDur(r.servedAll), r.tau, r.inversions, r.relFailed, fmtDur(r.slowest), errNote(errors.Join(r.earlyErr, r.lateErr)))
		out = append(out, r)
	}
	return out, nil
}

func staleNote(fresh bool) string {
	if fresh {
		return ""
	}
	return " (no GC since all arrived)"
}

func runWaitersOnce(ctx context.Context, o options, addrs []string, meter *cpuMeter, rep int, stderr io.Writer) (waitersResult, error) {
	wo := o.waiter
	res := waitersResult{count: wo.count}
	p, err := startLockd(ctx, o.lockdBin, addrs)
	if err != nil {
		return res, err
	}
	defer p.stop()
	pid := p.pid()
	fmt.Fprintf(stderr, "waiters: lockd pid %d at %s over %s\n", pid, p.url, strings.Join(addrs, ","))
	// The holder has a client of its own, whose connection is closed
	// before the baseline, so that every waiter opens a connection: then
	// lockd's open files tell when they have all arrived.
	hc, err := client.New(p.url)
	if err != nil {
		return res, err
	}
	defer hc.Close()
	// One connection per waiter, each kept for the release that follows.
	c, err := client.New(p.url, client.WithIdleConns(wo.count+100))
	if err != nil {
		return res, err
	}
	defer c.Close()

	key := fmt.Sprintf("bench-waiters-r%d", rep)
	for range waitersWarmCycles {
		l, err := hc.Acquire(ctx, key+"-warm", client.Owner("warm"), client.TTL(o.ttl))
		if err != nil {
			return res, fmt.Errorf("warm-up: %w", err)
		}
		if err := l.Release(ctx); err != nil {
			return res, fmt.Errorf("warm-up: %w", err)
		}
	}
	holder, err := hc.Acquire(ctx, key, client.Owner("holder"), client.TTL(waitersHolderTTL))
	if err != nil {
		return res, fmt.Errorf("holder: %w", err)
	}
	_ = hc.Close() // its idle connection; the release dials again
	sleep(ctx, 500*time.Millisecond)
	if res.rssBefore, err = procRSS(pid); err != nil {
		return res, err
	}
	res.gcBefore = p.lastGC()
	fdsBefore, err := procFDs(pid)
	if err != nil {
		return res, err
	}

	wctx, cancelWaiters := context.WithCancel(ctx)
	defer cancelWaiters()
	var (
		released atomic.Bool
		inFlight atomic.Int64
		wg       sync.WaitGroup
		grants   = make([]grant, wo.count)
		base     = time.Now()
	)
	// The waiters are sent one by one, wo.stagger apart: their index is
	// their arrival order.
	for i := range wo.count {
		inFlight.Add(1)
		wg.Go(func() {
			defer inFlight.Add(-1)
			l, err := c.Acquire(wctx, key, append([]client.AcquireOption{client.Owner(fmt.Sprintf("waiter-%04d", i)),
				client.TTL(o.ttl), client.Wait(wo.wait)}, fairOption(o)...)...)
			g := &grants[i]
			g.at, g.afterRelease = time.Since(base), released.Load()
			if err != nil {
				g.err = err
				return
			}
			g.ok, g.fence = true, l.Fence()
			rctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
			defer cancel()
			g.relErr = l.Release(rctx)
			g.released = time.Since(base)
		})
		if wo.stagger > 0 {
			sleep(ctx, wo.stagger)
		}
	}
	// finish ends the waiters still waiting and waits for them all.
	finish := func() {
		cancelWaiters()
		wg.Wait()
	}
	if ctx.Err() != nil {
		finish()
		return res, errInterrupted
	}

	// lockd holds a connection per waiter still in flight: then every
	// request has arrived, give or take one read.
	deadline := time.Now().Add(waitersConnTimeout)
	for {
		fds, err := procFDs(pid)
		if err != nil {
			finish()
			return res, err
		}
		if fds-fdsBefore >= int(inFlight.Load()) {
			break
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(stderr, "waiters: lockd holds %d connections more than before, %d waiters in flight; measuring anyway\n",
				fds-fdsBefore, inFlight.Load())
			break
		}
		sleep(ctx, 50*time.Millisecond)
	}
	gcArrived := p.lastGC()
	sleep(ctx, wo.settle)

	res.waitingFrom = int(inFlight.Load())
	cpu0, err := procCPU(pid)
	if err != nil {
		finish()
		return res, err
	}
	cmd0, err := meter.commands(len(addrs))
	if err != nil {
		finish()
		return res, err
	}
	load0 := selfCPU()
	t0 := time.Now()
	sleep(ctx, wo.window)
	res.window = time.Since(t0)
	cpu1, err := procCPU(pid)
	if err != nil {
		finish()
		return res, err
	}
	cmd1, err := meter.commands(len(addrs))
	if err != nil {
		finish()
		return res, err
	}
	res.loadCPU = selfCPU() - load0
	res.lockdCPU = cpu1 - cpu0
	res.commands = cmd1 - cmd0 - ownCommandsPerSample*int64(len(addrs))
	if res.rssWaiting, err = procRSS(pid); err != nil {
		finish()
		return res, err
	}
	res.gcWaiting = p.lastGC()
	res.gcFresh = res.gcWaiting.n > gcArrived.n
	res.waitingTo = int(inFlight.Load())
	if ctx.Err() != nil {
		finish()
		return res, errInterrupted
	}

	released.Store(true)
	relAt := time.Since(base)
	rctx, cancel := context.WithTimeout(ctx, releaseTimeout)
	err = holder.Release(rctx)
	cancel()
	if err != nil {
		finish()
		return res, fmt.Errorf("holder release: %w", err)
	}
	all := make(chan struct{})
	go func() { wg.Wait(); close(all) }()
	select {
	case <-all:
	case <-time.After(wo.deadline):
		fmt.Fprintf(stderr, "waiters: %d still waiting %v after the release; ending them\n", inFlight.Load(), wo.deadline)
		finish()
	case <-ctx.Done():
		finish()
		return res, errInterrupted
	}
	if done, err := p.exited(); done {
		return res, fmt.Errorf("lockd exited during the waiters scenario: %v; log: %s", err, strings.Join(p.logTail(), " | "))
	}

	var (
		fences []int64 // of the waiters granted after the release, in arrival order
		times  []float64
	)
	for _, g := range grants {
		switch {
		case !g.afterRelease:
			res.early++
			if res.earlyErr == nil {
				res.earlyErr = g.err
				if g.ok && g.err == nil {
					res.earlyErr = errors.New("granted while the holder held the lock")
				}
			}
		case g.ok:
			res.served++
			fences = append(fences, g.fence)
			times = append(times, float64(g.at-relAt))
			res.slowest = max(res.slowest, g.released-g.at)
			if g.relErr != nil {
				res.relFailed++
				if errors.Is(g.relErr, lockd.ErrNotHeld) {
					res.notHeld++
				}
				if res.lateErr == nil {
					res.lateErr = fmt.Errorf("release after %v: %w", (g.released - g.at).Round(time.Millisecond), g.relErr)
				}
			}
		case res.lateErr == nil:
			res.lateErr = g.err
		}
	}
	if len(times) > 0 {
		res.servedAll = time.Duration(slices.Max(times))
		res.servedMedian = time.Duration(median(times))
	}
	res.inversions = countInversions(fences)
	res.tau = kendallTau(res.inversions, len(fences))
	return res, nil
}

// selfCPU returns the CPU time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuShare is lockd's CPU in the window as a share of one core.
func (r waitersResult) cpuShare() float64 {
	if r.window <= 0 {
		return 0
	}
	return float64(r.lockdCPU) / float64(r.window)
}

func (r waitersResult) commandsPerSec() float64 {
	if r.window <= 0 {
		return 0
	}
	return float64(r.commands) / r.window.Seconds()
}

// rssPerWaiter divides the growth of lockd's RSS by the waiters still
// waiting when it was read; -1 when none was.
func (r waitersResult) rssPerWaiter() int64 {
	if r.waitingTo <= 0 {
		return -1
	}
	return (r.rssWaiting - r.rssBefore) / int64(r.waitingTo)
}

// heapPerWaiter divides the growth of lockd's live heap and goroutine
// stacks after GC by the waiters; -1 when none was waiting. Before the
// first GC the baseline counts as zero, so the figure is then an upper
// bound.
func (r waitersResult) heapPerWaiter() int64 {
	if r.waitingTo <= 0 {
		return -1
	}
	grow := r.gcWaiting.liveBytes + r.gcWaiting.stacks - r.gcBefore.liveBytes - r.gcBefore.stacks
	return grow / int64(r.waitingTo)
}

// countInversions returns how many pairs i < j have xs[i] > xs[j]: with xs
// the grant sequence numbers listed in arrival order, the pairs served
// against arrival order. It sorts a copy by merging, O(n log n).
func countInversions(xs []int64) int64 {
	a := slices.Clone(xs)
	tmp := make([]int64, len(a))
	var sortCount func(lo, hi int) int64
	sortCount = func(lo, hi int) int64 {
		if hi-lo < 2 {
			return 0
		}
		mid := (lo + hi) / 2
		n := sortCount(lo, mid) + sortCount(mid, hi)
		i, j, k := lo, mid, lo
		for i < mid && j < hi {
			if a[j] < a[i] {
				n += int64(mid - i) // a[j] is smaller than all of a[i:mid]
				tmp[k] = a[j]
				j++
			} else {
				tmp[k] = a[i]
				i++
			}
			k++
		}
		k += copy(tmp[k:], a[i:mid])
		copy(tmp[k:], a[j:hi])
		copy(a[lo:hi], tmp[lo:hi])
		return n
	}
	return sortCount(0, len(a))
}

// kendallTau returns Kendall's tau of n distinct values with the given
// number of inversions against their positions: 1 when in order, -1 when
// reversed, near 0 when unrelated. It is 1 for fewer than two values.
func kendallTau(inversions int64, n int) float64 {
	if n < 2 {
		return 1
	}
	pairs := float64(n) * float64(n-1) / 2
	return 1 - 2*float64(inversions)/pairs
}

// fmtBytes prints a byte count in KiB or MiB; "n/a" when negative.
func fmtBytes(b int64) string {
	switch {
	case b < 0:
		return "n/a"
	case b < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}

// writeWaiters prints the waiters scenario next to the targets.
func writeWaiters(w io.Writer, o options, runs []waitersResult) {
	wo := o.waiter
	fmt.Fprintf(w, "#### Waiters: %d waiters on one held lock, %d nodes\n\n", wo.count, o.serverNodes)
	fmt.Fprintf(w, "Each run: a fresh lockd process, nodes flushed; %d warm-up cycles; one holder (TTL %v); then %d acquires, each its own HTTP request "+
		"through one SDK client (WithIdleConns %d), wait %v, TTL %v%s, sent %v apart (their order is the arrival order). "+
		"Once lockd holds a connection per waiter, %v settle, then %v measured: lockd's CPU (/proc/<pid>/stat), "+
		"Redis commands (INFO stats total_commands_processed over all nodes, less the INFO calls), lockd's VmRSS growth and "+
		"live heap+stacks growth (GODEBUG=gctrace=1, 1 MiB resolution) divided by the waiters. Then the holder releases and each "+
		"waiter releases as soon as it is granted; grant order is the fence order, compared with arrival order. %d repeats, median shown.\n\n",
		waitersWarmCycles, waitersHolderTTL, wo.count, wo.count+100, wo.wait, o.ttl, fairNote(o), wo.stagger, wo.settle, wo.window, o.repeats)

	col := func(f func(waitersResult) float64) []float64 {
		var xs []float64
		for _, r := range runs {
			xs = append(xs, f(r))
		}
		return xs
	}
	row := func(name, target string, xs []float64, format func(float64) string) {
		var cells []string
		for _, x := range xs {
			cells = append(cells, format(x))
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", name, target, format(median(xs)), strings.Join(cells, ", "))
	}
	pct := func(x float64) string { return fmt.Sprintf("%.1f%%", 100*x) }
	num := func(x float64) string { return fmt.Sprintf("%.0f", x) }
	bytes := func(x float64) string { return fmtBytes(int64(x)) }
	secs := func(x float64) string { return fmtDur(time.Duration(x)) }

	fmt.Fprintln(w, "| measure | target (issue 8) | median | runs |")
	fmt.Fprintln(w, "|---|---:|---:|---|")
	row("lockd CPU while they wait, share of one core", fmt.Sprintf("< %.0f%%", 100*targetWaitCPU), col(waitersResult.cpuShare), pct)
	row(fmt.Sprintf("Redis commands/s while they wait (%d nodes)", o.serverNodes), fmt.Sprintf("< %d", targetWaitCommands), col(waitersResult.commandsPerSec), num)
	row("lockd RSS per waiter", fmt.Sprintf("< %s", fmtBytes(targetWaitBytes)), col(func(r waitersResult) float64 { return float64(r.rssPerWaiter()) }), bytes)
	row("lockd Go heap+stacks per waiter (live after GC)", "–", col(func(r waitersResult) float64 { return float64(r.heapPerWaiter()) }), bytes)
	var mem []string
	for _, r := range runs {
		mem = append(mem, fmt.Sprintf("%s + %s (before: %s + %s)", fmtBytes(r.gcWaiting.liveBytes), fmtBytes(r.gcWaiting.stacks),
			fmtBytes(r.gcBefore.liveBytes), fmtBytes(r.gcBefore.stacks)))
	}
	fmt.Fprintf(w, "| lockd live heap + stacks while they wait, all waiters | – | – | %s |\n", strings.Join(mem, "; "))
	row("served after the release", fmt.Sprintf("all %d", wo.count), col(func(r waitersResult) float64 { return float64(r.served) }), num)
	row("time from the release to the last grant", "seconds", col(func(r waitersResult) float64 { return float64(r.servedAll) }), secs)
	row("time from the release to the median grant", "–", col(func(r waitersResult) float64 { return float64(r.servedMedian) }), secs)
	row("grant order: Kendall tau against arrival (1 = in order, 0 = unrelated)", "1 (in order)", col(func(r waitersResult) float64 { return r.tau }),
		func(x float64) string { return fmt.Sprintf("%.3f", x) })
	row("grant order: pairs served out of arrival order", "0", col(func(r waitersResult) float64 { return float64(r.inversions) }), num)
	row("granted waiters whose release failed", "0", col(func(r waitersResult) float64 { return float64(r.relFailed) }), num)
	row("longest time from a grant to its release's answer", "–", col(func(r waitersResult) float64 { return float64(r.slowest) }), secs)
	row("waiting at the window's start", fmt.Sprintf("%d", wo.count), col(func(r waitersResult) float64 { return float64(r.waitingFrom) }), num)
	row("ended before the release (errors)", "0", col(func(r waitersResult) float64 { return float64(r.early) }), num)
	row("load process CPU while they wait, share of one core", "–", col(func(r waitersResult) float64 {
		if r.window <= 0 {
			return 0
		}
		return float64(r.loadCPU) / float64(r.window)
	}), pct)
	fmt.Fprintln(w)
	for i, r := range runs {
		var notes []string
		if !r.gcFresh {
			notes = append(notes, "no GC ran after every waiter had arrived: the heap figure counts fewer waiters")
		}
		if r.gcBefore.n == 0 {
			notes = append(notes, "no GC before the waiters: heap baseline taken as 0")
		}
		if r.earlyErr != nil {
			notes = append(notes, "first early error: "+r.earlyErr.Error())
		}
		if r.notHeld > 0 {
			notes = append(notes, fmt.Sprintf("%d releases answered not held: the lease had run out before its release, and the lock stayed taken until its TTL", r.notHeld))
		}
		if r.lateErr != nil {
			notes = append(notes, "first error after the release: "+r.lateErr.Error())
		}
		if len(notes) > 0 {
			fmt.Fprintf(w, "- run %d: %s\n", i+1, strings.Join(notes, "; "))
		}
	}
	fmt.Fprintln(w)
}
