package client_test

import (
	"errors"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/client"
)

// TestReadLeases: read leases through the SDK share the lock, keep it with
// keep-alive past their TTL, and keep a writer out until both are released.
func TestReadLeases(t *testing.T) {
	c, _ := serve(t)
	ctx := ctxFor(t)
	r1, err := c.Acquire(ctx, "rw", client.Read(), client.KeepAlive(), client.TTL(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	r2, err := c.Acquire(ctx, "rw", client.Read())
	if err != nil {
		t.Fatalf("second reader: %v", err)
	}
	if r1.Mode() != lockd.ModeRead || r2.Mode() != lockd.ModeRead || r1.Fence() == r2.Fence() {
		t.Fatalf("readers: mode %q %q, fences %d %d", r1.Mode(), r2.Mode(), r1.Fence(), r2.Fence())
	}
	if err := r2.Release(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(900 * time.Millisecond) // three of r1's TTLs: keep-alive renews it
	if r1.Err() != nil {
		t.Fatalf("reader with keep-alive ended: %v", r1.Err())
	}
	info, err := c.Inspect(ctx, "rw")
	if err != nil || info.Mode != lockd.ModeRead || info.Readers != 1 {
		t.Fatalf("Inspect: got %+v, %v; want one reader", info, err)
	}
	if _, err := c.Acquire(ctx, "rw"); !errors.Is(err, lockd.ErrNotObtained) {
		t.Fatalf("writer while a reader holds: got %v, want ErrNotObtained", err)
	}
	if err := r1.Release(ctx); err != nil {
		t.Fatal(err)
	}
	w, err := c.Acquire(ctx, "rw", client.Wait(time.Second))
	if err != nil || w.Mode() != "" {
		t.Fatalf("writer after the readers: %v", err)
	}
}

// TestModeBadInputSDK: the SDK's argument errors for modes.
func TestModeBadInputSDK(t *testing.T) {
	c, _ := serve(t)
	ctx := ctxFor(t)
	var ae *lockd.ArgumentError
	if _, err := c.Acquire(ctx, "m", client.Read(), client.Reentrant()); !errors.As(err, &ae) || ae.Field != "mode" {
		t.Errorf("Read with Reentrant: got %v, want an ArgumentError on mode", err)
	}
	if _, err := c.AcquireMany(ctx, []string{"m1", "m2"}, client.Read()); !errors.As(err, &ae) || ae.Field != "mode" {
		t.Errorf("AcquireMany with Read: got %v, want an ArgumentError on mode", err)
	}
	if _, err := c.Engine().Acquire(ctx, "m", lockd.AcquireOptions{Owner: "a", Mode: "shared"}); !errors.As(err, &ae) || ae.Field != "mode" {
		t.Errorf("an unknown mode: got %v, want an ArgumentError on mode", err)
	}
	r, err := c.Acquire(ctx, "m", client.Read())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reenter(ctx); !errors.As(err, &ae) || ae.Field != "reentrant" {
		t.Errorf("Reenter of a read lease: got %v, want an ArgumentError on reentrant", err)
	}
}

// TestReleaseByOwnerModes: the Engine adapter refuses a reentrant or read
// acquire by owner as the engines do, instead of taking a plain lock
// through /get-lock.
func TestReleaseByOwnerModes(t *testing.T) {
	c, _ := serve(t)
	ctx := ctxFor(t)
	for field, o := range map[string]lockd.AcquireOptions{
		"reentrant": {Owner: "a", ReleaseByOwner: true, Reentrant: true},
		"mode":      {Owner: "a", ReleaseByOwner: true, Mode: lockd.ModeRead},
	} {
		var ae *lockd.ArgumentError
		if _, err := c.Engine().Acquire(ctx, "by-owner", o); !errors.As(err, &ae) || ae.Field != field {
			t.Errorf("%s by owner: got %v, want an ArgumentError on %s", field, err, field)
		}
	}
	if info, err := c.Inspect(ctx, "by-owner"); err != nil || info.Held {
		t.Errorf("after the refusals: got %+v, %v; want the lock free", info, err)
	}
}
