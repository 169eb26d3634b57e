package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// infoField returns the integer field key of an INFO reply ("key:value"
// lines separated by CRLF).
func infoField(info, key string) (int64, error) {
	for _, line := range strings.Split(info, "\r\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && k == key {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, fmt.Errorf("INFO has no field %q", key)
}

// ownCommandsPerSample is what one commands call adds to the next reading
// of total_commands_processed on each node: its own INFO, which Redis
// counts once the command has run, so the reading it makes leaves it out.
const ownCommandsPerSample = 1

// commands returns the sum over the first n nodes of the commands each has
// processed (INFO stats, total_commands_processed). Between two calls it
// adds ownCommandsPerSample per node to the count itself.
func (m *cpuMeter) commands(n int) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var sum int64
	for _, c := range m.nodes[:n] {
		info, err := c.Info(ctx, "stats").Result()
		if err != nil {
			return 0, err
		}
		v, err := infoField(info, "total_commands_processed")
		if err != nil {
			return 0, err
		}
		sum += v
	}
	return sum, nil
}

// flush deletes every key on the first n nodes, so that a scenario starts
// on empty nodes.
func (m *cpuMeter) flush(n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, c := range m.nodes[:n] {
		if err := c.FlushAll(ctx).Err(); err != nil {
			return err
		}
	}
	return nil
}
