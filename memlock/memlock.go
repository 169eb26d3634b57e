// Package memlock is an in-memory lockd.Engine with the same semantics as
// the Redlock engine: idempotent acquire with the caller's lease, strictly
// growing fences, idempotent release, waiting with wake-up on release. It backs lockd's dev
// mode and tests. State lives in one process and is lost when it exits.
package memlock

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/waitq"
)

// sweepEvery is how many acquires pass between sweeps of expired entries,
// which bounds memory under many short-lived lock names.
const sweepEvery = 1024

// Option configures an Engine.
type Option func(*Engine)

// WithFenceMinter makes every new grant take its fence from m (MongoDB, in
// lockd) instead of the engine's counters, so fences survive restarts. If
// the mint fails, or does not finish within the lease's TTL, the grant is
// undone and Acquire fails closed with an error matching
// lockd.ErrStoreUnavailable. The default is no minter.
func WithFenceMinter(m lockd.FenceMinter) Option {
	return func(e *Engine) { e.minter = m }
}

// Engine is the in-memory engine. It is safe for concurrent use.
type Engine struct {
	minter lockd.FenceMinter

	mu    sync.Mutex
	locks map[string]*entry
	// fence is one counter for every lock: fences grow strictly per lock
	// because they grow strictly overall, and a name leaves nothing behind
	// once its lock is gone.
	fence  int64
	ops    int
	closed bool

	lines waitq.Lines // acquires that wait, by lock name or lockd.SemaphoreLine

	sems map[string]*semaphore // semaphores with live permits (semaphore.go)
	rw   map[string]*rwState   // read leases and waiting writers (rwlock.go)
}

type entry struct {
	owner      string
	id         string
	fence      int64
	ttl        time.Duration
	acquiredAt time.Time
	expiresAt  time.Time
	metadata   []byte
	// byOwner lets the owner label release the lock (ReleaseByOwner).
	byOwner bool
	// reentrant is set for a lease granted with AcquireOptions.Reentrant;
	// holds then lists its holds, oldest first.
	reentrant bool
	holds     []string
	// minted is closed once the entry's fence is minted; nil when the
	// fence is known. A pending entry holds the lock but is not yet
	// returned to anyone.
	minted chan struct{}
}

// New returns an empty engine.
func New(opts ...Option) *Engine {
	e := &Engine{locks: make(map[string]*entry)}
	for _, o := range opts {
		o(e)
	}
	return e
}

var errClosed = errors.New("memlock: engine closed")

// Acquire grants the lock to opts.Owner under opts.Lease (a fresh lease
// when empty), waiting up to opts.Wait while someone else holds it. An
// acquire with the lease that holds the lock refreshes its TTL and returns
// the same grant. It returns *lockd.NotObtainedError (ErrNotObtained)
// when the wait ends first, joined with ctx.Err() when the context ended it,
// and *lockd.ArgumentError for bad input.
func (e *Engine) Acquire(ctx context.Context, name string, opts lockd.AcquireOptions) (lockd.Lease, error) {
	opts, err := opts.Prepare(name)
	if err != nil {
		return lockd.Lease{}, err
	}
	if opts.Mode == lockd.ModeRead {
		return e.acquireRead(ctx, name, opts)
	}
	marked := false // counted as a writer that waits for readers
	defer func() { e.unmarkWriter(name, marked) }()
	return e.wait(ctx, name, name, opts, func() (lockd.Lease, *lockd.Holder, <-chan struct{}, error) {
		return e.tryAcquire(ctx, name, opts, &marked)
	})
}

// tryAcquire makes one attempt. When someone else holds the lock it returns
// the holder; when the same lease's grant is still minting its fence, no
// holder and a channel closed when the mint ends. A refusal because of
// readers counts the acquire as a waiting writer (*marked) when it waits.
func (e *Engine) tryAcquire(ctx context.Context, name string, opts lockd.AcquireOptions, marked *bool) (lockd.Lease, *lockd.Holder, <-chan struct{}, error) {
	if err := e.enter(); err != nil {
		return lockd.Lease{}, nil, nil, err
	}
	defer e.mu.Unlock()
	now := time.Now()
	if cur := e.live(name, now); cur != nil {
		if cur.id != opts.Lease {
			return lockd.Lease{}, &lockd.Holder{Owner: cur.owner, ExpiresAt: cur.expiresAt}, nil, nil
		}
		if cur.minted != nil {
			return lockd.Lease{}, nil, cur.minted, nil
		}
		if cur.reentrant != opts.Reentrant {
			return lockd.Lease{}, nil, nil, lockd.GrantMismatch("reentrant")
		}
		if opts.Reentrant {
			cur.hold(opts.Hold)
		}
		// The holder asks again with its lease (a retry after a timeout,
		// say): refresh and hand back the same grant.
		cur.ttl = opts.TTL
		cur.acquiredAt = now
		cur.expiresAt = now.Add(opts.TTL)
		if len(opts.Metadata) > 0 {
			cur.metadata = opts.Metadata
		}
		return cur.lease(name, opts.Hold), nil, nil, nil
	}
	if h, err := e.readersInTheWay(name, opts, now, marked); h != nil || err != nil {
		return lockd.Lease{}, h, nil, err
	}
	cur := &entry{
		owner:      opts.Owner,
		id:         opts.Lease,
		ttl:        opts.TTL,
		acquiredAt: now,
		expiresAt:  now.Add(opts.TTL),
		metadata:   opts.Metadata,
		byOwner:    opts.ReleaseByOwner,
		reentrant:  opts.Reentrant,
	}
	if opts.Reentrant {
		cur.hold(opts.Hold)
	}
	e.locks[name] = cur
	if e.minter == nil {
		e.fence++
		cur.fence = e.fence
		return cur.lease(name, opts.Hold), nil, nil, nil
	}
	// The pending entry keeps others out while the store mints.
	cur.minted = make(chan struct{})
	fence, err := e.mintFence(ctx, cur.lease(name, opts.Hold), cur.minted)
	cur.minted = nil
	if err != nil {
		if e.locks[name] == cur {
			e.drop(name)
		}
		return lockd.Lease{}, nil, nil, err
	}
	cur.fence = fence
	return cur.lease(name, opts.Hold), nil, nil, nil
}

// live returns the unexpired entry for name, dropping an expired one.
// e.mu must be held.
func (e *Engine) live(name string, now time.Time) *entry {
	cur, ok := e.locks[name]
	if !ok {
		return nil
	}
	if !now.Before(cur.expiresAt) {
		e.drop(name)
		return nil
	}
	return cur
}

// drop deletes the entry for name and wakes the head of its line. e.mu
// must be held.
func (e *Engine) drop(name string) {
	delete(e.locks, name)
	e.lines.Released(name)
	e.lines.Released(lockd.ReadLine(name))
}

func (e *Engine) sweep() {
	now := time.Now()
	e.sweepReaders(now)
	for name, cur := range e.locks {
		if !now.Before(cur.expiresAt) {
			e.drop(name)
		}
	}
}

// lease returns the lease c describes, naming hold (empty for a lease that
// is not reentrant, or for an extend).
func (c *entry) lease(name, hold string) lockd.Lease {
	return lockd.Lease{
		Hold:       hold,
		Holds:      len(c.holds),
		Name:       name,
		Owner:      c.owner,
		ID:         c.id,
		Fence:      c.fence,
		TTL:        c.ttl,
		AcquiredAt: c.acquiredAt,
		ExpiresAt:  c.expiresAt,
		Metadata:   c.metadata,
	}
}

// Extend pushes the lease's expiry to now+ttl; ttl 0 keeps the lease's
// TTL. It returns lockd.ErrLost when the lease no longer holds the lock and
// *lockd.ArgumentError for bad input.
func (e *Engine) Extend(ctx context.Context, name, leaseID string, ttl time.Duration) (lockd.Lease, error) {
	if err := lockd.ValidateLease(name, leaseID); err != nil {
		return lockd.Lease{}, err
	}
	if err := lockd.ValidateExtendTTL(ttl); err != nil {
		return lockd.Lease{}, err
	}
	if err := ctx.Err(); err != nil {
		return lockd.Lease{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return lockd.Lease{}, errClosed
	}
	now := time.Now()
	cur, read := e.live(name, now), false
	if cur == nil {
		cur, read = e.reader(name, leaseID, now), true
	}
	if cur == nil || cur.id != leaseID || cur.minted != nil {
		return lockd.Lease{}, lockd.ErrLost
	}
	if ttl == 0 {
		ttl = cur.ttl
	}
	cur.ttl = ttl
	cur.acquiredAt = now
	cur.expiresAt = now.Add(ttl)
	if read {
		return cur.readLease(name), nil
	}
	return cur.lease(name, ""), nil
}

// Release deletes the lock if leaseID holds it and says what it deleted.
// It returns lockd.ErrNotHeld otherwise and deletes nothing.
func (e *Engine) Release(ctx context.Context, name, leaseID string) (lockd.Released, error) {
	if err := lockd.ValidateLease(name, leaseID); err != nil {
		return lockd.Released{}, err
	}
	return e.release(ctx, name, leaseID, "", func(c *entry) bool { return c.id == leaseID })
}

// ReleaseHold removes the hold named hold from the reentrant lease
// leaseID, and frees the lock when it was the last. It returns
// lockd.ErrNotHeld when the lease does not have that hold, and removes
// nothing.
func (e *Engine) ReleaseHold(ctx context.Context, name, leaseID, hold string) (lockd.Released, error) {
	if err := lockd.ValidateLease(name, leaseID); err != nil {
		return lockd.Released{}, err
	}
	if err := lockd.ValidateHold(hold); err != nil {
		return lockd.Released{}, err
	}
	return e.release(ctx, name, "", hold, func(c *entry) bool { return c.id == leaseID })
}

// ReleaseByOwner deletes the lock if owner holds it under a grant made with
// AcquireOptions.ReleaseByOwner. It returns lockd.ErrNotHeld otherwise and
// deletes nothing.
func (e *Engine) ReleaseByOwner(ctx context.Context, name, owner string) (lockd.Released, error) {
	if err := lockd.ValidateName(name); err != nil {
		return lockd.Released{}, err
	}
	if err := lockd.ValidateOwner(owner); err != nil {
		return lockd.Released{}, err
	}
	return e.release(ctx, name, "", "", func(c *entry) bool { return c.byOwner && c.owner == owner })
}

// release deletes the live entry of name if mine says it is the caller's.
// For a reentrant lease it removes hold (the most recent one when hold is
// empty), and deletes the entry with the last one. With no writer, it
// deletes the read lease readID, when given.
func (e *Engine) release(ctx context.Context, name, readID, hold string, mine func(*entry) bool) (lockd.Released, error) {
	if err := ctx.Err(); err != nil {
		return lockd.Released{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return lockd.Released{}, errClosed
	}
	now := time.Now()
	cur := e.live(name, now)
	if r := e.reader(name, readID, now); cur == nil && r != nil && readID != "" {
		e.dropReader(name, readID, r)
		return lockd.Released{Name: name, Owner: r.owner, Fence: r.fence}, nil
	}
	if cur == nil || cur.minted != nil || !mine(cur) {
		return lockd.Released{}, lockd.ErrNotHeld
	}
	out := lockd.Released{Name: name, Owner: cur.owner, Fence: cur.fence}
	switch {
	case cur.reentrant:
		if !cur.unhold(hold) {
			return lockd.Released{}, lockd.ErrNotHeld
		}
		if out.Holds = len(cur.holds); out.Holds > 0 {
			return out, nil
		}
	case hold != "":
		return lockd.Released{}, lockd.ErrNotHeld
	}
	e.drop(name)
	return out, nil
}

// Inspect reports who holds the lock.
func (e *Engine) Inspect(ctx context.Context, name string) (lockd.LockInfo, error) {
	if err := lockd.ValidateName(name); err != nil {
		return lockd.LockInfo{}, err
	}
	if err := e.usable(ctx); err != nil {
		return lockd.LockInfo{}, err
	}
	defer e.mu.Unlock()
	return e.infoLocked(name, time.Now()), nil
}

// Health reports the engine ready, with one node named "memory".
func (e *Engine) Health(ctx context.Context) lockd.Health {
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	h := lockd.NodeHealth{Addr: "memory", OK: !closed, State: lockd.NodeUp}
	if closed {
		h.Error, h.State = errClosed.Error(), lockd.NodeDown
	}
	return lockd.Health{Ready: !closed, Nodes: []lockd.NodeHealth{h}}
}

// Close drops all state and wakes the waiters; later calls fail.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	for name := range e.locks {
		delete(e.locks, name)
	}
	e.sems = nil
	e.rw = nil
	// Each line's head tries again, fails, and hands the turn on, down
	// the line.
	e.lines.WakeAll()
	return nil
}

var _ lockd.Engine = (*Engine)(nil)
