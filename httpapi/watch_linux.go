package httpapi

import (
	"crypto/tls"
	"net"
	"sync"
	"syscall"
	"time"
)

// On Linux one epoll instance, with one goroutine, watches every parked
// connection of the process for its client's hang-up (EPOLLRDHUP, or an
// error), instead of a goroutine blocked in a read for each: a parked wait
// then costs one goroutine, the engine call's.
var hangups = struct {
	once sync.Once
	fd   int // -1 when epoll is unavailable
	mu   sync.Mutex
	next uint64
	by   map[uint64]*parkedWait
}{by: make(map[uint64]*parkedWait)}

func startHangups() {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		hangups.fd = -1
		return
	}
	hangups.fd = fd
	go watchHangups(fd)
}

// watchHangups cancels the parked waits whose connection reports a
// hang-up. It runs for the life of the process.
func watchHangups(epfd int) {
	var events [64]syscall.EpollEvent
	for {
		n, err := syscall.EpollWait(epfd, events[:], -1)
		if err != nil {
			if err != syscall.EINTR {
				// Not expected (the epoll fd is never closed); do not spin
				// on it.
				time.Sleep(10 * time.Millisecond)
			}
			continue
		}
		for _, ev := range events[:n] {
			id := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			hangups.mu.Lock()
			p := hangups.by[id]
			delete(hangups.by, id)
			if p != nil {
				p.gone = true
			}
			hangups.mu.Unlock()
			if p != nil {
				p.cancel(nil)
			}
		}
	}
}

// rawConn returns the socket under c, when it has one.
func rawConn(c net.Conn) (syscall.RawConn, bool) {
	c = bare(c)
	if t, ok := c.(*tls.Conn); ok {
		c = t.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil, false
	}
	rc, err := sc.SyscallConn()
	return rc, err == nil
}

// watchHangup starts watching p's connection for its client's hang-up.
// It reports false when it cannot (no epoll, not a socket); the caller
// then watches with a read.
func watchHangup(p *parkedWait) bool {
	hangups.once.Do(startHangups)
	rc, ok := rawConn(p.conn)
	if hangups.fd < 0 || !ok {
		return false
	}
	hangups.mu.Lock()
	hangups.next++
	id := hangups.next
	hangups.by[id] = p
	hangups.mu.Unlock()
	var added error
	err := rc.Control(func(fd uintptr) {
		ev := syscall.EpollEvent{Events: syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: int32(uint32(id)), Pad: int32(uint32(id >> 32))}
		added = syscall.EpollCtl(hangups.fd, syscall.EPOLL_CTL_ADD, int(fd), &ev)
	})
	if err == nil && added == nil {
		p.unwatch = func() { unwatchHangup(rc, id) }
		return true
	}
	hangups.mu.Lock()
	delete(hangups.by, id)
	hangups.mu.Unlock()
	return false
}

// unwatchHangup stops watching; once it returns, the watcher no longer
// touches the wait.
func unwatchHangup(rc syscall.RawConn, id uint64) {
	_ = rc.Control(func(fd uintptr) {
		_ = syscall.EpollCtl(hangups.fd, syscall.EPOLL_CTL_DEL, int(fd), nil)
	})
	hangups.mu.Lock()
	delete(hangups.by, id)
	hangups.mu.Unlock()
}
