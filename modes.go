package lockd

import "errors"

// Reentrant holds and read-write locks: the options that make a lease more
// than a plain exclusive lock (AcquireOptions.Reentrant, Hold and Mode).

// Lock modes (AcquireOptions.Mode): many readers or one writer hold a lock
// at a time.
const (
	// ModeWrite is the exclusive mode, the default: a write lease holds the
	// lock alone, like a plain lock.
	ModeWrite = "write"
	// ModeRead is the shared mode: any number of read leases hold the lock
	// at once, each with its own lease, TTL and fence, and no writer holds
	// it meanwhile.
	ModeRead = "read"
)

// ReadLine is the key under which an engine lines up the read acquires
// that wait for the lock name; write acquires wait in the line under the
// name itself. Names hold no '/', so the keys cannot collide.
func ReadLine(name string) string { return "read/" + name }

// ValidateHold returns an *ArgumentError (field "hold") unless hold has the
// shape of a lease value.
func ValidateHold(hold string) error {
	if err := ValidateLeaseID(hold); err != nil {
		var ae *ArgumentError
		if errors.As(err, &ae) {
			return &ArgumentError{Field: "hold", Reason: ae.Reason}
		}
		return err
	}
	return nil
}

// GrantMismatch is the *ArgumentError of an acquire with a lease that
// already holds the lock under other terms: field names the option that
// differs ("reentrant", "mode"). Engines return it and change nothing.
func GrantMismatch(field string) error {
	return &ArgumentError{Field: field, Reason: "differs from the lease's grant: acquire again with a lease as it was first granted"}
}
