//go:build unix && !linux

package rawconn

import "syscall"

// ReadOnce makes one read(2) of the non-blocking socket fd into b, for a
// check that must not wait, such as whether an idle connection is still
// open (EAGAIN: nothing to read, and open). It returns what read
// returned; err is a syscall.Errno or nil. Elsewhere than Linux it is
// syscall.Read.
func ReadOnce(fd uintptr, b []byte) (int, error) { return syscall.Read(int(fd), b) }
