package httpapi

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/wire"
)

// History limits of GET /v1/locks/{name}/history?limit=N.
const (
	// DefaultHistoryLimit is the number of events returned when no limit
	// is given.
	DefaultHistoryLimit = 50
	// MaxHistoryLimit is the largest limit accepted.
	MaxHistoryLimit = 1000
)

// handleHistory serves GET /v1/locks/{name}/history: the lock's journal,
// newest first. Lease values are left out, as everywhere but in a grant.
func (s *Server) handleHistory(w http.ResponseWriter, r *http.Request) error {
	name, err := lockName(r)
	if err != nil {
		return err
	}
	limit := DefaultHistoryLimit
	if q := r.URL.Query(); q.Has("limit") {
		n, err := strconv.Atoi(q.Get("limit"))
		if err != nil || n < 1 || n > MaxHistoryLimit {
			return &lockd.ArgumentError{Field: "limit", Reason: fmt.Sprintf("must be an integer in [1, %d]", MaxHistoryLimit)}
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
