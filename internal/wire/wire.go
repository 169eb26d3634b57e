// Package wire holds the JSON shapes of lockd's v1 HTTP API, shared by the
// server (httpapi) and the Go SDK (client) so the two cannot drift apart.
// Durations are whole milliseconds; times are RFC 3339 in UTC and left out
// when zero.
package wire

import (
	"encoding/json"
	"time"

	"github.com/lockd/lockd"
)

// AcquireRequest is the body of POST /v1/locks/{name}/acquire.
type AcquireRequest struct {
	Owner string `json:"owner"`
	// Lease is the caller's own lease value; a retry with it is idempotent.
	// Empty means the server makes one.
	Lease string `json:"lease,omitempty"`
	// TTLMs is a pointer to tell an omitted ttl_ms (the default) from an
	// explicit 0, which is out of range.
	TTLMs    *int64          `json:"ttl_ms,omitempty"`
	WaitMs   int64           `json:"wait_ms,omitempty"`
	Metadata json.RawMessage `json:"metadata,omitempty"`
	// Fair takes the acquire's place in line instead of trying on arrival
	// (lockd.AcquireOptions.Fair).
	Fair bool `json:"fair,omitempty"`
	// Reentrant and Hold are lockd.AcquireOptions.Reentrant and Hold.
	Reentrant bool   `json:"reentrant,omitempty"`
	Hold      string `json:"hold,omitempty"`
	// Mode is lockd.AcquireOptions.Mode: "read", or "write" (the default).
	Mode string `json:"mode,omitempty"`
}

// ExtendRequest is the body of POST /v1/locks/{name}/extend.
type ExtendRequest struct {
	Lease string `json:"lease"`
	// TTLMs is nil to keep the lease's current TTL.
	TTLMs *int64 `json:"ttl_ms,omitempty"`
}

// ReleaseRequest is the body of POST /v1/locks/{name}/release.
type ReleaseRequest struct {
	Lease string `json:"lease"`
	// Hold, when set, releases that hold of a reentrant lease
	// (lockd.Engine.ReleaseHold).
	Hold string `json:"hold,omitempty"`
}

// Released answers a release: when released, the owner and fence of the
// lease it deleted; when not, the reason.
type Released struct {
	Released bool   `json:"released"`
	Reason   string `json:"reason,omitempty"`
	Owner    string `json:"owner,omitempty"`
	Fence    int64  `json:"fence,omitempty"`
	// Holds is how many holds a reentrant lease has left; omitted when 0.
	Holds int `json:"holds,omitempty"`
}

// Lease answers an acquire or an extend.
type Lease struct {
	Name       string          `json:"name"`
	Owner      string          `json:"owner"`
	Lease      string          `json:"lease"`
	Fence      int64           `json:"fence"`
	TTLMs      int64           `json:"ttl_ms"`
	AcquiredAt time.Time       `json:"acquired_at,omitzero"`
	ExpiresAt  time.Time       `json:"expires_at,omitzero"`
	Metadata   json.RawMessage `json:"metadata,omitempty"`
	// WaitedMs is lockd.Lease.Waited in whole milliseconds, rounded down.
	WaitedMs int64 `json:"waited_ms,omitempty"`
	// Hold and Holds are lockd.Lease.Hold and Holds, for a reentrant
	// lease.
	Hold  string `json:"hold,omitempty"`
	Holds int    `json:"holds,omitempty"`
	// Mode is "read" for a read lease; omitted for a write lease.
	Mode string `json:"mode,omitempty"`
}

// FromLease returns the wire form of l.
func FromLease(l lockd.Lease) Lease {
	return Lease{
		Name:       l.Name,
		Owner:      l.Owner,
		Lease:      l.ID,
		Fence:      l.Fence,
		TTLMs:      l.TTL.Milliseconds(),
		AcquiredAt: UTC(l.AcquiredAt),
		ExpiresAt:  UTC(l.ExpiresAt),
		Metadata:   l.Metadata,
		WaitedMs:   l.Waited.Milliseconds(),
		Hold:       l.Hold,
		Holds:      l.Holds,
		Mode:       l.Mode,
	}
}

// Domain returns the lease l describes.
func (l Lease) Domain() lockd.Lease {
	return lockd.Lease{
		Name:       l.Name,
		Owner:      l.Owner,
		ID:         l.Lease,
		Fence:      l.Fence,
		TTL:        time.Duration(l.TTLMs) * time.Millisecond,
		AcquiredAt: l.AcquiredAt,
		ExpiresAt:  l.ExpiresAt,
		Metadata:   l.Metadata,
		Waited:     time.Duration(l.WaitedMs) * time.Millisecond,
		Hold:       l.Hold,
		Holds:      l.Holds,
		Mode:       l.Mode,
	}
}

// Lock answers GET /v1/locks/{name}. It has no lease field on purpose: the
// lease value proves ownership and goes only to its holder.
type Lock struct {
	Name      string          `json:"name"`
	Held      bool            `json:"held"`
	Owner     string          `json:"owner,omitempty"`
	Fence     int64           `json:"fence,omitempty"`
	ExpiresAt time.Time       `json:"expires_at,omitzero"`
	Metadata  json.RawMessage `json:"metadata,omitempty"`
	// Mode is "read" when readers hold the lock, and Readers how many;
	// both are omitted for a writer or a free lock.
	Mode    string `json:"mode,omitempty"`
	Readers int    `json:"readers,omitempty"`
}

// FromLockInfo returns the wire form of info, without its lease value.
func FromLockInfo(info lockd.LockInfo) Lock {
	l := Lock{Name: info.Name, Held: info.Held}
	if info.Held {
		l.Owner, l.Fence, l.ExpiresAt, l.Metadata = info.Owner, info.Fence, UTC(info.ExpiresAt), info.Metadata
		l.Mode, l.Readers = info.Mode, info.Readers
	}
	return l
}

// Domain returns the lock info l describes.
func (l Lock) Domain() lockd.LockInfo {
	info := lockd.LockInfo{Name: l.Name, Held: l.Held}
	if l.Held {
		info.Owner, info.Fence, info.ExpiresAt, info.Metadata = l.Owner, l.Fence, l.ExpiresAt, l.Metadata
		info.Mode, info.Readers = l.Mode, l.Readers
	}
	return info
}

// ErrorBody is every v1 error answer.
type ErrorBody struct {
	Error *Error `json:"error"`
}

// Error is the error object: a code from the one table, a message, and for
// invalid_argument the field, for lock_held the holder when known, for
// limit_conflict the limit in force.
type Error struct {
	Code    string  `json:"code"`
	Message string  `json:"message"`
	Field   string  `json:"field,omitempty"`
	Holder  *Holder `json:"holder,omitempty"`
	// Limit is the limit in force, for limit_conflict.
	Limit int `json:"limit,omitempty"`
}

// Holder is who holds a lock, in a lock_held error.
type Holder struct {
	Owner     string    `json:"owner"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// Ready answers GET /readyz.
type Ready struct {
	Ready bool   `json:"ready"`
	Nodes []Node `json:"nodes"`
}

// Node is one backing node (or other dependency) in Ready.
type Node struct {
	Addr      string `json:"addr"`
	OK        bool   `json:"ok"`
	LatencyMs int64  `json:"latency_ms"`
	Error     string `json:"error,omitempty"`
	// State is up, down, rejoining or refused (lockd.NodeUp, ...); omitted
	// for an engine that does not say.
	State string `json:"state,omitempty"`
}

// History answers GET /v1/locks/{name}/history.
type History struct {
	Events []Event `json:"events"`
}

// Event is one journal entry. Lease values are left out, as everywhere but
// in a grant.
type Event struct {
	Kind      string    `json:"kind"`
	Name      string    `json:"name"`
	Owner     string    `json:"owner,omitempty"`
	Fence     int64     `json:"fence,omitempty"`
	Instance  string    `json:"instance,omitempty"`
	At        time.Time `json:"at"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	Holder    string    `json:"holder,omitempty"`
	Reason    string    `json:"reason,omitempty"`
}

// FromEvent returns the wire form of ev.
func FromEvent(ev lockd.Event) Event {
	return Event{
		Kind:      string(ev.Kind),
		Name:      ev.Name,
		Owner:     ev.Owner,
		Fence:     ev.Fence,
		Instance:  ev.Instance,
		At:        UTC(ev.At),
		ExpiresAt: UTC(ev.ExpiresAt),
		Holder:    ev.Holder,
		Reason:    ev.Reason,
	}
}

// UTC returns t in UTC without its monotonic reading; the zero time stays
// zero.
func UTC(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Round(0)
}

// Domain returns the domain form of ev. LeaseID stays empty: the API never
// shows lease values in history.
func (ev Event) Domain() lockd.Event {
	return lockd.Event{
		Kind:      lockd.EventKind(ev.Kind),
		Name:      ev.Name,
		Owner:     ev.Owner,
		Fence:     ev.Fence,
		Instance:  ev.Instance,
		At:        ev.At,
		ExpiresAt: ev.ExpiresAt,
		Holder:    ev.Holder,
		Reason:    ev.Reason,
	}
}

// AcquireManyRequest is the body of POST /v1/locks:acquire-many: the fields
// of an acquire, for every lock in Names at once.
type AcquireManyRequest struct {
	Names []string `json:"names"`
	AcquireRequest
}

// ReleaseManyRequest is the body of POST /v1/locks:release-many.
type ReleaseManyRequest struct {
	Names []string `json:"names"`
	Lease string   `json:"lease"`
}

// ExtendManyRequest is the body of POST /v1/locks:extend-many.
type ExtendManyRequest struct {
	ReleaseManyRequest
	// TTLMs is nil to keep each lease's current TTL.
	TTLMs *int64 `json:"ttl_ms,omitempty"`
}

// Many answers POST /v1/locks:acquire-many and /v1/locks:extend-many: the
// one lease, and each lock's grant in sorted name order.
type Many struct {
	Lease string  `json:"lease"`
	Locks []Lease `json:"locks"`
}

// ManyReleased answers POST /v1/locks:release-many: each lock's outcome,
// in sorted name order.
type ManyReleased struct {
	Locks []NamedReleased `json:"locks"`
}

// NamedReleased is one lock's outcome in a ManyReleased.
type NamedReleased struct {
	Name string `json:"name"`
	Released
}
