package redlock_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/testenv"
	"github.com/lockd/lockd/locktest"
	"github.com/lockd/lockd/redlock"
)

func TestConformance(t *testing.T) {
	for _, n := range []int{1, 3, 5} {
		t.Run(fmt.Sprintf("N=%d", n), func(t *testing.T) {
			nodes := testenv.StartRedis(t, n)
			var workers, increments int // the suite's defaults
			if !testenv.Real() {
				// miniredis runs every script through an in-process Lua
				// interpreter; 16x500 hand-offs over 5 of them take minutes.
				workers, increments = 8, 100
				t.Logf("miniredis fallback: mutual exclusion with %d workers x %d increments", workers, increments)
			}
			locktest.Run(t, locktest.Config{Workers: workers, Increments: increments, New: func(t *testing.T) lockd.Engine {
				e, err := redlock.New(testenv.Addrs(nodes), redlock.WithRetryDelay(time.Millisecond, 5*time.Millisecond))
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return e
			}})
		})
	}
}

func TestFenceMinter(t *testing.T) {
	nodes := testenv.StartRedis(t, 3)
	locktest.RunMinter(t, func(t *testing.T, m lockd.FenceMinter) lockd.Engine {
		e, err := redlock.New(testenv.Addrs(nodes), redlock.WithFenceMinter(m))
		if err != nil {
			t.Fatal(err)
		}
		return e
	})
}
