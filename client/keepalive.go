package client

import (
	"context"
	"time"
)

// minAttempt is the least time a renewal attempt is given while the lease
// has that much left.
const minAttempt = 50 * time.Millisecond

// keepAlive renews the lease about every third of its TTL until ctx ends
// (Release or finish cancel it; so does the end of parent, the context
// given to Acquire). A renewal that fails for any reason but a refusal is
// retried, with jittered backoff (at most a third of the time left), until
// the lease's local deadline, when expire ends the lease; each attempt gets
// half of the time left, so a hung request leaves room for another. An
// Extend that moves the deadline (a shorter TTL) wakes it to plan again.
func (l *Lease) keepAlive(ctx, parent context.Context) {
	defer close(l.loopDone)
	for {
		l.mu.Lock()
		renewAt := l.sentAt.Add(l.ttl / 3)
		l.mu.Unlock()
		t := time.NewTimer(time.Until(renewAt))
		select {
		case <-t.C:
		case <-l.moved:
			t.Stop()
			continue
		case <-ctx.Done():
			t.Stop()
			l.stopped(parent)
			return
		}
		if !l.renew(ctx) {
			l.stopped(parent)
			return
		}
	}
}

// renew makes one renewal, retrying until it succeeds, and reports
// whether keep-alive should go on.
func (l *Lease) renew(ctx context.Context) bool {
	var b backoff
	for {
		l.mu.Lock()
		left := time.Until(l.deadline)
		over := l.err != nil
		l.mu.Unlock()
		if over || left <= 0 {
			return false
		}
		actx, cancel := context.WithTimeout(ctx, max(left/2, min(left, minAttempt)))
		l.renewMu.Lock()
		sent := time.Now()
		nl, err := l.c.eng.Extend(actx, l.name, l.id, 0)
		l.renewMu.Unlock()
		cut := actx.Err() != nil // the attempt's own deadline (or ctx) ended it
		cancel()
		switch {
		case err == nil:
			return l.renewed(sent, nl)
		case ctx.Err() != nil:
			return false
		case refused(err):
			l.finish(err)
			return false
		}
		l.mu.Lock()
		if !cut || l.lastErr == nil {
			// An attempt cut by its own deadline says less than what lockd
			// answered before it: that answer stays the cause.
			l.lastErr = err
		}
		left = time.Until(l.deadline)
		l.mu.Unlock()
		// Short leases cannot afford the full backoff: at least three more
		// attempts fit in what is left.
		if left <= 0 || !sleep(ctx, min(b.wait(), left/3)) {
			return false
		}
	}
}

// stopped ends the lease with the cause of parent when parent ended;
// otherwise keep-alive was stopped by Release or by the lease ending.
func (l *Lease) stopped(parent context.Context) {
	if parent.Err() != nil {
		l.finish(context.Cause(parent))
	}
}
