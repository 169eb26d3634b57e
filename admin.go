package lockd

import (
	"context"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of ListLocks.
const (
	// DefaultListLimit is how many locks a list returns when no limit is
	// given.
	DefaultListLimit = 100
	// MaxListLimit is the most locks one list returns.
	MaxListLimit = 1000
	// MaxReasonLen is the longest reason a force-release takes, in bytes.
	MaxReasonLen = 512
)

// LockPage is one page of held locks, in name order.
type LockPage struct {
	// Locks are the held locks, by name.
	Locks []LockInfo
	// Next is the cursor of the next page (the last name of this one), or
	// "" when there is none.
	Next string
}

// Lister lists held locks. The store's list is durable and exact; an
// engine's may be best-effort (see each).
type Lister interface {
	// ListLocks returns up to limit held locks whose names start with
	// prefix and come after the cursor after ("" for the first page), in
	// name order. It returns *ArgumentError for a bad prefix, limit or
	// cursor.
	ListLocks(ctx context.Context, prefix string, limit int, after string) (LockPage, error)
}

// ForceReleaser frees a lock without its lease: an operator's last resort
// for a holder that is stuck. The holder is not told: its next extend
// answers ErrLost, and writes fenced with its token are refused once a
// newer holder's are seen.
type ForceReleaser interface {
	// ForceRelease deletes the lock name (a writer and its holds, or every
	// reader) and says whom it freed; reason (required, see
	// ValidateReason) is for the journal and the log. It returns
	// ErrNotHeld when the lock was free, and ErrQuorumUnavailable when too
	// few nodes answered to tell.
	ForceRelease(ctx context.Context, name, reason string) (Released, error)
}

// ValidateList checks ListLocks' arguments and fills the default limit.
// The prefix is empty or made of lock-name characters; the cursor is
// empty or a name.
func ValidateList(prefix string, limit int, after string) (int, error) {
	if prefix != "" && prefix != "." && prefix != ".." {
		if err := ValidateName(prefix); err != nil {
			return 0, &ArgumentError{Field: "prefix", Reason: "may hold only A-Z a-z 0-9 . _ : @ - and at most 200 characters"}
		}
	}
	switch {
	case limit == 0:
		limit = DefaultListLimit
	case limit < 0 || limit > MaxListLimit:
		return 0, &ArgumentError{Field: "limit", Reason: fmt.Sprintf("must be in [1, %d]", MaxListLimit)}
	}
	if after != "" {
		if err := ValidateName(after); err != nil {
			return 0, &ArgumentError{Field: "cursor", Reason: "is not a lock name"}
		}
	}
	return limit, nil
}

// ValidateReason checks a force-release's reason: required, at most
// MaxReasonLen bytes of printable UTF-8 (it goes to the journal and the
// log).
func ValidateReason(reason string) error {
	if strings.TrimSpace(reason) == "" {
		return &ArgumentError{Field: "reason", Reason: "is required: say why the lock is freed without its lease"}
	}
	if len(reason) > MaxReasonLen {
		return &ArgumentError{Field: "reason", Reason: fmt.Sprintf("is %d bytes, at most %d", len(reason), MaxReasonLen)}
	}
	if !utf8.ValidString(reason) {
		return &ArgumentError{Field: "reason", Reason: "is not valid UTF-8"}
	}
	for _, r := range reason {
		if !unicode.IsPrint(r) {
			return &ArgumentError{Field: "reason", Reason: "holds a non-printable character"}
		}
	}
	return nil
}

// AsForceReleaser returns e's ForceReleaser, and ErrNotConfigured
// (wrapped) when e cannot force a release.
func AsForceReleaser(e Engine) (ForceReleaser, error) {
	if f, ok := e.(ForceReleaser); ok {
		return f, nil
	}
	return nil, fmt.Errorf("%w: this engine cannot force a release", ErrNotConfigured)
}

// AsLister returns e's Lister, and ErrNotConfigured (wrapped) when e cannot
// list its locks.
func AsLister(e Engine) (Lister, error) {
	if l, ok := e.(Lister); ok {
		return l, nil
	}
	return nil, fmt.Errorf("%w: this engine cannot list its locks", ErrNotConfigured)
}

// The journaled engine passes listing through (Passthrough), and journals
// every forced release with its reason.

// ForceRelease forces the release through the engine and journals it.
func (e *journaled) ForceRelease(ctx context.Context, name, reason string) (Released, error) {
	r, err := e.Passthrough.ForceRelease(ctx, name, reason)
	if err == nil {
		e.record(ctx, Event{Kind: EventForceReleased, Name: name, Owner: r.Owner, Fence: r.Fence, Reason: reason})
	}
	return r, err
}

var (
	_ Lister        = (*journaled)(nil)
	_ ForceReleaser = (*journaled)(nil)
)
