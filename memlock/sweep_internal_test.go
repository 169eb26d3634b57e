package memlock

import (
	"context"
	"testing"
	"time"

	"github.com/lockd/lockd"
)

// TestReadsSweep: read acquires alone sweep expired read leases, as write
// acquires do, so a flood of short-lived read names leaves nothing behind.
func TestReadsSweep(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e := New()
	defer e.Close()
	if _, err := e.Acquire(ctx, "gone", lockd.AcquireOptions{Owner: "r", Mode: lockd.ModeRead, TTL: lockd.MinTTL}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * lockd.MinTTL)
	for range sweepEvery {
		if _, err := e.Acquire(ctx, "other", lockd.AcquireOptions{Owner: "r", Mode: lockd.ModeRead, TTL: time.Minute}); err != nil {
			t.Fatal(err)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.rw["gone"]; ok {
		t.Errorf("the expired read lease of gone is still kept after %d read acquires", sweepEvery)
	}
}
