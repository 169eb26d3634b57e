package lockd

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits and defaults shared by every engine, the HTTP API and the SDK.
const (
	// DefaultTTL is the lease time-to-live when none is given.
	DefaultTTL = 10 * time.Second
	// MinTTL is the shortest lease time-to-live accepted.
	MinTTL = 100 * time.Millisecond
	// MaxTTL is the longest lease time-to-live accepted.
	MaxTTL = time.Hour
	// MaxWait is the longest an acquire may wait for a lock to be freed.
	MaxWait = 5 * time.Minute
	// MaxNameLen is the longest lock name, in bytes.
	MaxNameLen = 200
	// MaxOwnerLen is the longest owner string, in bytes.
	MaxOwnerLen = 128
	// MaxMetadataLen is the largest metadata object, in bytes of compact JSON.
	MaxMetadataLen = 4096
)

// Lease is a granted lock. It is a plain value: engines return a fresh one
// from every Acquire and Extend, and it is safe to copy and to read from
// several goroutines.
type Lease struct {
	// Name is the lock's name.
	Name string
	// Owner is who holds it.
	Owner string
	// ID is the lease value: a random 128-bit hex string that proves
	// ownership to Extend and Release. Treat it as a secret.
	ID string
	// Fence is the fencing token: it grows strictly with every grant of
	// this lock, so a resource can refuse writes that carry an older one.
	Fence int64
	// TTL is the time-to-live asked for.
	TTL time.Duration
	// AcquiredAt is when the acquire (or extend) that produced this lease
	// started.
	AcquiredAt time.Time
	// ExpiresAt is the end of validity: AcquiredAt + TTL, less the time the
	// engine spent and a clock-drift allowance. Past it, the holder must
	// assume someone else may hold the lock.
	ExpiresAt time.Time
	// Metadata is the JSON object given at acquire time, or nil.
	Metadata json.RawMessage
	// Hold is the hold this acquire took or renewed, for a reentrant lease
	// (AcquireOptions.Reentrant); empty otherwise. Engine.ReleaseHold
	// releases exactly that hold.
	Hold string
	// Holds is how many holds the lease has after the call, for a
	// reentrant lease; 0 for a lease granted without Reentrant.
	Holds int
	// Mode is ModeRead for a read lease, and empty for a write (plain)
	// lease.
	Mode string
	// Waited is how long Acquire waited for the lock: from its start to the
	// start of the attempt that granted the lease, on the engine's
	// monotonic clock. It is zero for a grant at the first attempt and for
	// an extend. A caller in another process adds it to the time it sent
	// the request (never to the engine's wall clock) to learn the earliest
	// moment the TTL can have started.
	Waited time.Duration
}

// LockInfo is what Inspect reports about a lock.
type LockInfo struct {
	// Name is the lock's name.
	Name string
	// Held reports whether a quorum agrees that the lock is held. The
	// fields below are set only when it is.
	Held bool
	// Owner is the holder's owner label. It is public: it proves nothing.
	Owner string
	// Fence is the holder's fencing token.
	Fence int64
	// ExpiresAt is when the holder's lease runs out unless extended.
	ExpiresAt time.Time
	// Metadata is the holder's metadata, or nil.
	Metadata json.RawMessage
	// Mode is ModeRead when readers hold the lock, and empty when a writer
	// (a plain lease) holds it or it is free. With readers, Owner, Fence,
	// ExpiresAt and Metadata are those of the reader whose lease runs out
	// last: the lock is free at ExpiresAt unless a reader extends.
	Mode string
	// Readers is how many read leases hold the lock.
	Readers int
}

// AcquireOptions are the inputs of Engine.Acquire. The zero value of a field
// takes its default.
type AcquireOptions struct {
	// Owner labels the holder; required, 1-128 bytes of printable UTF-8.
	// It is public (Inspect and every NotObtainedError show it) and proves
	// nothing: an acquire by the owner that holds the lock, without its
	// lease, is refused like anyone else's.
	Owner string
	// Lease is the caller's own lease value: 32 to 64 lowercase hex digits
	// (at least 128 bits of randomness; NewLeaseID makes one). An acquire
	// with the lease that already holds the lock is a retry: it refreshes
	// the TTL and returns the same grant, with the same fence. When empty,
	// the engine makes a fresh lease, and the acquire cannot be retried
	// safely. Keep it secret.
	Lease string
	// ReleaseByOwner lets the owner label alone release this lock, through
	// Engine.ReleaseByOwner. Only the prototype's /get-lock route sets it,
	// because its clients release by identity; a lock taken without it can
	// be released only with its lease.
	ReleaseByOwner bool
	// TTL is the lease time-to-live, in [MinTTL, MaxTTL]. The default is
	// DefaultTTL.
	TTL time.Duration
	// Wait is how long to keep trying while someone else holds the lock,
	// in [0, MaxWait]. The default, 0, tries once.
	Wait time.Duration
	// Fair makes the acquire take its place in line: acquires that wait
	// for a lock inside one engine are granted in arrival order, and
	// without Fair an acquire may still make one attempt on arrival,
	// taking a free lock ahead of them (the redlock engine makes it only
	// when nobody waits in line yet, when it has not seen the holder, or
	// for the holder's owner, since its releases hand the lock to the
	// line). With Fair it does not: it
	// waits behind them (and with Wait 0 it is refused while anyone
	// waits). Order is per engine, that is per lockd: the lines of
	// different lockd instances race when the lock is freed.
	Fair bool
	// Metadata is an optional JSON object of at most MaxMetadataLen bytes,
	// stored with the lease and shown by Inspect.
	Metadata json.RawMessage
	// Reentrant makes the lease reentrant: each acquire with it (and with
	// Reentrant) takes one more hold on the lock, and the lock is free
	// again once every hold is released. A lease is reentrant or not from
	// its first grant on: an acquire with the lease whose Reentrant
	// differs from that grant's is refused with an *ArgumentError (field
	// "reentrant") and changes nothing. It cannot be combined with
	// ReleaseByOwner.
	Reentrant bool
	// Hold names the hold a reentrant acquire takes: a value of the shape
	// of a lease (NewLeaseID makes one). An acquire with the lease and a
	// hold it already has is a retry of that hold: it refreshes the TTL
	// and adds no hold, which makes a reentrant acquire safe to retry.
	// When empty, the engine makes a fresh one, and the acquire cannot be
	// retried safely. Set only with Reentrant.
	Hold string
	// Mode is ModeWrite (the default, also for "") or ModeRead. Readers
	// share the lock, each under its own lease, and exclude writers; a
	// writer excludes everyone. A writer that waits, refused because of
	// readers, keeps new readers out until it is granted or stops waiting
	// (the engines document for how long after it dies), so that writers
	// are not starved. A lease keeps the mode of its first grant: an
	// acquire with the lease in the other mode is refused with an
	// *ArgumentError (field "mode"). A read lease cannot be Reentrant or
	// ReleaseByOwner. Any other value is an *ArgumentError (field "mode").
	Mode string
}

// Health is what an engine reports about its readiness.
type Health struct {
	// Ready is true when the engine can grant locks: a quorum of nodes
	// answers.
	Ready bool
	// Nodes has one entry per backing node.
	Nodes []NodeHealth
}

// NodeHealth is the state of one backing node.
type NodeHealth struct {
	// Addr is the node's address ("memory" for the memory engine).
	Addr string
	// OK is true when the node answered a ping.
	OK bool
	// Latency is how long the ping took.
	Latency time.Duration
	// Error is the ping's failure, empty when OK.
	Error string
	// State says whether the node is counted in quorums, and if not, why:
	// NodeUp, NodeDown, NodeRejoining or NodeRefused.
	State string
}

// States of a node in NodeHealth.
const (
	// NodeUp is a node that answers and is counted in quorums.
	NodeUp = "up"
	// NodeDown is a node that does not answer, or fails its checks.
	NodeDown = "down"
	// NodeRejoining is a node that restarted and gets no vote until every
	// lease it could have held has run out.
	NodeRejoining = "rejoining"
	// NodeRefused is a node that answers but gets no vote for what it is:
	// an eviction policy that can drop locks, or another node's server.
	NodeRefused = "refused"
)

// Released describes the lease a release deleted.
type Released struct {
	// Name is the lock's name.
	Name string
	// Owner is the released holder's owner label.
	Owner string
	// Fence is the released holder's fencing token.
	Fence int64
	// Holds is how many holds a reentrant lease still has after the
	// release: the lock is free only when it is 0. It is always 0 for a
	// lease granted without Reentrant.
	Holds int
}

// Engine is a lock backend. Every method takes a context and honours its
// deadline and cancellation. Implementations are safe for concurrent use.
//
// Acquire returns ErrNotObtained (as *NotObtainedError) when someone else
// holds the lock past the wait; ErrQuorumUnavailable when too few nodes
// answered; ErrInvalidArgument (as *ArgumentError) for bad input. When the
// context ends a wait, the last attempt's error is joined with ctx.Err().
//
// Extend pushes a held lease's expiry to now+ttl (ttl 0 keeps the lease's
// current TTL) and returns the new lease. It returns ErrLost when the lease
// no longer holds the lock, and ErrQuorumUnavailable when too few nodes
// answered to tell (the lease may still be valid until its old ExpiresAt).
//
// Release deletes the lock if, and only if, the lease still holds it, and
// says what it deleted. It returns ErrNotHeld when the lease no longer holds
// it (released, expired, or someone else's now) and deletes nothing;
// releasing twice is safe. It returns ErrQuorumUnavailable when too few
// nodes answered to tell whether the lease is gone; retrying is harmless.
//
// Release of a reentrant lease removes its most recent hold, and frees the
// lock only with the last: a retried Release may remove one more hold, so
// it is not safe to retry. ReleaseHold is: it removes exactly the hold
// named (Lease.Hold), and frees the lock when it was the last one. It
// returns ErrNotHeld, removing nothing, when the lease does not have that
// hold (released before, expired, or the lease is not reentrant), and
// ErrQuorumUnavailable when too few nodes answered to tell.
//
// ReleaseByOwner is Release for a lock acquired with
// AcquireOptions.ReleaseByOwner, found by its owner label instead of its
// lease. It returns ErrNotHeld, deleting nothing, when the lock is free,
// held by another owner, or was acquired without ReleaseByOwner.
//
// Inspect reports who holds a lock as seen by a quorum; it never reports
// lease values. It returns ErrQuorumUnavailable when too few nodes
// answered.
//
// Health checks the backing nodes. Close releases the engine's connections.
type Engine interface {
	Acquire(ctx context.Context, name string, opts AcquireOptions) (Lease, error)
	Extend(ctx context.Context, name, leaseID string, ttl time.Duration) (Lease, error)
	Release(ctx context.Context, name, leaseID string) (Released, error)
	ReleaseHold(ctx context.Context, name, leaseID, hold string) (Released, error)
	ReleaseByOwner(ctx context.Context, name, owner string) (Released, error)
	Inspect(ctx context.Context, name string) (LockInfo, error)
	Health(ctx context.Context) Health
	Close() error
}

// ValidateName returns an *ArgumentError unless name is 1-200 characters
// from [A-Za-z0-9._:@-] and is not "." or ".." (which URLs cannot carry).
func ValidateName(name string) error {
	if name == "" {
		return &ArgumentError{Field: "name", Reason: "is required"}
	}
	if len(name) > MaxNameLen {
		return &ArgumentError{Field: "name", Reason: fmt.Sprintf("is %d characters, at most %d", len(name), MaxNameLen)}
	}
	if name == "." || name == ".." {
		return &ArgumentError{Field: "name", Reason: `may not be "." or ".."`}
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '_' || c == ':' || c == '@' || c == '-'
		if !ok {
			return &ArgumentError{Field: "name", Reason: "may hold only A-Z a-z 0-9 . _ : @ -"}
		}
	}
	return nil
}

// ValidateOwner returns an *ArgumentError unless owner is 1-128 bytes of
// printable UTF-8.
func ValidateOwner(owner string) error {
	if owner == "" {
		return &ArgumentError{Field: "owner", Reason: "is required"}
	}
	if len(owner) > MaxOwnerLen {
		return &ArgumentError{Field: "owner", Reason: fmt.Sprintf("is %d bytes, at most %d", len(owner), MaxOwnerLen)}
	}
	if !utf8.ValidString(owner) {
		return &ArgumentError{Field: "owner", Reason: "is not valid UTF-8"}
	}
	for _, r := range owner {
		if !unicode.IsPrint(r) {
			return &ArgumentError{Field: "owner", Reason: "holds a non-printable character"}
		}
	}
	return nil
}

// ValidateTTL returns an *ArgumentError unless ttl is in [MinTTL, MaxTTL].
func ValidateTTL(ttl time.Duration) error {
	if ttl < MinTTL || ttl > MaxTTL {
		return &ArgumentError{Field: "ttl_ms", Reason: fmt.Sprintf("must be in [%d, %d]", MinTTL.Milliseconds(), MaxTTL.Milliseconds())}
	}
	return nil
}

// ValidateExtendTTL returns an *ArgumentError unless ttl is 0 (keep the
// lease's current TTL) or in [MinTTL, MaxTTL].
func ValidateExtendTTL(ttl time.Duration) error {
	if ttl == 0 {
		return nil
	}
	return ValidateTTL(ttl)
}

// Prepare fills defaults into opts and validates them with name. Engines
// call it first thing in Acquire; it returns an *ArgumentError naming the
// first bad field. The returned metadata is compact JSON, and the returned
// Lease is the caller's or a fresh one.
func (o AcquireOptions) Prepare(name string) (AcquireOptions, error) {
	if err := ValidateName(name); err != nil {
		return o, err
	}
	if err := ValidateOwner(o.Owner); err != nil {
		return o, err
	}
	if o.Lease == "" {
		o.Lease = NewLeaseID()
	} else if err := ValidateLeaseID(o.Lease); err != nil {
		return o, err
	}
	switch o.Mode {
	case "", ModeWrite:
		o.Mode = ""
	case ModeRead:
		if o.Reentrant || o.ReleaseByOwner {
			return o, &ArgumentError{Field: "mode", Reason: "a read lease cannot be reentrant or released by owner"}
		}
	default:
		return o, &ArgumentError{Field: "mode", Reason: fmt.Sprintf("must be %q or %q", ModeRead, ModeWrite)}
	}
	switch {
	case o.Reentrant && o.ReleaseByOwner:
		return o, &ArgumentError{Field: "reentrant", Reason: "cannot be combined with release by owner"}
	case o.Reentrant && o.Hold == "":
		o.Hold = NewLeaseID()
	case o.Reentrant:
		if err := ValidateHold(o.Hold); err != nil {
			return o, err
		}
	case o.Hold != "":
		return o, &ArgumentError{Field: "hold", Reason: "is only for a reentrant acquire"}
	}
	if o.TTL == 0 {
		o.TTL = DefaultTTL
	}
	if err := ValidateTTL(o.TTL); err != nil {
		return o, err
	}
	if o.Wait < 0 || o.Wait > MaxWait {
		return o, &ArgumentError{Field: "wait_ms", Reason: fmt.Sprintf("must be in [0, %d]", MaxWait.Milliseconds())}
	}
	if len(o.Metadata) > 0 {
		var buf bytes.Buffer
		if err := json.Compact(&buf, o.Metadata); err != nil || buf.Len() == 0 || buf.Bytes()[0] != '{' {
			return o, &ArgumentError{Field: "metadata", Reason: "must be a JSON object"}
		}
		if buf.Len() > MaxMetadataLen {
			return o, &ArgumentError{Field: "metadata", Reason: fmt.Sprintf("is %d bytes, at most %d", buf.Len(), MaxMetadataLen)}
		}
		o.Metadata = json.RawMessage(buf.Bytes())
		if string(o.Metadata) == "{}" {
			o.Metadata = nil
		}
	}
	return o, nil
}

// Lease value lengths.
const (
	// LeaseIDLen is the length of the lease values NewLeaseID makes: 128
	// random bits in hex. It is also the shortest lease accepted.
	LeaseIDLen = 32
	// MaxLeaseIDLen is the longest lease value accepted: 256 bits in hex.
	MaxLeaseIDLen = 64
)

// ValidateLeaseID returns an *ArgumentError unless id has the shape of a
// lease value: LeaseIDLen to MaxLeaseIDLen lowercase hex digits.
func ValidateLeaseID(id string) error {
	if id == "" {
		return &ArgumentError{Field: "lease", Reason: "is required"}
	}
	bad := &ArgumentError{Field: "lease", Reason: fmt.Sprintf("must be %d to %d lowercase hex digits (at least 128 random bits)", LeaseIDLen, MaxLeaseIDLen)}
	if len(id) < LeaseIDLen || len(id) > MaxLeaseIDLen {
		return bad
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return bad
		}
	}
	return nil
}

// IsLeaseID reports whether s has the shape of a lease value.
func IsLeaseID(s string) bool { return ValidateLeaseID(s) == nil }

// ValidateLease validates the name and lease value that Extend and Release
// take; it returns the *ArgumentError of the first that is bad.
func ValidateLease(name, leaseID string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	return ValidateLeaseID(leaseID)
}

// NewLeaseID returns a fresh lease value: 128 bits from crypto/rand in hex.
func NewLeaseID() string {
	var b [LeaseIDLen / 2]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms.
	return hex.EncodeToString(b[:])
}
