package client

import (
	"context"
	"net/http"
	"strconv"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/wire"
)

// History returns up to limit journal events of the lock name, newest
// first; limit 0 means lockd.DefaultHistoryLimit. Events carry no lease
// values.
//
// It returns *lockd.ArgumentError for a bad name or a limit outside
// [0, lockd.MaxHistoryLimit], lockd.ErrNotConfigured when the server runs
// without a store, lockd.ErrStoreUnavailable when the store could not be
// read, an error wrapping lockd.ErrInternal for a server failure, and a
// wrapped transport error when the server could not be reached.
func (c *Client) History(ctx context.Context, name string, limit int) ([]lockd.Event, error) {
	if err := lockd.ValidateName(name); err != nil {
		return nil, err
	}
	if limit < 0 || limit > lockd.MaxHistoryLimit {
		return nil, &lockd.ArgumentError{Field: "limit", Reason: "must be in [0, " + strconv.Itoa(lockd.MaxHistoryLimit) + "]"}
	}
	p := pathFor(name, "history")
	if limit > 0 {
		p += "?limit=" + strconv.Itoa(limit)
	}
	var out wire.History
	if err := c.do(ctx, call{method: http.MethodGet, path: p, name: name, out: &out}); err != nil {
		return nil, err
	}
	events := make([]lockd.Event, 0, len(out.Events))
	for _, ev := range out.Events {
		events = append(events, ev.Domain())
	}
	return events, nil
}
