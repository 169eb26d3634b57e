package lockd_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/lockd/lockd"
)

func TestErrorCodes(t *testing.T) {
	cases := []struct {
		name string
		err  error
		code string
	}{
		{"ErrNotObtained", &lockd.NotObtainedError{Name: "x"}, lockd.CodeLockHeld},
		{"JoinedWithContext", errors.Join(&lockd.NotObtainedError{Name: "x"}, context.Canceled), lockd.CodeLockHeld},
		{"ErrLost", fmt.Errorf("wrapped: %w", lockd.ErrLost), lockd.CodeLockLost},
		{"ErrNotHeld", lockd.ErrNotHeld, lockd.CodeNotHeld},
		{"ErrQuorumUnavailable", fmt.Errorf("%w: %w", lockd.ErrQuorumUnavailable, &lockd.NodeError{Node: "n", Err: io.EOF}), lockd.CodeQuorumUnavailable},
		{"ErrInvalidArgument", &lockd.ArgumentError{Field: "owner", Reason: "is required"}, lockd.CodeInvalidArgument},
		{"ErrUnavailable", fmt.Errorf("shutting down: %w", lockd.ErrUnavailable), "unavailable"},
		{"Unknown", io.EOF, lockd.CodeInternal},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := lockd.ErrorCode(c.err); got != c.code {
				t.Errorf("ErrorCode(%v) = %q, want %q", c.err, got, c.code)
			}
			back := lockd.CodeError(c.code)
			if c.code != lockd.CodeInternal && !errors.Is(c.err, back) {
				t.Errorf("CodeError(%q) = %v, which %v does not match", c.code, back, c.err)
			}
		})
	}
	if !errors.Is(lockd.CodeError("no_such_code"), lockd.ErrInternal) {
		t.Error("unknown code should map to ErrInternal")
	}
}

func TestNodeErrorUnwraps(t *testing.T) {
	err := fmt.Errorf("%w: %w", lockd.ErrQuorumUnavailable, &lockd.NodeError{Node: "127.0.0.1:1", Err: io.ErrUnexpectedEOF})
	var ne *lockd.NodeError
	if !errors.As(err, &ne) || ne.Node != "127.0.0.1:1" || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("got %v, want a *NodeError for 127.0.0.1:1 wrapping io.ErrUnexpectedEOF", err)
	}
}
