package lockctl_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/httpapi"
	"github.com/lockd/lockd/internal/lockctl"
	"github.com/lockd/lockd/memlock"
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

// ownersSeen is an engine that notes the owner of every acquire.
type ownersSeen struct {
	lockd.Engine
	mu     sync.Mutex
	owners map[string]bool
}

func (e *ownersSeen) Acquire(ctx context.Context, name string, opts lockd.AcquireOptions) (lockd.Lease, error) {
	e.mu.Lock()
	e.owners[opts.Owner] = true
	e.mu.Unlock()
	return e.Engine.Acquire(ctx, name, opts)
}

// TestBenchOwners: workers that share a name are different owners, as
// separate clients are, named after --owner; a long --owner is cut so
// that every worker's owner is one lockd takes.
func TestBenchOwners(t *testing.T) {
	for _, tc := range []struct {
		name, owner string
		want        []string
	}{
		{"Short", "bench-host", []string{"bench-host/w0", "bench-host/w1", "bench-host/w2"}},
		{"Long", strings.Repeat("é", 64), []string{strings.Repeat("é", 62) + "/w0", strings.Repeat("é", 62) + "/w1", strings.Repeat("é", 62) + "/w2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memlock.New()
			eng := &ownersSeen{Engine: mem, owners: map[string]bool{}}
			srv := httptest.NewServer(httpapi.New(eng, httpapi.WithLogger(slog.New(slog.DiscardHandler))))
			t.Cleanup(func() {
				srv.Close()
				_ = mem.Close()
			})
			r := lockctlAt(t, srv.URL, "bench", "--duration", "300ms", "--workers", "3", "--keys", "1", "--owner", tc.owner)
			wantCode(t, r, lockctl.ExitOK)
			eng.mu.Lock()
			defer eng.mu.Unlock()
			if len(eng.owners) != len(tc.want) {
				t.Errorf("acquires came from owners %v, want %v", eng.owners, tc.want)
			}
			for _, o := range tc.want {
				if !eng.owners[o] {
					t.Errorf("no acquire from owner %q; owners seen: %v", o, eng.owners)
				}
				if err := lockd.ValidateOwner(o); err != nil {
					t.Errorf("owner %q: %v", o, err)
				}
			}
		})
	}
}
