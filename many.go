package lockd

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// MaxManyNames bounds how many locks one AcquireMany takes.
const MaxManyNames = 64

// manyCleanupTimeout bounds the release of the locks a failed AcquireMany
// took, which runs even when the caller's context has ended.
const manyCleanupTimeout = 5 * time.Second

// ValidateNames checks the names of an AcquireMany: 1 to MaxManyNames
// valid lock names, none twice. It returns an *ArgumentError (field
// "names") otherwise.
func ValidateNames(names []string) error {
	if len(names) == 0 || len(names) > MaxManyNames {
		return &ArgumentError{Field: "names", Reason: fmt.Sprintf("must hold 1 to %d names, not %d", MaxManyNames, len(names))}
	}
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		if err := ValidateName(n); err != nil {
			return &ArgumentError{Field: "names", Reason: fmt.Sprintf("%q: %v", n, err)}
		}
		if seen[n] {
			return &ArgumentError{Field: "names", Reason: fmt.Sprintf("%q is listed twice", n)}
		}
		seen[n] = true
	}
	return nil
}

// AcquireMany takes every lock in names or none, under one lease (opts.Lease,
// or a fresh one when empty, used for them all). It takes them one by one
// in sorted order, so callers whose sets overlap cannot deadlock: each
// waits only for locks that sort after every lock it holds. opts.Wait
// bounds the whole call, and no lock is waited for past the validity of
// those already taken (then the call fails like a wait that ran out);
// after a long wait the first locks are renewed, so that every lease
// returned starts about when the call ends. It returns the leases in
// sorted name order.
//
// When one lock cannot be taken, AcquireMany releases those it took and
// returns that lock's error (*NotObtainedError for a held lock, joined with
// ctx.Err() when the context ended it, ErrQuorumUnavailable, ...). A retry
// with the same lease is idempotent, as for one lock: each lock it already
// holds is the same grant. It returns an *ArgumentError (field "names")
// for a bad list, an *ArgumentError (field "reentrant" or "mode") for a
// reentrant or read acquire, and what opts.Prepare returns for bad options.
func AcquireMany(ctx context.Context, e Engine, names []string, opts AcquireOptions) ([]Lease, error) {
	if err := ValidateNames(names); err != nil {
		return nil, err
	}
	if opts.Reentrant {
		return nil, &ArgumentError{Field: "reentrant", Reason: "is not supported by acquire-many"}
	}
	if opts.Mode == ModeRead {
		return nil, &ArgumentError{Field: "mode", Reason: "read is not supported by acquire-many"}
	}
	if opts.Lease == "" {
		opts.Lease = NewLeaseID()
	}
	prepared, err := opts.Prepare(names[0])
	if err != nil {
		return nil, err
	}
	ttl := prepared.TTL
	sorted := slices.Sorted(slices.Values(names))
	start := time.Now()
	deadline := start.Add(opts.Wait)
	var (
		leases     = make([]Lease, 0, len(sorted))
		validUntil time.Time // when the first of the locks taken may run out
	)
	for _, name := range sorted {
		// Never wait past what the locks already taken are good for.
		until := deadline
		if !validUntil.IsZero() && validUntil.Before(until) {
			until = validUntil
		}
		o := opts
		o.Wait = max(time.Until(until), 0) // spent: one try
		sent := time.Now()
		l, err := e.Acquire(ctx, name, o)
		if err != nil {
			undo(e, sorted, opts.Lease)
			return nil, err
		}
		end := sent.Add(l.Waited + ttl - ttl/100)
		if validUntil.IsZero() || end.Before(validUntil) {
			validUntil = end
		}
		leases = append(leases, l)
	}
	// After a long wait for the later locks, the first ones have little
	// time left: renew them, so every lease starts about now, all or none.
	if len(leases) > 1 && time.Since(start) > ttl/3 {
		for i := range leases[:len(leases)-1] {
			l, err := e.Extend(ctx, leases[i].Name, opts.Lease, 0)
			if err != nil {
				undo(e, sorted, opts.Lease)
				return nil, errors.Join(&NotObtainedError{Name: leases[i].Name}, err)
			}
			leases[i] = l
		}
	}
	return leases, nil
}

// undo releases every lock in names that the lease holds, after a failed
// AcquireMany, within its own timeout: the caller's context may be what
// ended the acquire. It releases them all, not only those this call took:
// an earlier attempt with the same lease, whose answer was lost, may hold
// others. A lease that holds nothing releases nothing.
func undo(e Engine, names []string, leaseID string) {
	ctx, cancel := context.WithTimeout(context.Background(), manyCleanupTimeout)
	defer cancel()
	for _, name := range names {
		_, _ = e.Release(ctx, name, leaseID)
	}
}

// ExtendMany extends every lock in names held by leaseID, as Extend does
// for one (ttl 0 keeps each lease's TTL). It goes on after a failure, and
// returns the leases it extended with every error joined: ErrLost for a
// lock the lease no longer holds, and so on.
func ExtendMany(ctx context.Context, e Engine, names []string, leaseID string, ttl time.Duration) ([]Lease, error) {
	if err := ValidateNames(names); err != nil {
		return nil, err
	}
	var (
		out  []Lease
		errs []error
	)
	for _, name := range slices.Sorted(slices.Values(names)) {
		l, err := e.Extend(ctx, name, leaseID, ttl)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		out = append(out, l)
	}
	return out, errors.Join(errs...)
}

// ReleaseMany releases every lock in names held by leaseID. It goes on
// after a failure, and returns what it released with every error joined
// (ErrNotHeld for a lock the lease no longer held, and so on).
func ReleaseMany(ctx context.Context, e Engine, names []string, leaseID string) ([]Released, error) {
	if err := ValidateNames(names); err != nil {
		return nil, err
	}
	var (
		out  []Released
		errs []error
	)
	for _, name := range slices.Sorted(slices.Values(names)) {
		r, err := e.Release(ctx, name, leaseID)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		out = append(out, r)
	}
	return out, errors.Join(errs...)
}
