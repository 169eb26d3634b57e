package main

import (
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

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

// writeHeader prints the command line and the machine.
func writeHeader(w io.Writer, o options, args []string) {
	fmt.Fprintf(w, "Command: `%s`\n\n", strings.Join(append([]string{"cd bench && go run ./cmd/lockbench"}, args...), " "))
	fmt.Fprintf(w, "Machine: %d CPUs (GOMAXPROCS %d), %s %s/%s, %s\n\n", runtime.NumCPU(), runtime.GOMAXPROCS(0),
		runtime.Version(), runtime.GOOS, runtime.GOARCH, redisVersion(o.redisBin))
}

// writeMatrix prints the table of the distinct and shared scenarios.
func writeMatrix(w io.Writer, o options, results map[cellKey][]cellResult) {
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
				fmt.Fprintf(w, "| %s | %d | %s | %.0f | %s | %s | %s | %s | %.0f | %s | %s | %s |\n",
					impl, n, sc, s.rate, fmtDur(time.Duration(s.p50)), fmtDur(time.Duration(s.p99)),
					ratio, p99Ratio, s.failed, fmtDur(time.Duration(s.selfCPU)), fmtDur(time.Duration(s.redisCPU)),
					fmtRates(s.rates))
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

// fmtRates lists the cycles/s of each run.
func fmtRates(rates []float64) string {
	var rs []string
	for _, r := range rates {
		rs = append(rs, fmt.Sprintf("%.0f", r))
	}
	return strings.Join(rs, ", ")
}
