package memlock

import (
	"context"
	"errors"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/waitq"
)

// attempt is one try at a grant. It returns the lease; or the holder in
// the way; or, when the caller's own grant is still minting its fence, no
// holder and a channel closed when the mint ends.
type attempt func() (lockd.Lease, *lockd.Holder, <-chan struct{}, error)

// wait runs try until it grants, waiting in the line under line (a lock's
// name, or lockd.SemaphoreLine) for up to opts.Wait while a holder is in
// the way: with Fair, behind the acquires already waiting; then, as the
// head, until a release, the holder's expiry or the end of the wait. It
// returns *lockd.NotObtainedError naming name when the wait ends first,
// joined with ctx.Err() when the context ended it, and try's own errors.
func (e *Engine) wait(ctx context.Context, line, name string, opts lockd.AcquireOptions, try attempt) (lockd.Lease, error) {
	start := time.Now()
	deadline := start.Add(opts.Wait)
	var (
		w       *waitq.Waiter // this acquire's place in the lock's line; nil when it does not wait
		granted bool
	)
	if opts.Wait > 0 {
		w = e.lines.Join(line)
		defer func() { e.lines.Leave(line, w, granted) }()
	}
	switch {
	case opts.Fair && w == nil && e.lines.Len(line) > 0:
		return lockd.Lease{}, &lockd.NotObtainedError{Name: name} // others wait first
	case opts.Fair && w != nil && !w.Head():
		// Behind the others from the start: no attempt on arrival.
		if !waitq.Pause(ctx, w.Turn(), deadline) {
			noe := &lockd.NotObtainedError{Name: name}
			if err := ctx.Err(); err != nil {
				return lockd.Lease{}, errors.Join(noe, err)
			}
			return lockd.Lease{}, noe
		}
	}
	for {
		// Taken before the attempt, so that a release between the attempt
		// and the pause below is not missed.
		woken := e.lines.Woken(line)
		at := time.Now()
		lease, holder, minting, err := try()
		if err != nil || holder == nil && minting == nil {
			if err == nil {
				lease.Waited = at.Sub(start)
				granted = true
			}
			return lease, err
		}
		if holder == nil {
			// Our own earlier grant is still minting its fence: wait for it.
			select {
			case <-minting:
				continue
			case <-ctx.Done():
				return lockd.Lease{}, errors.Join(&lockd.NotObtainedError{Name: name}, ctx.Err())
			}
		}
		notObtained := &lockd.NotObtainedError{Name: name, Holder: holder}
		if err := ctx.Err(); err != nil {
			return lockd.Lease{}, errors.Join(notObtained, err)
		}
		if w == nil || !time.Now().Before(deadline) {
			return lockd.Lease{}, notObtained
		}
		// Wait in line; then, as the head, until the lock is released,
		// the holder's lease runs out, or the wait ends.
		until := deadline
		if holder.ExpiresAt.Before(until) {
			until = holder.ExpiresAt
		}
		if !waitq.Pause(ctx, w.Turn(), deadline) || !waitq.Pause(ctx, woken, until) {
			if err := ctx.Err(); err != nil {
				return lockd.Lease{}, errors.Join(notObtained, err)
			}
		}
	}
}
