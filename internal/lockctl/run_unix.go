//go:build unix

package lockctl

import (
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// inOwnGroup makes cmd start in a process group of its own, whose id is
// its pid, so that signals sent to the group reach the children it starts
// too.
func inOwnGroup(cmd *exec.Cmd) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return nil
}

// signalGroup sends s to every process of the group pgid.
func signalGroup(pgid int, s os.Signal) error {
	sig, ok := s.(syscall.Signal)
	if !ok {
		return errors.New("lockctl: not a syscall.Signal")
	}
	return syscall.Kill(-pgid, sig)
}

// groupAlive reports whether the group pgid still has a running process
// in it. Zombies do not count: where no init reaps orphans (a container
// without one), a killed grandchild stays in its group as a zombie.
func groupAlive(pgid int) bool {
	if err := syscall.Kill(-pgid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	live, known := liveInGroup(pgid)
	return live || !known
}

// liveInGroup reports, from /proc, whether a process of the group pgid is
// not a zombie; known is false where /proc cannot tell.
func liveInGroup(pgid int) (live, known bool) {
	if runtime.GOOS != "linux" {
		return false, false
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return false, false
	}
	group := strconv.Itoa(pgid)
	for _, e := range entries {
		if c := e.Name()[0]; c < '0' || c > '9' {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces and ")".
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) >= 3 && f[2] == group && f[0] != "Z" && f[0] != "X" {
			return true, true
		}
	}
	return false, true
}

// exitStatus is the status a shell reports for a finished process: its
// exit code, or 128+N when signal N killed it. It is ExitFailure when ps
// is nil (the process could not be waited for).
func exitStatus(ps *os.ProcessState) int {
	if ps == nil {
		return ExitFailure
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}
