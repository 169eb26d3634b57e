package lockctl

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/lockd/lockd"
)

// exitError is an error whose exit status and one-line message a command
// already decided.
type exitError struct {
	code int
	msg  string
	err  error // the cause, or nil
}

func (e *exitError) Error() string { return e.msg }

func (e *exitError) Unwrap() error { return e.err }

// usagef returns an error that exits ExitUsage with a formatted message.
func usagef(format string, args ...any) error {
	return &exitError{code: ExitUsage, msg: fmt.Sprintf(format, args...)}
}

// runError marks an error returned by a command's body. Errors without it
// come from cobra itself (an unknown command or flag, a bad flag value, a
// wrong number of arguments) and are usage errors.
type runError struct{ err error }

func (e *runError) Error() string { return e.err.Error() }

func (e *runError) Unwrap() error { return e.err }

// flagOf names the command-line input behind a field of a
// *lockd.ArgumentError, so that its message speaks of what the user typed.
var flagOf = map[string]string{
	"name":     "NAME",
	"lease":    "LEASE",
	"owner":    "--owner",
	"ttl_ms":   "--ttl",
	"wait_ms":  "--wait",
	"metadata": "--metadata",
	"limit":    "--limit",
	"reason":   "--reason",
	"prefix":   "--prefix",
	"cursor":   "--cursor",
}

// explain returns the exit status and the one-line message for err, the
// error a command ended with; ctx is the context the command ran under.
func (g *globals) explain(ctx context.Context, err error) (int, string) {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code, ee.msg
	}
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return ExitInterrupted, "interrupted"
	}
	var re *runError
	if !errors.As(err, &re) {
		return ExitUsage, err.Error()
	}
	err = re.err
	var (
		ae  *lockd.ArgumentError
		noe *lockd.NotObtainedError
		ue  *url.Error
	)
	switch {
	case errors.As(err, &ae):
		in, ok := flagOf[ae.Field]
		if !ok {
			in = ae.Field
		}
		return ExitUsage, fmt.Sprintf("invalid %s: %s", in, ae.Reason)
	case errors.As(err, &noe):
		return ExitNotObtained, g.notObtained(noe)
	case errors.Is(err, lockd.ErrNotObtained):
		return ExitNotObtained, "lock not obtained: " + err.Error()
	case errors.Is(err, lockd.ErrQuorumUnavailable):
		return ExitUnavailable, "lockd could not reach a majority of its Redis nodes (quorum unavailable); nothing was decided, try again"
	case errors.Is(err, lockd.ErrUnavailable):
		return ExitUnavailable, fmt.Sprintf("lockd at %s is shutting down; nothing was decided, try again", g.url)
	case errors.Is(err, lockd.ErrStoreUnavailable):
		return ExitUnavailable, "lockd's store (MongoDB) is unavailable; nothing was granted, try again"
	case errors.Is(err, context.DeadlineExceeded):
		return ExitUnavailable, fmt.Sprintf("lockd at %s did not answer in time (--timeout %s)", g.url, g.timeout)
	case errors.As(err, &ue):
		return ExitUnavailable, fmt.Sprintf("cannot reach lockd at %s: %v", g.url, ue.Err)
	case errors.Is(err, lockd.ErrUnauthenticated):
		return ExitNoPerm, fmt.Sprintf("lockd at %s wants an API key: give it with --token or LOCKD_TOKEN (%v)", g.url, err)
	case errors.Is(err, lockd.ErrPermissionDenied):
		return ExitNoPerm, "lockd refused: " + err.Error()
	case errors.Is(err, lockd.ErrNotConfigured):
		return ExitFailure, "lockd was not started with what this needs: " + err.Error()
	case errors.Is(err, lockd.ErrInternal):
		return ExitFailure, "lockd failed: " + err.Error()
	}
	return ExitFailure, err.Error()
}

// notObtained says who holds the lock, as far as lockd told.
func (g *globals) notObtained(e *lockd.NotObtainedError) string {
	switch {
	case e.Holder == nil:
		return fmt.Sprintf("lock %q is held by another lease", e.Name)
	case e.Holder.ExpiresAt.IsZero():
		return fmt.Sprintf("lock %q is held by owner %q", e.Name, e.Holder.Owner)
	}
	return fmt.Sprintf("lock %q is held by owner %q until %s", e.Name, e.Holder.Owner, g.when(e.Holder.ExpiresAt))
}
