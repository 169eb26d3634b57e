// Package rawconn wraps TCP connections so that their reads and writes
// make the read(2) and write(2) calls without handing the calling thread's
// processor to the Go scheduler.
//
// On loopback a write does the receiving end's TCP work too, and takes
// some tens of microseconds. When the process runs one processor
// (GOMAXPROCS 1, lockd's default on small machines), the runtime's monitor
// takes the processor away from a system call that lasts over 20µs and
// hands it to another thread, which is woken for it; the writing thread
// then waits to get it back. A lock cycle makes five such calls in lockd,
// and the hand-overs cost about as much as the calls themselves. Sockets
// are non-blocking, so the calls never wait: a full buffer answers EAGAIN,
// and the connection then waits for the poller as net.Conn does.
//
// ReadOnce makes one such read of a socket that must not wait, for a
// check such as whether an idle connection is still open.
package rawconn

import "net"

// Listener is a net.Listener whose connections are wrapped with Wrap.
type Listener struct{ net.Listener }

// Accept returns the next connection, wrapped.
func (l Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return Wrap(c), nil
}
