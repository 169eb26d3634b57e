package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/go-redsync/redsync/v4"
	redsyncredis "github.com/go-redsync/redsync/v4/redis"
	redsyncgoredis "github.com/go-redsync/redsync/v4/redis/goredis/v9"
	goredis "github.com/redis/go-redis/v9"

	"github.com/lockd/lockd/client"
)

// The peers of the contention scenario.
const (
	implLockdProc      = "lockd-proc"
	implRedsyncDefault = "redsync-default"
)

var contentionOrder = []string{implLockdProc, implRedsyncDefault}

// Targets of issue 8 for the contention scenario.
const (
	targetContentionRate = 1.0 // lockd cycles/s at least redsync's
	targetContentionP99  = 10  // redsync's p99 at least 10x lockd's
)

// sdkLocker is a lockd server in another process, called through the Go
// SDK as a user would: one client.Client with its defaults.
type sdkLocker struct {
	c   *client.Client
	ttl time.Duration
	opt []client.AcquireOption // added to every Acquire
}

func newSDK(url string, ttl time.Duration, acquire []client.AcquireOption, opts ...client.Option) (*sdkLocker, error) {
	c, err := client.New(url, opts...)
	if err != nil {
		return nil, err
	}
	return &sdkLocker{c: c, ttl: ttl, opt: acquire}, nil
}

func (l *sdkLocker) cycle(ctx context.Context, key, owner string, wait time.Duration) error {
	lease, err := l.c.Acquire(ctx, key, append([]client.AcquireOption{client.Owner(owner), client.TTL(l.ttl), client.Wait(wait)}, l.opt...)...)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	return lease.Release(rctx)
}

func (l *sdkLocker) close() { _ = l.c.Close() }

// redsyncDefaultLocker is go-redsync as its README shows it: go-redis
// clients with their default options, redsync.New(pools...).NewMutex(name)
// with no options (8s expiry, 32 tries 50-250ms apart), Lock then Unlock.
// It ignores the owner and the wait: redsync's tries bound its wait.
type redsyncDefaultLocker struct {
	rs      *redsync.Redsync
	clients []*goredis.Client
}

func newRedsyncDefault(addrs []string) *redsyncDefaultLocker {
	l := &redsyncDefaultLocker{}
	var pools []redsyncredis.Pool
	for _, a := range addrs {
		c := goredis.NewClient(&goredis.Options{Addr: a})
		l.clients = append(l.clients, c)
		pools = append(pools, redsyncgoredis.NewPool(c))
	}
	l.rs = redsync.New(pools...)
	return l
}

func (l *redsyncDefaultLocker) cycle(ctx context.Context, key, _ string, _ time.Duration) error {
	m := l.rs.NewMutex(key)
	// LockContext is Lock with a context, so that the cell can end it.
	if err := m.LockContext(ctx); err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	ok, err := m.UnlockContext(rctx)
	if !ok && err == nil {
		err = errors.New("redsync: unlock refused by a quorum")
	}
	return err
}

func (l *redsyncDefaultLocker) close() {
	for _, c := range l.clients {
		_ = c.Close()
	}
}

// runContention runs the contention scenario: one lockd process serves
// every lockd-proc cell, and both peers run on the nodes addrs, flushed
// before each cell, interleaved and repeated like the matrix.
func runContention(ctx context.Context, o options, addrs []string, meter *cpuMeter, stderr io.Writer) (map[cellKey][]cellResult, error) {
	p, err := startLockd(ctx, o.lockdBin, addrs)
	if err != nil {
		return nil, err
	}
	defer p.stop()
	fmt.Fprintf(stderr, "contention: lockd pid %d at %s over %s\n", p.pid(), p.url, strings.Join(addrs, ","))
	sdk, err := newSDK(p.url, o.ttl, fairOption(o))
	if err != nil {
		return nil, err
	}
	lockers := map[string]locker{implLockdProc: sdk, implRedsyncDefault: newRedsyncDefault(addrs)}
	defer func() {
		for _, l := range lockers {
			l.close()
		}
	}()
	meter.server = p.pid()
	defer func() { meter.server = 0 }()

	n := len(addrs)
	results := map[cellKey][]cellResult{}
	for rep := range o.repeats {
		for i := range contentionOrder {
			impl := contentionOrder[(i+rep)%len(contentionOrder)]
			if ctx.Err() != nil {
				return nil, errInterrupted
			}
			if err := meter.flush(n); err != nil {
				return nil, fmt.Errorf("flushing the nodes: %w", err)
			}
			k := cellKey{impl, n, scenarioContention}
			res := runCell(ctx, lockers[impl], o, k, rep, meter)
			if ctx.Err() != nil {
				return nil, errInterrupted
			}
			if done, err := p.exited(); done {
				return nil, fmt.Errorf("lockd exited during the contention scenario: %v; log: %s", err, strings.Join(p.logTail(), " | "))
			}
			results[k] = append(results[k], res)
			logCell(stderr, o, rep, k, res)
		}
	}
	return results, nil
}

// writeContention prints the contention scenario: the ratios against the
// issue's targets, then a row per peer.
func writeContention(w io.Writer, o options, results map[cellKey][]cellResult) {
	n := o.serverNodes
	lk := results[cellKey{implLockdProc, n, scenarioContention}]
	rs := results[cellKey{implRedsyncDefault, n, scenarioContention}]
	p99 := func(r cellResult) float64 { return float64(r.hist.quantile(0.99)) }

	fmt.Fprintf(w, "#### Contention: %d workers on one lock, %d nodes\n\n", o.contentionWorkers, n)
	fmt.Fprintf(w, "Cells: %v warm-up + %v measured, %d repeats (median shown), interleaved, nodes flushed before each cell. "+
		"lockd-proc: lockd in its own process over HTTP, the Go SDK with its defaults, Acquire with TTL %v and Wait %v%s, then Release. "+
		"redsync-default: redsync.New(pools...).NewMutex(name) with its defaults (8s expiry, 32 tries 50-250ms apart) over go-redis clients with their defaults, Lock then Unlock. "+
		"Ratios are medians of per-repeat ratios.\n\n",
		o.warmup, o.duration, o.repeats, o.ttl, o.contentionWait, fairNote(o))
	fmt.Fprintln(w, "| ratio | measured | target (issue 8) | per repeat |")
	fmt.Fprintln(w, "|---|---:|---:|---|")
	fmt.Fprintf(w, "| lockd/redsync cycles/s | %s | >= %.0fx | %s |\n",
		pairedRatio(lk, rs, cellResult.rate), targetContentionRate, perRepeat(lk, rs, cellResult.rate))
	fmt.Fprintf(w, "| redsync p99 / lockd p99 | %s | >= %dx | %s |\n\n",
		pairedRatio(rs, lk, p99), targetContentionP99, perRepeat(rs, lk, p99))

	fmt.Fprintln(w, "| implementation | cycles/s | p50 | p99 | failed/run | load CPU/cycle | lockd CPU/cycle | redis CPU/cycle | runs (cycles/s) |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---|")
	for _, impl := range contentionOrder {
		runs := results[cellKey{impl, n, scenarioContention}]
		if len(runs) == 0 {
			continue
		}
		s := summarize(runs)
		var server []float64
		for _, r := range runs {
			server = append(server, float64(r.perCycle(r.cpu.server)))
		}
		lockdCPU := fmtDur(time.Duration(median(server)))
		if impl != implLockdProc {
			lockdCPU = "–"
		}
		fmt.Fprintf(w, "| %s | %.0f | %s | %s | %.0f | %s | %s | %s | %s |\n",
			impl, s.rate, fmtDur(time.Duration(s.p50)), fmtDur(time.Duration(s.p99)), s.failed,
			fmtDur(time.Duration(s.selfCPU)), lockdCPU, fmtDur(time.Duration(s.redisCPU)), fmtRates(s.rates))
	}
	fmt.Fprintln(w)
}

// perRepeat lists f(runs[i]) / f(ref[i]) for each repeat.
func perRepeat(runs, ref []cellResult, f func(cellResult) float64) string {
	var out []string
	for i := range min(len(runs), len(ref)) {
		if d := f(ref[i]); d > 0 {
			out = append(out, fmt.Sprintf("%.2fx", f(runs[i])/d))
		}
	}
	return strings.Join(out, ", ")
}

// fairOption returns client.Fair when -fair asks for it.
func fairOption(o options) []client.AcquireOption {
	if o.fair {
		return []client.AcquireOption{client.Fair()}
	}
	return nil
}

// fairNote says in a table's description that -fair was given.
func fairNote(o options) string {
	if o.fair {
		return " and Fair"
	}
	return ""
}
