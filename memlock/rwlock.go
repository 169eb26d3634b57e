package memlock

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lockd/lockd"
)

// Read-write locks. The read leases of a lock live beside its write entry
// (e.locks), in e.rw; the two never hold one name at once. A write
// acquire that waits and is refused because of readers counts itself in
// rwState.writers until it returns (granted, given up, or its context
// ended), and read acquires are refused meanwhile: writers are not starved,
// and a writer that gives up blocks nobody afterwards. Readers wait in the
// line lockd.ReadLine(name), writers in name's; a release of the writer
// wakes both, the release of the last reader wakes the writers.

// rwState is the read side of one lock name.
type rwState struct {
	readers map[string]*entry // by lease
	writers int               // write acquires waiting because of readers
}

// rwOf returns name's read side, made when create is set; nil otherwise
// when there is none. e.mu must be held.
func (e *Engine) rwOf(name string, create bool) *rwState {
	if e.rw == nil {
		e.rw = make(map[string]*rwState)
	}
	s := e.rw[name]
	if s == nil && create {
		s = &rwState{readers: make(map[string]*entry)}
		e.rw[name] = s
	}
	return s
}

// liveReaders returns name's unexpired read leases, dropping expired ones
// (and waking the writers when that frees the lock). e.mu must be held.
func (e *Engine) liveReaders(name string, now time.Time) map[string]*entry {
	s := e.rwOf(name, false)
	if s == nil {
		return nil
	}
	n := len(s.readers)
	for id, r := range s.readers {
		if !now.Before(r.expiresAt) {
			delete(s.readers, id)
		}
	}
	if n > 0 && len(s.readers) == 0 {
		e.lines.Released(name)
	}
	e.forgetRW(name, s)
	return s.readers
}

// forgetRW drops name's read side once it holds nothing. e.mu must be held.
func (e *Engine) forgetRW(name string, s *rwState) {
	if len(s.readers) == 0 && s.writers == 0 {
		delete(e.rw, name)
	}
}

// lastReader returns the reader whose lease runs out last: the one a
// refusal names, and Inspect shows.
func lastReader(readers map[string]*entry) *entry {
	var last *entry
	for _, r := range readers {
		if last == nil || r.expiresAt.After(last.expiresAt) {
			last = r
		}
	}
	return last
}

// readersInTheWay is the check of a write acquire on a lock no writer
// holds: it returns the holder to report when readers hold the lock, and
// counts the acquire as a waiting writer (once: *marked) when it waits. An
// acquire with a lease that holds a read is a mode mismatch. e.mu must be
// held.
func (e *Engine) readersInTheWay(name string, opts lockd.AcquireOptions, now time.Time, marked *bool) (*lockd.Holder, error) {
	readers := e.liveReaders(name, now)
	if len(readers) == 0 {
		return nil, nil
	}
	if readers[opts.Lease] != nil {
		return nil, lockd.GrantMismatch("mode")
	}
	if opts.Wait > 0 && !*marked {
		e.rwOf(name, true).writers++
		*marked = true
	}
	last := lastReader(readers)
	return &lockd.Holder{Owner: last.owner, ExpiresAt: last.expiresAt}, nil
}

// unmarkWriter ends a write acquire's count as a waiting writer, and wakes
// the readers it kept out.
func (e *Engine) unmarkWriter(name string, marked bool) {
	if !marked {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if s := e.rwOf(name, false); s != nil {
		s.writers--
		if s.writers == 0 {
			e.lines.Released(lockd.ReadLine(name))
		}
		e.forgetRW(name, s)
	}
}

// writerWaitPoll is how soon a read acquire refused because a writer waits,
// while no reader holds the lock, looks again.
const writerWaitPoll = time.Second

// acquireRead is Acquire for opts.Mode lockd.ModeRead.
func (e *Engine) acquireRead(ctx context.Context, name string, opts lockd.AcquireOptions) (lockd.Lease, error) {
	return e.wait(ctx, lockd.ReadLine(name), name, opts, func() (lockd.Lease, *lockd.Holder, <-chan struct{}, error) {
		return e.tryRead(ctx, name, opts)
	})
}

// tryRead makes one attempt at a read lease, as tryAcquire does for a
// write lease.
func (e *Engine) tryRead(ctx context.Context, name string, opts lockd.AcquireOptions) (lockd.Lease, *lockd.Holder, <-chan struct{}, error) {
	// enter, as a write acquire does: read traffic alone must sweep
	// expired leases too.
	if err := e.enter(); err != nil {
		return lockd.Lease{}, nil, nil, err
	}
	locked := true
	defer func() {
		if locked {
			e.mu.Unlock()
		}
	}()
	now := time.Now()
	if cur := e.live(name, now); cur != nil {
		if cur.id == opts.Lease {
			return lockd.Lease{}, nil, nil, lockd.GrantMismatch("mode")
		}
		return lockd.Lease{}, &lockd.Holder{Owner: cur.owner, ExpiresAt: cur.expiresAt}, nil, nil
	}
	readers := e.liveReaders(name, now)
	if r := readers[opts.Lease]; r != nil {
		if r.minted != nil {
			return lockd.Lease{}, nil, r.minted, nil
		}
		r.ttl, r.acquiredAt, r.expiresAt = opts.TTL, now, now.Add(opts.TTL)
		if len(opts.Metadata) > 0 {
			r.metadata = opts.Metadata
		}
		return r.readLease(name), nil, nil, nil
	}
	if s := e.rwOf(name, false); s != nil && s.writers > 0 {
		// The writers' exit or release wakes this line; the poll is for a
		// moment without readers, when the writer is about to be granted.
		h := &lockd.Holder{ExpiresAt: now.Add(writerWaitPoll)}
		if last := lastReader(readers); last != nil {
			h = &lockd.Holder{Owner: last.owner, ExpiresAt: last.expiresAt}
		}
		return lockd.Lease{}, h, nil, nil
	}
	r := &entry{owner: opts.Owner, id: opts.Lease, ttl: opts.TTL, acquiredAt: now, expiresAt: now.Add(opts.TTL), metadata: opts.Metadata}
	e.rwOf(name, true).readers[opts.Lease] = r
	if e.minter == nil {
		e.fence++
		r.fence = e.fence
		return r.readLease(name), nil, nil, nil
	}
	// Mint outside the mutex, as tryAcquire does; the pending reader
	// keeps writers out meanwhile.
	r.minted = make(chan struct{})
	pending := r.readLease(name)
	locked = false
	e.mu.Unlock()
	mctx, cancel := context.WithDeadline(ctx, pending.ExpiresAt)
	fence, err := e.minter.MintFence(mctx, pending)
	cancel()
	e.mu.Lock()
	locked = true
	close(r.minted)
	r.minted = nil
	if err == nil && !time.Now().Before(r.expiresAt) {
		err = errors.New("memlock: fence minted after the lease ran out")
	}
	if err != nil {
		e.dropReader(name, opts.Lease, r)
		if !errors.Is(err, lockd.ErrStoreUnavailable) {
			err = fmt.Errorf("%w: %w", lockd.ErrStoreUnavailable, err)
		}
		return lockd.Lease{}, nil, nil, err
	}
	r.fence = fence
	return r.readLease(name), nil, nil, nil
}

// dropReader deletes the read lease id of name if it is r, and wakes the
// writers when it was the last reader. e.mu must be held.
func (e *Engine) dropReader(name, id string, r *entry) {
	s := e.rwOf(name, false)
	if s == nil || s.readers[id] != r {
		return
	}
	delete(s.readers, id)
	if len(s.readers) == 0 {
		e.lines.Released(name)
	}
	e.forgetRW(name, s)
}

// readLease returns the read lease r describes.
func (r *entry) readLease(name string) lockd.Lease {
	l := r.lease(name, "")
	l.Mode = lockd.ModeRead
	return l
}

// reader returns the live, granted read lease id of name, or nil. e.mu
// must be held.
func (e *Engine) reader(name, id string, now time.Time) *entry {
	r := e.liveReaders(name, now)[id]
	if r == nil || r.minted != nil {
		return nil
	}
	return r
}

// readInfo reports the readers of name, when any hold it. e.mu must be
// held.
func (e *Engine) readInfo(name string, now time.Time) (lockd.LockInfo, bool) {
	readers := e.liveReaders(name, now)
	last := lastReader(readers)
	if last == nil {
		return lockd.LockInfo{}, false
	}
	return lockd.LockInfo{
		Name: name, Held: true, Mode: lockd.ModeRead, Readers: len(readers),
		Owner: last.owner, Fence: last.fence, ExpiresAt: last.expiresAt, Metadata: last.metadata,
	}, true
}

// sweepReaders drops expired read leases of every lock. e.mu must be held.
func (e *Engine) sweepReaders(now time.Time) {
	for name := range e.rw {
		e.liveReaders(name, now)
	}
}
