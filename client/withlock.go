package client

import (
	"context"
	"errors"

	"github.com/lockd/lockd"
)

// WithLock acquires the lock name with keep-alive, runs fn while holding
// it, and releases it afterwards, even when fn panics. fn's context is
// cancelled the moment the lease is over or may be lost (see Lease.Done);
// context.Cause of it says why. fn gets the lease for its fence.
//
// It returns Acquire's error without running fn when the lock was not
// obtained. Otherwise it returns fn's error joined with any lock error:
// why the lease ended early (an error matching lockd.ErrLost, ErrMaxHold,
// or ctx's cause), and Release's error. The release gets its own timeout
// (the client's request timeout), so it runs even after ctx ended.
func (c *Client) WithLock(ctx context.Context, name string, fn func(ctx context.Context, l *Lease) error, opts ...AcquireOption) (err error) {
	opts = append(opts[:len(opts):len(opts)], KeepAlive())
	l, err := c.Acquire(ctx, name, opts...)
	if err != nil {
		return err
	}
	fctx, cancel := context.WithCancelCause(ctx)
	go func() {
		select {
		case <-l.Done():
			cancel(l.Err())
		case <-fctx.Done():
		}
	}()
	defer func() {
		ended := l.Err()
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
		rerr := l.Release(rctx)
		rcancel()
		cancel(nil)
		if ended != nil && !errors.Is(ended, lockd.ErrLost) {
			// A loss is in rerr already; the other endings are not.
			rerr = errors.Join(ended, rerr)
		}
		err = errors.Join(err, rerr)
	}()
	return fn(fctx, l)
}
