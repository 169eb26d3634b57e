// Command lockbench measures lock throughput and latency of lockd's Redlock
// engine (in-process and over HTTP) next to go-redsync and bsm/redislock, on
// the same redis-server processes, in one run. It starts the servers on free
// 127.0.0.1 ports and stops them on exit.
//
// Every cell (implementation, node count, scenario) runs for -warmup, then
// is measured for -duration; cells are interleaved round-robin, with the
// implementation order rotated each repeat, and the table reports the median
// of -repeats runs. Scenarios:
//
//	distinct  -distinct-workers goroutines, each acquiring (no wait) and
//	          releasing its own key in a loop
//	shared    -shared-workers goroutines acquiring one key with a wait of
//	          -wait and releasing it in a loop
//
// A cycle is one acquire plus one release; its latency includes any wait.
// bsm/redislock runs on one node only, so it appears in the N=1 rows.
// redsync-rueidis is redsync over rueidis clients instead of go-redis: it
// separates what lockd gains from its Redis client (rueidis pipelines
// concurrent calls) from what it gains from its algorithm. The CPU columns
// divide the CPU time this process and the redis-servers used during the
// measured window by the successful cycles; on a machine with few cores
// they explain the throughput.
//
// Usage:
//
//	cd bench && go run ./cmd/lockbench [-duration 5s] [-repeats 3] [-nodes 1,3,5]
//	    [-impls lockd,lockd-http,redsync,redsync-rueidis,redislock] [-cpuprofile cpu.out]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lockd/lockd/redlock"
)

// Scenario names.
const (
	scenarioDistinct = "distinct"
	scenarioShared   = "shared"
)

type options struct {
	duration, warmup time.Duration
	repeats          int
	nodes            []int
	impls            []string
	scenarios        []string
	distinctWorkers  int
	sharedWorkers    int
	ttl, wait        time.Duration
	retry            retryPolicy
	pool             int
	redisBin         string
	cpuProfile       string
	flush            time.Duration
}

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "lockbench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var (
		o                        options
		nodes, impls, scenarios  string
		retryFirst, retryLargest time.Duration
	)
	fs := flag.NewFlagSet("lockbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "measured time per cell and repeat")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured time before each measurement")
	fs.IntVar(&o.repeats, "repeats", 3, "runs per cell; the table shows the median")
	fs.StringVar(&nodes, "nodes", "1,3,5", "comma-separated node counts")
	fs.StringVar(&impls, "impls", "lockd,lockd-http,redsync,redsync-rueidis,redislock",
		"comma-separated implementations: "+strings.Join(implOrder, ", "))
	fs.StringVar(&scenarios, "scenarios", "distinct,shared", "comma-separated scenarios: distinct, shared")
	fs.IntVar(&o.distinctWorkers, "distinct-workers", 32, "workers in the distinct-keys scenario")
	fs.IntVar(&o.sharedWorkers, "shared-workers", 16, "workers in the shared-key scenario")
	fs.DurationVar(&o.ttl, "ttl", 10*time.Second, "lease TTL")
	fs.DurationVar(&o.wait, "wait", 2*time.Second, "longest wait of an acquire in the shared-key scenario")
	fs.DurationVar(&retryFirst, "retry-first", 5*time.Millisecond, "first pause between attempts of a waiting acquire (all implementations)")
	fs.DurationVar(&retryLargest, "retry-largest", 200*time.Millisecond, "largest pause between attempts of a waiting acquire (all implementations)")
	fs.IntVar(&o.pool, "pool", 0, "connections per node for go-redis clients; 0 means max(workers, go-redis's default 10*GOMAXPROCS)")
	fs.StringVar(&o.redisBin, "redis-server", "redis-server", "redis-server binary")
	fs.DurationVar(&o.flush, "noflush-delay", 0, "redlock MaxFlushDelay of the lockd-noflush variant (the lockd variant uses the engine's default)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.retry = retryPolicy{first: retryFirst, largest: retryLargest}
	for _, s := range strings.Split(nodes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return o, fmt.Errorf("-nodes: %q is not a positive count", s)
		}
		o.nodes = append(o.nodes, n)
	}
	for _, s := range strings.Split(impls, ",") {
		s = strings.TrimSpace(s)
		if !slices.Contains(implOrder, s) {
			return o, fmt.Errorf("-impls: unknown implementation %q", s)
		}
		o.impls = append(o.impls, s)
	}
	for _, s := range strings.Split(scenarios, ",") {
		s = strings.TrimSpace(s)
		if s != scenarioDistinct && s != scenarioShared {
			return o, fmt.Errorf("-scenarios: unknown scenario %q", s)
		}
		o.scenarios = append(o.scenarios, s)
	}
	switch {
	case o.duration <= 0 || o.warmup < 0 || o.repeats < 1:
		return o, errors.New("-duration and -repeats must be positive, -warmup not negative")
	case o.distinctWorkers < 1 || o.sharedWorkers < 1:
		return o, errors.New("worker counts must be positive")
	case o.retry.first <= 0 || o.retry.largest < o.retry.first:
		return o, errors.New("need 0 < -retry-first <= -retry-largest")
	case o.wait <= 0:
		return o, errors.New("-wait must be positive")
	}
	if o.pool == 0 {
		o.pool = max(o.distinctWorkers, o.sharedWorkers, 10*runtime.GOMAXPROCS(0))
	}
	return o, nil
}

// cellKey names one cell of the table.
type cellKey struct {
	impl     string
	nodes    int
	scenario string
}

func run(args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	servers, err := startRedis(o.redisBin, slices.Max(o.nodes))
	if err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	defer stopRedis(servers)
	addrs := redisAddrs(servers)

	meter := newCPUMeter(addrs)
	defer meter.close()

	cfg := cellConfig{ttl: o.ttl, retry: o.retry, pool: o.pool, flush: o.flush}
	lockers := map[cellKey]locker{} // scenario left empty: shared by both
	defer func() {
		for _, l := range lockers {
			l.close()
		}
	}()
	for _, n := range o.nodes {
		for _, impl := range o.impls {
			if impl == implRedislock && n != 1 {
				continue
			}
			l, err := newLocker(impl, addrs[:n], cfg, max(o.distinctWorkers, o.sharedWorkers))
			if err != nil {
				return fmt.Errorf("%s over %d nodes: %w", impl, n, err)
			}
			lockers[cellKey{impl: impl, nodes: n}] = l
		}
	}

	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	results := map[cellKey][]cellResult{}
	for rep := range o.repeats {
		for _, n := range o.nodes {
			for _, sc := range o.scenarios {
				for i := range o.impls {
					impl := o.impls[(i+rep)%len(o.impls)]
					l, ok := lockers[cellKey{impl: impl, nodes: n}]
					if !ok {
						continue
					}
					if ctx.Err() != nil {
						return errors.New("interrupted")
					}
					k := cellKey{impl, n, sc}
					res := runCell(ctx, l, o, k, rep, meter)
					if ctx.Err() != nil {
						return errors.New("interrupted")
					}
					results[k] = append(results[k], res)
					fmt.Fprintf(stderr, "run %d/%d  N=%d %-8s %-15s %7.0f cycles/s  p50 %-8s p99 %-8s CPU/cycle go %-6s redis %-6s failed %d%s\n",
						rep+1, o.repeats, n, sc, impl, res.rate(), fmtDur(res.hist.quantile(0.5)),
						fmtDur(res.hist.quantile(0.99)), fmtDur(res.perCycle(res.cpu.self)),
						fmtDur(res.perCycle(res.cpu.redis)), res.failed, errNote(res.firstErr))
				}
			}
		}
	}
	writeReport(stdout, o, args, results)
	return nil
}

func newLocker(impl string, addrs []string, cfg cellConfig, workers int) (locker, error) {
	switch impl {
	case implLockd:
		return newLockd(addrs, cfg)
	case implLockdNoFlush:
		return newLockd(addrs, cfg, redlock.WithMaxFlushDelay(cfg.flush))
	case implLockdHTTP:
		return newHTTP(addrs, cfg, workers)
	case implRedsync:
		return newRedsync(addrs, cfg, false)
	case implRedsyncRueidis:
		return newRedsync(addrs, cfg, true)
	case implRedislock:
		return newRedislock(addrs[0], cfg), nil
	}
	return nil, fmt.Errorf("unknown implementation %q", impl)
}

func errNote(err error) string {
	if err == nil {
		return ""
	}
	return "  first error: " + err.Error()
}

// cellResult is one measured run of a cell.
type cellResult struct {
	cycles, failed uint64
	elapsed        time.Duration
	hist           *histogram // latencies of successful cycles
	cpu            cpuSample  // CPU used during the measured window
	firstErr       error
}

// perCycle divides d by the successful cycles.
func (r cellResult) perCycle(d time.Duration) time.Duration {
	if r.cycles == 0 {
		return 0
	}
	return d / time.Duration(r.cycles)
}

func (r cellResult) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.cycles) / r.elapsed.Seconds()
}

// runCell runs one cell: the workers loop from the start, and a cycle
// counts when it ends inside the measured window, which opens after the
// warm-up.
func runCell(parent context.Context, l locker, o options, k cellKey, rep int, meter *cpuMeter) cellResult {
	workers, wait := o.distinctWorkers, time.Duration(0)
	if k.scenario == scenarioShared {
		workers, wait = o.sharedWorkers, o.wait
	}
	// Fresh keys per cell: nothing one cell leaves behind can slow another.
	prefix := fmt.Sprintf("bench-r%d-n%d-%s-%s", rep, k.nodes, k.scenario, k.impl)

	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	base := time.Now()
	var from, to atomic.Int64 // the window, in ns since base
	from.Store(1<<63 - 1)
	to.Store(1<<63 - 1)

	hists := make([]*histogram, workers)
	cycles := make([]uint64, workers)
	failed := make([]uint64, workers)
	var (
		firstErr error
		errOnce  sync.Once
		wg       sync.WaitGroup
	)
	for w := range workers {
		hists[w] = new(histogram)
		key := prefix + "-shared"
		if k.scenario == scenarioDistinct {
			key = fmt.Sprintf("%s-%02d", prefix, w)
		}
		owner := fmt.Sprintf("worker-%02d", w)
		wg.Go(func() {
			for ctx.Err() == nil {
				start := time.Now()
				err := l.cycle(ctx, key, owner, wait)
				end := time.Now()
				at := int64(end.Sub(base))
				if at < from.Load() || at > to.Load() {
					continue
				}
				if err != nil {
					failed[w]++
					errOnce.Do(func() { firstErr = err })
					continue
				}
				cycles[w]++
				hists[w].record(end.Sub(start))
			}
		})
	}
	sleep(ctx, o.warmup)
	cpu0 := meter.sample(k.nodes)
	t0 := time.Since(base)
	from.Store(int64(t0))
	sleep(ctx, o.duration)
	t1 := time.Since(base)
	to.Store(int64(t1))
	cpu1 := meter.sample(k.nodes)
	cancel()
	wg.Wait()

	res := cellResult{
		elapsed:  t1 - t0,
		hist:     new(histogram),
		cpu:      cpuSample{self: cpu1.self - cpu0.self, redis: cpu1.redis - cpu0.redis},
		firstErr: firstErr,
	}
	for w := range workers {
		res.cycles += cycles[w]
		res.failed += failed[w]
		res.hist.merge(hists[w])
	}
	return res
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// summary is a cell's medians over its runs.
type summary struct {
	rate, p50, p99, failed float64
	selfCPU, redisCPU      float64 // ns per successful cycle
	rates                  []float64
}

func summarize(runs []cellResult) summary {
	var s summary
	var p50, p99, failed, self, redis []float64
	for _, r := range runs {
		self = append(self, float64(r.perCycle(r.cpu.self)))
		redis = append(redis, float64(r.perCycle(r.cpu.redis)))
		s.rates = append(s.rates, r.rate())
		p50 = append(p50, float64(r.hist.quantile(0.5)))
		p99 = append(p99, float64(r.hist.quantile(0.99)))
		failed = append(failed, float64(r.failed))
	}
	s.rate, s.p50, s.p99, s.failed = median(s.rates), median(p50), median(p99), median(failed)
	s.selfCPU, s.redisCPU = median(self), median(redis)
	return s
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// pairedRatio returns the median over repeats of f(runs[i]) / f(ref[i]):
// runs of the same repeat ran close together in time, so pairing them
// cancels much of a noisy machine's drift. It returns "–" without a
// reference.
func pairedRatio(runs, ref []cellResult, f func(cellResult) float64) string {
	var rs []float64
	for i := range min(len(runs), len(ref)) {
		if d := f(ref[i]); d > 0 {
			rs = append(rs, f(runs[i])/d)
		}
	}
	if len(rs) == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2fx", median(rs))
}

func writeReport(w io.Writer, o options, args []string, results map[cellKey][]cellResult) {
	fmt.Fprintf(w, "Command: `%s`\n\n", strings.Join(append([]string{"cd bench && go run ./cmd/lockbench"}, args...), " "))
	fmt.Fprintf(w, "Machine: %d CPUs (GOMAXPROCS %d), %s %s/%s, %s\n\n", runtime.NumCPU(), runtime.GOMAXPROCS(0),
		runtime.Version(), runtime.GOOS, runtime.GOARCH, redisVersion(o.redisBin))
	fmt.Fprintf(w, "Cells: %v warm-up + %v measured, %d repeats (median shown), interleaved. "+
		"TTL %v. distinct: %d workers, no wait. shared: %d workers, wait %v. "+
		"Retry pause before retry k: uniform in [d/2, d], d = min(%v<<k, %v). go-redis pool %d per node. "+
		"Ratios are medians of per-repeat ratios to redsync (go-redis) in the same repeat.\n\n",
		o.warmup, o.duration, o.repeats, o.ttl, o.distinctWorkers, o.sharedWorkers, o.wait,
		o.retry.first, o.retry.largest, o.pool)
	fmt.Fprintln(w, "| implementation | N | scenario | cycles/s | p50 | p99 | ratio vs redsync | p99 vs redsync | failed/run | Go CPU/cycle | redis CPU/cycle | runs (cycles/s) |")
	fmt.Fprintln(w, "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	for _, n := range o.nodes {
		for _, sc := range o.scenarios {
			ref := results[cellKey{implRedsync, n, sc}]
			for _, impl := range implOrder {
				runs, ok := results[cellKey{impl, n, sc}]
				if !ok {
					continue
				}
				s := summarize(runs)
				ratio := pairedRatio(runs, ref, cellResult.rate)
				p99Ratio := pairedRatio(runs, ref, func(r cellResult) float64 { return float64(r.hist.quantile(0.99)) })
				var rs []string
				for _, r := range s.rates {
					rs = append(rs, fmt.Sprintf("%.0f", r))
				}
				fmt.Fprintf(w, "| %s | %d | %s | %.0f | %s | %s | %s | %s | %.0f | %s | %s | %s |\n",
					impl, n, sc, s.rate, fmtDur(time.Duration(s.p50)), fmtDur(time.Duration(s.p99)),
					ratio, p99Ratio, s.failed, fmtDur(time.Duration(s.selfCPU)), fmtDur(time.Duration(s.redisCPU)),
					strings.Join(rs, ", "))
			}
		}
	}
}

func redisVersion(bin string) string {
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return "redis-server version unknown"
	}
	return strings.TrimSpace(string(out))
}

// fmtDur prints a latency with three significant digits.
func fmtDur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}
