package httpapi

import (
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
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
	_, isTLS := c.(*tls.Conn)
	return isTLS == h.tls.Load()
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
