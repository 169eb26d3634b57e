package lockd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// MaxLimit is the largest semaphore limit accepted: how many permits of
// one semaphore may be live at once.
const MaxLimit = 1024

// ErrLimitConflict means an acquire asked for a permit of a semaphore
// under a limit other than the one its live permits were granted under.
// The limit of a semaphore is fixed while any of its permits lives; it
// takes a new value only once every permit is released or expired.
// Retrying does not help until then. Use errors.As with
// *LimitConflictError to learn the limit in force.
var ErrLimitConflict = errors.New("lockd: limit conflict")

// LimitConflictError is the error of an acquire whose limit differs from
// that of the semaphore's live permits. It matches ErrLimitConflict with
// errors.Is.
type LimitConflictError struct {
	// Name is the semaphore's name.
	Name string
	// Limit is the limit in force, or 0 when the engine could not tell.
	Limit int
	// Asked is the limit the acquire asked for.
	Asked int
}

// Error returns a message naming the semaphore and both limits.
func (e *LimitConflictError) Error() string {
	if e.Limit == 0 {
		return fmt.Sprintf("lockd: limit conflict: semaphore %q has live permits under another limit than %d", e.Name, e.Asked)
	}
	return fmt.Sprintf("lockd: limit conflict: semaphore %q has live permits under limit %d, not %d", e.Name, e.Limit, e.Asked)
}

// Is reports whether target is ErrLimitConflict.
func (e *LimitConflictError) Is(target error) bool { return target == ErrLimitConflict }

// Permit is one live permit of a semaphore, as InspectSemaphore reports it:
// never with its lease value.
type Permit struct {
	// Owner is the holder's owner label. It is public: it proves nothing.
	Owner string
	// Fence is the permit's fencing token.
	Fence int64
	// ExpiresAt is when the permit runs out unless extended.
	ExpiresAt time.Time
	// Metadata is the holder's metadata, or nil.
	Metadata json.RawMessage
}

// SemaphoreInfo is what InspectSemaphore reports about a semaphore.
type SemaphoreInfo struct {
	// Name is the semaphore's name.
	Name string
	// Limit is the limit of the live permits, or 0 when none is live.
	Limit int
	// Permits are the live permits, soonest to expire first.
	Permits []Permit
}

// Semaphores is what an engine that serves counting semaphores
// implements besides Engine. A semaphore of limit N grants at most N live
// permits at once; each permit is a lease like a lock's, with its own
// owner, lease value, fence and TTL. Semaphores have names of their own: a
// semaphore and a lock of the same name are unrelated.
//
// AcquirePermit grants a permit of the semaphore name under limit to
// opts.Owner, waiting up to opts.Wait while all limit permits are taken.
// opts are those of Engine.Acquire (Fair included; ReleaseByOwner,
// Reentrant and a read Mode are refused with an *ArgumentError). An acquire with a lease that already
// holds a permit is a retry: it refreshes the TTL and returns the same
// permit and fence. It returns *NotObtainedError (ErrNotObtained) when
// every permit is taken past the wait, *LimitConflictError
// (ErrLimitConflict) when live permits were granted under another limit,
// ErrQuorumUnavailable when too few nodes answered, and *ArgumentError for
// bad input (limit out of [1, MaxLimit]: field "limit"). When the context
// ends a wait, the last attempt's error is joined with ctx.Err().
//
// ExtendPermit, ReleasePermit and InspectSemaphore are Engine's Extend,
// Release and Inspect for permits, with the same errors: ErrLost,
// ErrNotHeld, ErrQuorumUnavailable, *ArgumentError.
type Semaphores interface {
	AcquirePermit(ctx context.Context, name string, limit int, opts AcquireOptions) (Lease, error)
	ExtendPermit(ctx context.Context, name, leaseID string, ttl time.Duration) (Lease, error)
	ReleasePermit(ctx context.Context, name, leaseID string) (Released, error)
	InspectSemaphore(ctx context.Context, name string) (SemaphoreInfo, error)
}

// ValidateLimit returns an *ArgumentError (field "limit") unless limit is
// in [1, MaxLimit].
func ValidateLimit(limit int) error {
	if limit < 1 || limit > MaxLimit {
		return &ArgumentError{Field: "limit", Reason: fmt.Sprintf("must be in [1, %d]", MaxLimit)}
	}
	return nil
}

// PreparePermit is Prepare for AcquirePermit: it validates limit as well,
// and refuses ReleaseByOwner (field "release_by_owner"), Reentrant or Hold
// (field "reentrant") and a read Mode (field "mode"), which permits do not
// offer. Engines call it
// first thing in AcquirePermit.
func (o AcquireOptions) PreparePermit(name string, limit int) (AcquireOptions, error) {
	if err := ValidateName(name); err != nil {
		return o, err
	}
	if err := ValidateLimit(limit); err != nil {
		return o, err
	}
	if o.ReleaseByOwner {
		return o, &ArgumentError{Field: "release_by_owner", Reason: "is not offered for semaphore permits"}
	}
	if o.Reentrant || o.Hold != "" {
		return o, &ArgumentError{Field: "reentrant", Reason: "is not offered for semaphore permits"}
	}
	if o.Mode != "" && o.Mode != ModeWrite {
		return o, &ArgumentError{Field: "mode", Reason: "is not offered for semaphore permits"}
	}
	return o.Prepare(name)
}

// SemaphoreLine is the key under which an engine lines up the acquires
// that wait for a permit of the semaphore name, and announces the release
// of its permits: it holds a '/', which no lock name can, so it never
// meets a lock's line.
func SemaphoreLine(name string) string { return "semaphore/" + name }

// AsSemaphores returns e's semaphores, and ErrNotConfigured (wrapped) when
// e does not serve them.
func AsSemaphores(e Engine) (Semaphores, error) {
	if s, ok := e.(Semaphores); ok {
		return s, nil
	}
	return nil, fmt.Errorf("%w: this engine does not serve semaphores", ErrNotConfigured)
}

// The journaled engine passes semaphores through (Passthrough). Permits are
// not journaled: the journal keeps the history of locks, by lock name, and
// a semaphore's name is not a lock's.
var _ Semaphores = (*journaled)(nil)
