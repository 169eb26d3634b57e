package httpapi

import (
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// handoff is the listener the http.Server serves when waits are parked:
// it yields the connections the real listener accepts, and the
// connections whose parked wait has been answered, so that the server
// reads their next request as on any kept-alive connection.
type handoff struct {
	net.Listener
	accepted chan accepted // from pump
	back     chan net.Conn // answered parked connections
	done     chan struct{} // closed by Close
	once     sync.Once
	tls      atomic.Bool // the connections accepted are *tls.Conn (TLS inside)
}

type accepted struct {
	c   net.Conn
	err error
}

func newHandoff(ln net.Listener) *handoff {
	h := &handoff{Listener: ln, accepted: make(chan accepted), back: make(chan net.Conn), done: make(chan struct{})}
	go h.pump()
	return h
}

// pump accepts from the real listener until it is closed. Errors go to
// Accept as they come: net/http retries the temporary ones.
func (h *handoff) pump() {
	for {
		c, err := h.Listener.Accept()
		if _, ok := c.(*tls.Conn); ok {
			h.tls.Store(true)
		}
		select {
		case h.accepted <- accepted{c, err}:
		case <-h.done:
			if c != nil {
				_ = c.Close()
			}
			return
		}
	}
}

// Accept returns the next connection, new or handed back.
func (h *handoff) Accept() (net.Conn, error) {
	select {
	case c := <-h.back:
		return c, nil
	case a := <-h.accepted:
		return a.c, a.err
	case <-h.done:
		return nil, net.ErrClosed
	}
}

// Close closes the real listener. Connections handed back after it are
// closed instead.
func (h *handoff) Close() error {
	err := net.ErrClosed
	h.once.Do(func() {
		close(h.done)
		err = h.Listener.Close()
	})
	return err
}

// fits reports whether a hijacked connection can be handed back: it is
// TLS exactly when what this listener accepts is. With TLS wrapped around
// the listener instead (http.Server.ServeTLS), a hijacked *tls.Conn would
// be wrapped in TLS a second time; such a connection is closed after its
// answer instead.
func (h *handoff) fits(c net.Conn) bool {
	_, isTLS := bare(c).(*tls.Conn)
	return isTLS == h.tls.Load()
}

// handedConn is an answered parked connection given back to the server.
// Its first reads return prefix: what was read from it, after the request,
// while it was parked. The server takes it for a new connection and bounds
// the wait for its first request by ReadHeaderTimeout (or nothing); but it
// is a kept-alive connection, idle between requests, which net/http bounds
// by IdleTimeout. So until the next request's first byte, the read
// deadline is idle, whatever the server sets; from that byte on, the
// server's own bound applies (or none), counted from then, as net/http
// counts ReadHeaderTimeout from when an idle connection turns readable.
type handedConn struct {
	net.Conn
	idle time.Duration

	mu      sync.Mutex
	prefix  []byte
	started bool          // a byte of the next request was read
	asked   time.Duration // the server's read bound, while not started; 0 for none
}

// handBack returns c, answered, for the server: with pending (bytes read
// from it while parked) to be read first. A connection handed back before
// is unwrapped first, its unread prefix kept, so wrappers never nest.
func handBack(c net.Conn, pending []byte, idle time.Duration) net.Conn {
	if h, ok := c.(*handedConn); ok {
		h.mu.Lock()
		pending = append(pending, h.prefix...)
		h.mu.Unlock()
		c = h.Conn
	}
	h := &handedConn{Conn: c, idle: idle, prefix: pending}
	if idle > 0 {
		// Bounded from now: a server without ReadHeaderTimeout (or
		// ReadTimeout) sets no read deadline on a new connection.
		_ = c.SetReadDeadline(time.Now().Add(idle))
	}
	return h
}

// bare returns the connection under a handedConn.
func bare(c net.Conn) net.Conn {
	if h, ok := c.(*handedConn); ok {
		return h.Conn
	}
	return c
}

// CloseWrite half-closes the connection when it can, as net/http does
// before closing one it answered, so that its last answer is not lost to
// a reset.
func (c *handedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *handedConn) Read(b []byte) (int, error) {
	c.mu.Lock()
	if len(c.prefix) > 0 {
		n := copy(b, c.prefix)
		c.prefix = c.prefix[n:]
		c.startLocked()
		c.mu.Unlock()
		return n, nil
	}
	c.mu.Unlock()
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.mu.Lock()
		c.startLocked()
		c.mu.Unlock()
	}
	return n, err
}

// startLocked notes the next request's first byte: the server's bound on
// reading it applies from now.
func (c *handedConn) startLocked() {
	if c.started {
		return
	}
	c.started = true
	switch {
	case c.asked > 0:
		_ = c.Conn.SetReadDeadline(time.Now().Add(c.asked))
	case c.idle > 0:
		_ = c.Conn.SetReadDeadline(time.Time{}) // idle's, not the server's
	}
}

func (c *handedConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started || c.idle <= 0 || !t.IsZero() && !t.After(time.Now()) {
		return c.Conn.SetReadDeadline(t) // one in the past ends a read: as asked
	}
	c.asked = 0
	if !t.IsZero() {
		c.asked = time.Until(t)
	}
	return c.Conn.SetReadDeadline(time.Now().Add(c.idle))
}

// give hands c back to the server. It reports false, and closes c, when
// the listener is closed: the server is shutting down.
func (h *handoff) give(c net.Conn) bool {
	select {
	case h.back <- c:
		return true
	case <-h.done:
		_ = c.Close()
		return false
	}
}

// closed reports whether Close was called.
func (h *handoff) closed() bool {
	select {
	case <-h.done:
		return true
	default:
		return false
	}
}
