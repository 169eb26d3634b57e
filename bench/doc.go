// Package bench holds lockd's speed benchmark. The program is in
// cmd/lockbench: it starts its own redis-server processes on loopback ports
// and runs lockd's Redlock engine (in-process and over HTTP), go-redsync and
// bsm/redislock side by side on the same nodes, printing a markdown table.
// Its contention and waiters scenarios run lockd as a separate process, built
// from the source next to this module, and load it through the Go SDK.
// docs/benchmarks.md has the method, the latest results and how to read
// them.
//
// bench is a Go module of its own (github.com/lockd/lockd/bench), which
// uses the lockd module next to it through a replace directive. The peers
// it measures, and their Redis client go-redis, are required here only, so
// that they stay out of the module graph, and the minimum versions, of
// everyone who depends on lockd. Run it from this directory:
//
//	cd bench && go run ./cmd/lockbench -duration 5s
package bench
