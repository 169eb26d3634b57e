package redlock

import (
	"context"
	"sync"
	"sync/atomic"
)

// ticket is one call of a round: done closes when it ends; held says it
// was left running when the round answered, and holds back later calls.
type ticket struct {
	done chan struct{}
	held atomic.Bool
}

// gate orders this engine's calls on one key to one node after the calls
// left running by earlier rounds.
type gate struct {
	n  atomic.Int32 // calls held; the common case, none, takes no lock
	mu sync.Mutex
	m  map[string][]chan struct{}
}

// add holds back later calls on key until done closes; a call already
// ended holds nothing.
func (g *gate) add(key string, done chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-done:
		return
	default:
	}
	if g.m == nil {
		g.m = map[string][]chan struct{}{}
	}
	g.m[key] = append(g.m[key], done)
	g.n.Add(1)
}

// remove drops an ended call.
func (g *gate) remove(key string, done chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	list := g.m[key]
	for j, c := range list {
		if c == done {
			list = append(list[:j], list[j+1:]...)
			g.n.Add(-1)
			break
		}
	}
	if len(list) == 0 {
		delete(g.m, key)
	} else {
		g.m[key] = list
	}
}

// wait waits for the calls held on key, within ctx.
func (g *gate) wait(ctx context.Context, key string) error {
	if g.n.Load() == 0 {
		return nil
	}
	g.mu.Lock()
	list := append([]chan struct{}(nil), g.m[key]...)
	g.mu.Unlock()
	for _, c := range list {
		select {
		case <-c:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
