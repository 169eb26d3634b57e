//go:build linux && race

package rawconn

import (
	"runtime"
	"unsafe"
)

// ioSync is what the race detector sees a write release and a read
// acquire, as syscall.Write and syscall.Read tell it of their own: data
// sent on a socket orders what the sender did before it with what the
// receiver does after it. Without this, a program that uses a lock
// through the SDK as a mutex would get false race reports under -race.
var ioSync int64

// raceRead tells the race detector that a read filled p, and orders it
// after the writes before it.
func raceRead(p []byte) {
	if len(p) > 0 {
		runtime.RaceWriteRange(unsafe.Pointer(&p[0]), len(p))
	}
	runtime.RaceAcquire(unsafe.Pointer(&ioSync))
}

// raceWrite orders what came before a write before the reads after it.
func raceWrite() { runtime.RaceReleaseMerge(unsafe.Pointer(&ioSync)) }

// raceWrote tells the race detector that a write sent p.
func raceWrote(p []byte) {
	if len(p) > 0 {
		runtime.RaceReadRange(unsafe.Pointer(&p[0]), len(p))
	}
}
