// Package testenv starts the real servers that lockd's tests run against.
//
// Redis: redis-server processes on free loopback ports, which a test can
// kill -9, pause (SIGSTOP), resume and restart. Where redis-server is not on
// PATH it falls back to an in-process Redis-compatible server (miniredis) so
// that `go test ./...` passes on a machine with only Go; with
// LOCKD_REQUIRE_REDIS_SERVER=1 a missing redis-server fails the test instead.
//
// MongoDB: the MongoDB at LOCKD_TEST_MONGO_URI when set (a fresh database
// per test), otherwise an embedded FerretDB started in-process over SQLite
// in a temporary directory, which a test can stop and start again.
package testenv

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// RequireRedisServerEnv names the variable that turns a missing
// redis-server from a fallback into a failure.
const RequireRedisServerEnv = "LOCKD_REQUIRE_REDIS_SERVER"

// startTimeout bounds how long a server may take to answer PING.
const startTimeout = 10 * time.Second

// Redis is one Redis node for a test: a redis-server process or, where
// none is installed, a miniredis server. Its methods are safe for
// concurrent use.
type Redis struct {
	t    testing.TB
	port int
	dir  string

	mu   sync.Mutex
	cmd  *exec.Cmd
	mini *miniredis.Miniredis
	// clockDone stops the goroutine that moves miniredis's clock.
	clockDone chan struct{}
	done      chan struct{} // closed when cmd exits
}

// Real reports whether real redis-server processes are in use.
func Real() bool {
	_, err := exec.LookPath("redis-server")
	return err == nil
}

// StartRedis starts n Redis nodes and stops them when the test ends.
func StartRedis(t testing.TB, n int) []*Redis {
	t.Helper()
	if !Real() && os.Getenv(RequireRedisServerEnv) == "1" {
		t.Fatalf("redis-server is not on PATH and %s=1", RequireRedisServerEnv)
	}
	nodes := make([]*Redis, n)
	for i := range nodes {
		nodes[i] = startOne(t)
	}
	return nodes
}

// Addrs returns the nodes' host:port addresses.
func Addrs(nodes []*Redis) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.Addr()
	}
	return out
}

func startOne(t testing.TB) *Redis {
	t.Helper()
	r := &Redis{t: t, dir: t.TempDir()}
	var err error
	for range 5 { // a free port may be taken between probe and bind; try another
		r.port = freePort(t)
		if err = r.start(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("start redis: %v", err)
	}
	t.Cleanup(r.stop)
	return r
}

// Addr returns the node's address, 127.0.0.1:port. It stays the same
// across Restart.
func (r *Redis) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)) }

func (r *Redis) start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !Real() {
		m := miniredis.NewMiniRedis()
		if err := m.StartAddr(r.Addr()); err != nil {
			return err
		}
		r.mini = m
		r.clockDone = make(chan struct{})
		go runClock(m, r.clockDone)
		return nil
	}
	var logBuf bytes.Buffer
	cmd := exec.Command("redis-server",
		"--port", strconv.Itoa(r.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", r.dir,
		"--protected-mode", "no",
		"--daemonize", "no",
	)
	cmd.Stdout = &logBuf
	cmd.Stderr = &logBuf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	if err := waitPing(r.Addr(), done); err != nil {
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("%w; log: %s", err, logBuf.String())
	}
	r.cmd, r.done = cmd, done
	return nil
}

// miniredisTick is how often the fallback server's clock is moved on.
const miniredisTick = 5 * time.Millisecond

// runClock makes keys expire in real time: miniredis only expires keys
// when its clock is moved, which it leaves to the test.
func runClock(m *miniredis.Miniredis, done <-chan struct{}) {
	t := time.NewTicker(miniredisTick)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			m.FastForward(now.Sub(last))
			last = now
		}
	}
}

// waitPing polls addr with PING until it answers PONG, the process exits,
// or startTimeout passes.
func waitPing(addr string, exited <-chan struct{}) error {
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("redis-server on %s exited", addr)
		default:
		}
		if Ping(addr, 200*time.Millisecond) == nil {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("redis on %s did not answer PING within %v", addr, startTimeout)
}

// Ping sends PING to addr over a fresh connection and waits for PONG.
func Ping(addr string, timeout time.Duration) error {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING: got %q", line)
	}
	return nil
}

// Kill stops the node at once (SIGKILL for a process); its data is lost.
func (r *Redis) Kill() {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mini != nil {
		r.closeMini()
		return
	}
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGCONT) // a paused process must run to die cleanly
	_ = r.cmd.Process.Kill()
	select {
	case <-r.done:
	case <-time.After(startTimeout):
		r.t.Errorf("redis %s did not exit after SIGKILL", r.Addr())
	}
	r.cmd = nil
}

// Restart starts a killed node again on the same address, empty.
func (r *Redis) Restart() {
	r.t.Helper()
	r.Kill()
	var err error
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) { // the port may linger briefly after the kill
		if err = r.start(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.t.Fatalf("restart redis %s: %v", r.Addr(), err)
}

// Pause stops the node without closing its connections (SIGSTOP), so calls
// to it hang until they time out. Only real redis-server processes can be
// paused; under miniredis the test fails, or is skipped with a reason when
// redis-server is not required.
func (r *Redis) Pause() {
	r.t.Helper()
	r.signal(syscall.SIGSTOP)
}

// Resume continues a paused node (SIGCONT).
func (r *Redis) Resume() {
	r.t.Helper()
	r.signal(syscall.SIGCONT)
}

func (r *Redis) signal(sig syscall.Signal) {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		if os.Getenv(RequireRedisServerEnv) == "1" || r.mini == nil {
			r.t.Fatalf("cannot send %v to redis %s: no process", sig, r.Addr())
		}
		r.t.Skipf("miniredis fallback cannot be paused; install redis-server to run this test")
	}
	if err := r.cmd.Process.Signal(sig); err != nil {
		r.t.Fatalf("signal %v to redis %s: %v", sig, r.Addr(), err)
	}
}

func (r *Redis) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mini != nil {
		r.closeMini()
	}
	if r.cmd != nil {
		_ = r.cmd.Process.Signal(syscall.SIGCONT)
		_ = r.cmd.Process.Kill()
		<-r.done
		r.cmd = nil
	}
	_ = os.RemoveAll(filepath.Join(r.dir, "dump.rdb"))
}

// closeMini stops the fallback server and its clock. r.mu must be held.
func (r *Redis) closeMini() {
	close(r.clockDone)
	r.mini.Close()
	r.mini = nil
}

// freePort asks the kernel for a free loopback port.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
