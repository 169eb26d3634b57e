package lockctl_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/lockctl"
)

// electAt runs lockctl elect against the lockd at url and waits for it.
func electAt(t *testing.T, url string, args ...string) result {
	t.Helper()
	return await(t, startRun(t.Context(), nil, "", append([]string{"--url", url, "elect"}, args...)...))
}

func TestElect(t *testing.T) {
	url, _ := serveRedlock(t)
	t.Run("Env", func(t *testing.T) {
		r := electAt(t, url, "elect:env", "--", "sh", "-c", `printf '%s\n' "$LOCKD_NAME" "$LOCKD_LEASE" "$LOCKD_TERM" "$LOCKD_FENCE" "$LOCKD_URL"`)
		wantCode(t, r, lockctl.ExitOK)
		got := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
		if len(got) != 5 {
			t.Fatalf("stdout %q, want 5 lines", r.stdout)
		}
		term, err := strconv.ParseInt(got[2], 10, 64)
		if got[0] != "elect:env" || !lockd.IsLeaseID(got[1]) || err != nil || term < 1 || got[3] != got[2] || got[4] != url {
			t.Errorf("LOCKD_NAME, LOCKD_LEASE, LOCKD_TERM, LOCKD_FENCE, LOCKD_URL = %q; want elect:env, a lease, the term twice, %s", got, url)
		}
		if r.stderr != "" {
			t.Errorf("stderr %q, want nothing", r.stderr)
		}
		wantFree(t, url, "elect:env") // resigned
	})
	t.Run("ExitStatus", func(t *testing.T) {
		r := electAt(t, url, "elect:status", "--", "sh", "-c", "exit 3")
		wantCode(t, r, 3)
		wantFree(t, url, "elect:status")
	})
	t.Run("SecondWaits", func(t *testing.T) {
		dir := t.TempDir()
		log, stopA := filepath.Join(dir, "log"), filepath.Join(dir, "stop-a")
		a := startRun(t.Context(), nil, "", append([]string{"--url", url, "elect", "elect:second", "--ttl", "1s", "--"},
			sh(t, `echo "a $LOCKD_TERM" >> '`+log+`'; while [ ! -e '`+stopA+`' ]; do sleep 0.05; done`)...)...)
		waitFile(t, log, 10*time.Second)
		b := startRun(t.Context(), nil, "", append([]string{"--url", url, "elect", "elect:second", "--ttl", "1s", "--"},
			sh(t, `echo "b $LOCKD_TERM" >> '`+log+`'`)...)...)
		time.Sleep(1500 * time.Millisecond) // more than a TTL: a renews, b waits
		if got := readFile(t, log); strings.Contains(got, "b ") {
			t.Fatalf("b ran while a led: %q", got)
		}
		if err := os.WriteFile(stopA, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		wantCode(t, await(t, a), lockctl.ExitOK)
		wantCode(t, await(t, b), lockctl.ExitOK)
		lines := strings.Fields(readFile(t, log))
		if len(lines) != 4 || lines[0] != "a" || lines[2] != "b" {
			t.Fatalf("log %q, want a then b", lines)
		}
		ta, _ := strconv.ParseInt(lines[1], 10, 64)
		tb, _ := strconv.ParseInt(lines[3], 10, 64)
		if tb <= ta {
			t.Errorf("b's term %d after a's %d, want it larger", tb, ta)
		}
	})
	t.Run("ErrNotObtained", func(t *testing.T) {
		acquire(t, url, "elect:held", "alice", "--ttl", "1m")
		marker := filepath.Join(t.TempDir(), "ran")
		r := electAt(t, url, "elect:held", "--wait", "300ms", "--", "touch", marker)
		wantCode(t, r, lockctl.ExitNotObtained)
		wantStderr(t, r, `"elect:held" is held by owner "alice"`)
		noFile(t, marker)
	})
	t.Run("InterruptedWhileCampaigning", func(t *testing.T) {
		marker := filepath.Join(t.TempDir(), "ran")
		sigs := make(chan os.Signal, 1)
		ch := startRun(t.Context(), sigs, "", "--url", url, "elect", "elect:held", "--", "touch", marker)
		time.Sleep(300 * time.Millisecond)
		sigs <- syscall.SIGINT
		r := await(t, ch)
		wantCode(t, r, lockctl.ExitInterrupted)
		wantStderr(t, r, `lockctl: interrupted while waiting for leadership of "elect:held"; the command was not started`)
		noFile(t, marker)
	})
	t.Run("ErrUsage", func(t *testing.T) {
		r := electAt(t, url, "elect:usage", "true")
		wantCode(t, r, lockctl.ExitUsage)
		wantStderr(t, r, "no -- before the command", "(see 'lockctl elect --help')")
		r = electAt(t, url, "elect:usage", "--wait", "6m", "--", "true")
		wantCode(t, r, lockctl.ExitUsage)
	})
	t.Run("Help", func(t *testing.T) {
		r := electAt(t, url, "--help")
		wantCode(t, r, lockctl.ExitOK)
		for _, want := range []string{"LOCKD_TERM", "LOCKD_FENCE", "--kill-grace", "--max-hold", "elect NAME [flags] -- COMMAND [ARGS...]"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("elect --help lacks %q", want)
			}
		}
	})
}

// TestElectLost pauses two of three Redis nodes while the leader's
// command runs: elect stops the command and exits with ExitLost, as run
// does; a second elect, waiting, is not started while they are paused
// and leads once they are back.
func TestElectLost(t *testing.T) {
	const ttl, grace = time.Second, time.Second
	url, nodes := serveRedlock(t)
	dir := t.TempDir()
	ready, child := filepath.Join(dir, "ready"), filepath.Join(dir, "child")
	ch := startRun(t.Context(), nil, "", append([]string{"--url", url, "elect", "elect:lost",
		"--ttl", ttl.String(), "--kill-grace", grace.String(), "--"},
		sh(t, "sleep 60 & echo $! > '"+child+"'; touch '"+ready+"'; wait")...)...)
	waitFile(t, ready, 10*time.Second)
	pid, err := strconv.Atoi(strings.TrimSpace(readFile(t, child)))
	if err != nil || !alive(pid) {
		t.Fatalf("the command's child %q (%v) not running", readFile(t, child), err)
	}
	resume := pauseQuorum(t, nodes)
	r := await(t, ch)
	el := resume()
	wantCode(t, r, lockctl.ExitLost)
	wantStderr(t, r, `lockctl: leadership of "elect:lost" lost: no successful renewal before the lease ran out`,
		"stopping the command: SIGTERM now, SIGKILL in 1s")
	if bound := ttl + grace + 1500*time.Millisecond; el > bound {
		t.Errorf("elect returned %v after the pause, want within TTL + grace (%v) and a little", el, ttl+grace)
	}
	if alive(pid) {
		t.Errorf("the command's child %d still running after elect returned", pid)
	}
	next := filepath.Join(dir, "next")
	r = electAt(t, url, "elect:lost", "--wait", "10s", "--", "touch", next)
	wantCode(t, r, lockctl.ExitOK)
	waitFile(t, next, time.Second)
}
