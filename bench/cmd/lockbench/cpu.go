package main

import (
	"context"
	"strconv"
	"strings"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// cpuMeter reads how much CPU this process and the redis-server processes
// have used, so a cell can report CPU per cycle: on a machine with few
// cores, throughput follows from it.
type cpuMeter struct {
	nodes []*goredis.Client // one per redis-server, in address order
	// server is the pid of a lockd process whose CPU is sampled too; 0
	// for none.
	server int
}

func newCPUMeter(addrs []string) *cpuMeter {
	m := &cpuMeter{}
	for _, a := range addrs {
		m.nodes = append(m.nodes, goredis.NewClient(&goredis.Options{Addr: a, PoolSize: 1}))
	}
	return m
}

func (m *cpuMeter) close() {
	for _, c := range m.nodes {
		_ = c.Close()
	}
}

// cpuSample is CPU time used so far.
type cpuSample struct {
	self   time.Duration // this process, user + system
	redis  time.Duration // the first n redis-servers, user + system
	server time.Duration // the lockd process (cpuMeter.server), user + system
}

// sub returns s - t.
func (s cpuSample) sub(t cpuSample) cpuSample {
	return cpuSample{self: s.self - t.self, redis: s.redis - t.redis, server: s.server - t.server}
}

// sample reads the CPU time of this process, of the lockd process (if
// any) and of the first n nodes. A
// node that cannot be read counts as zero, which the delta then shows as
// nonsense rather than hiding.
func (m *cpuMeter) sample(n int) cpuSample {
	var s cpuSample
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if m.server != 0 {
		s.server, _ = procCPU(m.server)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for _, c := range m.nodes[:n] {
		info, err := c.Info(ctx, "cpu").Result()
		if err != nil {
			continue
		}
		for _, line := range strings.Split(info, "\r\n") {
			k, v, ok := strings.Cut(line, ":")
			if !ok || k != "used_cpu_sys" && k != "used_cpu_user" {
				continue
			}
			if sec, err := strconv.ParseFloat(v, 64); err == nil {
				s.redis += time.Duration(sec * float64(time.Second))
			}
		}
	}
	return s
}
