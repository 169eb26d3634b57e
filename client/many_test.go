package client_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/client"
)

func TestAcquireMany(t *testing.T) {
	both(t, func(t *testing.T, c *client.Client, eng *flaky) {
		ctx := ctxFor(t)
		names := []string{"m:b", "m:a"}
		ls, err := c.AcquireMany(ctx, names, client.Owner("many"))
		if err != nil {
			t.Fatal(err)
		}
		if len(ls) != 2 || ls[0].Name != "m:a" || ls[0].ID != ls[1].ID || !lockd.IsLeaseID(ls[0].ID) {
			t.Fatalf("leases %+v, want m:a then m:b under one lease", ls)
		}
		if _, err := c.Acquire(ctx, "m:b"); !errors.Is(err, lockd.ErrNotObtained) {
			t.Errorf("Acquire of a lock AcquireMany holds: %v, want ErrNotObtained", err)
		}
		if _, err := c.ExtendMany(ctx, names, ls[0].ID, 0); err != nil {
			t.Errorf("ExtendMany: %v", err)
		}
		if err := c.ReleaseMany(ctx, names, ls[0].ID); err != nil {
			t.Errorf("ReleaseMany: %v", err)
		}
		if err := c.ReleaseMany(ctx, names, ls[0].ID); !errors.Is(err, lockd.ErrNotHeld) {
			t.Errorf("ReleaseMany again: %v, want ErrNotHeld", err)
		}
		if _, err := c.ExtendMany(ctx, names, ls[0].ID, 0); !errors.Is(err, lockd.ErrLost) {
			t.Errorf("ExtendMany after release: %v, want ErrLost", err)
		}
	})
}

func TestAcquireManyBadInput(t *testing.T) {
	tooMany := make([]string, lockd.MaxManyNames+1)
	for i := range tooMany {
		tooMany[i] = fmt.Sprint("x", i)
	}
	both(t, func(t *testing.T, c *client.Client, eng *flaky) {
		for _, tc := range []struct {
			name  string
			names []string
			field string
		}{
			{"NoNames", nil, "names"},
			{"Duplicate", []string{"x", "x"}, "names"},
			{"TooMany", tooMany, "names"},
			{"BadName", []string{"a b"}, "names"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var ae *lockd.ArgumentError
				if _, err := c.AcquireMany(ctxFor(t), tc.names, client.Owner("o")); !errors.As(err, &ae) || ae.Field != tc.field {
					t.Errorf("AcquireMany: %v, want ArgumentError on %s", err, tc.field)
				}
				if _, err := c.ExtendMany(ctxFor(t), tc.names, lockd.NewLeaseID(), 0); !errors.As(err, &ae) || ae.Field != tc.field {
					t.Errorf("ExtendMany: %v, want ArgumentError on %s", err, tc.field)
				}
				if err := c.ReleaseMany(ctxFor(t), tc.names, lockd.NewLeaseID()); !errors.As(err, &ae) || ae.Field != tc.field {
					t.Errorf("ReleaseMany: %v, want ArgumentError on %s", err, tc.field)
				}
			})
		}
	})
}
