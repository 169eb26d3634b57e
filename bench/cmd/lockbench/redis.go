package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// redisStartTimeout bounds how long a redis-server may take to answer PING.
const redisStartTimeout = 10 * time.Second

// redisServer is one redis-server process on a loopback port. It is a
// trimmed copy of internal/testenv's starter, which needs a testing.TB.
type redisServer struct {
	addr string
	dir  string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process exits
}

// startRedis starts n redis-server processes from the binary at bin, each
// on its own free 127.0.0.1 port with persistence off. On error the ones
// already started are stopped.
func startRedis(bin string, n int) ([]*redisServer, error) {
	var out []*redisServer
	for range n {
		var (
			r   *redisServer
			err error
		)
		for range 5 { // a probed port may be taken before redis binds it
			if r, err = startOneRedis(bin); err == nil {
				break
			}
		}
		if err != nil {
			stopRedis(out)
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func startOneRedis(bin string) (*redisServer, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "lockbench-redis-")
	if err != nil {
		return nil, err
	}
	r := &redisServer{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir: dir}
	var logBuf bytes.Buffer
	cmd := exec.Command(bin,
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", dir,
		"--protected-mode", "no",
		"--daemonize", "no",
	)
	cmd.Stdout, cmd.Stderr = &logBuf, &logBuf
	// Should the benchmark die without cleaning up, the kernel kills the
	// servers with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	r.cmd, r.done = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(r.done) }()
	if err := waitPing(r.addr, r.done); err != nil {
		r.stop()
		return nil, fmt.Errorf("%w; log: %s", err, logBuf.String())
	}
	return r, nil
}

// stop kills the process, waits for it and removes its directory.
func (r *redisServer) stop() {
	_ = r.cmd.Process.Kill()
	<-r.done
	_ = os.RemoveAll(r.dir)
}

func stopRedis(servers []*redisServer) {
	for _, r := range servers {
		r.stop()
	}
}

func redisAddrs(servers []*redisServer) []string {
	out := make([]string, len(servers))
	for i, r := range servers {
		out[i] = r.addr
	}
	return out
}

// waitPing polls addr with PING until it answers PONG, the process exits
// or redisStartTimeout passes.
func waitPing(addr string, exited <-chan struct{}) error {
	deadline := time.Now().Add(redisStartTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("redis-server on %s exited", addr)
		default:
		}
		if ping(addr, 200*time.Millisecond) == nil {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("redis-server on %s did not answer PING within %v", addr, redisStartTimeout)
}

func ping(addr string, timeout time.Duration) error {
	var d net.Dialer
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", addr)
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
		return fmt.Errorf("PING %s: got %q", addr, line)
	}
	return nil
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
