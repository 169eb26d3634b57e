package memlock

import (
	"context"
	"slices"
	"time"

	"github.com/lockd/lockd"
)

// semaphore is one semaphore's live permits, by lease value, and the
// limit they were granted under.
type semaphore struct {
	limit   int
	permits map[string]*permit
}

// permit is one granted permit.
type permit struct {
	owner      string
	fence      int64
	ttl        time.Duration
	acquiredAt time.Time
	expiresAt  time.Time
	metadata   []byte
	// minted is closed once the fence is minted; nil when it is known. A
	// pending permit counts against the limit but is returned to nobody.
	minted chan struct{}
}

func (p *permit) lease(name, id string) lockd.Lease {
	return lockd.Lease{
		Name: name, Owner: p.owner, ID: id, Fence: p.fence, TTL: p.ttl,
		AcquiredAt: p.acquiredAt, ExpiresAt: p.expiresAt, Metadata: p.metadata,
	}
}

// AcquirePermit grants a permit of the semaphore name under limit to
// opts.Owner under opts.Lease (a fresh lease when empty), waiting up to
// opts.Wait while all limit permits are taken; a release wakes the
// waiters at once. An acquire with a lease that holds a permit refreshes
// its TTL and returns the same permit. It returns
// *lockd.NotObtainedError when the wait ends first (naming the permit
// that expires soonest), joined with ctx.Err() when the context ended it;
// *lockd.LimitConflictError when live permits were granted under another
// limit; and *lockd.ArgumentError for bad input.
func (e *Engine) AcquirePermit(ctx context.Context, name string, limit int, opts lockd.AcquireOptions) (lockd.Lease, error) {
	opts, err := opts.PreparePermit(name, limit)
	if err != nil {
		return lockd.Lease{}, err
	}
	return e.wait(ctx, lockd.SemaphoreLine(name), name, opts, func() (lockd.Lease, *lockd.Holder, <-chan struct{}, error) {
		return e.tryPermit(ctx, name, limit, opts)
	})
}

// tryPermit makes one attempt, with the results of tryAcquire.
func (e *Engine) tryPermit(ctx context.Context, name string, limit int, opts lockd.AcquireOptions) (lockd.Lease, *lockd.Holder, <-chan struct{}, error) {
	if err := e.enter(); err != nil {
		return lockd.Lease{}, nil, nil, err
	}
	defer e.mu.Unlock()
	now := time.Now()
	s := e.liveSemaphore(name, now)
	if s == nil {
		s = &semaphore{limit: limit, permits: make(map[string]*permit)}
		if e.sems == nil {
			e.sems = make(map[string]*semaphore)
		}
		e.sems[name] = s
	}
	if s.limit != limit {
		return lockd.Lease{}, nil, nil, &lockd.LimitConflictError{Name: name, Limit: s.limit, Asked: limit}
	}
	if p := s.permits[opts.Lease]; p != nil {
		if p.minted != nil {
			return lockd.Lease{}, nil, p.minted, nil
		}
		p.ttl, p.acquiredAt, p.expiresAt = opts.TTL, now, now.Add(opts.TTL)
		if len(opts.Metadata) > 0 {
			p.metadata = opts.Metadata
		}
		return p.lease(name, opts.Lease), nil, nil, nil
	}
	if len(s.permits) >= limit {
		first := s.soonest()
		return lockd.Lease{}, &lockd.Holder{Owner: first.owner, ExpiresAt: first.expiresAt}, nil, nil
	}
	p := &permit{owner: opts.Owner, ttl: opts.TTL, acquiredAt: now, expiresAt: now.Add(opts.TTL), metadata: opts.Metadata}
	s.permits[opts.Lease] = p
	if e.minter == nil {
		e.fence++
		p.fence = e.fence
		return p.lease(name, opts.Lease), nil, nil, nil
	}
	p.minted = make(chan struct{})
	fence, err := e.mintFence(ctx, p.lease(name, opts.Lease), p.minted)
	p.minted = nil
	if err != nil {
		if s.permits[opts.Lease] == p {
			e.dropPermit(name, s, opts.Lease)
		}
		return lockd.Lease{}, nil, nil, err
	}
	p.fence = fence
	return p.lease(name, opts.Lease), nil, nil, nil
}

// liveSemaphore returns name's semaphore with its expired permits dropped,
// or nil when none is live. e.mu must be held.
func (e *Engine) liveSemaphore(name string, now time.Time) *semaphore {
	s := e.sems[name]
	if s == nil {
		return nil
	}
	for id, p := range s.permits {
		if !now.Before(p.expiresAt) {
			e.dropPermit(name, s, id)
		}
	}
	return e.sems[name]
}

// dropPermit deletes a permit, forgets the semaphore with its last permit
// (its limit with it), and wakes the head of the semaphore's line. e.mu
// must be held.
func (e *Engine) dropPermit(name string, s *semaphore, id string) {
	delete(s.permits, id)
	if len(s.permits) == 0 && e.sems[name] == s {
		delete(e.sems, name)
	}
	e.lines.Released(lockd.SemaphoreLine(name))
}

func (e *Engine) sweepSemaphores() {
	now := time.Now()
	for name := range e.sems {
		e.liveSemaphore(name, now)
	}
}

// soonest returns the permit that expires first. s has at least one.
func (s *semaphore) soonest() *permit {
	var first *permit
	for _, p := range s.permits {
		if first == nil || p.expiresAt.Before(first.expiresAt) {
			first = p
		}
	}
	return first
}

// permitOf returns the live, minted permit leaseID of name, or nil. e.mu
// must be held.
func (e *Engine) permitOf(name, leaseID string) (*semaphore, *permit) {
	s := e.liveSemaphore(name, time.Now())
	if s == nil {
		return nil, nil
	}
	p := s.permits[leaseID]
	if p == nil || p.minted != nil {
		return nil, nil
	}
	return s, p
}

// ExtendPermit pushes the permit's expiry to now+ttl; ttl 0 keeps its
// TTL. It returns lockd.ErrLost when the lease holds no permit of name
// and *lockd.ArgumentError for bad input.
func (e *Engine) ExtendPermit(ctx context.Context, name, leaseID string, ttl time.Duration) (lockd.Lease, error) {
	if err := lockd.ValidateLease(name, leaseID); err != nil {
		return lockd.Lease{}, err
	}
	if err := lockd.ValidateExtendTTL(ttl); err != nil {
		return lockd.Lease{}, err
	}
	if err := e.usable(ctx); err != nil {
		return lockd.Lease{}, err
	}
	defer e.mu.Unlock()
	_, p := e.permitOf(name, leaseID)
	if p == nil {
		return lockd.Lease{}, lockd.ErrLost
	}
	if ttl == 0 {
		ttl = p.ttl
	}
	now := time.Now()
	p.ttl, p.acquiredAt, p.expiresAt = ttl, now, now.Add(ttl)
	return p.lease(name, leaseID), nil
}

// ReleasePermit deletes the permit leaseID holds and says what it
// deleted; the head of the semaphore's line is woken. It returns
// lockd.ErrNotHeld when the lease holds no permit of name, and deletes
// nothing.
func (e *Engine) ReleasePermit(ctx context.Context, name, leaseID string) (lockd.Released, error) {
	if err := lockd.ValidateLease(name, leaseID); err != nil {
		return lockd.Released{}, err
	}
	if err := e.usable(ctx); err != nil {
		return lockd.Released{}, err
	}
	defer e.mu.Unlock()
	s, p := e.permitOf(name, leaseID)
	if p == nil {
		return lockd.Released{}, lockd.ErrNotHeld
	}
	e.dropPermit(name, s, leaseID)
	return lockd.Released{Name: name, Owner: p.owner, Fence: p.fence}, nil
}

// InspectSemaphore reports the semaphore's limit and live permits,
// soonest to expire first, without their lease values.
func (e *Engine) InspectSemaphore(ctx context.Context, name string) (lockd.SemaphoreInfo, error) {
	if err := lockd.ValidateName(name); err != nil {
		return lockd.SemaphoreInfo{}, err
	}
	if err := e.usable(ctx); err != nil {
		return lockd.SemaphoreInfo{}, err
	}
	defer e.mu.Unlock()
	info := lockd.SemaphoreInfo{Name: name}
	s := e.liveSemaphore(name, time.Now())
	if s == nil {
		return info, nil
	}
	info.Limit = s.limit
	for _, p := range s.permits {
		if p.minted == nil {
			info.Permits = append(info.Permits, lockd.Permit{Owner: p.owner, Fence: p.fence, ExpiresAt: p.expiresAt, Metadata: p.metadata})
		}
	}
	slices.SortFunc(info.Permits, func(a, b lockd.Permit) int { return a.ExpiresAt.Compare(b.ExpiresAt) })
	return info, nil
}

// usable takes e.mu when ctx is live and the engine open, and returns the
// reason otherwise (without the mutex).
func (e *Engine) usable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return errClosed
	}
	return nil
}

var _ lockd.Semaphores = (*Engine)(nil)
