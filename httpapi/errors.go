package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/wire"
)

// Wire codes the HTTP layer adds to lockd's own: routing failures, which no
// engine produces.
const (
	codeNotFound         = "not_found"
	codeMethodNotAllowed = "method_not_allowed"
)

// statuses is the one table between wire codes and HTTP statuses. A code
// missing here (lockd.CodeNotHeld, which release reports in a 200 body) is
// served as internal.
var statuses = map[string]int{
	lockd.CodeInvalidArgument:   http.StatusBadRequest,
	lockd.CodeLockHeld:          http.StatusConflict,
	lockd.CodeLockLost:          http.StatusConflict,
	lockd.CodeLimitConflict:     http.StatusConflict,
	lockd.CodeQuorumUnavailable: http.StatusServiceUnavailable,
	lockd.CodeStoreUnavailable:  http.StatusServiceUnavailable,
	lockd.CodeNotConfigured:     http.StatusNotImplemented,
	lockd.CodeUnavailable:       http.StatusServiceUnavailable,
	lockd.CodeUnauthenticated:   http.StatusUnauthorized,
	lockd.CodePermissionDenied:  http.StatusForbidden,
	lockd.CodeRateLimited:       http.StatusTooManyRequests,
	lockd.CodeInternal:          http.StatusInternalServerError,
	codeNotFound:                http.StatusNotFound,
	codeMethodNotAllowed:        http.StatusMethodNotAllowed,
}

// internalMessage is all a client learns about an internal error; the
// details go to the log.
const internalMessage = "lockd: internal error"

// routeError is a failure of routing rather than of the request's content.
type routeError struct {
	code    string
	message string
}

func (e *routeError) Error() string { return e.message }

// shuttingDown returns err joined with lockd.ErrUnavailable when the
// request's context was cancelled with lockd.ErrUnavailable as its cause
// (the server is shutting down, see http.Server.BaseContext) and err is what
// that cancellation produced: the engine joined the context's error, or
// could not say more than internal. A waiting acquire ended that way did
// not lose to a holder; the client should retry on another lockd.
func shuttingDown(r *http.Request, err error) error {
	ctx := r.Context()
	if ctx.Err() == nil || !errors.Is(context.Cause(ctx), lockd.ErrUnavailable) {
		return err
	}
	if errors.Is(err, ctx.Err()) || lockd.ErrorCode(err) == lockd.CodeInternal {
		return errors.Join(lockd.ErrUnavailable, err)
	}
	return err
}

// describe turns err into the status and error object a client sees, and
// logs what the client must not see. Messages are built from domain values
// only, never from an engine's own text, which may name backend nodes.
func (s *Server) describe(r *http.Request, err error) (int, wire.Error) {
	var re *routeError
	if errors.As(err, &re) {
		return statuses[re.code], wire.Error{Code: re.code, Message: re.message}
	}
	err = shuttingDown(r, err)
	code := lockd.ErrorCode(err)
	status, ok := statuses[code]
	if !ok {
		code, status = lockd.CodeInternal, http.StatusInternalServerError
	}
	d := wire.Error{Code: code, Message: lockd.CodeError(code).Error()}
	switch code {
	case lockd.CodeInvalidArgument:
		var ae *lockd.ArgumentError
		if errors.As(err, &ae) {
			d.Field = ae.Field
			d.Message = ae.Field + ": " + ae.Reason
		}
	case lockd.CodeLockHeld:
		var noe *lockd.NotObtainedError
		if errors.As(err, &noe) {
			d.Message = noe.Error()
			if noe.Holder != nil {
				d.Holder = &wire.Holder{Owner: noe.Holder.Owner, ExpiresAt: wire.UTC(noe.Holder.ExpiresAt)}
			}
		}
	case lockd.CodeLimitConflict:
		var lce *lockd.LimitConflictError
		if errors.As(err, &lce) {
			d.Message, d.Limit = lce.Error(), lce.Limit
		}
	case lockd.CodeQuorumUnavailable, lockd.CodeStoreUnavailable:
		// A backend outage fails every request alike: one line a second
		// says so, with how many were left out.
		if suppressed, ok := s.warnings.allow(code); ok {
			s.log.WarnContext(r.Context(), d.Message, requestAttrs(r), slog.Any("err", err), slog.Int("suppressed", suppressed))
		}
	case lockd.CodeInternal:
		d.Message = internalMessage
		level := slog.LevelError
		if r.Context().Err() != nil {
			// The client went away; the engine merely noticed.
			level = slog.LevelInfo
		}
		s.log.Log(r.Context(), level, "internal error", requestAttrs(r), slog.Any("err", err))
	}
	return status, d
}

// writeError sends err as a v1 error response.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, d := s.describe(r, err)
	retryAfter(w, err)
	// An error body always marshals, so writeJSON cannot fail here.
	_ = writeJSON(w, status, wire.ErrorBody{Error: &d})
}

// retryAfter sets Retry-After on the answer to a request refused for a
// limit.
func retryAfter(w http.ResponseWriter, err error) {
	var le *limitError
	if errors.As(err, &le) {
		w.Header().Set("Retry-After", strconv.Itoa(max(int(le.after.Round(time.Second)/time.Second), 1)))
	}
}

func requestAttrs(r *http.Request) slog.Attr {
	return slog.Group("request", slog.String("method", r.Method), slog.String("path", r.URL.Path))
}
