package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lockd/lockd/internal/redisproc"
)

// lockdStartTimeout bounds how long a lockd process may take to answer
// GET /readyz with 200.
const lockdStartTimeout = 15 * time.Second

// lockdStopTimeout is how long a lockd process gets to exit after SIGTERM
// before it is killed.
const lockdStopTimeout = 15 * time.Second

// buildLockd builds cmd/lockd into dir and returns the binary's path. It
// builds in the lockd module itself, which the bench module's replace
// directive places next to it (go list -m finds it from the current
// directory, which must be in the bench module), with that module's own
// go.mod and go.sum, as go install github.com/lockd/lockd/cmd/lockd does:
// built from the bench module, it would need go.sum lines for lockd's
// MongoDB driver, which the bench module does without.
func buildLockd(ctx context.Context, dir string) (string, error) {
	const hint = " (run lockbench from bench/, or give -lockd-bin)"
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", "github.com/lockd/lockd").Output()
	if err != nil {
		return "", fmt.Errorf("go list -m github.com/lockd/lockd%s: %w", hint, err)
	}
	src := strings.TrimSpace(string(out))
	bin := filepath.Join(dir, "lockd")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/lockd")
	cmd.Dir = src
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/lockd in %s%s: %w: %s", src, hint, err, strings.TrimSpace(string(out)))
	}
	return bin, nil
}

// lockdProc is a lockd server running as a child process in Redis mode on
// a loopback port, with GODEBUG=gctrace=1 so that its live heap can be
// read from its log.
type lockdProc struct {
	cmd  *exec.Cmd
	url  string // http://127.0.0.1:port
	done chan struct{}

	mu      sync.Mutex
	gc      gcTrace  // the latest GC; n is 0 before the first
	tail    []string // the last lines of its log that are not gctrace
	waitErr error
}

// lockdLogTail is how many log lines a lockdProc keeps for errors.
const lockdLogTail = 20

// startLockd starts the lockd binary bin over the Redis nodes addrs on a
// free 127.0.0.1 port and waits until GET /readyz answers 200. It tries
// other ports when the process exits before it is ready (a probed port can
// be taken before lockd binds it). The process inherits this process's
// environment without LOCKD_ variables, so only the flags configure it.
func startLockd(ctx context.Context, bin string, addrs []string) (*lockdProc, error) {
	var err error
	for range 5 {
		var p *lockdProc
		if p, err = startLockdOnce(ctx, bin, addrs); err == nil {
			return p, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, err
}

func startLockdOnce(ctx context.Context, bin string, addrs []string) (*lockdProc, error) {
	port, err := redisproc.FreePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(bin, "--redis", strings.Join(addrs, ","), "--addr", addr)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LOCKD_") && !strings.HasPrefix(kv, "GODEBUG=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "GODEBUG=gctrace=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &lockdProc{cmd: cmd, url: "http://" + addr, done: make(chan struct{})}
	logDone := make(chan struct{})
	go func() { p.readLog(stderr); close(logDone) }()
	go func() {
		<-logDone // Wait closes the pipe: read it to its end first
		err := cmd.Wait()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		close(p.done)
	}()
	if err := p.waitReady(ctx); err != nil {
		p.stop()
		return nil, fmt.Errorf("%w; log: %s", err, strings.Join(p.logTail(), " | "))
	}
	return p, nil
}

// readLog reads the process's stderr to its end, keeping the latest
// gctrace line parsed and the last other lines.
func (p *lockdProc) readLog(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		p.mu.Lock()
		if t, ok := parseGCTrace(line); ok {
			p.gc = t
		} else {
			p.tail = append(p.tail, line)
			if len(p.tail) > lockdLogTail {
				p.tail = p.tail[1:]
			}
		}
		p.mu.Unlock()
	}
	_, _ = io.Copy(io.Discard, r)
}

func (p *lockdProc) logTail() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.tail...)
}

// lastGC returns the latest GC the process reported (n is 0 before the
// first).
func (p *lockdProc) lastGC() gcTrace {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.gc
}

func (p *lockdProc) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has exited, and how.
func (p *lockdProc) exited() (bool, error) {
	select {
	case <-p.done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return true, p.waitErr
	default:
		return false, nil
	}
}

// waitReady polls GET /readyz until it answers 200, the process exits,
// ctx ends or lockdStartTimeout passes.
func (p *lockdProc) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, lockdStartTimeout)
	defer cancel()
	hc := &http.Client{Timeout: time.Second}
	defer hc.CloseIdleConnections()
	var last string
	for {
		if done, err := p.exited(); done {
			return fmt.Errorf("lockd exited before it was ready: %v", err)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url+"/readyz", nil)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("lockd at %s not ready within %v: last answer %s", p.url, lockdStartTimeout, last)
		case <-p.done:
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stop sends SIGTERM, waits up to lockdStopTimeout for the process to
// exit, then kills it.
func (p *lockdProc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return
	case <-time.After(lockdStopTimeout):
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}
