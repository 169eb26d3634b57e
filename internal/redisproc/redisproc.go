// Package redisproc starts and stops redis-server processes on loopback
// ports with persistence off. The tests (through internal/testenv) and the
// benchmark share it; it needs nothing but the standard library.
package redisproc

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// StartTimeout bounds how long a server may take to answer PING.
const StartTimeout = 10 * time.Second

// Process is one redis-server process.
type Process struct {
	// Addr is 127.0.0.1:port.
	Addr string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process exits
}

// Start runs the redis-server at bin on 127.0.0.1:port with dir as its
// working directory, and waits until it answers PING. The process is
// killed with its parent (Pdeathsig). Start returns an error, with the
// server's log, when it does not answer within StartTimeout (the port may
// be taken: try another). extra are more redis-server arguments
// ("--requirepass", "s3cret"); a server that asks for AUTH counts as up
// when it answers PING with NOAUTH.
func Start(bin, dir string, port int, extra ...string) (*Process, error) {
	var logBuf bytes.Buffer
	cmd := exec.Command(bin, append([]string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", dir,
		"--protected-mode", "no",
		"--daemonize", "no",
	}, extra...)...)
	cmd.Stdout, cmd.Stderr = &logBuf, &logBuf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Process{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	if err := p.waitPing(); err != nil {
		p.Kill()
		return nil, fmt.Errorf("%w; log: %s", err, logBuf.String())
	}
	return p, nil
}

// waitPing polls the server with PING until it answers PONG, the process
// exits, or StartTimeout passes.
func (p *Process) waitPing() error {
	deadline := time.Now().Add(StartTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("redis-server on %s exited", p.Addr)
		default:
		}
		if Ping(p.Addr, 200*time.Millisecond) == nil {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("redis-server on %s did not answer PING within %v", p.Addr, StartTimeout)
}

// Signal sends sig to the process (SIGSTOP pauses it, SIGCONT resumes it).
func (p *Process) Signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }

// Kill stops the process at once, paused or not, and waits for it to exit,
// at most StartTimeout. It returns false when the process did not exit.
func (p *Process) Kill() bool {
	_ = p.cmd.Process.Signal(syscall.SIGCONT) // a paused process must run to die
	_ = p.cmd.Process.Kill()
	select {
	case <-p.done:
		return true
	case <-time.After(StartTimeout):
		return false
	}
}

// Ping sends PING to addr over a fresh connection and waits for PONG (or
// NOAUTH, from a server that asks for AUTH), all within timeout.
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
	if line != "+PONG\r\n" && !strings.HasPrefix(line, "-NOAUTH ") {
		return fmt.Errorf("PING %s: got %q", addr, line)
	}
	return nil
}

// FreePort asks the kernel for a free loopback port. Another process may
// take it before it is used.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
