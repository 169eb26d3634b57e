package main

import (
	"os"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	for _, tc := range []struct {
		name, stat string
		want       time.Duration
		wantErr    bool
	}{
		{name: "OK", stat: "4242 (lockd) S 1 4242 4242 0 -1 4194560 1234 0 0 0 150 25 0 0 20 0 7 0 100 0 0",
			want: 1750 * time.Millisecond},
		{name: "NameWithSpacesAndParens", stat: "7 (a) b (c)) R 1 7 7 0 -1 0 0 0 0 0 3 4 0 0",
			want: 70 * time.Millisecond},
		{name: "NoParen", stat: "7 lockd R 1", wantErr: true},
		{name: "Short", stat: "7 (lockd) R 1 7 7", wantErr: true},
		{name: "NotANumber", stat: "7 (lockd) R 1 7 7 0 -1 0 0 0 0 0 x 4 0 0", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatCPU([]byte(tc.stat))
			if (err != nil) != tc.wantErr {
				t.Fatalf("parseStatCPU err = %v, want error %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("parseStatCPU = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParseStatusRSS(t *testing.T) {
	for _, tc := range []struct {
		name, status string
		want         int64
		wantErr      bool
	}{
		{name: "OK", status: "Name:\tlockd\nVmPeak:\t  900 kB\nVmRSS:\t   12345 kB\nRssAnon:\t 100 kB\n", want: 12345 << 10},
		{name: "NoVmRSS", status: "Name:\tlockd\n", wantErr: true},
		{name: "BadUnit", status: "VmRSS:\t12 MB\n", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatusRSS([]byte(tc.status))
			if (err != nil) != tc.wantErr {
				t.Fatalf("parseStatusRSS err = %v, want error %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("parseStatusRSS = %d, want %d", got, tc.want)
			}
		})
	}
}

// TestProcSelf reads this process's own /proc files, where they exist.
func TestProcSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	pid := os.Getpid()
	if _, err := procCPU(pid); err != nil {
		t.Errorf("procCPU: %v", err)
	}
	if rss, err := procRSS(pid); err != nil || rss <= 0 {
		t.Errorf("procRSS = %d, %v; want > 0", rss, err)
	}
	if n, err := procFDs(pid); err != nil || n < 3 {
		t.Errorf("procFDs = %d, %v; want >= 3", n, err)
	}
}

func TestParseGCTrace(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		want       gcTrace
		ok         bool
	}{
		{name: "OK", line: "gc 12 @3.456s 2%: 0.058+0.22+0.006 ms clock, 0.11+0.15/0/0+0.013 ms cpu, 96->97->95 MB, 190 MB goal, 7 MB stacks, 0 MB globals, 2 P",
			want: gcTrace{n: 12, at: 3.456, liveBytes: 95 << 20, stacks: 7 << 20}, ok: true},
		{name: "Forced", line: "gc 3 @0.002s 9%: 0.022+0.18+0.002 ms clock, 0.044+0/0.10/0.091+0.004 ms cpu, 11->11->11 MB, 15 MB goal, 0 MB stacks, 0 MB globals, 2 P (forced)",
			want: gcTrace{n: 3, at: 0.002, liveBytes: 11 << 20}, ok: true},
		{name: "LogLine", line: `time=2026-11-27T10:00:00Z level=INFO msg="listening" addr=127.0.0.1:3000`},
		{name: "Scavenger", line: "scvg: 0 MB released"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseGCTrace(tc.line)
			if ok != tc.ok || got != tc.want {
				t.Errorf("parseGCTrace = %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}
