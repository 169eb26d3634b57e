package httpapi

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/wire"
)

// handleAcquireMany serves POST /v1/locks:acquire-many: every lock in
// names, or none, under one lease (lockd.AcquireMany).
func (s *Server) handleAcquireMany(w http.ResponseWriter, r *http.Request) error {
	var req wire.AcquireManyRequest
	if err := s.decode(w, r, &req, true); err != nil {
		return err
	}
	if err := s.checkNames(r.Context(), req.Names...); err != nil {
		return err
	}
	opts, err := s.acquireOptions(w, req.AcquireRequest)
	if err != nil {
		return err
	}
	return s.waitParked(w, r, opts.Wait, func(ctx context.Context) (any, error) {
		leases, err := lockd.AcquireMany(ctx, s.engine, req.Names, opts)
		if err != nil {
			return nil, err
		}
		return many(leases), nil
	})
}

// handleExtendMany serves POST /v1/locks:extend-many. Every lock is tried;
// when some fail, the answer is the error whose code ranks first in
// lockd.ErrorCode's table (quorum_unavailable before lock_lost), and
// repeating the request is safe.
func (s *Server) handleExtendMany(w http.ResponseWriter, r *http.Request) error {
	var req wire.ExtendManyRequest
	if err := s.decode(w, r, &req, true); err != nil {
		return err
	}
	if err := s.checkNames(r.Context(), req.Names...); err != nil {
		return err
	}
	ttl, err := extendTTL(req.TTLMs)
	if err != nil {
		return err
	}
	leases, err := lockd.ExtendMany(r.Context(), s.engine, req.Names, req.Lease, ttl)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, many(leases))
}

// handleReleaseMany serves POST /v1/locks:release-many: each lock's
// outcome, released or not held, as POST /v1/locks/{name}/release answers
// it. Any other failure (quorum_unavailable) ends it and is the answer;
// repeating the request is safe, since the locks already released answer
// not held.
func (s *Server) handleReleaseMany(w http.ResponseWriter, r *http.Request) error {
	var req wire.ReleaseManyRequest
	if err := s.decode(w, r, &req, true); err != nil {
		return err
	}
	if err := s.checkNames(r.Context(), req.Names...); err != nil {
		return err
	}
	if err := lockd.ValidateNames(req.Names); err != nil {
		return err
	}
	body := wire.ManyReleased{}
	for _, name := range slices.Sorted(slices.Values(req.Names)) {
		rel, err := s.engine.Release(r.Context(), name, req.Lease)
		switch {
		case errors.Is(err, lockd.ErrNotHeld):
			body.Locks = append(body.Locks, wire.NamedReleased{Name: name, Released: wire.Released{Reason: lockd.CodeNotHeld}})
		case err != nil:
			return err
		default:
			body.Locks = append(body.Locks, wire.NamedReleased{Name: name, Released: wire.Released{Released: true, Owner: rel.Owner, Fence: rel.Fence}})
		}
	}
	return writeJSON(w, http.StatusOK, body)
}

func many(leases []lockd.Lease) wire.Many {
	out := wire.Many{Locks: make([]wire.Lease, 0, len(leases))}
	for _, l := range leases {
		out.Lease = l.ID
		out.Locks = append(out.Locks, wire.FromLease(l))
	}
	return out
}
