package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lockd/lockd"
)

// The prototype's routes are the only way, over HTTP, to take a lock that
// its owner label alone may release, and to release it so: Engine uses
// them for AcquireOptions.ReleaseByOwner and Engine.ReleaseByOwner. Their
// answers have the prototype's shape, {"message": ...} or {"error": ...},
// which this file maps to the same errors as the v1 routes.

// Messages of the prototype's routes that the SDK reads.
const (
	legacyGranted         = "Locks granted"
	legacyReleased        = "Locks Released"
	legacyAlreadyReleased = "Lock already released"
)

// legacyRequest is the body of POST /get-lock and POST /release-lock.
type legacyRequest struct {
	Duration json.Number `json:"duration,omitempty"`
	Resource string      `json:"resource"`
	Identity string      `json:"identity"`
}

// legacyAnswer is any answer of the prototype's lock routes.
type legacyAnswer struct {
	Message   string    `json:"message"`
	Error     string    `json:"error"`
	Lease     string    `json:"lease"`
	Fence     int64     `json:"fence"`
	ExpiresAt time.Time `json:"expires_at"`
}

// getLock acquires name through POST /get-lock, so that releaseByOwner can
// release it. The route takes no lease, wait or metadata.
func (r *remote) getLock(ctx context.Context, name string, o lockd.AcquireOptions) (lockd.Lease, error) {
	if o.Lease != "" || o.Wait != 0 || len(o.Metadata) != 0 {
		return lockd.Lease{}, &lockd.ArgumentError{Field: "release_by_owner", Reason: "over HTTP cannot be combined with a lease, a wait or metadata"}
	}
	if err := lockd.ValidateOwner(o.Owner); err != nil {
		return lockd.Lease{}, err
	}
	ttl := o.TTL
	if ttl == 0 {
		ttl = lockd.DefaultTTL
	}
	if err := lockd.ValidateTTL(ttl); err != nil {
		return lockd.Lease{}, err
	}
	ttl = ttl.Truncate(time.Millisecond)
	secs := json.Number(strconv.FormatFloat(ttl.Seconds(), 'f', -1, 64))
	in := legacyRequest{Duration: secs, Resource: name, Identity: o.Owner}
	status, out, err := r.legacy(ctx, "/get-lock", in)
	if err != nil {
		return lockd.Lease{}, err
	}
	switch {
	case status == http.StatusOK && out.Message == legacyGranted:
		return lockd.Lease{Name: name, Owner: o.Owner, ID: out.Lease, Fence: out.Fence, TTL: ttl, ExpiresAt: out.ExpiresAt}, nil
	case status == http.StatusConflict:
		noe := &lockd.NotObtainedError{Name: name}
		if owner, ok := strings.CutPrefix(out.Message, "Lock already exists on resource "+name+" by "); ok {
			noe.Holder = &lockd.Holder{Owner: owner}
		}
		return lockd.Lease{}, noe
	}
	return lockd.Lease{}, legacyFailure(status, out)
}

// ReleaseByOwner releases name through POST /release-lock, by owner
// label: the server releases it only if owner holds it and took it through
// POST /get-lock.
func (r *remote) ReleaseByOwner(ctx context.Context, name, owner string) (lockd.Released, error) {
	if err := lockd.ValidateName(name); err != nil {
		return lockd.Released{}, err
	}
	if err := lockd.ValidateOwner(owner); err != nil {
		return lockd.Released{}, err
	}
	status, out, err := r.legacy(ctx, "/release-lock", legacyRequest{Resource: name, Identity: owner})
	if err != nil {
		return lockd.Released{}, err
	}
	switch {
	case status == http.StatusOK && out.Message == legacyReleased:
		return lockd.Released{Name: name, Owner: owner, Fence: out.Fence}, nil
	case status == http.StatusOK && out.Message == legacyAlreadyReleased,
		status == http.StatusConflict: // held, by someone else or not by owner label
		return lockd.Released{}, lockd.ErrNotHeld
	}
	return lockd.Released{}, legacyFailure(status, out)
}

// legacy posts in to one of the prototype's routes and decodes the answer,
// whatever its status.
func (r *remote) legacy(ctx context.Context, path string, in legacyRequest) (int, legacyAnswer, error) {
	status, b, err := r.send(ctx, call{method: http.MethodPost, path: path, in: in})
	if err != nil {
		return 0, legacyAnswer{}, err
	}
	var out legacyAnswer
	if err := json.Unmarshal(b, &out); err != nil {
		return 0, legacyAnswer{}, fmt.Errorf("client: POST %s: HTTP %d: %q: %w", path, status, snippet(b), lockd.ErrInternal)
	}
	return status, out, nil
}

// legacyFailure rebuilds the error of a prototype answer that is neither a
// success nor a conflict. Those routes send a code's own message
// ("lockd: quorum unavailable"), which names its sentinel.
func legacyFailure(status int, out legacyAnswer) error {
	for _, code := range []string{lockd.CodeQuorumUnavailable, lockd.CodeStoreUnavailable, lockd.CodeUnavailable} {
		if sentinel := lockd.CodeError(code); out.Error == sentinel.Error() {
			return sentinel
		}
	}
	if status == http.StatusBadRequest {
		return fmt.Errorf("client: %s: %w", out.Error, lockd.ErrInvalidArgument)
	}
	msg := out.Error
	if msg == "" {
		msg = out.Message
	}
	return fmt.Errorf("client: HTTP %d: %q: %w", status, msg, lockd.ErrInternal)
}
