package httpapi

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/wire"
)

// WithLister lists held locks (GET /v1/locks) from l, the store, instead
// of the engine. The default is the engine, when it can list.
func WithLister(l lockd.Lister) Option {
	return func(s *Server) { s.lister = l }
}

// handleList serves GET /v1/locks?prefix=&limit=&cursor=, an admin route:
// over Redis it scans every node. A key limited to prefixes must ask for a
// prefix inside one of them.
func (s *Server) handleList(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	prefix, after := q.Get("prefix"), q.Get("cursor")
	limit := 0
	if q.Has("limit") {
		n, err := strconv.Atoi(q.Get("limit"))
		if err != nil || n < 1 || n > lockd.MaxListLimit {
			return &lockd.ArgumentError{Field: "limit", Reason: fmt.Sprintf("must be an integer in [1, %d]", lockd.MaxListLimit)}
		}
		limit = n
	}
	if _, err := lockd.ValidateList(prefix, limit, after); err != nil {
		return err
	}
	if err := allowNames(r.Context(), prefix); err != nil {
		return err
	}
	l := s.lister
	if l == nil {
		var err error
		if l, err = lockd.AsLister(s.engine); err != nil {
			return err
		}
	}
	page, err := l.ListLocks(r.Context(), prefix, limit, after)
	if err != nil {
		return err
	}
	body := wire.LockList{Locks: make([]wire.Lock, 0, len(page.Locks)), Next: page.Next}
	for _, info := range page.Locks {
		body.Locks = append(body.Locks, wire.FromLockInfo(info))
	}
	return writeJSON(w, http.StatusOK, body)
}

// handleForceRelease serves POST /v1/locks/{name}/force-release: an admin
// frees a lock without its lease, saying why (journaled, and logged at
// warn). A free lock answers released false, reason not_held.
func (s *Server) handleForceRelease(w http.ResponseWriter, r *http.Request) error {
	name, err := lockName(r)
	if err != nil {
		return err
	}
	var req wire.ForceReleaseRequest
	if err := s.decode(w, r, &req, true); err != nil {
		return err
	}
	if err := lockd.ValidateReason(req.Reason); err != nil {
		return err
	}
	f, err := lockd.AsForceReleaser(s.engine)
	if err != nil {
		return err
	}
	rel, err := f.ForceRelease(r.Context(), name, req.Reason)
	return writeReleased(w, rel, err)
}
