// Package election is leader election over any lockd.Engine. The election
// named X is the lock named X: elections and locks share one namespace, as
// in etcd and Consul, so a lock and an election must not share a name.
//
// Campaigning is a waiting acquire: the leader is the lease's holder, and
// the lease's fencing token is the term, which grows with every new
// leader. A leader stays leader by extending its lease (the lock extend
// route over HTTP); it resigns by releasing it. Leader asks the engine who
// leads. A Hub does all three and tells observers of an election about
// every change it makes at once, and polls the engine for the changes it
// did not make (an expiry, another lockd's campaign).
//
// The package imports only lockd and the standard library.
package election

import (
	"context"
	"encoding/json"
	"time"

	"github.com/lockd/lockd"
)

// Leader is the state of an election at one moment.
type Leader struct {
	// Name is the election's name.
	Name string
	// Leading is false when nobody leads; the fields below are then
	// zero.
	Leading bool
	// Owner is the leader's owner label.
	Owner string
	// Term is the leader's term: the fencing token of its leadership
	// lease. It grows strictly with every new leader.
	Term int64
	// ExpiresAt is when the leadership runs out unless renewed, as of
	// this reading.
	ExpiresAt time.Time
	// Metadata is the JSON object the leader campaigned with, or nil.
	Metadata json.RawMessage
}

// FromLockInfo returns the election state that the lock info describes.
func FromLockInfo(name string, info lockd.LockInfo) Leader {
	if !info.Held {
		return Leader{Name: name}
	}
	return Leader{Name: name, Leading: true, Owner: info.Owner, Term: info.Fence, ExpiresAt: info.ExpiresAt, Metadata: info.Metadata}
}

// FromLease returns the election state right after lease was granted.
func FromLease(lease lockd.Lease) Leader {
	return Leader{Name: lease.Name, Leading: true, Owner: lease.Owner, Term: lease.Fence, ExpiresAt: lease.ExpiresAt, Metadata: lease.Metadata}
}

// Inspect reports who leads the election name on e. It returns
// *lockd.ArgumentError for a bad name and lockd.ErrQuorumUnavailable when
// the engine could not reach a quorum.
func Inspect(ctx context.Context, e lockd.Engine, name string) (Leader, error) {
	if err := lockd.ValidateName(name); err != nil {
		return Leader{}, err
	}
	info, err := e.Inspect(ctx, name)
	if err != nil {
		return Leader{}, err
	}
	return FromLockInfo(name, info), nil
}
