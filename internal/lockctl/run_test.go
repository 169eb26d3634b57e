package lockctl_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/httpapi"
	"github.com/lockd/lockd/internal/lockctl"
	"github.com/lockd/lockd/internal/testenv"
	"github.com/lockd/lockd/redlock"
)

// runBound is the most any one lockctl run of these tests may take.
const runBound = 30 * time.Second

// serveRedlock starts lockd's HTTP API over a Redlock engine on three
// real redis-server nodes, and returns its URL and the nodes.
func serveRedlock(t *testing.T) (string, []*testenv.Redis) {
	t.Helper()
	nodes := testenv.StartRedis(t, 3)
	eng, err := redlock.New(testenv.Addrs(nodes), redlock.WithRetryDelay(time.Millisecond, 5*time.Millisecond),
		redlock.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.New(eng, httpapi.WithLogger(slog.New(slog.DiscardHandler))))
	t.Cleanup(func() {
		srv.Close()
		_ = eng.Close()
	})
	return srv.URL, nodes
}

// syncBuffer is a bytes.Buffer safe for concurrent use: lockctl and the
// command it runs write to stderr at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startRun runs lockctl with args in the background under ctx, with sigs
// standing for the signals the process receives and stdin as its input,
// and returns where its result arrives.
func startRun(ctx context.Context, sigs <-chan os.Signal, stdin string, args ...string) <-chan result {
	ch := make(chan result, 1)
	go func() {
		var stdout, stderr syncBuffer
		code := lockctl.MainWithSignals(ctx, sigs, args, strings.NewReader(stdin), &stdout, &stderr, func(string) string { return "" })
		ch <- result{code, stdout.String(), stderr.String()}
	}()
	return ch
}

// await waits for a run's result, failing the test after runBound.
func await(t *testing.T, ch <-chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(runBound):
		t.Fatalf("lockctl run still running after %v", runBound)
		return result{}
	}
}

// runAt runs lockctl run against the lockd at url and waits for it.
func runAt(t *testing.T, url string, args ...string) result {
	t.Helper()
	return await(t, startRun(t.Context(), nil, "", append([]string{"--url", url, "run"}, args...)...))
}

// sh returns a command line that runs script with sh -c. The script's
// process group is killed when the test ends, whatever is left of it.
func sh(t *testing.T, script string) []string {
	t.Helper()
	pgids := filepath.Join(t.TempDir(), "pgids")
	t.Cleanup(func() {
		b, _ := os.ReadFile(pgids)
		for _, s := range strings.Fields(string(b)) {
			if pgid, err := strconv.Atoi(s); err == nil && pgid > 1 {
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
			}
		}
	})
	// run makes sh the leader of its own process group: $$ is the group.
	return []string{"sh", "-c", "echo $$ >> '" + pgids + "'; " + script}
}

// waitFile waits until path exists, failing the test after d.
func waitFile(t *testing.T, path string, d time.Duration) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
	}
	t.Fatalf("%s not there after %v", path, d)
}

// noFile fails the test if path exists.
func noFile(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		t.Errorf("%s exists: the command ran", path)
	}
}

// readFile returns the contents of path.
func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// alive reports whether process pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z")
}

// wantFree fails the test unless the lock name is free.
func wantFree(t *testing.T, url, name string) {
	t.Helper()
	r := lockctlAt(t, url, "inspect", name, "-o", "json")
	wantCode(t, r, lockctl.ExitOK)
	var st struct {
		Held bool `json:"held"`
	}
	decode(t, r, &st)
	if st.Held {
		t.Errorf("lock %s still held after run: %s", name, r.stdout)
	}
}

// wantStderr fails the test unless r's stderr contains each of want.
func wantStderr(t *testing.T, r result, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr %q lacks %q", r.stderr, w)
		}
	}
}

func TestRun(t *testing.T) {
	url, _ := serveRedlock(t)
	t.Run("Env", func(t *testing.T) {
		r := runAt(t, url, "run:env", "--", "sh", "-c", `printf '%s\n' "$LOCKD_NAME" "$LOCKD_LEASE" "$LOCKD_FENCE" "$LOCKD_URL" "$HOME"`)
		wantCode(t, r, lockctl.ExitOK)
		got := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
		if len(got) != 5 {
			t.Fatalf("stdout %q, want 5 lines", r.stdout)
		}
		fence, err := strconv.ParseInt(got[2], 10, 64)
		if got[0] != "run:env" || !lockd.IsLeaseID(got[1]) || err != nil || fence < 1 || got[3] != url || got[4] != os.Getenv("HOME") {
			t.Errorf("LOCKD_NAME, LOCKD_LEASE, LOCKD_FENCE, LOCKD_URL, HOME = %q; want run:env, a lease, a fence, %s and the environment's HOME", got, url)
		}
		if r.stderr != "" {
			t.Errorf("stderr %q, want nothing", r.stderr)
		}
		wantFree(t, url, "run:env")
	})
	t.Run("Stdin", func(t *testing.T) {
		r := await(t, startRun(t.Context(), nil, "through\n", "--url", url, "run", "run:stdin", "--", "cat"))
		wantCode(t, r, lockctl.ExitOK)
		if r.stdout != "through\n" {
			t.Errorf("stdout %q, want stdin passed through", r.stdout)
		}
	})
	t.Run("ExitStatus", func(t *testing.T) {
		for _, tc := range []struct {
			name, script string
			want         int
		}{
			{"Zero", "exit 0", 0},
			{"Three", "exit 3", 3},
			{"SameAsNotObtained", "exit 75", 75},
			{"KilledBySIGTERM", "kill -TERM $$", 128 + int(syscall.SIGTERM)},
			{"KilledBySIGKILL", "kill -KILL $$", 128 + int(syscall.SIGKILL)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				name := "run:status:" + tc.name
				r := runAt(t, url, name, "--", "sh", "-c", tc.script)
				wantCode(t, r, tc.want)
				if r.stderr != "" {
					t.Errorf("stderr %q, want nothing of lockctl's", r.stderr)
				}
				wantFree(t, url, name)
			})
		}
	})
	t.Run("ErrNotObtained", func(t *testing.T) {
		acquire(t, url, "run:held", "alice", "--ttl", "1m")
		for _, wait := range []string{"0s", "300ms"} {
			t.Run("Wait"+wait, func(t *testing.T) {
				marker := filepath.Join(t.TempDir(), "ran")
				start := time.Now()
				r := runAt(t, url, "run:held", "--wait", wait, "--", "touch", marker)
				wantCode(t, r, lockctl.ExitNotObtained)
				wantStderr(t, r, `lockctl: lock "run:held" is held by owner "alice" until `)
				noFile(t, marker)
				if d, _ := time.ParseDuration(wait); time.Since(start) < d {
					t.Errorf("gave up after %v, want --wait %s", time.Since(start), wait)
				}
			})
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		for _, cmd := range []string{"lockctl-no-such-command", "/nonexistent/command"} {
			r := runAt(t, url, "run:notfound", "--", cmd, "arg")
			wantCode(t, r, lockctl.ExitNotFound)
			wantStderr(t, r, "lockctl: command \""+cmd+"\" not found")
		}
		wantFree(t, url, "run:notfound")
	})
	t.Run("ErrCannotExecute", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "not-executable")
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		r := runAt(t, url, "run:noexec", "--", path)
		wantCode(t, r, lockctl.ExitCannotExecute)
		wantStderr(t, r, "lockctl: cannot run \""+path+"\"", "permission denied")
		wantFree(t, url, "run:noexec")
	})
	t.Run("ErrUsage", func(t *testing.T) {
		marker := filepath.Join(t.TempDir(), "ran")
		for _, tc := range []struct {
			name string
			args []string
			want string
		}{
			{"NoDash", []string{"run:usage", "touch", marker}, "want NAME -- COMMAND [ARGS...]: no -- before the command"},
			{"NoCommand", []string{"run:usage", "--"}, "no command after --"},
			{"NoName", []string{"--", "touch", marker}, "got 0 argument(s) before --"},
			{"TwoNames", []string{"a", "b", "--", "touch", marker}, "got 2 argument(s) before --"},
			{"BadTTL", []string{"run:usage", "--ttl", "10ms", "--", "touch", marker}, "--ttl 10ms: want 100ms to 1h0m0s"},
			{"BadWait", []string{"run:usage", "--wait", "-1s", "--", "touch", marker}, "--wait -1s: want 0 to 5m0s"},
			{"BadMaxHold", []string{"run:usage", "--max-hold", "-1s", "--", "touch", marker}, "--max-hold -1s: want 0 (no bound) or more"},
			{"BadKillGrace", []string{"run:usage", "--kill-grace", "-1s", "--", "touch", marker}, "--kill-grace -1s: want 0 or more"},
			{"BadDuration", []string{"run:usage", "--kill-grace", "soon", "--", "touch", marker}, `invalid argument "soon" for "--kill-grace" flag`},
			{"BadName", []string{"bad name", "--", "touch", marker}, "invalid NAME: "},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := runAt(t, url, tc.args...)
				wantCode(t, r, lockctl.ExitUsage)
				if !strings.Contains(r.stderr, tc.want) || !strings.HasSuffix(r.stderr, "(see 'lockctl run --help')\n") {
					t.Errorf("stderr %q, want %q and a pointer to help", r.stderr, tc.want)
				}
				noFile(t, marker)
			})
		}
	})
	t.Run("Help", func(t *testing.T) {
		r := runAt(t, url, "--help")
		wantCode(t, r, lockctl.ExitOK)
		for _, c := range lockctl.ExitCodes() {
			if !strings.Contains(r.stdout, c.Meaning) {
				t.Errorf("run --help lacks exit status %d (%s)", c.Code, c.Meaning)
			}
		}
		for _, want := range []string{"LOCKD_NAME", "LOCKD_LEASE", "LOCKD_FENCE", "LOCKD_URL", "--kill-grace", "--max-hold", "run NAME [flags] -- COMMAND [ARGS...]"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("run --help lacks %q", want)
			}
		}
	})
	t.Run("MaxHold", func(t *testing.T) {
		const maxHold = time.Second
		start := time.Now()
		r := runAt(t, url, "run:maxhold", "--ttl", "10s", "--max-hold", maxHold.String(), "--kill-grace", "5s", "--", "sh", "-c", "sleep 30")
		el := time.Since(start)
		wantCode(t, r, lockctl.ExitLost)
		wantStderr(t, r, `lockctl: lock "run:maxhold" held for --max-hold 1s; stopping the command: SIGTERM now, SIGKILL in 5s`)
		if el < maxHold || el > maxHold+3*time.Second {
			t.Errorf("run took %v, want --max-hold %v and a little", el, maxHold)
		}
		// The lease was still good: it was released, not left to expire.
		wantFree(t, url, "run:maxhold")
	})
}

// TestRunExclusive runs three lockctl run on one name at once: their
// commands take turns, in fence order, and never overlap.
func TestRunExclusive(t *testing.T) {
	const runners = 3
	url, _ := serveRedlock(t)
	log := filepath.Join(t.TempDir(), "log")
	script := `echo "start $LOCKD_FENCE" >> '` + log + `'; sleep 0.3; echo "end $LOCKD_FENCE" >> '` + log + `'`
	var chans []<-chan result
	for range runners {
		chans = append(chans, startRun(t.Context(), nil, "", append([]string{"--url", url, "run", "run:exclusive", "--ttl", "2s", "--wait", "20s", "--"}, sh(t, script)...)...))
	}
	for _, ch := range chans {
		wantCode(t, await(t, ch), lockctl.ExitOK)
	}
	lines := strings.Split(strings.TrimSuffix(readFile(t, log), "\n"), "\n")
	if len(lines) != 2*runners {
		t.Fatalf("log %q, want %d lines", lines, 2*runners)
	}
	last := int64(0)
	for i := 0; i < len(lines); i += 2 {
		start, okStart := strings.CutPrefix(lines[i], "start ")
		end, okEnd := strings.CutPrefix(lines[i+1], "end ")
		fence, err := strconv.ParseInt(start, 10, 64)
		if !okStart || !okEnd || start != end || err != nil || fence <= last {
			t.Fatalf("log %q: want start/end pairs that never interleave, fences rising", lines)
		}
		last = fence
	}
}

// TestRunLost pauses two of three Redis nodes while a command runs under a
// 1s lease: run must stop the command, and whatever it started, within
// the TTL and --kill-grace, and exit with ExitLost.
func TestRunLost(t *testing.T) {
	const ttl, grace = time.Second, time.Second
	for _, tc := range []struct {
		name   string
		trap   string
		killed bool // SIGTERM is ignored: SIGKILL is needed
	}{
		{"StopsOnSIGTERM", "", false},
		{"IgnoresSIGTERM", "trap '' TERM; ", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, nodes := serveRedlock(t)
			dir := t.TempDir()
			ready, child := filepath.Join(dir, "ready"), filepath.Join(dir, "child")
			// The grandchild is a process of the group that sh does not wait
			// for in the foreground.
			script := tc.trap + "sleep 60 & echo $! > '" + child + "'; touch '" + ready + "'; wait"
			ch := startRun(t.Context(), nil, "", append([]string{"--url", url, "run", "run:lost",
				"--ttl", ttl.String(), "--kill-grace", grace.String(), "--"}, sh(t, script)...)...)
			waitFile(t, ready, 10*time.Second)
			grandchild, err := strconv.Atoi(strings.TrimSpace(readFile(t, child)))
			if err != nil || !alive(grandchild) {
				t.Fatalf("grandchild %q (%v) not running", readFile(t, child), err)
			}
			resume := pauseQuorum(t, nodes)
			r := await(t, ch)
			el := resume()
			wantCode(t, r, lockctl.ExitLost)
			wantStderr(t, r, `lockctl: lock "run:lost" lost: no successful renewal before the lease ran out`,
				"stopping the command: SIGTERM now, SIGKILL in 1s")
			if sent := strings.Contains(r.stderr, "sending SIGKILL"); sent != tc.killed {
				t.Errorf("SIGKILL sent: %v, want %v; stderr %q", sent, tc.killed, r.stderr)
			}
			if alive(grandchild) {
				t.Errorf("grandchild %d still running after run returned", grandchild)
			}
			// Slack for the release attempt and a loaded machine.
			if bound := ttl + grace + 1500*time.Millisecond; el > bound {
				t.Errorf("run returned %v after the pause, want within TTL + grace (%v) and a little", el, ttl+grace)
			}
			if tc.killed && el < grace {
				t.Errorf("run returned %v after the pause, before --kill-grace %v", el, grace)
			}
			t.Logf("run returned %v after the pause; stderr %q", el, r.stderr)
		})
	}
}

// pauseQuorum pauses two of three nodes until the returned function (or
// the end of the test) resumes them; that returns how long they were
// paused.
func pauseQuorum(t *testing.T, nodes []*testenv.Redis) func() time.Duration {
	t.Helper()
	paused := time.Now()
	nodes[0].Pause()
	nodes[1].Pause()
	resume := func() time.Duration {
		el := time.Since(paused)
		nodes[0].Resume()
		nodes[1].Resume()
		return el
	}
	t.Cleanup(func() { resume() })
	return resume
}

// TestRunSignals sends signals to the lockctl side of a run: they reach
// the command, which decides what to do, and its status passes through.
func TestRunSignals(t *testing.T) {
	url, _ := serveRedlock(t)
	for _, tc := range []struct {
		name string
		sig  syscall.Signal
		trap string
		want int
	}{
		{"SIGHUP", syscall.SIGHUP, "trap 'echo HUP >> \"$SAW\"; exit 0' HUP", 0},
		{"SIGTERM", syscall.SIGTERM, "trap 'echo TERM >> \"$SAW\"; exit 7' TERM", 7},
		{"SIGINT", syscall.SIGINT, "trap 'echo INT >> \"$SAW\"; exit 1' INT", 1},
		{"SIGINTUntrapped", syscall.SIGINT, "", 128 + int(syscall.SIGINT)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ready, saw := filepath.Join(dir, "ready"), filepath.Join(dir, "saw")
			script := "SAW='" + saw + "'; " + tc.trap + "\ntouch '" + ready + "'; while :; do sleep 0.05; done"
			sigs := make(chan os.Signal, 1)
			ch := startRun(t.Context(), sigs, "", append([]string{"--url", url, "run", "run:signal:" + tc.name, "--"}, sh(t, script)...)...)
			waitFile(t, ready, 10*time.Second)
			sigs <- tc.sig
			r := await(t, ch)
			wantCode(t, r, tc.want)
			if tc.trap != "" {
				if got, want := readFile(t, saw), strings.TrimPrefix(tc.name, "SIG")+"\n"; got != want {
					t.Errorf("the command saw %q, want %q", got, want)
				}
			}
			wantFree(t, url, "run:signal:"+tc.name)
		})
	}
	t.Run("WhileWaiting", func(t *testing.T) {
		acquire(t, url, "run:signal:held", "alice", "--ttl", "1m")
		marker := filepath.Join(t.TempDir(), "ran")
		sigs := make(chan os.Signal, 1)
		ch := startRun(t.Context(), sigs, "", "--url", url, "run", "run:signal:held", "--wait", "30s", "--", "touch", marker)
		time.Sleep(300 * time.Millisecond)
		start := time.Now()
		sigs <- syscall.SIGINT
		r := await(t, ch)
		wantCode(t, r, lockctl.ExitInterrupted)
		wantStderr(t, r, `lockctl: interrupted while waiting for lock "run:signal:held"; the command was not started`)
		noFile(t, marker)
		if el := time.Since(start); el > 5*time.Second {
			t.Errorf("returned %v after the signal, want soon", el)
		}
	})
	t.Run("ContextWhileWaiting", func(t *testing.T) {
		marker := filepath.Join(t.TempDir(), "ran")
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(300*time.Millisecond, cancel)
		r := await(t, startRun(ctx, nil, "", "--url", url, "run", "run:signal:held", "--wait", "30s", "--", "touch", marker))
		wantCode(t, r, lockctl.ExitInterrupted)
		noFile(t, marker)
	})
}

// TestRunUnavailable runs a command with lockd down and with a quorum of
// its Redis nodes down: the command never starts.
func TestRunUnavailable(t *testing.T) {
	t.Run("LockdDown", func(t *testing.T) {
		marker := filepath.Join(t.TempDir(), "ran")
		url := downURL(t)
		r := runAt(t, url, "--retry", "0s", "run:down", "--", "touch", marker)
		wantCode(t, r, lockctl.ExitUnavailable)
		wantStderr(t, r, "lockctl: cannot reach lockd at "+url)
		noFile(t, marker)
	})
	t.Run("QuorumDown", func(t *testing.T) {
		url, nodes := serveRedlock(t)
		nodes[0].Kill()
		nodes[1].Kill()
		marker := filepath.Join(t.TempDir(), "ran")
		r := runAt(t, url, "--retry", "0s", "run:quorum", "--", "touch", marker)
		wantCode(t, r, lockctl.ExitUnavailable)
		wantStderr(t, r, "quorum unavailable")
		noFile(t, marker)
	})
}

// TestRunSemaphore runs commands under permits of a semaphore: never more
// at once than --semaphore, a full semaphore past --wait is exit 75, and
// semaphore names are apart from lock names.
func TestRunSemaphore(t *testing.T) {
	const runners, limit = 4, 2
	url, _ := serveRedlock(t)
	t.Run("Limit", func(t *testing.T) {
		log := filepath.Join(t.TempDir(), "log")
		script := `echo "start $LOCKD_FENCE" >> '` + log + `'; sleep 0.3; echo "end $LOCKD_FENCE" >> '` + log + `'`
		var chans []<-chan result
		for range runners {
			chans = append(chans, startRun(t.Context(), nil, "", append([]string{"--url", url, "run", "run:sem",
				"--semaphore", strconv.Itoa(limit), "--ttl", "2s", "--wait", "20s", "--"}, sh(t, script)...)...))
		}
		for _, ch := range chans {
			wantCode(t, await(t, ch), lockctl.ExitOK)
		}
		live, most, fences := 0, 0, map[string]bool{}
		for _, line := range strings.Split(strings.TrimSuffix(readFile(t, log), "\n"), "\n") {
			what, fence, _ := strings.Cut(line, " ")
			switch what {
			case "start":
				live++
				fences[fence] = true
			case "end":
				live--
			}
			most = max(most, live)
		}
		if most > limit || len(fences) != runners {
			t.Errorf("%d commands at once (want at most %d), %d distinct fences (want %d): %q", most, limit, len(fences), runners, readFile(t, log))
		}
	})
	t.Run("ErrNotObtained", func(t *testing.T) {
		dir := t.TempDir()
		ready, stop, marker := filepath.Join(dir, "ready"), filepath.Join(dir, "stop"), filepath.Join(dir, "ran")
		holder := startRun(t.Context(), nil, "", append([]string{"--url", url, "run", "run:sem:full", "--semaphore", "1", "--"},
			sh(t, "touch '"+ready+"'; while [ ! -e '"+stop+"' ]; do sleep 0.05; done")...)...)
		waitFile(t, ready, 10*time.Second)
		r := runAt(t, url, "run:sem:full", "--semaphore", "1", "--wait", "300ms", "--", "touch", marker)
		wantCode(t, r, lockctl.ExitNotObtained)
		noFile(t, marker)
		// The lock of the same name is another thing: it is free.
		wantCode(t, runAt(t, url, "run:sem:full", "--", "touch", marker), lockctl.ExitOK)
		if err := os.WriteFile(stop, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		wantCode(t, await(t, holder), lockctl.ExitOK)
	})
	t.Run("Lost", func(t *testing.T) {
		url, nodes := serveRedlock(t)
		ready := filepath.Join(t.TempDir(), "ready")
		ch := startRun(t.Context(), nil, "", append([]string{"--url", url, "run", "run:sem:lost", "--semaphore", "2",
			"--ttl", "1s", "--kill-grace", "1s", "--"}, sh(t, "touch '"+ready+"'; sleep 60")...)...)
		waitFile(t, ready, 10*time.Second)
		resume := pauseQuorum(t, nodes)
		r := await(t, ch)
		resume()
		wantCode(t, r, lockctl.ExitLost)
		wantStderr(t, r, `lockctl: permit of semaphore "run:sem:lost" lost: no successful renewal before the lease ran out`)
	})
	t.Run("ErrUsage", func(t *testing.T) {
		for _, n := range []string{"-1", "1025"} {
			r := runAt(t, url, "run:sem:usage", "--semaphore", n, "--", "true")
			wantCode(t, r, lockctl.ExitUsage)
			wantStderr(t, r, "--semaphore "+n+": want 1 to 1024 permits, or 0 for the lock")
		}
	})
}
