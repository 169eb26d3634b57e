package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/wire"
)

// The routes in this file keep the shape and the exact messages of lockd's
// first prototype, for the clients written against it: flat bodies, errors
// as {"error": "..."}, conflicts as {"message": "..."}, durations in
// seconds. Unknown fields are tolerated, as the prototype did.

// Messages of the prototype, kept word for word.
const (
	msgHealthy         = "lockd is healthy"
	msgNotReady        = "lockd is not ready"
	msgGranted         = "Locks granted"
	msgReleased        = "Locks Released"
	msgAlreadyReleased = "Lock already released"
	msgMissingFields   = "Missing required fields"
	msgBadDuration     = "duration must be a number of seconds between 0.1 and 3600"
	legacyMinDurationS = 0.1
	legacyMaxDurationS = 3600.0
)

// legacyFields renames engine fields to the prototype's names in messages.
var legacyFields = map[string]string{
	"name":   "resource",
	"owner":  "identity",
	"ttl_ms": "duration",
	"lease":  "key",
}

// legacyError is a failure with a prototype message, sent as it is.
type legacyError struct {
	code    string
	message string
}

func (e *legacyError) Error() string { return e.message }

// legacy adapts h to http.Handler, sending errors in the prototype's
// {"error": "..."} shape with the status from the same table as v1.
func (s *Server) legacy(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeLegacyError(w, r, err)
		}
	})
}

func (s *Server) writeLegacyError(w http.ResponseWriter, r *http.Request, err error) {
	var le *legacyError
	if errors.As(err, &le) {
		_ = writeJSON(w, statuses[le.code], legacyErrorJSON{Error: le.message})
		return
	}
	status, d := s.describe(r, err)
	retryAfter(w, err)
	msg := d.Message
	var ae *lockd.ArgumentError
	if errors.As(err, &ae) {
		field := ae.Field
		if f, ok := legacyFields[field]; ok {
			field = f
		}
		msg = field + " " + ae.Reason
	}
	_ = writeJSON(w, status, legacyErrorJSON{Error: msg})
}

type legacyErrorJSON struct {
	Error string `json:"error"`
}

type legacyMessageJSON struct {
	Message string `json:"message"`
}

// legacyRequest is the body of both prototype lock routes. Fields are kept
// raw so that absence, null and wrong types each get their own answer.
type legacyRequest struct {
	ID       json.RawMessage `json:"id"`
	Duration json.RawMessage `json:"duration"`
	Resource json.RawMessage `json:"resource"`
	Identity json.RawMessage `json:"identity"`
	Key      json.RawMessage `json:"key"`
}

type grantedJSON struct {
	Message   string          `json:"message"`
	ID        json.RawMessage `json:"id,omitempty"`
	Duration  json.RawMessage `json:"duration"`
	Resource  string          `json:"resource"`
	Identity  string          `json:"identity"`
	Lease     string          `json:"lease"`
	Fence     int64           `json:"fence"`
	ExpiresAt string          `json:"expires_at"`
}

type releasedJSON struct {
	Message  string          `json:"message"`
	ID       json.RawMessage `json:"id,omitempty"`
	Resource string          `json:"resource"`
	Identity string          `json:"identity"`
	// Fence is the released holder's fence, when something was released.
	Fence int64 `json:"fence,omitempty"`
}

// handleRoot serves GET /, the prototype's health check: 200 while
// GET /readyz would say ready, 503 with the reason otherwise.
func (s *Server) handleRoot(w http.ResponseWriter, r *http.Request) error {
	ready := s.readiness(r.Context())
	if !ready.Ready {
		return writeJSON(w, http.StatusServiceUnavailable, map[string]string{"message": notReadyMessage(ready), "mode": s.mode, "version": s.version})
	}
	return writeJSON(w, http.StatusOK, map[string]string{"message": msgHealthy, "mode": s.mode, "version": s.version})
}

// notReadyMessage says which of the nodes and checks GET /readyz lists are
// failing.
func notReadyMessage(ready wire.Ready) string {
	var down []string
	for _, n := range ready.Nodes {
		if !n.OK {
			down = append(down, n.Addr)
		}
	}
	msg := fmt.Sprintf("%s: %d of %d nodes and checks failing", msgNotReady, len(down), len(ready.Nodes))
	if len(down) > 0 {
		msg += " (" + strings.Join(down, ", ") + ")"
	}
	return msg + "; see /readyz"
}

// target returns the request's resource (the lock name) and identity (the
// owner), or the *lockd.ArgumentError of the first that is not a string.
func (req legacyRequest) target() (resource, identity string, err error) {
	if resource, err = legacyString("resource", req.Resource); err != nil {
		return "", "", err
	}
	if identity, err = legacyString("identity", req.Identity); err != nil {
		return "", "", err
	}
	return resource, identity, nil
}

// id returns the request's id to echo, nil when it was left out, or the
// *lockd.ArgumentError when it is neither a string nor a number.
func (req legacyRequest) id() (json.RawMessage, error) {
	if absent(req.ID) {
		return nil, nil
	}
	if err := checkID(req.ID); err != nil {
		return nil, err
	}
	return req.ID, nil
}

// handleGetLock serves POST /get-lock: acquire resource for identity for
// duration seconds, without waiting. The lock may then be released by
// identity through /release-lock, as the prototype's clients do. It never
// returns or refreshes a lease that already holds the lock, even to the
// same identity: whoever holds it, the answer is 409.
func (s *Server) handleGetLock(w http.ResponseWriter, r *http.Request) error {
	var req legacyRequest
	if err := s.decode(w, r, &req, false); err != nil {
		return err
	}
	if absent(req.Duration) || absent(req.Resource) || absent(req.Identity) {
		return &legacyError{code: lockd.CodeInvalidArgument, message: msgMissingFields}
	}
	id, err := req.id()
	if err != nil {
		return err
	}
	ttl, err := parseDuration(req.Duration)
	if err != nil {
		return err
	}
	resource, identity, err := req.target()
	if err != nil {
		return err
	}
	if err := s.checkNames(r.Context(), resource); err != nil {
		return err
	}
	// No lease: the engine makes a fresh one, so an identity that already
	// holds the lock is refused like anyone else.
	lease, err := s.engine.Acquire(r.Context(), resource, lockd.AcquireOptions{Owner: identity, TTL: ttl, ReleaseByOwner: true})
	var noe *lockd.NotObtainedError
	switch {
	case errors.As(err, &noe) && r.Context().Err() == nil:
		msg := "Lock already exists on resource " + resource
		if noe.Holder != nil {
			msg += " by " + noe.Holder.Owner
		}
		return writeJSON(w, http.StatusConflict, legacyMessageJSON{Message: msg})
	case err != nil:
		return err
	}
	return writeJSON(w, http.StatusOK, grantedJSON{
		Message:   msgGranted,
		ID:        id,
		Duration:  req.Duration,
		Resource:  resource,
		Identity:  identity,
		Lease:     lease.ID,
		Fence:     lease.Fence,
		ExpiresAt: formatTime(lease.ExpiresAt),
	})
}

// handleReleaseLock serves POST /release-lock. A key that is a lease value
// releases the lock it holds, whoever took it. Otherwise (no key, or a key
// that is not a lease, as the prototype's clients send) identity releases
// the lock only if it holds it and took it through /get-lock: a lock taken
// through the v1 API needs its lease, and the answer is then 409 "held by".
func (s *Server) handleReleaseLock(w http.ResponseWriter, r *http.Request) error {
	var req legacyRequest
	if err := s.decode(w, r, &req, false); err != nil {
		return err
	}
	if absent(req.Resource) || absent(req.Identity) {
		return &legacyError{code: lockd.CodeInvalidArgument, message: msgMissingFields}
	}
	id, err := req.id()
	if err != nil {
		return err
	}
	resource, identity, err := req.target()
	if err != nil {
		return err
	}
	if err := lockd.ValidateName(resource); err != nil {
		return err
	}
	if err := lockd.ValidateOwner(identity); err != nil {
		return err
	}
	if err := s.checkNames(r.Context(), resource); err != nil {
		return err
	}
	answer := func(msg string, rel lockd.Released) error {
		return writeJSON(w, http.StatusOK, releasedJSON{Message: msg, ID: id, Resource: resource, Identity: identity, Fence: rel.Fence})
	}
	// A key that is not a string cannot be a lease: like any other value
	// that is not one, it is ignored.
	var key string
	_ = json.Unmarshal(req.Key, &key)
	if lockd.IsLeaseID(key) {
		rel, err := s.engine.Release(r.Context(), resource, key)
		switch {
		case err == nil:
			return answer(msgReleased, rel)
		case !errors.Is(err, lockd.ErrNotHeld):
			return err
		}
	}
	rel, err := s.engine.ReleaseByOwner(r.Context(), resource, identity)
	switch {
	case err == nil:
		return answer(msgReleased, rel)
	case !errors.Is(err, lockd.ErrNotHeld):
		return err
	}
	info, err := s.engine.Inspect(r.Context(), resource)
	switch {
	case err != nil:
		return err
	case info.Held:
		return writeJSON(w, http.StatusConflict, legacyMessageJSON{Message: fmt.Sprintf("Lock on %s is held by %s", resource, info.Owner)})
	}
	return answer(msgAlreadyReleased, lockd.Released{})
}

// absent reports whether a field was left out or set to null.
func absent(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// checkID accepts a JSON string or number, echoed back as given.
func checkID(raw json.RawMessage) error {
	if c := raw[0]; c == '"' || c == '-' || c >= '0' && c <= '9' {
		return nil
	}
	return &lockd.ArgumentError{Field: "id", Reason: "must be a string or a number"}
}

// legacyString reads a field that must be a JSON string.
func legacyString(field string, raw json.RawMessage) (string, error) {
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", &lockd.ArgumentError{Field: field, Reason: "must be a string"}
	}
	return v, nil
}

// parseDuration reads the prototype's duration: seconds as a JSON number
// or a numeric string, fractions allowed, in [0.1, 3600]. The TTL is
// rounded to the millisecond, the resolution of the v1 API.
func parseDuration(raw json.RawMessage) (time.Duration, error) {
	text := string(raw)
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &text); err != nil {
			return 0, &legacyError{code: lockd.CodeInvalidArgument, message: msgBadDuration}
		}
		text = strings.TrimSpace(text)
	}
	secs, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsNaN(secs) || secs < legacyMinDurationS || secs > legacyMaxDurationS {
		return 0, &legacyError{code: lockd.CodeInvalidArgument, message: msgBadDuration}
	}
	return time.Duration(math.Round(secs*1000)) * time.Millisecond, nil
}
