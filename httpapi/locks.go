package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

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
// the options, the caller's lease among them; the wait ends early when the
// client goes away, because the engine honours the request's context.
func (s *Server) handleAcquire(w http.ResponseWriter, r *http.Request) error {
	name, err := lockName(r)
	if err != nil {
		return err
	}
	var req wire.AcquireRequest
	if err := s.decode(w, r, &req, true); err != nil {
		return err
	}
	opts, err := s.acquireOptions(w, req)
	if err != nil {
		return err
	}
	return s.waitParked(w, r, opts.Wait, func(ctx context.Context) (any, error) {
		lease, err := s.engine.Acquire(ctx, name, opts)
		if err != nil {
			return nil, err
		}
		return wire.FromLease(lease), nil
	})
}

// acquireOptions turns an acquire's body into options, and gives the
// response's write deadline room for the wait.
func (s *Server) acquireOptions(w http.ResponseWriter, req wire.AcquireRequest) (lockd.AcquireOptions, error) {
	ms, explicit := ttlOrDefault(req.TTLMs)
	if explicit && ms == 0 {
		return lockd.AcquireOptions{}, lockd.ValidateTTL(0)
	}
	meta := req.Metadata
	if string(meta) == "null" {
		meta = nil
	}
	wait := millis(req.WaitMs)
	s.allowWait(w, wait)
	return lockd.AcquireOptions{
		Owner: req.Owner, Lease: req.Lease, TTL: millis(ms), Wait: wait, Metadata: meta, Fair: req.Fair,
		Reentrant: req.Reentrant, Hold: req.Hold, Mode: req.Mode,
	}, nil
}

// extendTTL reads an extend's optional ttl_ms: 0 (keep the lease's TTL)
// when omitted; an explicit 0 is out of range.
func extendTTL(ms *int64) (time.Duration, error) {
	if ms == nil {
		return 0, nil
	}
	if *ms == 0 {
		return 0, lockd.ValidateTTL(0)
	}
	return millis(*ms), nil
}

// handleExtend serves POST /v1/locks/{name}/extend. Without ttl_ms the
// lease keeps its current TTL; an explicit 0 is out of range.
func (s *Server) handleExtend(w http.ResponseWriter, r *http.Request) error {
	name, err := lockName(r)
	if err != nil {
		return err
	}
	return s.extendWith(w, r, name, s.engine.Extend)
}

// handleRelease serves POST /v1/locks/{name}/release. A lease that no
// longer holds the lock is not an error: releasing is idempotent, and the
// answer says released false with reason not_held. A release answers with
// the owner and fence of the lease it deleted, and for a reentrant lease the
// holds it has left. With a hold, it releases that hold only.
func (s *Server) handleRelease(w http.ResponseWriter, r *http.Request) error {
	name, err := lockName(r)
	if err != nil {
		return err
	}
	var req wire.ReleaseRequest
	if err := s.decode(w, r, &req, true); err != nil {
		return err
	}
	var rel lockd.Released
	if req.Hold != "" {
		rel, err = s.engine.ReleaseHold(r.Context(), name, req.Lease, req.Hold)
	} else {
		rel, err = s.engine.Release(r.Context(), name, req.Lease)
	}
	return writeReleased(w, rel, err)
}

// writeReleased answers a release (of a lock, a hold, a permit, or a
// forced one): 200 with what it freed, 200 released false for not_held,
// and err's own answer otherwise.
func writeReleased(w http.ResponseWriter, rel lockd.Released, err error) error {
	switch {
	case errors.Is(err, lockd.ErrNotHeld):
		return writeJSON(w, http.StatusOK, wire.Released{Released: false, Reason: lockd.CodeNotHeld})
	case err != nil:
		return err
	}
	return writeJSON(w, http.StatusOK, wire.Released{Released: true, Owner: rel.Owner, Fence: rel.Fence, Holds: rel.Holds})
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
