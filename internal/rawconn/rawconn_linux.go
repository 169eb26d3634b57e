package rawconn

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// Conn is a *net.TCPConn whose Read and Write use raw system calls. It is
// safe for concurrent use as the net.Conn it wraps is: one reader and one
// writer at a time, with deadlines and Close from anywhere.
type Conn struct {
	*net.TCPConn
	raw syscall.RawConn
}

// Wrap returns c with raw reads and writes when it is a *net.TCPConn, and
// c itself otherwise.
func Wrap(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	return &Conn{TCPConn: tc, raw: raw}
}

// Read reads into b, waiting for the poller while nothing is there.
func (c *Conn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	var (
		n     int
		errno syscall.Errno
	)
	err := c.raw.Read(func(fd uintptr) bool {
		for {
			r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
			switch e {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false
			}
			if e != 0 {
				errno = e // r is -1 then: nothing was read
			} else {
				n = int(r)
			}
			return true
		}
	})
	raceRead(b[:n])
	return c.result(n, errno, err, "read", true)
}

// Write writes all of b, waiting for the poller while the socket's buffer
// is full.
func (c *Conn) Write(b []byte) (int, error) {
	raceWrite()
	var (
		n     int
		errno syscall.Errno
	)
	err := c.raw.Write(func(fd uintptr) bool {
		for n < len(b) {
			r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&b[n])), uintptr(len(b)-n))
			switch e {
			case 0:
				n += int(r)
			case syscall.EINTR:
			case syscall.EAGAIN:
				return false
			default:
				errno = e
				return true
			}
		}
		return true
	})
	raceWrote(b[:n])
	return c.result(n, errno, err, "write", false)
}

// ReadOnce makes one read(2) of the non-blocking socket fd into b, as a
// raw system call: for a check that must not wait, such as whether an idle
// connection is still open (EAGAIN: nothing to read, and open). It
// returns what read returned; err is a syscall.Errno or nil.
func ReadOnce(fd uintptr, b []byte) (n int, err error) {
	for {
		r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
		switch e {
		case 0:
			return int(r), nil
		case syscall.EINTR:
			continue
		}
		return 0, e
	}
}

// result turns what a raw call gave into what net.Conn gives: a read of
// nothing is the end of the stream, and errors are *net.OpError.
func (c *Conn) result(n int, errno syscall.Errno, err error, op string, read bool) (int, error) {
	switch {
	case err != nil:
		return n, err
	case errno != 0:
		return n, &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError(op, errno)}
	case read && n == 0:
		return 0, io.EOF
	}
	return n, nil
}
