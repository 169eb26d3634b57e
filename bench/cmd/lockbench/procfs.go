package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// userHZ is the unit of the CPU times in /proc/<pid>/stat: USER_HZ, which
// Linux fixes at 100 for user space on every architecture Go supports.
const userHZ = 100

// procCPU returns the CPU time (user + system) that process pid has used,
// from /proc/<pid>/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(b)
}

// parseStatCPU reads utime and stime (fields 14 and 15) from the contents
// of /proc/<pid>/stat. The command name (field 2) is in parentheses and may
// hold spaces and parentheses itself, so fields are counted from the last
// ')'.
func parseStatCPU(stat []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("/proc stat: no ')' after the command name")
	}
	f := strings.Fields(string(stat[i+1:]))
	// f[0] is field 3 (state), so field k is f[k-3].
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc stat: %d fields after the command name, want at least 13", len(f))
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc stat: CPU field %q: %w", s, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// procRSS returns the resident set size of process pid in bytes, from
// VmRSS in /proc/<pid>/status.
func procRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseStatusRSS(b)
}

// parseStatusRSS reads the VmRSS line ("VmRSS:   12345 kB") of the
// contents of /proc/<pid>/status and returns it in bytes.
func parseStatusRSS(status []byte) (int64, error) {
	for _, line := range strings.Split(string(status), "\n") {
		v, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("/proc status: VmRSS %q: want \"<n> kB\"", strings.TrimSpace(v))
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc status: VmRSS: %w", err)
		}
		return kb << 10, nil
	}
	return 0, errors.New("/proc status: no VmRSS line")
}

// procFDs returns how many file descriptors process pid has open.
func procFDs(pid int) (int, error) {
	es, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(es), err
}

// gcTrace is one line of the Go runtime's GODEBUG=gctrace=1 output, the
// cheapest look at a child process's heap that needs nothing from it.
type gcTrace struct {
	n         int     // the GC's number, from 1
	at        float64 // seconds since the process started
	liveBytes int64   // heap live after the GC (the third "->" figure)
	stacks    int64   // scannable goroutine stacks
}

// gcTraceLine matches "gc 12 @3.456s 1%: ..., 4->4->2 MB, 5 MB goal, 0 MB
// stacks, ...". The runtime's "MB" are MiB (it shifts by 20).
var gcTraceLine = regexp.MustCompile(`^gc (\d+) @([0-9.]+)s .*?, (\d+)->(\d+)->(\d+) MB, \d+ MB goal, (\d+) MB stacks`)

// parseGCTrace parses one gctrace line; ok is false for any other line.
func parseGCTrace(line string) (t gcTrace, ok bool) {
	m := gcTraceLine.FindStringSubmatch(line)
	if m == nil {
		return t, false
	}
	t.n, _ = strconv.Atoi(m[1])
	t.at, _ = strconv.ParseFloat(m[2], 64)
	live, _ := strconv.ParseInt(m[5], 10, 64)
	stacks, _ := strconv.ParseInt(m[6], 10, 64)
	t.liveBytes, t.stacks = live<<20, stacks<<20
	return t, true
}

// raiseNoFile raises this process's soft limit on open files to the hard
// limit, and returns the new soft limit. A child started afterwards
// inherits it: once a program sets RLIMIT_NOFILE itself, os/exec no longer
// restores the limit the program started with.
func raiseNoFile() (uint64, error) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, err
	}
	r.Cur = r.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, err
	}
	return r.Cur, nil
}
