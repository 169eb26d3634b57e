package rawconn

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// pair returns a wrapped client connection and the server's end of it,
// both on loopback.
func pair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		c, err := Listener{ln}.Accept()
		if err != nil {
			acc <- nil
			return
		}
		acc <- c
	}()
	c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	s := <-acc
	if s == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { _ = c.Close(); _ = s.Close() })
	return Wrap(c), s
}

func TestWrapped(t *testing.T) {
	c, s := pair(t)
	// Raw calls are made on linux only; elsewhere the connection is
	// left as it is.
	raw := func(c net.Conn) bool { _, plain := c.(*net.TCPConn); return !plain }
	if raw(c) != (runtime.GOOS == "linux") {
		t.Fatalf("Wrap gave %T on %s", c, runtime.GOOS)
	}
	if raw(s) != (runtime.GOOS == "linux") {
		t.Fatalf("Listener gave %T on %s", s, runtime.GOOS)
	}
	p1, p2 := net.Pipe()
	defer p1.Close()
	defer p2.Close()
	if got := Wrap(p1); got != p1 {
		t.Fatalf("Wrap of a pipe gave %T, want the pipe itself", got)
	}
}

// TestBothWays sends more than a socket buffer holds each way, so that
// writes meet a full buffer (EAGAIN) and wait for the poller.
func TestBothWays(t *testing.T) {
	c, s := pair(t)
	want := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB
	for _, dir := range []struct {
		name string
		w, r net.Conn
	}{{"wrapped writes", c, s}, {"wrapped reads", s, c}} {
		t.Run(dir.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() {
				n, err := dir.w.Write(want)
				if err == nil && n != len(want) {
					err = io.ErrShortWrite
				}
				done <- err
			}()
			got := make([]byte, len(want))
			_ = dir.r.SetReadDeadline(time.Now().Add(20 * time.Second))
			if _, err := io.ReadFull(dir.r, got); err != nil {
				t.Fatalf("read: %v", err)
			}
			if err := <-done; err != nil {
				t.Fatalf("write: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatal("bytes read differ from bytes written")
			}
		})
	}
}

func TestEOF(t *testing.T) {
	c, s := pair(t)
	if _, err := s.Write([]byte("bye")); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "bye" {
		t.Fatalf("ReadAll = %q, %v; want \"bye\", nil", got, err)
	}
	if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("Read after EOF = %d, %v; want 0, io.EOF", n, err)
	}
	if n, err := c.Read(nil); n != 0 || err != nil {
		t.Fatalf("Read(nil) = %d, %v; want 0, nil", n, err)
	}
}

func TestDeadlines(t *testing.T) {
	c, _ := pair(t)
	_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past its deadline: %v, want os.ErrDeadlineExceeded", err)
	}
	var ne net.Error
	if _, err := c.Read(make([]byte, 1)); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Read past its deadline: %v, want a net.Error with Timeout()", err)
	}
	// The peer reads nothing, so the buffers fill and the write waits
	// for its deadline.
	_ = c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	n, err := c.Write(make([]byte, 64<<20))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Write past its deadline: %v, want os.ErrDeadlineExceeded", err)
	}
	if n <= 0 || n >= 64<<20 {
		t.Fatalf("Write past its deadline wrote %d bytes, want some but not all", n)
	}
}

func TestClose(t *testing.T) {
	c, _ := pair(t)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	_ = c.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Read during Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Read did not end when the connection was closed")
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close: %v, want net.ErrClosed", err)
	}
}

// resetPair returns a wrapped connection whose peer has reset it.
func resetPair(t *testing.T) net.Conn {
	t.Helper()
	c, s := pair(t)
	// Closing with unread data and no linger makes the kernel reset the
	// connection.
	if _, err := c.Write([]byte("unread")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	_ = s.(interface{ SetLinger(int) error }).SetLinger(0)
	_ = s.Close()
	return c
}

func TestPeerReset(t *testing.T) {
	c := resetPair(t)
	deadline := time.Now().Add(10 * time.Second)
	var err error
	for err == nil && time.Now().Before(deadline) {
		_, err = c.Write([]byte("more"))
		time.Sleep(5 * time.Millisecond)
	}
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "write" {
		t.Fatalf("Write to a reset connection: %v, want a *net.OpError of op write", err)
	}
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("Write to a reset connection: %v, want ECONNRESET or EPIPE", err)
	}
}

// TestReadReset reads from a connection its peer reset: an error and no
// bytes, never the -1 the system call returns.
func TestReadReset(t *testing.T) {
	c := resetPair(t)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := c.Read(make([]byte, 16))
	if n != 0 || !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("Read of a reset connection = %d, %v; want 0, ECONNRESET", n, err)
	}
}

// TestOrdersMemory: what one goroutine did before it wrote to a
// connection happens before what another does after reading it, as with a
// net.Conn. Under -race (CI), the detector reports the two increments of
// shared as a race unless the raw calls tell it of that order.
func TestOrdersMemory(t *testing.T) {
	c, s := pair(t)
	var shared int
	done := make(chan struct{})
	go func() {
		shared++
		if _, err := c.Write([]byte{1}); err != nil {
			t.Error(err)
		}
	}()
	go func() {
		defer close(done)
		var b [1]byte
		_ = s.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := s.Read(b[:]); err != nil {
			t.Error(err)
			return
		}
		shared++
	}()
	<-done
	if shared != 2 {
		t.Errorf("shared = %d, want 2", shared)
	}
}
