package memlock

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/lockd/lockd"
)

// ListLocks returns up to limit held locks whose names start with prefix
// and come after the cursor after, in name order. It is exact: the engine
// knows every lock.
func (e *Engine) ListLocks(ctx context.Context, prefix string, limit int, after string) (lockd.LockPage, error) {
	limit, err := lockd.ValidateList(prefix, limit, after)
	if err != nil {
		return lockd.LockPage{}, err
	}
	if err := e.usable(ctx); err != nil {
		return lockd.LockPage{}, err
	}
	defer e.mu.Unlock()
	now := time.Now()
	var names []string
	wanted := func(n string) bool { return strings.HasPrefix(n, prefix) && n > after }
	for n := range e.locks {
		if wanted(n) && e.live(n, now) != nil {
			names = append(names, n)
		}
	}
	for n := range e.rw {
		if wanted(n) && e.locks[n] == nil && len(e.liveReaders(n, now)) > 0 {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	var page lockd.LockPage
	for _, n := range names {
		if len(page.Locks) == limit {
			page.Next = page.Locks[len(page.Locks)-1].Name
			break
		}
		page.Locks = append(page.Locks, e.infoLocked(n, now))
	}
	return page, nil
}

// ForceRelease deletes the lock name, a writer with all its holds or every
// reader, whatever their leases, and wakes its waiters. It returns
// lockd.ErrNotHeld when the lock was free.
func (e *Engine) ForceRelease(ctx context.Context, name, reason string) (lockd.Released, error) {
	if err := lockd.ValidateName(name); err != nil {
		return lockd.Released{}, err
	}
	if err := lockd.ValidateReason(reason); err != nil {
		return lockd.Released{}, err
	}
	if err := e.usable(ctx); err != nil {
		return lockd.Released{}, err
	}
	defer e.mu.Unlock()
	now := time.Now()
	if cur := e.live(name, now); cur != nil {
		e.drop(name)
		return lockd.Released{Name: name, Owner: cur.owner, Fence: cur.fence}, nil
	}
	info, ok := e.readInfo(name, now)
	if !ok {
		return lockd.Released{}, lockd.ErrNotHeld
	}
	if s := e.rwOf(name, false); s != nil {
		for id, r := range s.readers {
			e.dropReader(name, id, r)
		}
	}
	return lockd.Released{Name: name, Owner: info.Owner, Fence: info.Fence}, nil
}

// infoLocked is Inspect's answer for name. e.mu must be held.
func (e *Engine) infoLocked(name string, now time.Time) lockd.LockInfo {
	cur := e.live(name, now)
	if cur == nil {
		if info, ok := e.readInfo(name, now); ok {
			return info
		}
		return lockd.LockInfo{Name: name}
	}
	return lockd.LockInfo{Name: name, Held: true, Owner: cur.owner, Fence: cur.fence, ExpiresAt: cur.expiresAt, Metadata: cur.metadata}
}

var (
	_ lockd.Lister        = (*Engine)(nil)
	_ lockd.ForceReleaser = (*Engine)(nil)
)
