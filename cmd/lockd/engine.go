package main

import (
	"context"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/httpapi"
	"github.com/lockd/lockd/memlock"
	"github.com/lockd/lockd/redlock"
)

// newEngine builds the engine cfg asks for and returns the mode GET /
// reports: the memory engine in dev mode, Redlock over cfg.redis otherwise.
// The Redlock engine dials its nodes on first use, so it starts while some
// are down; ctx is for engines that connect at start. It returns an
// *lockd.ArgumentError for a malformed node list.
func newEngine(ctx context.Context, cfg config) (lockd.Engine, string, error) {
	if len(cfg.redis) == 0 {
		return memlock.New(), httpapi.ModeDev, nil
	}
	e, err := redlock.New(cfg.redis, redlock.WithNodeTimeout(cfg.nodeTimeout))
	if err != nil {
		return nil, httpapi.ModeRedis, err
	}
	return e, httpapi.ModeRedis, nil
}
