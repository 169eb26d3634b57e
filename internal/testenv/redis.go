// Package testenv starts the real servers that lockd's tests run against.
//
// Redis: redis-server processes on free loopback ports, which a test can
// kill -9, pause (SIGSTOP), resume and restart. Where redis-server is not on
// PATH it falls back to an in-process Redis-compatible server (miniredis) so
// that `go test ./...` passes on a machine with only Go; with
// LOCKD_REQUIRE_REDIS_SERVER=1 a missing redis-server fails the test instead.
//
// MongoDB servers are in the subpackage mongoenv, so that the tests of
// Redis-only packages (redlock) do not bring FerretDB into the go.sum of a
// module that imports them.
package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/alicebob/miniredis/v2/server"

	"github.com/lockd/lockd/internal/redisproc"
)

// RequireRedisServerEnv names the variable that turns a missing
// redis-server from a fallback into a failure.
const RequireRedisServerEnv = "LOCKD_REQUIRE_REDIS_SERVER"

// startTimeout bounds how long a server may take to start.
const startTimeout = redisproc.StartTimeout

// Redis is one Redis node for a test: a redis-server process or, where
// none is installed, a miniredis server. Its methods are safe for
// concurrent use.
type Redis struct {
	t    testing.TB
	port int
	dir  string

	mu   sync.Mutex
	proc *redisproc.Process
	mini *miniredis.Miniredis
	// clockDone stops the goroutine that moves miniredis's clock.
	clockDone chan struct{}
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
		// miniredis's INFO knows no server or memory section; lockd reads
		// run_id and maxmemory_policy there. miniredis never evicts.
		runID := randomRunID()
		m.Server().SetPreHook(func(c *server.Peer, cmd string, args ...string) bool {
			if !strings.EqualFold(cmd, "INFO") || len(args) == 0 {
				return false
			}
			c.WriteBulk("# Server\r\nrun_id:" + runID + "\r\n# Memory\r\nmaxmemory_policy:noeviction\r\n")
			return true
		})
		r.mini = m
		r.clockDone = make(chan struct{})
		go runClock(m, r.clockDone)
		return nil
	}
	p, err := redisproc.Start("redis-server", r.dir, r.port)
	if err != nil {
		return err
	}
	r.proc = p
	return nil
}

// randomRunID makes a run_id for a fallback server, 40 hex digits like
// Redis's own.
func randomRunID() string {
	var b [20]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms.
	return hex.EncodeToString(b[:])
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

// Kill stops the node at once (SIGKILL for a process); its data is lost.
func (r *Redis) Kill() {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mini != nil {
		r.closeMini()
		return
	}
	if r.proc == nil {
		return
	}
	if !r.proc.Kill() {
		r.t.Errorf("redis %s did not exit after SIGKILL", r.Addr())
	}
	r.proc = nil
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
	if r.proc == nil {
		if os.Getenv(RequireRedisServerEnv) == "1" || r.mini == nil {
			r.t.Fatalf("cannot send %v to redis %s: no process", sig, r.Addr())
		}
		r.t.Skipf("miniredis fallback cannot be paused; install redis-server to run this test")
	}
	if err := r.proc.Signal(sig); err != nil {
		r.t.Fatalf("signal %v to redis %s: %v", sig, r.Addr(), err)
	}
}

func (r *Redis) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mini != nil {
		r.closeMini()
	}
	if r.proc != nil {
		r.proc.Kill()
		r.proc = nil
	}
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
	port, err := redisproc.FreePort()
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	return port
}
