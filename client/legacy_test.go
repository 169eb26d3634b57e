package client_test

import (
	"errors"
	"testing"
	"time"

	"github.com/lockd/lockd"
)

// TestReleaseByOwnerOverHTTP checks Engine.ReleaseByOwner against a real
// server: it releases what /get-lock granted, and never a v1 lock.
func TestReleaseByOwnerOverHTTP(t *testing.T) {
	c, _ := serve(t)
	e := c.Engine()
	ctx := ctxFor(t)
	a, err := e.Acquire(ctx, "front", lockd.AcquireOptions{Owner: "front-7", TTL: 30 * time.Second, ReleaseByOwner: true})
	if err != nil {
		t.Fatal(err)
	}
	if a.Owner != "front-7" || a.TTL != 30*time.Second || !lockd.IsLeaseID(a.ID) || a.Fence < 1 {
		t.Errorf("got %+v, want front-7, 30s, a lease and a fence", a)
	}
	_, err = e.Acquire(ctx, "front", lockd.AcquireOptions{Owner: "front-7", ReleaseByOwner: true})
	var noe *lockd.NotObtainedError
	if !errors.As(err, &noe) || noe.Holder == nil || noe.Holder.Owner != "front-7" {
		t.Errorf("same identity again: got %v, want *NotObtainedError held by front-7", err)
	}
	r, err := e.ReleaseByOwner(ctx, "front", "front-7")
	if err != nil || r.Name != "front" || r.Owner != "front-7" || r.Fence != a.Fence {
		t.Errorf("got %+v, %v; want front front-7 fence %d", r, err, a.Fence)
	}

	v1, err := e.Acquire(ctx, "v1", lockd.AcquireOptions{Owner: "front-7", TTL: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.ReleaseByOwner(ctx, "v1", "front-7"); !errors.Is(err, lockd.ErrNotHeld) {
		t.Errorf("v1 lock: got %v, want ErrNotHeld", err)
	}
	if info, err := e.Inspect(ctx, "v1"); err != nil || !info.Held || info.Fence != v1.Fence {
		t.Errorf("got %+v, %v; want the v1 lock still held", info, err)
	}
}

func TestReleaseByOwnerOptionsOverHTTP(t *testing.T) {
	c, _ := serve(t)
	for _, tt := range []struct {
		name string
		opts lockd.AcquireOptions
	}{
		{"Lease", lockd.AcquireOptions{Owner: "a", ReleaseByOwner: true, Lease: lockd.NewLeaseID()}},
		{"Wait", lockd.AcquireOptions{Owner: "a", ReleaseByOwner: true, Wait: time.Second}},
		{"Metadata", lockd.AcquireOptions{Owner: "a", ReleaseByOwner: true, Metadata: []byte(`{}`)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Engine().Acquire(ctxFor(t), "x", tt.opts)
			var ae *lockd.ArgumentError
			if !errors.As(err, &ae) || ae.Field != "release_by_owner" {
				t.Errorf("got %v, want *ArgumentError for release_by_owner", err)
			}
		})
	}
}

// TestLegacyAnswers maps every answer of the prototype's routes to the
// errors Engine documents.
func TestLegacyAnswers(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   error
	}{
		{"AlreadyReleased", 200, `{"message":"Lock already released","resource":"x","identity":"a"}`, lockd.ErrNotHeld},
		{"HeldBy", 409, `{"message":"Lock on x is held by b"}`, lockd.ErrNotHeld},
		{"ErrQuorumUnavailable", 503, `{"error":"lockd: quorum unavailable"}`, lockd.ErrQuorumUnavailable},
		{"ErrStoreUnavailable", 503, `{"error":"lockd: store unavailable"}`, lockd.ErrStoreUnavailable},
		{"ErrUnavailable", 503, `{"error":"lockd: unavailable"}`, lockd.ErrUnavailable},
		{"BadRequest", 400, `{"error":"resource may hold only A-Z a-z 0-9 . _ : @ -"}`, lockd.ErrInvalidArgument},
		{"Internal", 500, `{"error":"lockd: internal error"}`, lockd.ErrInternal},
		{"UnknownMessage", 200, `{"message":"Something else"}`, lockd.ErrInternal},
		{"ProxyPage", 502, `<html>Bad Gateway</html>`, lockd.ErrInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := canned(t, tt.status, tt.body).Engine().ReleaseByOwner(ctxFor(t), "x", "a")
			if !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
	t.Run("Released", func(t *testing.T) {
		r, err := canned(t, 200, `{"message":"Locks Released","resource":"x","identity":"a","fence":7}`).Engine().ReleaseByOwner(ctxFor(t), "x", "a")
		if err != nil || r != (lockd.Released{Name: "x", Owner: "a", Fence: 7}) {
			t.Errorf("got %+v, %v; want x a fence 7", r, err)
		}
	})
	t.Run("GetLockHeldUnknownHolder", func(t *testing.T) {
		_, err := canned(t, 409, `{"message":"Lock already exists on resource x"}`).Engine().Acquire(ctxFor(t), "x", lockd.AcquireOptions{Owner: "a", ReleaseByOwner: true})
		var noe *lockd.NotObtainedError
		if !errors.As(err, &noe) || noe.Name != "x" || noe.Holder != nil {
			t.Errorf("got %#v, want *NotObtainedError for x with no holder", err)
		}
	})
}
