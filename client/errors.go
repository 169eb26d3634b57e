package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/wire"
)

// Why a lease's Done channel closed, besides lockd.ErrLost (a renewal was
// refused) and the context given to Acquire ending. Lease.Err returns them
// wrapped; compare with errors.Is.
var (
	// ErrReleased means the lease was released through its handle.
	ErrReleased = errors.New("client: lease released")
	// ErrExpired means the lease's time ran out on the local clock without
	// a successful renewal: a quorum may have let it go, and another
	// holder may have the lock. Lease.Err joins it with lockd.ErrLost and
	// the last renewal's error.
	ErrExpired = errors.New("client: lease expired")
	// ErrMaxHold means the lease was held for its MaxHold: keep-alive
	// stopped, and the lease runs out on its own unless released.
	ErrMaxHold = errors.New("client: maximum hold reached")
)

// transientError marks a failure that a retry may cure: the request did
// not reach the server or got no answer, or a proxy found no lockd.
type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

// transient reports whether err may go away on a retry: a transport
// failure, or a server that could not decide (a quorum, the store or the
// lockd itself was unavailable).
func transient(err error) bool {
	if err == nil {
		return false
	}
	var te *transientError
	return errors.As(err, &te) ||
		errors.Is(err, lockd.ErrQuorumUnavailable) ||
		errors.Is(err, lockd.ErrStoreUnavailable) ||
		errors.Is(err, lockd.ErrUnavailable) ||
		errors.Is(err, lockd.ErrRateLimited)
}

// apiError rebuilds the error a non-2xx answer carries, through the domain
// table (lockd.CodeError): lock_held becomes *lockd.NotObtainedError with
// the holder, invalid_argument *lockd.ArgumentError with the field,
// limit_conflict *lockd.LimitConflictError with the limit in force (the
// caller fills in Asked), lock_lost, not_held and quorum_unavailable their
// sentinels. A 502, 503 or 504 without lockd's error body (a proxy that
// found no lockd) wraps lockd.ErrUnavailable. Anything else (an internal error, a proxy's HTML
// page) wraps lockd.ErrInternal with the status and the server's message.
func apiError(status int, body []byte, name string) error {
	var e wire.ErrorBody
	if err := json.Unmarshal(body, &e); err != nil || e.Error == nil || e.Error.Code == "" {
		switch status {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			// A proxy in front of lockd that found no lockd to ask: this
			// endpoint is unavailable, another may not be.
			return &transientError{fmt.Errorf("client: HTTP %d: %q: %w", status, snippet(body), lockd.ErrUnavailable)}
		}
		return fmt.Errorf("client: HTTP %d: %q: %w", status, snippet(body), lockd.ErrInternal)
	}
	d := e.Error
	switch d.Code {
	case lockd.CodeLockHeld:
		noe := &lockd.NotObtainedError{Name: name}
		if d.Holder != nil {
			noe.Holder = &lockd.Holder{Owner: d.Holder.Owner, ExpiresAt: d.Holder.ExpiresAt}
		}
		return noe
	case lockd.CodeLimitConflict:
		return &lockd.LimitConflictError{Name: name, Limit: d.Limit}
	case lockd.CodeInvalidArgument:
		if d.Field == "" {
			return fmt.Errorf("client: %s: %w", d.Message, lockd.ErrInvalidArgument)
		}
		return &lockd.ArgumentError{Field: d.Field, Reason: strings.TrimPrefix(d.Message, d.Field+": ")}
	}
	sentinel := lockd.CodeError(d.Code)
	switch {
	case d.Code == lockd.CodeInternal:
		return fmt.Errorf("client: HTTP %d: %w", status, lockd.ErrInternal)
	case errors.Is(sentinel, lockd.ErrInternal):
		// A code this SDK does not know: a route the server lacks, say.
		return fmt.Errorf("client: HTTP %d %s: %s: %w", status, d.Code, d.Message, lockd.ErrInternal)
	}
	return sentinel
}

// snippet returns the start of a body for an error message.
func snippet(b []byte) string {
	const n = 200
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
