package lockctl_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lockd/lockd/internal/lockctl"
)

func TestExitCodes(t *testing.T) {
	url := serve(t)
	acquire(t, url, "exit:held", "alice", "--ttl", "1m")
	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"OK", []string{"--url", url, "inspect", "exit:held"}, lockctl.ExitOK},
		{"NotObtained", []string{"--url", url, "acquire", "exit:held"}, lockctl.ExitNotObtained},
		{"ServerDown", []string{"--url", downURL(t), "--retry", "0s", "inspect", "exit:held"}, lockctl.ExitUnavailable},
		{"ServerDownAcquire", []string{"--url", downURL(t), "--retry", "0s", "acquire", "exit:held"}, lockctl.ExitUnavailable},
		{"ServerDownRetried", []string{"--url", downURL(t), "--retry", "200ms", "acquire", "exit:held"}, lockctl.ExitUnavailable},
		{"BadRetry", []string{"--url", url, "--retry", "-1s", "inspect", "exit:held"}, lockctl.ExitUsage},
		{"BadFlag", []string{"--url", url, "inspect", "exit:held", "--nope"}, lockctl.ExitUsage},
		{"BadFlagValue", []string{"--url", url, "--timeout", "0s", "inspect", "exit:held"}, lockctl.ExitUsage},
		{"BadOutput", []string{"--url", url, "-o", "yaml", "inspect", "exit:held"}, lockctl.ExitUsage},
		{"BadURL", []string{"--url", "ftp://x", "inspect", "exit:held"}, lockctl.ExitUsage},
		{"UnknownCommand", []string{"frobnicate"}, lockctl.ExitUsage},
		{"TooManyArgs", []string{"--url", url, "inspect", "a", "b"}, lockctl.ExitUsage},
		{"Help", []string{"--help"}, lockctl.ExitOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t.Context(), t, nil, tc.args...)
			wantCode(t, r, tc.want)
			if tc.want != lockctl.ExitOK && (!strings.HasPrefix(r.stderr, "lockctl: ") || strings.Count(r.stderr, "\n") != 1) {
				t.Errorf("stderr %q, want one line starting lockctl: ", r.stderr)
			}
		})
	}
	t.Run("Timeout", func(t *testing.T) {
		silent := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
		t.Cleanup(silent.Close)
		r := run(t.Context(), t, nil, "--url", silent.URL, "--timeout", "200ms", "--retry", "0s", "inspect", "exit:slow")
		wantCode(t, r, lockctl.ExitUnavailable)
		if want := "lockctl: lockd at " + silent.URL + " did not answer in time (--timeout 200ms)\n"; r.stderr != want {
			t.Errorf("stderr %q, want %q", r.stderr, want)
		}
	})
	t.Run("Interrupted", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(200*time.Millisecond, cancel)
		start := time.Now()
		r := run(ctx, t, nil, "--url", url, "acquire", "exit:held", "--wait", "30s")
		wantCode(t, r, lockctl.ExitInterrupted)
		if el := time.Since(start); el > 5*time.Second {
			t.Errorf("interrupted acquire returned after %v, want soon after the cancel", el)
		}
		if r.stderr != "lockctl: interrupted\n" {
			t.Errorf("stderr %q, want interrupted", r.stderr)
		}
	})
}

func TestExitCodesTable(t *testing.T) {
	codes := lockctl.ExitCodes()
	seen := map[int]bool{}
	for i, c := range codes {
		if seen[c.Code] || (i > 0 && c.Code < codes[i-1].Code) || c.Name == "" || c.Meaning == "" {
			t.Errorf("entry %d %+v: want unique, ascending codes, each with a name and meaning", i, c)
		}
		if c.Code >= 71 && c.Code <= 74 {
			t.Errorf("code %d is used; 71-74 are left for commands to come", c.Code)
		}
		seen[c.Code] = true
	}
	for _, want := range []int{lockctl.ExitOK, lockctl.ExitFailure, lockctl.ExitUsage, lockctl.ExitUnavailable, lockctl.ExitLost, lockctl.ExitNotObtained, lockctl.ExitCannotExecute, lockctl.ExitNotFound, lockctl.ExitInterrupted} {
		if !seen[want] {
			t.Errorf("code %d missing from ExitCodes", want)
		}
	}
	r := run(t.Context(), t, nil, "--help")
	for _, c := range codes {
		if !strings.Contains(r.stdout, c.Meaning) {
			t.Errorf("--help lacks exit status %d (%s)", c.Code, c.Meaning)
		}
	}
}

func TestEnv(t *testing.T) {
	url := serve(t)
	t.Run("LOCKD_URL", func(t *testing.T) {
		r := run(t.Context(), t, map[string]string{"LOCKD_URL": url}, "acquire", "env:url")
		wantCode(t, r, lockctl.ExitOK)
	})
	t.Run("FlagWins", func(t *testing.T) {
		r := run(t.Context(), t, map[string]string{"LOCKD_URL": downURL(t)}, "--url", url, "inspect", "env:url")
		wantCode(t, r, lockctl.ExitOK)
	})
	t.Run("LOCKD_URLDown", func(t *testing.T) {
		r := run(t.Context(), t, map[string]string{"LOCKD_URL": downURL(t), "LOCKD_RETRY": "0s"}, "inspect", "env:url")
		wantCode(t, r, lockctl.ExitUnavailable)
	})
	t.Run("LOCKD_OWNER", func(t *testing.T) {
		r := run(t.Context(), t, map[string]string{"LOCKD_URL": url, "LOCKD_OWNER": "carol", "LOCKD_OUTPUT": "json"}, "acquire", "env:owner")
		wantCode(t, r, lockctl.ExitOK)
		var g grant
		decode(t, r, &g)
		if g.Owner != "carol" {
			t.Errorf("owner %q, want carol from LOCKD_OWNER", g.Owner)
		}
	})
	t.Run("DefaultOwner", func(t *testing.T) {
		g := acquire(t, url, "env:default", "")
		if !strings.Contains(g.Owner, "-") || g.Owner == "" {
			t.Errorf("default owner %q, want hostname-pid", g.Owner)
		}
	})
	t.Run("LOCKD_TIMEOUT", func(t *testing.T) {
		r := run(t.Context(), t, map[string]string{"LOCKD_URL": url, "LOCKD_TIMEOUT": "soon"}, "inspect", "env:url")
		wantCode(t, r, lockctl.ExitUsage)
		if !strings.HasPrefix(r.stderr, `lockctl: LOCKD_TIMEOUT="soon": `) {
			t.Errorf("stderr %q, want it to name LOCKD_TIMEOUT", r.stderr)
		}
	})
}

func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		t.Run(shell, func(t *testing.T) {
			r := run(t.Context(), t, nil, "completion", shell)
			wantCode(t, r, lockctl.ExitOK)
			if len(r.stdout) < 500 || !strings.Contains(r.stdout, "lockctl") {
				t.Errorf("completion %s: %d bytes, want a script for lockctl", shell, len(r.stdout))
			}
		})
	}
	t.Run("Commands", func(t *testing.T) {
		r := run(t.Context(), t, nil, "__complete", "")
		for _, want := range []string{"acquire", "bench", "extend", "history", "inspect", "release", "run", "version", "completion"} {
			if !strings.Contains(r.stdout, "\n"+want+"\t") && !strings.HasPrefix(r.stdout, want+"\t") {
				t.Errorf("completion of commands lacks %s:\n%s", want, r.stdout)
			}
		}
	})
	t.Run("Output", func(t *testing.T) {
		r := run(t.Context(), t, nil, "__complete", "inspect", "x", "-o", "")
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if !slices.Equal(lines[:len(lines)-1], []string{"text", "json"}) {
			t.Errorf("completion of -o: %q, want text and json", r.stdout)
		}
	})
}

func TestVersion(t *testing.T) {
	r := run(t.Context(), t, nil, "version")
	wantCode(t, r, lockctl.ExitOK)
	if want := "lockctl " + lockctl.Version() + " (" + runtime.Version() + ")\n"; r.stdout != want {
		t.Errorf("stdout %q, want %q", r.stdout, want)
	}
	r = run(t.Context(), t, nil, "version", "-o", "json")
	var got map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || got["version"] != lockctl.Version() || got["go"] != runtime.Version() {
		t.Errorf("version -o json: %q (%v), want version and go", r.stdout, err)
	}
}
