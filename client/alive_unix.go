//go:build unix

package client

import (
	"errors"
	"syscall"

	"github.com/lockd/lockd/internal/rawconn"
)

// probe tells whether an idle connection is still open: one read of the
// socket, which must find nothing to read yet. It is made once for a
// connection, so a check allocates nothing.
type probe struct {
	raw  syscall.RawConn
	read func(fd uintptr) bool // p.readFD, bound once
	buf  [1]byte
	err  error
}

// newProbe returns the probe of a connection, or nil when its socket
// cannot be read directly.
func newProbe(conn any) *probe {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	p := &probe{raw: raw}
	p.read = p.readFD
	return p
}

// readFD makes the probe's read. It is a raw system call on Linux: the
// read never blocks, and syscall.Read would wake the runtime's monitor
// thread on each check, which cost more than the read itself.
func (p *probe) readFD(fd uintptr) bool {
	_, p.err = rawconn.ReadOnce(fd, p.buf[:])
	return true
}

// alive reports whether the connection is open with nothing to read: the
// server has not closed it, nor sent anything unasked. A nil probe
// reports true.
func (p *probe) alive() bool {
	if p == nil {
		return true
	}
	if err := p.raw.Read(p.read); err != nil {
		return false
	}
	// EOF (the server closed it) reads 0 bytes and no error; unasked
	// data reads a byte.
	return errors.Is(p.err, syscall.EAGAIN) || errors.Is(p.err, syscall.EWOULDBLOCK)
}
