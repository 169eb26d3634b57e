package httpapi

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/lockd/lockd"
)

// History limits of GET /v1/locks/{name}/history?limit=N.
const (
	// DefaultHistoryLimit is the number of events returned when no limit
	// is given.
	DefaultHistoryLimit = 50
	// MaxHistoryLimit is the largest limit accepted.
	MaxHistoryLimit = 1000
)

type eventJSON struct {
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Owner     string `json:"owner,omitempty"`
	Fence     int64  `json:"fence,omitempty"`
	Instance  string `json:"instance,omitempty"`
	At        string `json:"at"`
	ExpiresAt string `json:"expires_at,omitempty"`
	Holder    string `json:"holder,omitempty"`
}

type historyJSON struct {
	Events []eventJSON `json:"events"`
}

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
	body := historyJSON{Events: make([]eventJSON, 0, len(events))}
	for _, ev := range events {
		body.Events = append(body.Events, eventJSON{
			Kind:      string(ev.Kind),
			Name:      ev.Name,
			Owner:     ev.Owner,
			Fence:     ev.Fence,
			Instance:  ev.Instance,
			At:        formatTime(ev.At),
			ExpiresAt: formatTime(ev.ExpiresAt),
			Holder:    ev.Holder,
		})
	}
	return writeJSON(w, http.StatusOK, body)
}
