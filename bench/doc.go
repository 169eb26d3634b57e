// Package bench holds lockd's speed benchmark. The program is in
// cmd/lockbench: it starts its own redis-server processes on loopback ports
// and runs lockd's Redlock engine (in-process and over HTTP), go-redsync and
// bsm/redislock side by side on the same nodes, printing a markdown table.
// docs/benchmarks.md has the method, the latest results and how to read
// them.
//
//	go run ./bench/cmd/lockbench -duration 5s
package bench
