package client_test

import (
	"errors"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/client"
	"github.com/lockd/lockd/httpapi"
	"github.com/lockd/lockd/locktest"
	"github.com/lockd/lockd/memlock"
)

func TestHistory(t *testing.T) {
	ctx := ctxFor(t)
	t.Run("OK", func(t *testing.T) {
		j := &locktest.Journal{}
		eng := lockd.Journaled(memlock.New(), j, "test")
		srv := httptest.NewServer(httpapi.New(eng, httpapi.WithJournal(j), httpapi.WithLogger(slog.New(slog.DiscardHandler))))
		t.Cleanup(srv.Close)
		c := newClient(t, srv.URL)
		l, err := c.Acquire(ctx, "hist", client.Owner("alice"))
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
		evs, err := c.History(ctx, "hist", 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 2 || evs[0].Kind != lockd.EventReleased || evs[1].Kind != lockd.EventAcquired {
			t.Fatalf("History = %+v, want released then acquired", evs)
		}
		if evs[1].Owner != "alice" || evs[1].Fence != l.Fence() || evs[1].LeaseID != "" {
			t.Errorf("acquired event = %+v, want owner alice, fence %d, no lease", evs[1], l.Fence())
		}
		evs, err = c.History(ctx, "hist", 1)
		if err != nil || len(evs) != 1 {
			t.Errorf("History limit 1 = %d events, %v; want 1", len(evs), err)
		}
	})
	t.Run("ErrNotConfigured", func(t *testing.T) {
		c, _ := serve(t)
		if _, err := c.History(ctx, "hist", 0); !errors.Is(err, lockd.ErrNotConfigured) {
			t.Errorf("History without a store: %v, want ErrNotConfigured", err)
		}
	})
	t.Run("ErrInvalidArgument", func(t *testing.T) {
		c, _ := serve(t)
		var ae *lockd.ArgumentError
		if _, err := c.History(ctx, "hist", lockd.MaxHistoryLimit+1); !errors.As(err, &ae) || ae.Field != "limit" {
			t.Errorf("History over the limit: %v, want ArgumentError on limit", err)
		}
	})
}
