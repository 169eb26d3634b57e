package redlock

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/testenv"
)

// BenchmarkPausedNode times acquire+release cycles on three real nodes,
// healthy and with one node paused (SIGSTOP) from the start, and reports
// the median and 99th percentile cycle. The target: with one node paused,
// the median within 2x of healthy.
func BenchmarkPausedNode(b *testing.B) {
	for _, tc := range []struct {
		name   string
		paused bool
	}{{"healthy", false}, {"one-paused", true}} {
		b.Run(tc.name, func(b *testing.B) {
			servers := testenv.StartRedis(b, 3)
			e, err := New(testenv.Addrs(servers), WithLogger(nil))
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			ctx := context.Background()
			cycle := func() {
				l, err := e.Acquire(ctx, "bench", lockd.AcquireOptions{Owner: "a"})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := e.Release(ctx, "bench", l.ID); err != nil {
					b.Fatal(err)
				}
			}
			cycle()
			if tc.paused {
				servers[2].Pause()
				defer servers[2].Resume()
			}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				cycle()
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}
