package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/wire"
)

// semaphore returns the {name} path value, validated, and the engine's
// semaphores: ErrNotConfigured (501) when the engine serves none.
func (s *Server) semaphore(r *http.Request) (string, lockd.Semaphores, error) {
	name, err := lockName(r)
	if err != nil {
		return "", nil, err
	}
	sem, err := lockd.AsSemaphores(s.engine)
	return name, sem, err
}

// limitOf reads a permit's required limit.
func limitOf(limit *int64) (int, error) {
	if limit == nil {
		return 0, &lockd.ArgumentError{Field: "limit", Reason: "is required"}
	}
	if *limit < 1 || *limit > lockd.MaxLimit {
		return 0, lockd.ValidateLimit(0)
	}
	return int(*limit), nil
}

// handleAcquirePermit serves POST /v1/semaphores/{name}/acquire: the
// options of a lock's acquire and a limit, answered with a permit lease
// and the limit.
func (s *Server) handleAcquirePermit(w http.ResponseWriter, r *http.Request) error {
	name, sem, err := s.semaphore(r)
	if err != nil {
		return err
	}
	var req wire.PermitRequest
	if err := s.decode(w, r, &req, true); err != nil {
		return err
	}
	limit, err := limitOf(req.Limit)
	if err != nil {
		return err
	}
	opts, err := s.acquireOptions(w, req.AcquireRequest())
	if err != nil {
		return err
	}
	return s.waitParked(w, r, opts.Wait, func(ctx context.Context) (any, error) {
		lease, err := sem.AcquirePermit(ctx, name, limit, opts)
		if err != nil {
			return nil, err
		}
		return wire.Permit{Lease: wire.FromLease(lease), Limit: limit}, nil
	})
}

// handleExtendPermit serves POST /v1/semaphores/{name}/extend, like a
// lock's extend.
func (s *Server) handleExtendPermit(w http.ResponseWriter, r *http.Request) error {
	name, sem, err := s.semaphore(r)
	if err != nil {
		return err
	}
	return s.extendWith(w, r, name, sem.ExtendPermit)
}

// extendWith serves an extend route for name: the body's lease and
// ttl_ms (see extendTTL) go to extend, and the lease it answers goes back.
func (s *Server) extendWith(w http.ResponseWriter, r *http.Request, name string, extend func(ctx context.Context, name, leaseID string, ttl time.Duration) (lockd.Lease, error)) error {
	var req wire.ExtendRequest
	if err := s.decode(w, r, &req, true); err != nil {
		return err
	}
	ttl, err := extendTTL(req.TTLMs)
	if err != nil {
		return err
	}
	lease, err := extend(r.Context(), name, req.Lease, ttl)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, wire.FromLease(lease))
}

// handleReleasePermit serves POST /v1/semaphores/{name}/release, like a
// lock's release: a lease that holds no permit answers 200 with released
// false and reason not_held.
func (s *Server) handleReleasePermit(w http.ResponseWriter, r *http.Request) error {
	name, sem, err := s.semaphore(r)
	if err != nil {
		return err
	}
	var req wire.PermitReleaseRequest
	if err := s.decode(w, r, &req, true); err != nil {
		return err
	}
	rel, err := sem.ReleasePermit(r.Context(), name, req.Lease)
	return writeReleased(w, rel, err)
}

// handleInspectSemaphore serves GET /v1/semaphores/{name}.
func (s *Server) handleInspectSemaphore(w http.ResponseWriter, r *http.Request) error {
	name, sem, err := s.semaphore(r)
	if err != nil {
		return err
	}
	info, err := sem.InspectSemaphore(r.Context(), name)
	if err != nil {
		return err
	}
	info.Name = name
	return writeJSON(w, http.StatusOK, wire.FromSemaphoreInfo(info))
}
