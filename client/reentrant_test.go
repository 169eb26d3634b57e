package client_test

import (
	"errors"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/client"
)

// TestReenter takes an inner hold on a reentrant lease: the lock stays
// held, against others too, until both holds are released, and each
// handle's Release removes its own hold only.
func TestReenter(t *testing.T) {
	c, _ := serve(t)
	ctx := ctxFor(t)
	outer, err := c.Acquire(ctx, "re", client.Reentrant(), client.TTL(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if outer.Hold() == "" {
		t.Fatal("outer handle has no hold")
	}
	inner, err := outer.Reenter(ctx)
	if err != nil {
		t.Fatalf("Reenter: %v", err)
	}
	if inner.ID() != outer.ID() || inner.Fence() != outer.Fence() || inner.Hold() == outer.Hold() || inner.Hold() == "" {
		t.Fatalf("inner: lease %s fence %d hold %q; outer: %s %d %q", inner.ID(), inner.Fence(), inner.Hold(), outer.ID(), outer.Fence(), outer.Hold())
	}
	if inner.TTL() != outer.TTL() || !inner.ExpiresAt().Equal(outer.ExpiresAt()) {
		t.Errorf("inner TTL %v expires %v, want the outer's %v %v", inner.TTL(), inner.ExpiresAt(), outer.TTL(), outer.ExpiresAt())
	}
	if err := inner.Extend(ctx, 0); err != nil {
		t.Errorf("inner Extend: %v", err)
	}
	if err := inner.Release(ctx); err != nil {
		t.Fatalf("inner Release: %v", err)
	}
	select {
	case <-inner.Done():
	default:
		t.Fatal("inner Done open after its Release")
	}
	if !errors.Is(inner.Err(), client.ErrReleased) {
		t.Errorf("inner Err: got %v, want ErrReleased", inner.Err())
	}
	if err := inner.Release(ctx); !errors.Is(err, lockd.ErrNotHeld) {
		t.Errorf("inner released twice: got %v, want ErrNotHeld", err)
	}
	if outer.Err() != nil {
		t.Fatalf("outer ended with the inner hold: %v", outer.Err())
	}
	if _, err := c.Acquire(ctx, "re"); !errors.Is(err, lockd.ErrNotObtained) {
		t.Fatalf("others with the outer hold left: got %v, want ErrNotObtained", err)
	}
	if err := outer.Release(ctx); err != nil {
		t.Fatalf("outer Release: %v", err)
	}
	l, err := c.Acquire(ctx, "re")
	if err != nil || l.Fence() <= outer.Fence() {
		t.Fatalf("after both releases: got %v, want a grant with a larger fence", err)
	}
}

// TestReenterKeepAlive: the outer lease's keep-alive keeps the inner hold
// alive past the TTL, and the inner handle's Done closes with the outer's.
func TestReenterKeepAlive(t *testing.T) {
	c, _ := serve(t)
	ctx := ctxFor(t)
	outer, err := c.Acquire(ctx, "re-ka", client.Reentrant(), client.KeepAlive(), client.TTL(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	inner, err := outer.Reenter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(900 * time.Millisecond) // three TTLs
	select {
	case <-inner.Done():
		t.Fatalf("inner Done closed while the outer renews: %v", inner.Err())
	default:
	}
	if _, err := c.Acquire(ctx, "re-ka"); !errors.Is(err, lockd.ErrNotObtained) {
		t.Fatalf("others past the TTL: got %v, want ErrNotObtained", err)
	}
	if err := outer.Release(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-inner.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("inner Done still open after the outer's release")
	}
	if !errors.Is(inner.Err(), client.ErrReleased) {
		t.Errorf("inner Err: got %v, want the outer's ErrReleased", inner.Err())
	}
	if err := inner.Release(ctx); err != nil {
		t.Errorf("inner Release after the outer's: %v", err)
	}
	if _, err := c.Acquire(ctx, "re-ka"); err != nil {
		t.Errorf("after both releases: %v", err)
	}
}

// TestReentrantBadInput: the SDK's argument errors for reentrant holds.
func TestReentrantBadInput(t *testing.T) {
	c, _ := serve(t)
	ctx := ctxFor(t)
	plain, err := c.Acquire(ctx, "plain")
	if err != nil {
		t.Fatal(err)
	}
	var ae *lockd.ArgumentError
	if _, err := plain.Reenter(ctx); !errors.As(err, &ae) || ae.Field != "reentrant" {
		t.Errorf("Reenter of a plain lease: got %v, want an ArgumentError on reentrant", err)
	}
	if _, err := c.AcquireMany(ctx, []string{"m1", "m2"}, client.Reentrant()); !errors.As(err, &ae) || ae.Field != "reentrant" {
		t.Errorf("AcquireMany with Reentrant: got %v, want an ArgumentError on reentrant", err)
	}
	_, err = c.Engine().Acquire(ctx, "bad-hold", lockd.AcquireOptions{Owner: "a", Reentrant: true, Hold: "XY"})
	if !errors.As(err, &ae) || ae.Field != "hold" {
		t.Errorf("a bad hold: got %v, want an ArgumentError on hold", err)
	}
}
