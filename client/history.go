package client

import (
	"context"
	"fmt"
	"strconv"

	"github.com/lockd/lockd"
)

// History returns up to limit journal events of the lock name, newest
// first; limit 0 means lockd.DefaultHistoryLimit. Events carry no lease
// values.
//
// It returns *lockd.ArgumentError for a bad name or a limit outside
// [0, lockd.MaxHistoryLimit], lockd.ErrNotConfigured when the server runs
// without a store, lockd.ErrStoreUnavailable when the store could not be
// read, an error wrapping lockd.ErrInternal for a server failure, and a
// wrapped transport error when the server could not be reached. Transient
// failures are retried first (see WithRetry). A NewLocal client reads the
// journal given WithJournal, and returns lockd.ErrNotConfigured without.
func (c *Client) History(ctx context.Context, name string, limit int) ([]lockd.Event, error) {
	if err := lockd.ValidateName(name); err != nil {
		return nil, err
	}
	if limit < 0 || limit > lockd.MaxHistoryLimit {
		return nil, &lockd.ArgumentError{Field: "limit", Reason: "must be in [0, " + strconv.Itoa(lockd.MaxHistoryLimit) + "]"}
	}
	var events []lockd.Event
	err := c.retry(ctx, 0, func(int) error {
		var err error
		switch {
		case c.remote != nil:
			events, err = c.remote.history(ctx, name, limit)
		case c.journal != nil:
			if limit == 0 {
				limit = lockd.DefaultHistoryLimit
			}
			events, err = c.journal.History(ctx, name, limit)
		default:
			err = fmt.Errorf("client: history needs a journal (WithJournal): %w", lockd.ErrNotConfigured)
		}
		return err
	})
	return events, err
}
