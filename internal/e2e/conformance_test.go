package e2e_test

import (
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/client"
	"github.com/lockd/lockd/httpapi"
	"github.com/lockd/lockd/internal/testenv"
	"github.com/lockd/lockd/locktest"
	"github.com/lockd/lockd/redlock"
)

// TestConformanceRedis runs the engine suite through the SDK and the HTTP
// API over the Redlock engine on three real Redis nodes. Its mutual
// exclusion test is smaller than the suite's default (8 workers, 250
// increments each): waiters poll, and 16 of them over HTTP under the race
// detector on two cores take minutes; the engine's own suite (redlock)
// runs the full size in-process.
func TestConformanceRedis(t *testing.T) {
	nodes := testenv.StartRedis(t, 3)
	locktest.Run(t, locktest.Config{
		Workers:    8,
		Increments: 250,
		New: func(t *testing.T) lockd.Engine {
			eng, err := redlock.New(testenv.Addrs(nodes), redlock.WithRetryDelay(time.Millisecond, 5*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			// With an admin key: the admin routes (list, force-release)
			// answer only to one.
			h, err := httpapi.ParseKeyHash(httpapi.HashToken("suite"))
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(httpapi.New(eng, httpapi.WithLogger(slog.New(slog.DiscardHandler)),
				httpapi.WithKeys([]httpapi.Key{{Name: "suite", Hash: h, Role: httpapi.RoleAdmin}})))
			t.Cleanup(func() {
				srv.Close()
				_ = eng.Close()
			})
			c, err := client.New(srv.URL, client.WithToken("suite"))
			if err != nil {
				t.Fatal(err)
			}
			return c.Engine()
		},
	})
}
