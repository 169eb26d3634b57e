package client

import (
	"context"
	"encoding/json"
	"sync"
	"time"
)

// Lease is a handle on a granted lock. Name, Owner, ID and Fence never
// change; Extend updates TTL and ExpiresAt. It is safe for concurrent use,
// but concurrent Extends race: the handle keeps the answer that arrives
// last.
type Lease struct {
	c        *Client
	name     string
	owner    string
	id       string
	fence    int64
	metadata json.RawMessage

	mu        sync.Mutex
	ttl       time.Duration
	expiresAt time.Time
}

// Name returns the lock's name.
func (l *Lease) Name() string { return l.name }

// Owner returns the holder's label.
func (l *Lease) Owner() string { return l.owner }

// ID returns the lease value, which proves ownership to Extend and
// Release. Treat it as a secret.
func (l *Lease) ID() string { return l.id }

// Fence returns the fencing token: pass it to the protected resource,
// which should refuse writes carrying a smaller one.
func (l *Lease) Fence() int64 { return l.fence }

// Metadata returns a copy of the JSON object given at acquire time, or
// nil.
func (l *Lease) Metadata() json.RawMessage {
	if l.metadata == nil {
		return nil
	}
	return append(json.RawMessage(nil), l.metadata...)
}

// TTL returns the time-to-live of the last acquire or extend.
func (l *Lease) TTL() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ttl
}

// ExpiresAt returns when the lease runs out unless extended, as the server
// reported it. Past it, assume someone else may hold the lock.
func (l *Lease) ExpiresAt() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.expiresAt
}

// Extend pushes the lease's expiry to now+ttl, with ttl in
// [lockd.MinTTL, lockd.MaxTTL] sent in whole milliseconds (0 keeps the
// lease's current TTL), and updates the handle.
//
// It returns lockd.ErrLost when the lease no longer holds the lock: stop
// acting on the protected resource. It returns lockd.ErrQuorumUnavailable
// when the server's engine could not tell (the lease may hold until the
// old ExpiresAt), *lockd.ArgumentError for a bad ttl, an error wrapping
// lockd.ErrInternal for a server failure, and a wrapped transport error
// when the server could not be reached. On error the handle is unchanged.
func (l *Lease) Extend(ctx context.Context, ttl time.Duration) error {
	nl, err := l.c.extend(ctx, l.name, l.id, ttl)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ttl = nl.TTL
	l.expiresAt = nl.ExpiresAt
	return nil
}

// Release frees the lock. It returns nil when it was released and
// lockd.ErrNotHeld when the lease no longer held it (released before,
// expired, or someone else's now), in which case nothing was deleted;
// releasing twice is safe. It returns lockd.ErrQuorumUnavailable, an error
// wrapping lockd.ErrInternal, or a wrapped transport error when the server
// could not release it; the lease then runs out at ExpiresAt.
func (l *Lease) Release(ctx context.Context) error {
	_, err := l.c.release(ctx, l.name, l.id)
	return err
}
