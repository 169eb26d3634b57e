package httpapi

import (
	"errors"
	"net/http"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/wire"
)

// lockName returns the {name} path value, validated first so that a bad
// name wins over a bad body.
func lockName(r *http.Request) (string, error) {
	name := r.PathValue("name")
	return name, lockd.ValidateName(name)
}

// ttlOrDefault reads an optional ttl_ms: lockd.DefaultTTL when omitted.
func ttlOrDefault(ms *int64) (int64, bool) {
	if ms == nil {
		return lockd.DefaultTTL.Milliseconds(), false
	}
	return *ms, true
}

// handleAcquire serves POST /v1/locks/{name}/acquire. The engine validates
// the options; the wait ends early when the client goes away, because the
// engine honours the request's context.
func (s *Server) handleAcquire(w http.ResponseWriter, r *http.Request) error {
	name, err := lockName(r)
	if err != nil {
		return err
	}
	var req wire.AcquireRequest
	if err := s.decode(w, r, &req, true); err != nil {
		return err
	}
	ms, explicit := ttlOrDefault(req.TTLMs)
	if explicit && ms == 0 {
		return lockd.ValidateTTL(0)
	}
	meta := req.Metadata
	if string(meta) == "null" {
		meta = nil
	}
	lease, err := s.engine.Acquire(r.Context(), name, lockd.AcquireOptions{Owner: req.Owner, TTL: millis(ms), Wait: millis(req.WaitMs), Metadata: meta})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, wire.FromLease(lease))
}

// handleExtend serves POST /v1/locks/{name}/extend.
func (s *Server) handleExtend(w http.ResponseWriter, r *http.Request) error {
	name, err := lockName(r)
	if err != nil {
		return err
	}
	var req wire.ExtendRequest
	if err := s.decode(w, r, &req, true); err != nil {
		return err
	}
	ms, _ := ttlOrDefault(req.TTLMs)
	lease, err := s.engine.Extend(r.Context(), name, req.Lease, millis(ms))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, wire.FromLease(lease))
}

// handleRelease serves POST /v1/locks/{name}/release. A lease that no
// longer holds the lock is not an error: releasing is idempotent, and the
// answer says released false with reason not_held.
func (s *Server) handleRelease(w http.ResponseWriter, r *http.Request) error {
	name, err := lockName(r)
	if err != nil {
		return err
	}
	var req wire.ReleaseRequest
	if err := s.decode(w, r, &req, true); err != nil {
		return err
	}
	err = s.engine.Release(r.Context(), name, req.Lease)
	switch {
	case errors.Is(err, lockd.ErrNotHeld):
		return writeJSON(w, http.StatusOK, wire.Released{Released: false, Reason: lockd.CodeNotHeld})
	case err != nil:
		return err
	}
	return writeJSON(w, http.StatusOK, wire.Released{Released: true})
}

// handleInspect serves GET /v1/locks/{name}.
func (s *Server) handleInspect(w http.ResponseWriter, r *http.Request) error {
	name, err := lockName(r)
	if err != nil {
		return err
	}
	info, err := s.engine.Inspect(r.Context(), name)
	if err != nil {
		return err
	}
	info.Name = name
	body := wire.FromLockInfo(info)
	return writeJSON(w, http.StatusOK, body)
}
