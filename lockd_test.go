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
	if err := lockd.ValidateLeaseID(lockd.NewLeaseID()); err != nil {
		t.Errorf("fresh lease id rejected: %v", err)
	}
	for _, id := range []string{"", "abc", strings.Repeat("g", 32), strings.Repeat("A", 32), strings.Repeat("a", 33)} {
		if lockd.ValidateLeaseID(id) == nil {
			t.Errorf("ValidateLeaseID(%q) = nil, want an error", id)
		}
	}
	if a, b := lockd.NewLeaseID(), lockd.NewLeaseID(); a == b {
		t.Errorf("two lease ids are equal: %s", a)
	}
}
