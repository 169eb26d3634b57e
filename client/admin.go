package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/wire"
)

// ListLocks returns up to limit held locks (0: lockd.DefaultListLimit)
// whose names start with prefix and come after the cursor after ("" for
// the first page), in name order; page.Next is the cursor of the next
// page. lockd lists from its store when it has one, else from its engine
// (best-effort over Redis). It returns *lockd.ArgumentError for bad
// arguments and lockd.ErrNotConfigured when lockd cannot list.
func (c *Client) ListLocks(ctx context.Context, prefix string, limit int, after string) (lockd.LockPage, error) {
	l, err := lockd.AsLister(c.eng)
	if err != nil {
		return lockd.LockPage{}, err
	}
	var page lockd.LockPage
	err = c.retry(ctx, 0, func(int) error {
		var err error
		page, err = l.ListLocks(ctx, prefix, limit, after)
		return err
	})
	return page, err
}

// ForceRelease frees the lock name without its lease, for reason (which
// lockd journals); it needs an admin key. The holder is not told: its next
// extend answers lockd.ErrLost. It returns lockd.ErrNotHeld when the lock
// was free, and is not retried.
func (c *Client) ForceRelease(ctx context.Context, name, reason string) (lockd.Released, error) {
	f, err := lockd.AsForceReleaser(c.eng)
	if err != nil {
		return lockd.Released{}, err
	}
	return f.ForceRelease(ctx, name, reason)
}

// ListLocks sends GET /v1/locks.
func (r *remote) ListLocks(ctx context.Context, prefix string, limit int, after string) (lockd.LockPage, error) {
	if _, err := lockd.ValidateList(prefix, limit, after); err != nil {
		return lockd.LockPage{}, err
	}
	q := url.Values{}
	if prefix != "" {
		q.Set("prefix", prefix)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if after != "" {
		q.Set("cursor", after)
	}
	path := "/v1/locks"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out wire.LockList
	if err := r.do(ctx, call{method: http.MethodGet, path: path, out: &out}); err != nil {
		return lockd.LockPage{}, err
	}
	page := lockd.LockPage{Next: out.Next}
	for _, l := range out.Locks {
		page.Locks = append(page.Locks, l.Domain())
	}
	return page, nil
}

// ForceRelease sends POST /v1/locks/{name}/force-release.
func (r *remote) ForceRelease(ctx context.Context, name, reason string) (lockd.Released, error) {
	if err := lockd.ValidateName(name); err != nil {
		return lockd.Released{}, err
	}
	if err := lockd.ValidateReason(reason); err != nil {
		return lockd.Released{}, err
	}
	var out wire.Released
	if err := r.do(ctx, call{method: http.MethodPost, path: pathFor(name, "force-release"), name: name, in: wire.ForceReleaseRequest{Reason: reason}, out: &out}); err != nil {
		return lockd.Released{}, err
	}
	return releasedOf(name, out)
}

var (
	_ lockd.Lister        = (*remote)(nil)
	_ lockd.ForceReleaser = (*remote)(nil)
)
