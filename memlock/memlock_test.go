package memlock_test

import (
	"testing"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/locktest"
	"github.com/lockd/lockd/memlock"
)

func TestConformance(t *testing.T) {
	locktest.Run(t, locktest.Config{New: func(t *testing.T) lockd.Engine { return memlock.New() }})
}

func TestFenceMinter(t *testing.T) {
	locktest.RunMinter(t, func(t *testing.T, m lockd.FenceMinter) lockd.Engine {
		return memlock.New(memlock.WithFenceMinter(m))
	})
}
