package client

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// Backoff between retries: doubling from backoffMin to backoffMax, each
// wait drawn at random from its upper half so that clients that failed
// together do not come back together.
const (
	backoffMin = 50 * time.Millisecond
	backoffMax = time.Second
)

// backoff is a doubling, jittered wait.
type backoff struct{ next time.Duration }

// wait returns the next pause.
func (b *backoff) wait() time.Duration {
	if b.next < backoffMin {
		b.next = backoffMin
	}
	d := b.next
	b.next = min(2*b.next, backoffMax)
	return d/2 + rand.N(d/2+1)
}

// sleep waits d, or less when ctx ends (returning false).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// retry runs attempt until it succeeds, fails for good, or the budget
// (the client's retry time plus extra, within ctx) is spent. Only
// transient errors are retried; attempt learns how many attempts came
// before it.
func (c *Client) retry(ctx context.Context, extra time.Duration, attempt func(n int) error) error {
	return c.retryUntil(ctx, time.Now().Add(c.retryFor+extra), attempt)
}

// retryUntil is retry with the budget ending at until.
func (c *Client) retryUntil(ctx context.Context, until time.Time, attempt func(n int) error) error {
	if c.retryFor == 0 {
		return attempt(0)
	}
	var (
		b    backoff
		last error // the previous attempt's failure
	)
	for n := 0; ; n++ {
		err := attempt(n)
		if last != nil && ctx.Err() != nil && transient(err) {
			// The caller's context cut this attempt short; the attempt
			// before it is the real cause.
			return errors.Join(last, ctx.Err())
		}
		if err == nil || !transient(err) || ctx.Err() != nil {
			return err
		}
		last = err
		d := b.wait()
		if time.Now().Add(d).After(until) {
			return err
		}
		if dl, ok := ctx.Deadline(); ok && time.Now().Add(d).After(dl) {
			return err
		}
		if !sleep(ctx, d) {
			return err
		}
	}
}
