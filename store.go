package lockd

import (
	"context"
	"fmt"
	"os"
	"time"
)

// Limits of Journal.History, shared by the HTTP API and the store.
const (
	// DefaultHistoryLimit is how many events History returns when the
	// caller names no limit.
	DefaultHistoryLimit = 50
	// MaxHistoryLimit is the most events one History call returns.
	MaxHistoryLimit = 1000
)

// DefaultInstance returns the id a lockd process records in the journal
// when none is configured: "<hostname>-<pid>".
func DefaultInstance() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "lockd"
	}
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}

// FenceMinter mints durable fencing tokens. An engine given one calls it
// once per new grant, after a quorum agreed and before the grant is
// returned, and stores the result as the lease's fence.
//
// MintFence returns the next fence of lease.Name (strictly larger than any
// it returned before for that name) and records lease as the lock's current
// holder, in one atomic, durably acknowledged step. lease.Fence is zero on
// the way in. It returns ErrStoreUnavailable when the store cannot confirm
// the write; the engine then releases the grant and fails closed.
type FenceMinter interface {
	MintFence(ctx context.Context, lease Lease) (int64, error)
}

// EventKind says what happened to a lock.
type EventKind string

// Kinds of journal events.
const (
	// EventAcquired is a new grant, or a retried acquire with the lease
	// that holds the lock.
	EventAcquired EventKind = "acquired"
	// EventExtended is a successful extend.
	EventExtended EventKind = "extended"
	// EventReleased is a release that deleted the lease.
	EventReleased EventKind = "released"
	// EventExpired is an extend that found the lease gone (ErrLost).
	EventExpired EventKind = "expired"
	// EventLost is a release that found the lease no longer holding the
	// lock (ErrNotHeld): it had expired or been taken over before.
	EventLost EventKind = "lost"
	// EventDenied is an acquire that ended without the lock
	// (ErrNotObtained), once per acquire call, not per retry.
	EventDenied EventKind = "denied"
	// EventForceReleased is an operator freeing a lock without its lease
	// (ForceRelease); Owner and Fence are the holder's, Reason says why.
	EventForceReleased EventKind = "force_released"
)

// Event is one journal entry.
type Event struct {
	// Kind is what happened.
	Kind EventKind
	// Name is the lock's name.
	Name string
	// Owner is the owner that acted (for EventDenied, the one refused).
	// It is empty for EventExpired and EventLost: the engine only learns
	// that the lease is gone, not whose it was; the lease's earlier events
	// name its owner.
	Owner string
	// LeaseID is the lease acted on; empty for EventDenied and for an
	// EventReleased of a release by owner.
	LeaseID string
	// Fence is the lease's fence; zero when unknown (EventDenied,
	// EventExpired, EventLost).
	Fence int64
	// Instance identifies the lockd process that recorded the event.
	Instance string
	// At is when it happened.
	At time.Time
	// ExpiresAt is the lease's new expiry (EventAcquired, EventExtended).
	ExpiresAt time.Time
	// Holder is who held the lock, for EventDenied, when known.
	Holder string
	// Reason is the operator's reason, for EventForceReleased.
	Reason string
}

// Journal keeps the events of every lock.
//
// Record must never hold up the lock path: it queues the event and returns
// at once, and writes it later. An event it cannot queue (the queue is
// full) or cannot write in the end is never dropped silently: it is counted
// and logged.
//
// History returns up to limit events of the lock (1 to MaxHistoryLimit),
// newest first.
type Journal interface {
	Record(ctx context.Context, ev Event)
	History(ctx context.Context, name string, limit int) ([]Event, error)
}
