package client_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/client"
)

func TestKeepAlive(t *testing.T) {
	const ttl = 200 * time.Millisecond
	t.Run("HoldsPastTTL", func(t *testing.T) {
		both(t, func(t *testing.T, c *client.Client, eng *flaky) {
			ctx := ctxFor(t)
			l, err := c.Acquire(ctx, "ka", client.TTL(ttl), client.KeepAlive())
			if err != nil {
				t.Fatal(err)
			}
			// Five TTLs, with someone else asking all along.
			for end := time.Now().Add(5 * ttl); time.Now().Before(end); time.Sleep(ttl / 4) {
				if _, err := c.Acquire(ctx, "ka", client.Owner("other")); !errors.Is(err, lockd.ErrNotObtained) {
					t.Fatalf("another Acquire while kept alive: %v, want ErrNotObtained", err)
				}
			}
			stillOpen(t, l)
			if n := eng.extendCalls(); n < 5 {
				t.Errorf("%d renewals over 5 TTLs, want at least 5 (about 3 per TTL)", n)
			}
			if err := l.Release(ctx); err != nil {
				t.Fatalf("Release: %v", err)
			}
			closedWithin(t, l, time.Second)
			if err := l.Err(); !errors.Is(err, client.ErrReleased) {
				t.Errorf("Err after Release = %v, want ErrReleased", err)
			}
			if err := l.Release(ctx); !errors.Is(err, lockd.ErrNotHeld) {
				t.Errorf("second Release = %v, want ErrNotHeld", err)
			}
		})
	})
	t.Run("ErrMaxHold", func(t *testing.T) {
		both(t, func(t *testing.T, c *client.Client, eng *flaky) {
			ctx := ctxFor(t)
			start := time.Now()
			l, err := c.Acquire(ctx, "ka", client.TTL(ttl), client.KeepAlive(), client.MaxHold(3*ttl))
			if err != nil {
				t.Fatal(err)
			}
			closedWithin(t, l, 5*time.Second)
			if el := time.Since(start); el < 3*ttl {
				t.Errorf("Done closed after %v, before MaxHold %v", el, 3*ttl)
			}
			if err := l.Err(); !errors.Is(err, client.ErrMaxHold) || errors.Is(err, lockd.ErrLost) {
				t.Errorf("Err = %v, want ErrMaxHold alone", err)
			}
			// Renewals stopped: the lock frees itself within a TTL.
			if _, err := c.Acquire(ctx, "ka", client.Wait(5*ttl)); err != nil {
				t.Errorf("Acquire after MaxHold: %v", err)
			}
		})
	})
	t.Run("ErrLost", func(t *testing.T) {
		both(t, func(t *testing.T, c *client.Client, eng *flaky) {
			ctx := ctxFor(t)
			l, err := c.Acquire(ctx, "ka", client.TTL(ttl), client.KeepAlive())
			if err != nil {
				t.Fatal(err)
			}
			// The lease is taken away behind the holder's back.
			if _, err := eng.Release(ctx, "ka", l.ID()); err != nil {
				t.Fatal(err)
			}
			closedWithin(t, l, ttl)
			if err := l.Err(); !errors.Is(err, lockd.ErrLost) || errors.Is(err, client.ErrExpired) {
				t.Errorf("Err = %v, want the refusal, ErrLost", err)
			}
			err = l.Release(ctx)
			if !errors.Is(err, lockd.ErrLost) || !errors.Is(err, lockd.ErrNotHeld) {
				t.Errorf("Release after loss = %v, want ErrNotHeld and ErrLost", err)
			}
		})
	})
	t.Run("ErrExpired", func(t *testing.T) {
		both(t, func(t *testing.T, c *client.Client, eng *flaky) {
			ctx := ctxFor(t)
			l, err := c.Acquire(ctx, "ka", client.TTL(ttl), client.KeepAlive())
			if err != nil {
				t.Fatal(err)
			}
			failed := time.Now()
			eng.failExtends(lockd.ErrQuorumUnavailable)
			closedWithin(t, l, 2*ttl)
			// The last good renewal was sent before the failures began.
			if el := time.Since(failed); el > ttl+50*time.Millisecond {
				t.Errorf("Done closed %v after renewals began to fail, want within the TTL %v", el, ttl)
			}
			err = l.Err()
			for _, want := range []error{lockd.ErrLost, client.ErrExpired, lockd.ErrQuorumUnavailable} {
				if !errors.Is(err, want) {
					t.Errorf("Err = %v, want it to match %v", err, want)
				}
			}
			if n := eng.extendCalls(); n < 3 {
				t.Errorf("%d renewal attempts, want retries before giving up", n)
			}
			eng.failExtends(nil)
			if err := l.Release(ctx); !errors.Is(err, lockd.ErrLost) {
				t.Errorf("Release after loss = %v, want it to say ErrLost", err)
			}
		})
	})
	t.Run("ErrExpiredCause", func(t *testing.T) {
		// Renewals refused with quorum_unavailable, then unanswered: the
		// lease's error names what lockd said, not the deadlines of the
		// attempts cut after it.
		both(t, func(t *testing.T, c *client.Client, eng *flaky) {
			ctx := ctxFor(t)
			l, err := c.Acquire(ctx, "ka", client.TTL(ttl), client.KeepAlive())
			if err != nil {
				t.Fatal(err)
			}
			before := eng.extendCalls()
			eng.failExtends(lockd.ErrQuorumUnavailable)
			for deadline := time.Now().Add(5 * time.Second); eng.extendCalls() == before; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("no renewal within 5s")
				}
			}
			eng.hangExtends(true)
			defer eng.hangExtends(false)
			closedWithin(t, l, 2*ttl)
			err = l.Err()
			for _, want := range []error{lockd.ErrLost, client.ErrExpired, lockd.ErrQuorumUnavailable} {
				if !errors.Is(err, want) {
					t.Errorf("Err = %v, want it to match %v", err, want)
				}
			}
		})
	})
	t.Run("TransientRetried", func(t *testing.T) {
		both(t, func(t *testing.T, c *client.Client, eng *flaky) {
			ctx := ctxFor(t)
			l, err := c.Acquire(ctx, "ka", client.TTL(ttl), client.KeepAlive())
			if err != nil {
				t.Fatal(err)
			}
			// Failures shorter than what is left of the lease are ridden out.
			time.Sleep(ttl / 3)
			eng.failExtends(lockd.ErrQuorumUnavailable)
			time.Sleep(ttl / 4)
			eng.failExtends(nil)
			time.Sleep(2 * ttl)
			stillOpen(t, l)
			if err := l.Release(ctx); err != nil {
				t.Errorf("Release: %v", err)
			}
		})
	})
	t.Run("ContextEnds", func(t *testing.T) {
		both(t, func(t *testing.T, c *client.Client, eng *flaky) {
			ctx, cancel := context.WithCancel(ctxFor(t))
			l, err := c.Acquire(ctx, "ka", client.TTL(ttl), client.KeepAlive())
			if err != nil {
				t.Fatal(err)
			}
			cancel()
			closedWithin(t, l, ttl/2)
			if err := l.Err(); !errors.Is(err, context.Canceled) || errors.Is(err, lockd.ErrLost) {
				t.Errorf("Err = %v, want context.Canceled", err)
			}
			// Still held until released: only the renewals stopped.
			if err := l.Release(ctxFor(t)); err != nil {
				t.Errorf("Release: %v", err)
			}
		})
	})
	t.Run("WithoutKeepAlive", func(t *testing.T) {
		both(t, func(t *testing.T, c *client.Client, eng *flaky) {
			ctx := ctxFor(t)
			start := time.Now()
			l, err := c.Acquire(ctx, "ka", client.TTL(ttl))
			if err != nil {
				t.Fatal(err)
			}
			closedWithin(t, l, 2*ttl)
			if el := time.Since(start); el > ttl+50*time.Millisecond {
				t.Errorf("Done closed after %v, past the TTL %v", el, ttl)
			}
			if err := l.Err(); !errors.Is(err, client.ErrExpired) || !errors.Is(err, lockd.ErrLost) {
				t.Errorf("Err = %v, want ErrExpired and ErrLost", err)
			}
			if n := eng.extendCalls(); n != 0 {
				t.Errorf("%d renewals without KeepAlive, want 0", n)
			}
		})
	})
	t.Run("ExtendMovesDeadline", func(t *testing.T) {
		both(t, func(t *testing.T, c *client.Client, eng *flaky) {
			ctx := ctxFor(t)
			l, err := c.Acquire(ctx, "ka", client.TTL(ttl))
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(ttl / 2)
			if err := l.Extend(ctx, 4*ttl); err != nil {
				t.Fatal(err)
			}
			time.Sleep(ttl)
			stillOpen(t, l)
			if _, err := eng.Release(ctx, "ka", l.ID()); err != nil {
				t.Fatal(err)
			}
			if err := l.Extend(ctx, 0); !errors.Is(err, lockd.ErrLost) {
				t.Fatalf("Extend of a lost lease = %v, want ErrLost", err)
			}
			closedWithin(t, l, time.Second)
		})
	})
	t.Run("ExtendShortens", func(t *testing.T) {
		both(t, func(t *testing.T, c *client.Client, eng *flaky) {
			ctx := ctxFor(t)
			l, err := c.Acquire(ctx, "ka", client.TTL(5*time.Second), client.KeepAlive())
			if err != nil {
				t.Fatal(err)
			}
			if err := l.Extend(ctx, ttl); err != nil {
				t.Fatal(err)
			}
			// The handle now counts the short TTL: keep-alive renews about
			// every ttl/3, not in a loop, and the lease holds.
			before := eng.extendCalls()
			time.Sleep(2 * ttl)
			if n := eng.extendCalls() - before; n > 12 {
				t.Errorf("%d renewals in two TTLs of %v, want about 6", n, ttl)
			}
			stillOpen(t, l)
			if err := l.Release(ctx); err != nil {
				t.Fatal(err)
			}
		})
		both(t, func(t *testing.T, c *client.Client, eng *flaky) {
			ctx := ctxFor(t)
			l, err := c.Acquire(ctx, "ka", client.TTL(5*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			if err := l.Extend(ctx, ttl); err != nil {
				t.Fatal(err)
			}
			// Without keep-alive, Done closes at the new, earlier deadline:
			// the server lets the lease go then too.
			closedWithin(t, l, 2*ttl)
			if el := time.Since(start); el > ttl+50*time.Millisecond {
				t.Errorf("Done closed %v after shortening the TTL to %v", el, ttl)
			}
			if _, err := c.Acquire(ctx, "ka", client.Owner("next"), client.Wait(time.Second)); err != nil {
				t.Errorf("Acquire after the shortened lease: %v", err)
			}
			if err := l.Extend(ctx, 0); err == nil {
				t.Error("Extend after Done closed = nil, want the reason Done closed")
			}
		})
	})
	t.Run("ErrInvalidArgument", func(t *testing.T) {
		c, _ := serve(t)
		var ae *lockd.ArgumentError
		if _, err := c.Acquire(ctxFor(t), "ka", client.MaxHold(-time.Second)); !errors.As(err, &ae) || ae.Field != "max_hold" {
			t.Errorf("MaxHold(-1s): %v, want ArgumentError on max_hold", err)
		}
	})
}

// TestWaitLongerThanTTL acquires after waiting longer than the lease's
// TTL: the lease's time starts when the engine's granting attempt began,
// not when the request was sent, so it must not look expired on arrival.
func TestWaitLongerThanTTL(t *testing.T) {
	const ttl = 300 * time.Millisecond
	both(t, func(t *testing.T, c *client.Client, eng *flaky) {
		ctx := ctxFor(t)
		first, err := c.Acquire(ctx, "wait", client.TTL(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		time.AfterFunc(2*ttl, func() { _ = first.Release(ctx) })
		l, err := c.Acquire(ctx, "wait", client.TTL(ttl), client.Wait(5*time.Second), client.KeepAlive())
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * ttl)
		stillOpen(t, l)
		if err := l.Release(ctx); err != nil {
			t.Errorf("Release: %v", err)
		}
	})
}
