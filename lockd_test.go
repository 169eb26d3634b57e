package lockd_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lockd/lockd"
)

func TestValidateName(t *testing.T) {
	cases := []struct {
		name string
		ok   bool
	}{
		{"a", true},
		{"orders:42", true},
		{"svc-a.job_1@eu:x", true},
		{strings.Repeat("n", 200), true},
		{"", false},
		{strings.Repeat("n", 201), false},
		{".", false},
		{"..", false},
		{"a b", false},
		{"a/b", false},
		{"é", false},
		{"a%20", false},
		{"{tag}", false},
	}
	for _, c := range cases {
		err := lockd.ValidateName(c.name)
		if (err == nil) != c.ok {
			t.Errorf("ValidateName(%q) = %v, want ok=%v", c.name, err, c.ok)
		}
		var ae *lockd.ArgumentError
		if err != nil && (!errors.As(err, &ae) || ae.Field != "name") {
			t.Errorf("ValidateName(%q) = %#v, want *ArgumentError on field name", c.name, err)
		}
	}
}

func TestPrepare(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		got, err := lockd.AcquireOptions{Owner: "a", Metadata: json.RawMessage(` { "k" : [1, 2] } `)}.Prepare("x")
		if err != nil {
			t.Fatal(err)
		}
		if got.TTL != lockd.DefaultTTL || string(got.Metadata) != `{"k":[1,2]}` {
			t.Errorf("got ttl %v metadata %s, want %v and compact JSON", got.TTL, got.Metadata, lockd.DefaultTTL)
		}
	})
	t.Run("Lease", func(t *testing.T) {
		mine := lockd.NewLeaseID()
		got, err := lockd.AcquireOptions{Owner: "a", Lease: mine}.Prepare("x")
		if err != nil || got.Lease != mine {
			t.Errorf("with the caller's lease: got %q, %v; want %q", got.Lease, err, mine)
		}
		got, err = lockd.AcquireOptions{Owner: "a"}.Prepare("x")
		if err != nil || lockd.ValidateLeaseID(got.Lease) != nil {
			t.Errorf("without a lease: got %q, %v; want a fresh lease", got.Lease, err)
		}
	})
	t.Run("EmptyMetadataObject", func(t *testing.T) {
		got, err := lockd.AcquireOptions{Owner: "a", Metadata: json.RawMessage(`{}`)}.Prepare("x")
		if err != nil || got.Metadata != nil {
			t.Errorf("got %s, %v; want nil metadata", got.Metadata, err)
		}
	})
	bad := []struct {
		name  string
		opts  lockd.AcquireOptions
		field string
	}{
		{"OwnerControlChar", lockd.AcquireOptions{Owner: "a\x00b"}, "owner"},
		{"OwnerBadUTF8", lockd.AcquireOptions{Owner: "\xff"}, "owner"},
		{"WaitTooLong", lockd.AcquireOptions{Owner: "a", Wait: lockd.MaxWait + 1}, "wait_ms"},
		{"MetadataString", lockd.AcquireOptions{Owner: "a", Metadata: json.RawMessage(`"x"`)}, "metadata"},
		{"MetadataBroken", lockd.AcquireOptions{Owner: "a", Metadata: json.RawMessage(`{"x":`)}, "metadata"},
		{"TTLNegative", lockd.AcquireOptions{Owner: "a", TTL: -time.Second}, "ttl_ms"},
		{"LeaseShort", lockd.AcquireOptions{Owner: "a", Lease: "0123456789abcdef"}, "lease"},
		{"LeaseNotHex", lockd.AcquireOptions{Owner: "a", Lease: strings.Repeat("z", lockd.LeaseIDLen)}, "lease"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.opts.Prepare("x")
			var ae *lockd.ArgumentError
			if !errors.As(err, &ae) || ae.Field != c.field {
				t.Errorf("got %v, want *ArgumentError on %s", err, c.field)
			}
		})
	}
}

func TestValidateLeaseID(t *testing.T) {
	tests := []struct {
		name string
		id   string
		ok   bool
	}{
		{"Fresh", lockd.NewLeaseID(), true},
		{"Shortest", strings.Repeat("a", lockd.LeaseIDLen), true},
		{"Between", strings.Repeat("0", lockd.LeaseIDLen+1), true},
		{"Longest", strings.Repeat("f", lockd.MaxLeaseIDLen), true},
		{"Empty", "", false},
		{"TooShort", strings.Repeat("a", lockd.LeaseIDLen-1), false},
		{"TooLong", strings.Repeat("a", lockd.MaxLeaseIDLen+1), false},
		{"NotHex", strings.Repeat("g", lockd.LeaseIDLen), false},
		{"Uppercase", strings.Repeat("A", lockd.LeaseIDLen), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := lockd.ValidateLeaseID(tt.id)
			if (err == nil) != tt.ok {
				t.Fatalf("ValidateLeaseID(%q): got %v, want ok=%v", tt.id, err, tt.ok)
			}
			var ae *lockd.ArgumentError
			if err != nil && (!errors.As(err, &ae) || ae.Field != "lease") {
				t.Errorf("ValidateLeaseID(%q): got %#v, want *ArgumentError on field lease", tt.id, err)
			}
			if got := lockd.IsLeaseID(tt.id); got != tt.ok {
				t.Errorf("IsLeaseID(%q): got %v, want %v", tt.id, got, tt.ok)
			}
		})
	}
	if a, b := lockd.NewLeaseID(), lockd.NewLeaseID(); a == b {
		t.Errorf("two lease ids are equal: %s", a)
	}
}
