//go:build unix

package rawconn

import (
	"errors"
	"syscall"
	"testing"
	"time"
)

// TestReadOnce: one read that never waits tells an open idle socket
// (EAGAIN) from one with a byte to read and from one the peer closed.
func TestReadOnce(t *testing.T) {
	c, s := pair(t)
	sc, ok := c.(syscall.Conn)
	if !ok {
		t.Fatalf("%T has no raw socket", c)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	once := func() (n int, err error) {
		if cerr := raw.Control(func(fd uintptr) { n, err = ReadOnce(fd, make([]byte, 1)) }); cerr != nil {
			t.Fatal(cerr)
		}
		return n, err
	}
	if n, err := once(); n != 0 || !errors.Is(err, syscall.EAGAIN) {
		t.Fatalf("idle: ReadOnce = %d, %v; want 0, EAGAIN", n, err)
	}
	if _, err := s.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	got := func(want int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			n, err := once()
			if n == want && err == nil {
				return
			}
			if !errors.Is(err, syscall.EAGAIN) || time.Now().After(deadline) {
				t.Fatalf("ReadOnce = %d, %v; want %d, nil", n, err, want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	got(1)
	_ = s.Close()
	got(0)
}
