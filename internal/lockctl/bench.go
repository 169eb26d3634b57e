package lockctl

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/client"
)

// Defaults of bench's flags.
const (
	// DefaultBenchWorkers is how many workers run acquire/release cycles
	// at once.
	DefaultBenchWorkers = 32
	// DefaultBenchDuration is how long a run lasts.
	DefaultBenchDuration = 10 * time.Second
	// DefaultBenchWait is how long a worker's acquire waits for a shared
	// lock held by another worker.
	DefaultBenchWait = 5 * time.Second
)

// benchConfig is what a bench run does.
type benchConfig struct {
	workers  int
	keys     int // as asked: 0 is one key per worker
	duration time.Duration
	ttl      time.Duration
	wait     time.Duration
}

// names returns the lock name of each worker under prefix: one of its own
// when keys is 0, else worker i uses key i mod keys.
func (c benchConfig) names(prefix string) []string {
	names := make([]string, c.workers)
	for w := range names {
		if c.keys == 0 {
			names[w] = prefix + ":w" + strconv.Itoa(w)
		} else {
			names[w] = prefix + ":k" + strconv.Itoa(w%c.keys)
		}
	}
	return names
}

// benchReport is what bench prints. Its JSON names stay stable; latencies
// are in whole microseconds and the rate is rounded to 0.1 cycle/s.
type benchReport struct {
	URL          string       `json:"url"`
	Workers      int          `json:"workers"`
	Keys         int          `json:"keys"`
	DurationMs   int64        `json:"duration_ms"`
	TTLMs        int64        `json:"ttl_ms"`
	WaitMs       int64        `json:"wait_ms"`
	ElapsedMs    int64        `json:"elapsed_ms"`
	Interrupted  bool         `json:"interrupted"`
	Cycles       int64        `json:"cycles"`
	CyclesPerSec float64      `json:"cycles_per_sec"`
	NotObtained  int64        `json:"not_obtained"`
	Errors       int64        `json:"errors"`
	FirstError   string       `json:"first_error,omitempty"`
	LatencyUs    benchLatency `json:"latency_us"`
}

// benchLatency summarises the cycle latencies, in microseconds.
type benchLatency struct {
	Min  int64 `json:"min"`
	Mean int64 `json:"mean"`
	P50  int64 `json:"p50"`
	P90  int64 `json:"p90"`
	P99  int64 `json:"p99"`
	P999 int64 `json:"p999"`
	Max  int64 `json:"max"`
}

func (g *globals) newBench() *cobra.Command {
	cfg := benchConfig{}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load a running lockd with acquire/release cycles and report throughput and latency",
		Long: "bench runs --workers workers, each acquiring a lock and releasing it again as fast as it can, for\n" +
			"--duration or until SIGINT, and reports cycles per second and the p50/p90/p99/p99.9 latency of a\n" +
			"cycle (acquire + release). With --keys 0 every worker has a lock name of its own (no contention);\n" +
			"with --keys N the workers share N names (worker i uses name i mod N), waiting up to --wait for\n" +
			"each other. Names are \"lockctl-bench:<run id>:w<i>\" or \":k<i>\", unique to the run.\n\n" +
			"A refused acquire (past --wait) counts as not obtained; other failures count as errors, and the\n" +
			"worker pauses 100ms before its next try. Every request is bounded by --timeout (plus --wait).\n" +
			"On a terminal, a progress line is drawn on stderr while the run lasts.",
		Example: "  lockctl bench --workers 64 --duration 30s\n" +
			"  lockctl bench --keys 4 --wait 2s -o json | jq .latency_us.p99",
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case cfg.workers < 1:
				return usagef("--workers %d: want 1 or more", cfg.workers)
			case cfg.keys < 0:
				return usagef("--keys %d: want 0 (one per worker) or more", cfg.keys)
			case cfg.duration <= 0:
				return usagef("--duration %s: want more than 0", cfg.duration)
			case cfg.wait < 0 || cfg.wait > lockd.MaxWait:
				return usagef("--wait %s: want 0 to %s", cfg.wait, lockd.MaxWait)
			}
			if err := checkTTL(cfg.ttl); err != nil {
				return err
			}
			return g.bench(cmd.Context(), cfg)
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.workers, "workers", DefaultBenchWorkers, "workers running cycles at once")
	f.IntVar(&cfg.keys, "keys", 0, "lock names shared by the workers; 0 gives each worker its own")
	f.DurationVar(&cfg.duration, "duration", DefaultBenchDuration, "how long to run")
	f.DurationVar(&cfg.ttl, "ttl", lockd.DefaultTTL, "lease time-to-live of each acquire, 100ms to 1h")
	f.DurationVar(&cfg.wait, "wait", DefaultBenchWait, "how long an acquire waits for a name held by another worker, up to 5m")
	return cmd
}

// bench runs cfg against lockd and prints the report. It returns the
// first error when no cycle completed and some failed (lockd is down,
// say), and nil otherwise, interrupted or not.
func (g *globals) bench(ctx context.Context, cfg benchConfig) error {
	// Enough idle connections for every worker: beyond them a worker would
	// open a connection per request.
	c, err := g.client(client.WithIdleConns(max(cfg.workers, client.DefaultIdleConns)))
	if err != nil {
		return err
	}
	defer c.Close()

	r := newBenchRun(c, g.owner, g.timeout, cfg, "lockctl-bench:"+lockd.NewLeaseID()[:8])
	runCtx, cancel := context.WithTimeout(ctx, cfg.duration)
	defer cancel()
	var stopProgress func()
	if isTerminal(g.stderr) {
		stopProgress = r.progress(g.stderr, cfg.duration)
	}
	elapsed := r.run(runCtx)
	if stopProgress != nil {
		stopProgress()
	}
	rep := r.report(elapsed)
	rep.URL = g.url
	rep.Interrupted = ctx.Err() != nil
	if rep.Cycles == 0 && rep.Errors > 0 {
		return g.runErr(r.firstErr())
	}
	return g.emit(rep, func(w io.Writer) { benchText(w, rep) })
}

// benchText writes rep for people.
func benchText(w io.Writer, rep benchReport) {
	us := func(v int64) string { return (time.Duration(v) * time.Microsecond).String() }
	run := fmt.Sprintf("%d workers on %d keys for %s (ttl %s, wait %s) against %s",
		rep.Workers, rep.Keys, time.Duration(rep.ElapsedMs)*time.Millisecond,
		time.Duration(rep.TTLMs)*time.Millisecond, time.Duration(rep.WaitMs)*time.Millisecond, rep.URL)
	if rep.Interrupted {
		run += ", interrupted"
	}
	lat := fmt.Sprintf("p50 %s  p90 %s  p99 %s  p99.9 %s  max %s",
		us(rep.LatencyUs.P50), us(rep.LatencyUs.P90), us(rep.LatencyUs.P99), us(rep.LatencyUs.P999), us(rep.LatencyUs.Max))
	fields(w,
		"run", run,
		"cycles", fmt.Sprintf("%d (%.1f/s)", rep.Cycles, rep.CyclesPerSec),
		"not obtained", strconv.FormatInt(rep.NotObtained, 10),
		"errors", strconv.FormatInt(rep.Errors, 10),
		"first error", rep.FirstError,
		"latency", lat)
}
