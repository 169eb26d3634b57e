// Command lockbench measures lock throughput and latency of lockd's Redlock
// engine (in-process and over HTTP) next to go-redsync and bsm/redislock, on
// the same redis-server processes, in one run, and how lockd, run as a
// separate process, behaves under contention and with many waiters. It
// starts the servers on free 127.0.0.1 ports and stops them on exit.
//
// Every cell (implementation, node count, scenario) runs for -warmup, then
// is measured for -duration; cells are interleaved round-robin, with the
// implementation order rotated each repeat, and the table reports the median
// of -repeats runs. Scenarios:
//
//	distinct    -distinct-workers goroutines, each acquiring (no wait) and
//	            releasing its own key in a loop
//	shared      -shared-workers goroutines acquiring one key with a wait of
//	            -wait and releasing it in a loop
//	contention  -contention-workers goroutines acquiring one key and
//	            releasing it in a loop over -server-nodes nodes: lockd as a
//	            separate process through the Go SDK (wait -contention-wait)
//	            against go-redsync in-process with its default options
//	waiters     one holder takes a key, then -waiters acquires wait on it
//	            through the separate lockd; measures lockd's CPU, Redis
//	            commands/s and memory per waiter while they wait, then how
//	            fast and in what order they are served after the release
//
// The default is distinct and shared. A cycle is one acquire plus one
// release; its latency includes any wait. bsm/redislock runs on one node
// only, so it appears in the N=1 rows. redsync-rueidis is redsync over
// rueidis clients instead of go-redis: it separates what lockd gains from
// its Redis client (rueidis pipelines concurrent calls) from what it gains
// from its algorithm. The CPU columns divide the CPU time this process, the
// lockd process (if any) and the redis-servers used during the measured
// window by the successful cycles; on a machine with few cores they explain
// the throughput.
//
// The separate lockd process is the binary -lockd-bin or, by default, one
// built from the lockd module next to the bench module (go build, run in
// the current directory, which must be bench/).
//
// Usage:
//
//	cd bench && go run ./cmd/lockbench [-duration 5s] [-repeats 3] [-nodes 1,3,5]
//	    [-impls lockd,lockd-http,redsync,redsync-rueidis,redislock] [-cpuprofile cpu.out]
//	cd bench && go run ./cmd/lockbench -scenarios contention,waiters [-waiters 2000]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
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
	scenarioDistinct   = "distinct"
	scenarioShared     = "shared"
	scenarioContention = "contention"
	scenarioWaiters    = "waiters"
)

type options struct {
	duration, warmup time.Duration
	repeats          int
	nodes            []int
	impls            []string
	scenarios        []string // of the matrix: distinct, shared
	distinctWorkers  int
	sharedWorkers    int
	ttl, wait        time.Duration
	retry            retryPolicy
	pool             int
	redisBin         string
	cpuProfile       string
	flush            time.Duration

	// The scenarios against a separate lockd process.
	contention, waiters bool
	lockdBin            string
	serverNodes         int
	contentionWorkers   int
	contentionWait      time.Duration
	waiter              waiterOptions
	fair                bool // lockd acquires of both scenarios ask for fair order
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
	fs.StringVar(&scenarios, "scenarios", "distinct,shared", "comma-separated scenarios: distinct, shared, contention, waiters")
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
	fs.StringVar(&o.lockdBin, "lockd-bin", "", "lockd binary for the contention and waiters scenarios; none means go build of ../cmd/lockd")
	fs.IntVar(&o.serverNodes, "server-nodes", 3, "Redis nodes of the contention and waiters scenarios")
	fs.IntVar(&o.contentionWorkers, "contention-workers", 16, "workers in the contention scenario")
	fs.DurationVar(&o.contentionWait, "contention-wait", 5*time.Second, "lockd's wait in the contention scenario (redsync's default 32 tries, 50-250ms apart, give up after about 5s)")
	fs.BoolVar(&o.fair, "fair", false, "lockd's acquires in the contention and waiters scenarios ask for fair (arrival) order, client.Fair (lockd with fair mode only)")
	fs.IntVar(&o.waiter.count, "waiters", 2000, "waiters in the waiters scenario")
	fs.DurationVar(&o.waiter.wait, "waiters-wait", 3*time.Minute, "wait of each waiter's acquire")
	fs.DurationVar(&o.waiter.stagger, "waiters-stagger", time.Millisecond, "pause between sending two waiters' acquires, so their arrival order is defined")
	fs.DurationVar(&o.waiter.settle, "waiters-settle", 3*time.Second, "time between lockd holding every waiter's connection and the measurement")
	fs.DurationVar(&o.waiter.window, "waiters-window", 5*time.Second, "measured window while the waiters wait")
	fs.DurationVar(&o.waiter.deadline, "waiters-deadline", 2*time.Minute, "how long after the release the waiters may take to be served")
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
		switch s = strings.TrimSpace(s); s {
		case scenarioDistinct, scenarioShared:
			o.scenarios = append(o.scenarios, s)
		case scenarioContention:
			o.contention = true
		case scenarioWaiters:
			o.waiters = true
		default:
			return o, fmt.Errorf("-scenarios: unknown scenario %q", s)
		}
	}
	w := o.waiter
	switch {
	case o.duration <= 0 || o.warmup < 0 || o.repeats < 1:
		return o, errors.New("-duration and -repeats must be positive, -warmup not negative")
	case o.distinctWorkers < 1 || o.sharedWorkers < 1 || o.contentionWorkers < 1 || w.count < 1:
		return o, errors.New("worker and waiter counts must be positive")
	case o.retry.first <= 0 || o.retry.largest < o.retry.first:
		return o, errors.New("need 0 < -retry-first <= -retry-largest")
	case o.wait <= 0 || o.contentionWait <= 0:
		return o, errors.New("-wait and -contention-wait must be positive")
	case o.serverNodes < 1:
		return o, errors.New("-server-nodes must be positive")
	case w.stagger < 0 || w.settle < 0 || w.window <= 0 || w.deadline <= 0:
		return o, errors.New("-waiters-window and -waiters-deadline must be positive, -waiters-stagger and -waiters-settle not negative")
	case w.wait <= w.settle+w.window+w.deadline+time.Duration(w.count)*w.stagger:
		return o, errors.New("-waiters-wait must outlast sending, -waiters-settle, -waiters-window and -waiters-deadline together")
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

// errInterrupted ends a run on SIGINT or SIGTERM.
var errInterrupted = errors.New("interrupted")

func run(args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// Thousands of waiters need as many sockets here and in lockd, which
	// inherits the limit.
	if limit, err := raiseNoFile(); err != nil {
		fmt.Fprintln(stderr, "lockbench: raising RLIMIT_NOFILE:", err)
	} else if o.waiters && limit < uint64(o.waiter.count)+200 {
		return fmt.Errorf("RLIMIT_NOFILE hard limit %d is too low for %d waiters (raise ulimit -Hn)", limit, o.waiter.count)
	}

	nodes := 0
	if len(o.scenarios) > 0 {
		nodes = slices.Max(o.nodes)
	}
	if o.contention || o.waiters {
		nodes = max(nodes, o.serverNodes)
	}
	servers, err := startRedis(o.redisBin, nodes)
	if err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	defer stopRedis(servers)
	addrs := redisAddrs(servers)

	meter := newCPUMeter(addrs)
	defer meter.close()

	if o.lockdBin == "" && (o.contention || o.waiters) {
		dir, err := os.MkdirTemp("", "lockbench-lockd-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		if o.lockdBin, err = buildLockd(ctx, dir); err != nil {
			return err
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

	var (
		matrix, contention map[cellKey][]cellResult
		waiters            []waitersResult
	)
	if len(o.scenarios) > 0 {
		if matrix, err = runMatrix(ctx, o, addrs, meter, stderr); err != nil {
			return err
		}
	}
	if o.contention {
		if contention, err = runContention(ctx, o, addrs[:o.serverNodes], meter, stderr); err != nil {
			return err
		}
	}
	if o.waiters {
		if waiters, err = runWaiters(ctx, o, addrs[:o.serverNodes], meter, stderr); err != nil {
			return err
		}
	}
	writeHeader(stdout, o, args)
	if matrix != nil {
		writeMatrix(stdout, o, matrix)
	}
	if contention != nil {
		writeContention(stdout, o, contention)
	}
	if waiters != nil {
		writeWaiters(stdout, o, waiters)
	}
	return nil
}

// runMatrix runs the distinct and shared scenarios over every node count
// and implementation.
func runMatrix(ctx context.Context, o options, addrs []string, meter *cpuMeter, stderr io.Writer) (map[cellKey][]cellResult, error) {
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
				return nil, fmt.Errorf("%s over %d nodes: %w", impl, n, err)
			}
			lockers[cellKey{impl: impl, nodes: n}] = l
		}
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
						return nil, errInterrupted
					}
					k := cellKey{impl, n, sc}
					res := runCell(ctx, l, o, k, rep, meter)
					if ctx.Err() != nil {
						return nil, errInterrupted
					}
					results[k] = append(results[k], res)
					logCell(stderr, o, rep, k, res)
				}
			}
		}
	}
	return results, nil
}

// logCell prints one measured cell on stderr.
func logCell(stderr io.Writer, o options, rep int, k cellKey, res cellResult) {
	server := ""
	if res.cpu.server > 0 {
		server = " lockd " + fmtDur(res.perCycle(res.cpu.server))
	}
	fmt.Fprintf(stderr, "run %d/%d  N=%d %-10s %-15s %7.0f cycles/s  p50 %-8s p99 %-8s CPU/cycle go %-6s%s redis %-6s failed %d%s\n",
		rep+1, o.repeats, k.nodes, k.scenario, k.impl, res.rate(), fmtDur(res.hist.quantile(0.5)),
		fmtDur(res.hist.quantile(0.99)), fmtDur(res.perCycle(res.cpu.self)), server,
		fmtDur(res.perCycle(res.cpu.redis)), res.failed, errNote(res.firstErr))
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
	switch k.scenario {
	case scenarioShared:
		workers, wait = o.sharedWorkers, o.wait
	case scenarioContention:
		workers, wait = o.contentionWorkers, o.contentionWait
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
		cpu:      cpu1.sub(cpu0),
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
