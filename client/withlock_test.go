package client_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/client"
	"github.com/lockd/lockd/locktest"
)

func TestWithLock(t *testing.T) {
	errFn := errors.New("fn failed")
	t.Run("OK", func(t *testing.T) {
		both(t, func(t *testing.T, c *client.Client, eng *flaky) {
			ctx := ctxFor(t)
			var fence int64
			err := c.WithLock(ctx, "wl", func(ctx context.Context, l *client.Lease) error {
				fence = l.Fence()
				if _, err := c.Acquire(ctx, "wl"); !errors.Is(err, lockd.ErrNotObtained) {
					t.Errorf("Acquire inside WithLock: %v, want ErrNotObtained", err)
				}
				return nil
			})
			if err != nil || fence == 0 {
				t.Fatalf("WithLock = %v with fence %d, want nil and a fence", err, fence)
			}
			if _, err := c.Acquire(ctx, "wl"); err != nil {
				t.Errorf("Acquire after WithLock: %v, want the lock released", err)
			}
		})
	})
	t.Run("FnError", func(t *testing.T) {
		both(t, func(t *testing.T, c *client.Client, eng *flaky) {
			ctx := ctxFor(t)
			err := c.WithLock(ctx, "wl", func(context.Context, *client.Lease) error { return errFn })
			if !errors.Is(err, errFn) || errors.Is(err, lockd.ErrLost) {
				t.Errorf("WithLock = %v, want fn's error alone", err)
			}
			if _, err := c.Acquire(ctx, "wl"); err != nil {
				t.Errorf("Acquire after WithLock: %v, want the lock released", err)
			}
		})
	})
	t.Run("Panic", func(t *testing.T) {
		both(t, func(t *testing.T, c *client.Client, eng *flaky) {
			ctx := ctxFor(t)
			func() {
				defer func() {
					if r := recover(); r != "boom" {
						t.Errorf("recovered %v, want the panic to pass through", r)
					}
				}()
				_ = c.WithLock(ctx, "wl", func(context.Context, *client.Lease) error { panic("boom") })
			}()
			if _, err := c.Acquire(ctx, "wl"); err != nil {
				t.Errorf("Acquire after a panic in WithLock: %v, want the lock released", err)
			}
		})
	})
	t.Run("ErrNotObtained", func(t *testing.T) {
		both(t, func(t *testing.T, c *client.Client, eng *flaky) {
			ctx := ctxFor(t)
			if _, err := c.Acquire(ctx, "wl", client.Owner("first")); err != nil {
				t.Fatal(err)
			}
			ran := false
			err := c.WithLock(ctx, "wl", func(context.Context, *client.Lease) error { ran = true; return nil })
			var noe *lockd.NotObtainedError
			if !errors.As(err, &noe) || noe.Holder == nil || noe.Holder.Owner != "first" || ran {
				t.Errorf("WithLock on a held lock = %v (fn ran: %v), want NotObtainedError by first and fn not run", err, ran)
			}
		})
	})
	t.Run("ErrLost", func(t *testing.T) {
		both(t, func(t *testing.T, c *client.Client, eng *flaky) {
			ctx := ctxFor(t)
			err := c.WithLock(ctx, "wl", func(ctx context.Context, l *client.Lease) error {
				if _, err := eng.Release(ctx, "wl", l.ID()); err != nil {
					t.Fatal(err)
				}
				select {
				case <-ctx.Done():
				case <-time.After(2 * time.Second):
					t.Fatal("fn's context not cancelled after the lease was lost")
				}
				if cause := context.Cause(ctx); !errors.Is(cause, lockd.ErrLost) {
					t.Errorf("Cause = %v, want ErrLost", cause)
				}
				return errFn
			}, client.TTL(300*time.Millisecond))
			if !errors.Is(err, errFn) || !errors.Is(err, lockd.ErrLost) {
				t.Errorf("WithLock = %v, want fn's error joined with ErrLost", err)
			}
		})
	})
	t.Run("ErrExpired", func(t *testing.T) {
		both(t, func(t *testing.T, c *client.Client, eng *flaky) {
			ctx := ctxFor(t)
			const ttl = 300 * time.Millisecond
			err := c.WithLock(ctx, "wl", func(ctx context.Context, l *client.Lease) error {
				failed := time.Now()
				eng.failExtends(lockd.ErrQuorumUnavailable)
				<-ctx.Done()
				if el := time.Since(failed); el > ttl+50*time.Millisecond {
					t.Errorf("fn's context cancelled %v after renewals began to fail, want within the TTL %v", el, ttl)
				}
				return ctx.Err()
			}, client.TTL(ttl))
			if !errors.Is(err, client.ErrExpired) || !errors.Is(err, context.Canceled) {
				t.Errorf("WithLock = %v, want ErrExpired and fn's context.Canceled", err)
			}
		})
	})
	t.Run("MaxHold", func(t *testing.T) {
		both(t, func(t *testing.T, c *client.Client, eng *flaky) {
			ctx := ctxFor(t)
			err := c.WithLock(ctx, "wl", func(ctx context.Context, l *client.Lease) error {
				<-ctx.Done()
				return nil
			}, client.TTL(time.Second), client.MaxHold(200*time.Millisecond))
			if !errors.Is(err, client.ErrMaxHold) {
				t.Errorf("WithLock = %v, want ErrMaxHold", err)
			}
			if _, err := c.Acquire(ctx, "wl"); err != nil {
				t.Errorf("Acquire after WithLock: %v, want the lock released", err)
			}
		})
	})
}

// TestWithLockExcludes has 16 goroutines that share one Client take turns
// with WithLock on one name, 200 times each.
func TestWithLockExcludes(t *testing.T) {
	both(t, func(t *testing.T, c *client.Client, eng *flaky) {
		locktest.Exclusive(t, 16, 200, 3*time.Minute, func(ctx context.Context, critical func(int64)) error {
			return c.WithLock(ctx, "counter", func(_ context.Context, l *client.Lease) error {
				critical(l.Fence())
				return nil
			}, client.Wait(time.Minute))
		})
	})
}
