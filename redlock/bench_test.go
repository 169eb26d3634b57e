package redlock

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/testenv"
)

// benchEngine starts three real nodes and an engine over them, both gone
// at the end of the benchmark.
func benchEngine(b *testing.B) (*Engine, []*testenv.Redis) {
	servers := testenv.StartRedis(b, 3)
	e, err := New(testenv.Addrs(servers), WithLogger(nil))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = e.Close() })
	return e, servers
}

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
			e, servers := benchEngine(b)
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

// BenchmarkContended: 16 goroutines take one lock in turn through one
// engine on three real nodes (acquire with a wait, then release at once),
// as issue 8's contention scenario does over HTTP, and reports the CPU a
// cycle costs this process (the engine) and the three redis-servers.
func BenchmarkContended(b *testing.B) {
	e, servers := benchEngine(b)
	ctx := context.Background()
	var next atomic.Int64
	run := func(n int64) {
		next.Store(0)
		var wg sync.WaitGroup
		for w := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= n {
					l, err := e.Acquire(ctx, "bench", lockd.AcquireOptions{Owner: fmt.Sprint("w", w), TTL: 10 * time.Second, Wait: 5 * time.Second})
					if err != nil {
						b.Error(err)
						return
					}
					if _, err := e.Release(ctx, "bench", l.ID); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
	run(100) // dial, and load the scripts
	redis0, self0, script0 := redisCPU(b, servers), processCPU(b), scriptTime(b, servers)
	b.ResetTimer()
	run(int64(b.N))
	b.StopTimer()
	redis1, self1, script1 := redisCPU(b, servers), processCPU(b), scriptTime(b, servers)
	b.ReportMetric(float64((self1-self0).Microseconds())/float64(b.N), "engine-cpu-µs/op")
	b.ReportMetric(float64((redis1-redis0).Microseconds())/float64(b.N), "redis-cpu-µs/op")
	b.ReportMetric(float64((script1-script0).Microseconds())/float64(b.N), "script-µs/op")
}

// info returns the fields of one section of INFO on each server.
func info(b *testing.B, servers []*testenv.Redis, section string) []map[string]string {
	var out []map[string]string
	for _, s := range servers {
		c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{s.Addr()}, DisableCache: true})
		if err != nil {
			b.Fatal(err)
		}
		text, err := c.Do(context.Background(), c.B().Info().Section(section).Build()).ToString()
		c.Close()
		if err != nil {
			b.Fatal(err)
		}
		fields := map[string]string{}
		for _, line := range strings.Split(text, "\n") {
			if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
				fields[k] = v
			}
		}
		out = append(out, fields)
	}
	return out
}

// scriptTime returns the time the servers spent running scripts so far:
// the usec of EVALSHA in INFO commandstats, which counts the commands a
// script calls and the Lua around them, not reading or answering it.
func scriptTime(b *testing.B, servers []*testenv.Redis) time.Duration {
	var total time.Duration
	for _, fields := range info(b, servers, "commandstats") {
		for _, kv := range strings.Split(fields["cmdstat_evalsha"], ",") {
			if k, v, ok := strings.Cut(kv, "="); ok && k == "usec" {
				n, _ := strconv.ParseInt(v, 10, 64)
				total += time.Duration(n) * time.Microsecond
			}
		}
	}
	return total
}

// processCPU returns the CPU time this process used so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// redisCPU returns the CPU time the servers used so far (INFO cpu).
func redisCPU(b *testing.B, servers []*testenv.Redis) time.Duration {
	var total time.Duration
	for _, fields := range info(b, servers, "cpu") {
		for _, k := range []string{"used_cpu_sys", "used_cpu_user"} {
			f, _ := strconv.ParseFloat(fields[k], 64)
			total += time.Duration(f * float64(time.Second))
		}
	}
	return total
}
