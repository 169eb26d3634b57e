package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/lockd/lockd"
)

type acquireRequest struct {
	Owner string `json:"owner"`
	// TTLMs is a pointer to tell an omitted ttl_ms (the default) from an
	// explicit 0, which the engine would also read as the default.
	TTLMs    *int64          `json:"ttl_ms"`
	WaitMs   int64           `json:"wait_ms"`
	Metadata json.RawMessage `json:"metadata"`
}

type extendRequest struct {
	Lease string `json:"lease"`
	TTLMs *int64 `json:"ttl_ms"`
}

type releaseRequest struct {
	Lease string `json:"lease"`
}

type leaseJSON struct {
	Name       string          `json:"name"`
	Owner      string          `json:"owner"`
	Lease      string          `json:"lease"`
	Fence      int64           `json:"fence"`
	TTLMs      int64           `json:"ttl_ms"`
	AcquiredAt string          `json:"acquired_at"`
	ExpiresAt  string          `json:"expires_at"`
	Metadata   json.RawMessage `json:"metadata,omitempty"`
}

type releaseJSON struct {
	Released bool   `json:"released"`
	Reason   string `json:"reason,omitempty"`
}

// lockJSON is what GET /v1/locks/{name} shows. It has no lease field on
// purpose: the lease value proves ownership and goes only to its holder.
type lockJSON struct {
	Name      string          `json:"name"`
	Held      bool            `json:"held"`
	Owner     string          `json:"owner,omitempty"`
	Fence     int64           `json:"fence,omitempty"`
	ExpiresAt string          `json:"expires_at,omitempty"`
	Metadata  json.RawMessage `json:"metadata,omitempty"`
}

func toLeaseJSON(l lockd.Lease) leaseJSON {
	return leaseJSON{
		Name:       l.Name,
		Owner:      l.Owner,
		Lease:      l.ID,
		Fence:      l.Fence,
		TTLMs:      l.TTL.Milliseconds(),
		AcquiredAt: formatTime(l.AcquiredAt),
		ExpiresAt:  formatTime(l.ExpiresAt),
		Metadata:   l.Metadata,
	}
}

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
	var req acquireRequest
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
	return writeJSON(w, http.StatusOK, toLeaseJSON(lease))
}

// handleExtend serves POST /v1/locks/{name}/extend.
func (s *Server) handleExtend(w http.ResponseWriter, r *http.Request) error {
	name, err := lockName(r)
	if err != nil {
		return err
	}
	var req extendRequest
	if err := s.decode(w, r, &req, true); err != nil {
		return err
	}
	ms, _ := ttlOrDefault(req.TTLMs)
	lease, err := s.engine.Extend(r.Context(), name, req.Lease, millis(ms))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toLeaseJSON(lease))
}

// handleRelease serves POST /v1/locks/{name}/release. A lease that no
// longer holds the lock is not an error: releasing is idempotent, and the
// answer says released false with reason not_held.
func (s *Server) handleRelease(w http.ResponseWriter, r *http.Request) error {
	name, err := lockName(r)
	if err != nil {
		return err
	}
	var req releaseRequest
	if err := s.decode(w, r, &req, true); err != nil {
		return err
	}
	err = s.engine.Release(r.Context(), name, req.Lease)
	switch {
	case errors.Is(err, lockd.ErrNotHeld):
		return writeJSON(w, http.StatusOK, releaseJSON{Released: false, Reason: lockd.CodeNotHeld})
	case err != nil:
		return err
	}
	return writeJSON(w, http.StatusOK, releaseJSON{Released: true})
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
	body := lockJSON{Name: name, Held: info.Held}
	if info.Held {
		body.Owner = info.Owner
		body.Fence = info.Fence
		body.ExpiresAt = formatTime(info.ExpiresAt)
		body.Metadata = info.Metadata
	}
	return writeJSON(w, http.StatusOK, body)
}
