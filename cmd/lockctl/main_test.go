package main

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lockd/lockd/httpapi"
	"github.com/lockd/lockd/internal/lockctl"
	"github.com/lockd/lockd/memlock"
)

// TestMain runs lockctl's main instead of the tests when the test binary
// is started by lockctlCmd, so that the wiring (arguments, streams,
// signals, exit status) is tested as a process.
func TestMain(m *testing.M) {
	if os.Getenv("LOCKCTL_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// lockctlCmd returns this test binary set up to run as lockctl with args.
func lockctlCmd(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], args...)
	cmd.Env = append(os.Environ(), "LOCKCTL_TEST_MAIN=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return cmd, &stdout, &stderr
}

// exitCode returns the exit status of a finished command.
func exitCode(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	t.Fatalf("running lockctl: %v", err)
	return -1
}

func TestWiring(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		cmd, stdout, _ := lockctlCmd(t, "version")
		if code := exitCode(t, cmd.Run()); code != lockctl.ExitOK || !strings.HasPrefix(stdout.String(), "lockctl ") {
			t.Errorf("version: status %d, stdout %q; want 0 and the version", code, stdout)
		}
	})
	t.Run("ExitUsage", func(t *testing.T) {
		cmd, _, stderr := lockctlCmd(t, "--nope")
		if code := exitCode(t, cmd.Run()); code != lockctl.ExitUsage || !strings.Contains(stderr.String(), "unknown flag: --nope") {
			t.Errorf("--nope: status %d, stderr %q; want %d and the flag named", code, stderr, lockctl.ExitUsage)
		}
	})
	t.Run("ExitInterrupted", func(t *testing.T) {
		eng := memlock.New()
		api := httpapi.New(eng, httpapi.WithLogger(slog.New(slog.DiscardHandler)))
		// The second acquire's request says the waiting lockctl is up, its
		// signal handler in place.
		var acquires atomic.Int32
		waiting := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/acquire") && acquires.Add(1) == 2 {
				close(waiting)
			}
			api.ServeHTTP(w, r)
		}))
		t.Cleanup(func() {
			srv.Close()
			_ = eng.Close()
		})
		hold, _, _ := lockctlCmd(t, "--url", srv.URL, "acquire", "wired", "--ttl", "1m")
		if code := exitCode(t, hold.Run()); code != lockctl.ExitOK {
			t.Fatalf("acquire: status %d", code)
		}
		wait, _, stderr := lockctlCmd(t, "--url", srv.URL, "acquire", "wired", "--wait", "30s")
		if err := wait.Start(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-waiting:
		case <-time.After(10 * time.Second):
			t.Fatal("the waiting acquire never reached lockd")
		}
		start := time.Now()
		if err := wait.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		code := exitCode(t, wait.Wait())
		if code != lockctl.ExitInterrupted || time.Since(start) > 5*time.Second {
			t.Errorf("SIGINT during a wait: status %d after %v, stderr %q; want %d at once", code, time.Since(start), stderr, lockctl.ExitInterrupted)
		}
	})
}
