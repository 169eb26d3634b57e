//go:build unix

package client_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/lockd/lockd/client"
	"github.com/lockd/lockd/httpapi"
	"github.com/lockd/lockd/memlock"
)

// benchServe starts a lockd over a memory engine on loopback for b and
// returns a client with its defaults, as lockbench's contention scenario
// uses it.
func benchServe(b *testing.B) *client.Client {
	b.Helper()
	eng := memlock.New()
	srv := httptest.NewServer(httpapi.New(eng, httpapi.WithLogger(slog.New(slog.DiscardHandler))))
	c, err := client.New(srv.URL)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = c.Close()
		srv.Close()
		_ = eng.Close()
	})
	return c
}

// cycle acquires name as lockbench's workers do (TTL 10s, Wait 5s) and
// releases it.
func cycle(b *testing.B, ctx context.Context, c *client.Client, name string) {
	l, err := c.Acquire(ctx, name, client.TTL(10*time.Second), client.Wait(5*time.Second))
	if err != nil {
		b.Fatalf("Acquire: %v", err)
	}
	if err := l.Release(ctx); err != nil {
		b.Fatalf("Release: %v", err)
	}
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time used since start a cycle, as cpu-ns/op:
// on a machine shared with other work, a steadier figure than ns/op.
func reportCPU(b *testing.B, start time.Duration) {
	b.Helper()
	b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
}

// BenchmarkAcquireRelease is one Acquire and Release over HTTP, client and
// server in this process, one at a time: ns/op and allocs/op count both
// sides, whose server half does not change with the SDK.
func BenchmarkAcquireRelease(b *testing.B) {
	c := benchServe(b)
	ctx := context.Background()
	cycle(b, ctx, c, "bench") // the connection is open before the clock starts
	b.ReportAllocs()
	start := cpuTime(b)
	for b.Loop() {
		cycle(b, ctx, c, "bench")
	}
	reportCPU(b, start)
}

// BenchmarkAcquireReleaseContended is lockbench's contention scenario in
// miniature: 16 goroutines take turns at one lock, each Acquire waiting
// for the holder's Release.
func BenchmarkAcquireReleaseContended(b *testing.B) {
	c := benchServe(b)
	ctx := context.Background()
	cycle(b, ctx, c, "bench")
	b.ReportAllocs()
	b.SetParallelism(8) // 8 goroutines a CPU: 16 on 2, as in lockbench
	start := cpuTime(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			cycle(b, ctx, c, "bench")
		}
	})
	reportCPU(b, start)
}
