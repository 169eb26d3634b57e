package lockctl_test

import (
	"strings"
	"testing"

	"github.com/lockd/lockd/internal/lockctl"
)

func TestHistory(t *testing.T) {
	url := serveJournaled(t)
	g := acquire(t, url, "hist:a", "alice")
	wantCode(t, lockctlAt(t, url, "acquire", "hist:a", "--owner", "bob"), lockctl.ExitNotObtained)
	wantCode(t, lockctlAt(t, url, "release", "hist:a", g.Lease), lockctl.ExitOK)

	t.Run("Text", func(t *testing.T) {
		r := lockctlAt(t, url, "history", "hist:a")
		wantCode(t, r, lockctl.ExitOK)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 4 || !strings.HasPrefix(lines[0], "AT ") {
			t.Fatalf("stdout %q, want a header and 3 events", r.stdout)
		}
		for i, want := range [][]string{{"released", "alice", "test-1"}, {"denied", "bob", "held by alice"}, {"acquired", "alice", "expires "}} {
			for _, w := range want {
				if !strings.Contains(lines[i+1], w) {
					t.Errorf("line %d %q lacks %q", i+1, lines[i+1], w)
				}
			}
		}
		if strings.Contains(r.stdout, " \n") {
			t.Errorf("lines end in spaces: %q", r.stdout)
		}
		if strings.Contains(r.stdout, g.Lease) {
			t.Errorf("history shows the lease: %q", r.stdout)
		}
	})
	t.Run("JSON", func(t *testing.T) {
		r := lockctlAt(t, url, "history", "hist:a", "--limit", "2", "-o", "json")
		wantCode(t, r, lockctl.ExitOK)
		var got struct {
			Name   string `json:"name"`
			Events []struct {
				Kind     string `json:"kind"`
				Name     string `json:"name"`
				Owner    string `json:"owner"`
				Fence    int64  `json:"fence"`
				Instance string `json:"instance"`
				At       string `json:"at"`
				Holder   string `json:"holder"`
			} `json:"events"`
		}
		decode(t, r, &got)
		if got.Name != "hist:a" || len(got.Events) != 2 {
			t.Fatalf("got %+v, want 2 events of hist:a", got)
		}
		rel, den := got.Events[0], got.Events[1]
		if rel.Kind != "released" || rel.Owner != "alice" || rel.Fence != g.Fence || rel.Instance != "test-1" || rel.At == "" {
			t.Errorf("newest event %+v, want released by alice, fence %d, instance test-1", rel, g.Fence)
		}
		if den.Kind != "denied" || den.Owner != "bob" || den.Holder != "alice" {
			t.Errorf("second event %+v, want denied to bob, held by alice", den)
		}
	})
	t.Run("Empty", func(t *testing.T) {
		r := lockctlAt(t, url, "history", "hist:none")
		wantCode(t, r, lockctl.ExitOK)
		if r.stdout != "no events for hist:none\n" {
			t.Errorf("stdout %q, want no events", r.stdout)
		}
		r = lockctlAt(t, url, "history", "hist:none", "-o", "json")
		if want := "{\n  \"name\": \"hist:none\",\n  \"events\": []\n}\n"; r.stdout != want {
			t.Errorf("stdout %q, want %q", r.stdout, want)
		}
	})
	t.Run("ErrNotConfigured", func(t *testing.T) {
		plain := serve(t)
		r := lockctlAt(t, plain, "history", "hist:a")
		wantCode(t, r, lockctl.ExitFailure)
		if want := "lockctl: lockd at " + plain + " keeps no history: it runs without a store (start it with --mongo)\n"; r.stderr != want {
			t.Errorf("stderr %q, want %q", r.stderr, want)
		}
	})
	t.Run("ErrInvalidArgument", func(t *testing.T) {
		r := lockctlAt(t, url, "history", "hist:a", "--limit", "1001")
		wantCode(t, r, lockctl.ExitUsage)
		if !strings.Contains(r.stderr, "--limit 1001: want 1 to 1000") {
			t.Errorf("stderr %q, want the limit's range", r.stderr)
		}
	})
}
