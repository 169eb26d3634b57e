//go:build !unix

package lockctl

import (
	"errors"
	"os"
	"os/exec"
)

// errNoGroups is why run cannot work here.
var errNoGroups = errors.New("run needs a Unix-like system: it stops its command through the command's process group")

// inOwnGroup returns errNoGroups: there are no process groups to start
// cmd in.
func inOwnGroup(*exec.Cmd) error { return errNoGroups }

// signalGroup returns errNoGroups.
func signalGroup(int, os.Signal) error { return errNoGroups }

// groupAlive reports false.
func groupAlive(int) bool { return false }

// exitStatus is ps's exit code, or ExitFailure when ps is nil.
func exitStatus(ps *os.ProcessState) int {
	if ps == nil {
		return ExitFailure
	}
	return ps.ExitCode()
}
