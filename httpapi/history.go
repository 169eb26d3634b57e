package httpapi

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/wire"
)

// handleHistory serves GET /v1/locks/{name}/history: the lock's journal,
// newest first. Lease values are left out, as everywhere but in a grant.
func (s *Server) handleHistory(w http.ResponseWriter, r *http.Request) error {
	name, err := lockName(r)
	if err != nil {
		return err
	}
	limit := lockd.DefaultHistoryLimit
	if q := r.URL.Query(); q.Has("limit") {
		n, err := strconv.Atoi(q.Get("limit"))
		if err != nil || n < 1 || n > lockd.MaxHistoryLimit {
			return &lockd.ArgumentError{Field: "limit", Reason: fmt.Sprintf("must be an integer in [1, %d]", lockd.MaxHistoryLimit)}
		}
		limit = n
	}
	if s.journal == nil {
		return fmt.Errorf("%w: history needs a store (start lockd with --mongo)", lockd.ErrNotConfigured)
	}
	events, err := s.journal.History(r.Context(), name, limit)
	if err != nil {
		return err
	}
	body := wire.History{Events: make([]wire.Event, 0, len(events))}
	for _, ev := range events {
		body.Events = append(body.Events, wire.FromEvent(ev))
	}
	return writeJSON(w, http.StatusOK, body)
}
