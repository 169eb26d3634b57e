package lockctl_test

import (
	"strings"
	"testing"

	"github.com/lockd/lockd/internal/lockctl"
)

func TestBench(t *testing.T) {
	url := serve(t)
	type report struct {
		Workers      int     `json:"workers"`
		Keys         int     `json:"keys"`
		ElapsedMs    int64   `json:"elapsed_ms"`
		Interrupted  bool    `json:"interrupted"`
		Cycles       int64   `json:"cycles"`
		CyclesPerSec float64 `json:"cycles_per_sec"`
		NotObtained  int64   `json:"not_obtained"`
		Errors       int64   `json:"errors"`
		LatencyUs    struct {
			Min, P50, P90, P99, P999, Max int64
		} `json:"latency_us"`
	}
	for _, tc := range []struct {
		name     string
		args     []string
		wantKeys int
	}{
		{"KeyPerWorker", []string{"--workers", "4"}, 4},
		{"SharedKeys", []string{"--workers", "4", "--keys", "2", "--wait", "2s"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := lockctlAt(t, url, append([]string{"bench", "--duration", "1s", "-o", "json"}, tc.args...)...)
			wantCode(t, r, lockctl.ExitOK)
			var got report
			decode(t, r, &got)
			if got.Workers != 4 || got.Keys != tc.wantKeys || got.Interrupted {
				t.Errorf("got %d workers on %d keys, interrupted %v; want 4 on %d, not interrupted", got.Workers, got.Keys, got.Interrupted, tc.wantKeys)
			}
			if got.Cycles <= 0 || got.CyclesPerSec <= 0 || got.Errors != 0 || got.ElapsedMs < 1000 {
				t.Errorf("got %d cycles (%.1f/s), %d errors in %dms; want cycles, no errors, at least 1s", got.Cycles, got.CyclesPerSec, got.Errors, got.ElapsedMs)
			}
			l := got.LatencyUs
			if !(0 < l.Min && l.Min <= l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max) {
				t.Errorf("latency_us %+v, want 0 < min <= p50 <= p90 <= p99 <= p999 <= max", l)
			}
		})
	}
	t.Run("Text", func(t *testing.T) {
		r := lockctlAt(t, url, "bench", "--duration", "200ms", "--workers", "2")
		wantCode(t, r, lockctl.ExitOK)
		for _, want := range []string{"2 workers on 2 keys", "cycles:", "/s)", "latency:", "p50 ", "p99.9 "} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
			}
		}
		if strings.Contains(r.stderr, "\r") {
			t.Errorf("progress drawn on a stderr that is no terminal: %q", r.stderr)
		}
	})
	t.Run("ErrUnavailable", func(t *testing.T) {
		r := lockctlAt(t, downURL(t), "bench", "--duration", "300ms", "--workers", "2", "--retry", "0s")
		wantCode(t, r, lockctl.ExitUnavailable)
		if !strings.HasPrefix(r.stderr, "lockctl: cannot reach lockd at ") {
			t.Errorf("stderr %q, want cannot reach", r.stderr)
		}
	})
	t.Run("ErrUsage", func(t *testing.T) {
		for _, args := range [][]string{{"--workers", "0"}, {"--keys", "-1"}, {"--duration", "0s"}, {"--ttl", "1ms"}, {"--wait", "-1s"}} {
			r := lockctlAt(t, url, append([]string{"bench"}, args...)...)
			wantCode(t, r, lockctl.ExitUsage)
			if !strings.Contains(r.stderr, args[0]) {
				t.Errorf("bench %q: stderr %q, want it to name %s", args, r.stderr, args[0])
			}
		}
	})
}
