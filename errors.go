package lockd

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors. Compare with errors.Is; engines and the SDK wrap them
// with detail (NotObtainedError, ArgumentError, NodeError) or join them
// with the cause (errors.Join(ErrNotObtained, ctx.Err())).
var (
	// ErrNotObtained means the lock is held by someone else and the wait
	// (if any) ended before it was freed. Use errors.As with
	// *NotObtainedError to learn the holder.
	ErrNotObtained = errors.New("lockd: not obtained")
	// ErrLost means a lease can no longer be confirmed: it expired, was
	// released, or a quorum of nodes no longer holds it. The holder must
	// stop acting on the protected resource.
	ErrLost = errors.New("lockd: lock lost")
	// ErrNotHeld means a release named a lease that no longer holds the
	// lock (already released, expired, or another owner holds it now).
	// Nothing was deleted.
	ErrNotHeld = errors.New("lockd: not held")
	// ErrQuorumUnavailable means fewer than a quorum of nodes answered, so
	// the engine could decide nothing. Nothing was granted.
	ErrQuorumUnavailable = errors.New("lockd: quorum unavailable")
	// ErrInvalidArgument means a name, owner, duration or metadata is out
	// of range. Use errors.As with *ArgumentError to learn the field.
	ErrInvalidArgument = errors.New("lockd: invalid argument")
	// ErrStoreUnavailable means the durable store (MongoDB) could not
	// confirm a write that must be durable, such as minting a fence. lockd
	// fails closed: nothing was granted.
	ErrStoreUnavailable = errors.New("lockd: store unavailable")
	// ErrNotConfigured means the feature asked for needs something this
	// lockd was not started with (history needs a store).
	ErrNotConfigured = errors.New("lockd: not configured")
	// ErrUnavailable means this lockd could not serve the request, though
	// another might: it is shutting down. Nothing was granted; retry
	// elsewhere. The SDK also returns it for a 502, 503 or 504 from a proxy
	// in front of lockd; after a 504 the request may have been served, which
	// a retry with the same lease makes harmless.
	ErrUnavailable = errors.New("lockd: unavailable")
	// ErrUnauthenticated means lockd asks for an API key and the request
	// had none, or one it does not know.
	ErrUnauthenticated = errors.New("lockd: unauthenticated")
	// ErrPermissionDenied means the request's API key may not do this: its
	// role is too low (read, write, admin), or the name is outside its
	// prefixes. Nothing was done.
	ErrPermissionDenied = errors.New("lockd: permission denied")
	// ErrRateLimited means lockd refused the request for one of its limits
	// (waiters, request rate, new names per minute); nothing was done.
	// Retry after the answer's Retry-After.
	ErrRateLimited = errors.New("lockd: rate limited")
	// ErrInternal is what the SDK returns for a server error it cannot
	// map to any other value.
	ErrInternal = errors.New("lockd: internal error")
)

// Holder describes who holds a lock, as far as the engine could tell.
type Holder struct {
	// Owner is the holder's owner string.
	Owner string
	// ExpiresAt is when the holder's lease runs out unless extended.
	// It is the zero time when unknown.
	ExpiresAt time.Time
}

// NotObtainedError is returned when a lock is held by someone else. It
// matches ErrNotObtained with errors.Is. Holder is nil when the engine could
// not tell who holds the lock.
type NotObtainedError struct {
	Name   string
	Holder *Holder
}

// Error returns a message naming the lock and, when known, its holder.
func (e *NotObtainedError) Error() string {
	if e.Holder == nil {
		return fmt.Sprintf("lockd: not obtained: %q is held", e.Name)
	}
	return fmt.Sprintf("lockd: not obtained: %q is held by %q", e.Name, e.Holder.Owner)
}

// Is reports whether target is ErrNotObtained.
func (e *NotObtainedError) Is(target error) bool { return target == ErrNotObtained }

// ArgumentError is returned for an input out of range. It matches
// ErrInvalidArgument with errors.Is.
type ArgumentError struct {
	// Field is the name of the input, as in the HTTP API ("ttl_ms").
	Field string
	// Reason says what is wrong with it.
	Reason string
}

// Error returns "lockd: invalid argument: <field>: <reason>".
func (e *ArgumentError) Error() string {
	return fmt.Sprintf("lockd: invalid argument: %s: %s", e.Field, e.Reason)
}

// Is reports whether target is ErrInvalidArgument.
func (e *ArgumentError) Is(target error) bool { return target == ErrInvalidArgument }

// NodeError is the failure of one node of a multi-node engine. It unwraps
// to the cause (a timeout, a refused connection, a script error).
type NodeError struct {
	// Node is the node's address.
	Node string
	// Err is the cause.
	Err error
}

// Error returns "node <addr>: <cause>".
func (e *NodeError) Error() string { return fmt.Sprintf("node %s: %v", e.Node, e.Err) }

// Unwrap returns the cause.
func (e *NodeError) Unwrap() error { return e.Err }

// Error codes carried by the HTTP API in {"error": {"code": ...}}.
const (
	CodeInvalidArgument   = "invalid_argument"
	CodeLockHeld          = "lock_held"
	CodeLockLost          = "lock_lost"
	CodeNotHeld           = "not_held"
	CodeLimitConflict     = "limit_conflict"
	CodeQuorumUnavailable = "quorum_unavailable"
	CodeStoreUnavailable  = "store_unavailable"
	CodeNotConfigured     = "not_configured"
	CodeUnavailable       = "unavailable"
	CodeUnauthenticated   = "unauthenticated"
	CodePermissionDenied  = "permission_denied"
	CodeRateLimited       = "rate_limited"
	CodeInternal          = "internal"
)

// codes is the one table between error values and wire codes. Order
// matters: the first entry that matches an error wins.
var codes = []struct {
	code string
	err  error
}{
	{CodeInvalidArgument, ErrInvalidArgument},
	{CodeQuorumUnavailable, ErrQuorumUnavailable},
	{CodeStoreUnavailable, ErrStoreUnavailable},
	{CodeNotConfigured, ErrNotConfigured},
	{CodeUnavailable, ErrUnavailable},
	{CodeUnauthenticated, ErrUnauthenticated},
	{CodePermissionDenied, ErrPermissionDenied},
	{CodeRateLimited, ErrRateLimited},
	{CodeLimitConflict, ErrLimitConflict},
	{CodeLockHeld, ErrNotObtained},
	{CodeLockLost, ErrLost},
	{CodeNotHeld, ErrNotHeld},
}

// ErrorCode returns the wire code for err: one of the Code constants.
// Errors that match no sentinel are CodeInternal.
func ErrorCode(err error) string {
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return CodeInternal
}

// CodeError returns the sentinel error for a wire code, and ErrInternal for
// a code it does not know.
func CodeError(code string) error {
	for _, c := range codes {
		if c.code == code {
			return c.err
		}
	}
	return ErrInternal
}
