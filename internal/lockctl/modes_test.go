package lockctl_test

import (
	"strings"
	"testing"

	"github.com/lockd/lockd/internal/lockctl"
)

// TestAcquireReentrant takes two holds of one lease with acquire
// --reentrant and releases them: the lock is free after the second.
func TestAcquireReentrant(t *testing.T) {
	url := serve(t)
	var first struct {
		Lease string `json:"lease"`
		Fence int64  `json:"fence"`
		Hold  string `json:"hold"`
		Holds int    `json:"holds"`
	}
	r := lockctlAt(t, url, "acquire", "re:cli", "--owner", "alice", "--reentrant", "-o", "json")
	wantCode(t, r, lockctl.ExitOK)
	decode(t, r, &first)
	if first.Hold == "" || first.Holds != 1 {
		t.Fatalf("first hold: got %+v", first)
	}
	r = lockctlAt(t, url, "acquire", "re:cli", "--owner", "alice", "--reentrant", "--lease", first.Lease)
	wantCode(t, r, lockctl.ExitOK)
	for _, want := range []string{"holds:", "2", "hold:"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	wantCode(t, lockctlAt(t, url, "release", "re:cli", first.Lease), lockctl.ExitOK)
	wantCode(t, lockctlAt(t, url, "acquire", "re:cli", "--owner", "bob"), lockctl.ExitNotObtained)
	wantCode(t, lockctlAt(t, url, "release", "re:cli", first.Lease), lockctl.ExitOK)
	acquire(t, url, "re:cli", "bob")
	r = lockctlAt(t, url, "acquire", "re:other", "--owner", "alice", "--lease", first.Lease)
	wantCode(t, r, lockctl.ExitUsage)
}

// TestAcquireRead takes two read leases with --mode read; a writer is
// refused meanwhile, and an unknown mode is a usage error.
func TestAcquireRead(t *testing.T) {
	url := serve(t)
	r := lockctlAt(t, url, "acquire", "rw:cli", "--owner", "r1", "--mode", "read")
	wantCode(t, r, lockctl.ExitOK)
	if !strings.Contains(r.stdout, "mode:") || !strings.Contains(r.stdout, "read") {
		t.Errorf("stdout lacks the mode:\n%s", r.stdout)
	}
	wantCode(t, lockctlAt(t, url, "acquire", "rw:cli", "--owner", "r2", "--mode", "read"), lockctl.ExitOK)
	wantCode(t, lockctlAt(t, url, "acquire", "rw:cli", "--owner", "w"), lockctl.ExitNotObtained)
	wantCode(t, lockctlAt(t, url, "acquire", "rw:other", "--owner", "w", "--mode", "shared"), lockctl.ExitUsage)
}
