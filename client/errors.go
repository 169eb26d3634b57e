package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/wire"
)

// apiError rebuilds the error a non-2xx answer carries, through the domain
// table (lockd.CodeError): lock_held becomes *lockd.NotObtainedError with
// the holder, invalid_argument *lockd.ArgumentError with the field,
// lock_lost, not_held and quorum_unavailable their sentinels. Anything else
// (an internal error, a proxy's HTML page) wraps lockd.ErrInternal with the
// status and the server's message.
func apiError(status int, body []byte, name string) error {
	var e wire.ErrorBody
	if err := json.Unmarshal(body, &e); err != nil || e.Error == nil || e.Error.Code == "" {
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
