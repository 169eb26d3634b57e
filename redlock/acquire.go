package redlock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/waitq"
)

// Acquire grants the lock to opts.Owner under opts.Lease (a fresh lease
// when empty) when a quorum of nodes agrees within the lease's validity
// (TTL - elapsed - drift, drift = TTL/100 + 2ms), retrying with jittered
// backoff for up to opts.Wait while someone else holds it. An acquire with
// the lease that already holds the lock on a quorum is a retry: it
// refreshes the TTL and returns the same fence.
//
// Each new grant carries a fence: the largest fence counter among the
// granting nodes (after their increment), written back to a quorum before
// the grant is returned. Any later grant reads a counter at least this
// large from one node of its own quorum, so fences grow strictly for as
// long as a majority of nodes keep their data. A node restarted empty while
// others are down can break that; durable fences are the job of a store.
//
// Acquire answers as soon as the outcome is decided: a node that is slow or
// paused does not hold it up once a quorum agreed, or refused. Its late
// write is ours: it gets the grant's fence, or the failed attempt's
// cleanup.
//
// Acquire returns *lockd.NotObtainedError (ErrNotObtained) when someone else
// holds the lock past the wait; ErrQuorumUnavailable (wrapping each
// *lockd.NodeError) when too few nodes agreed because the others failed or
// answered too slowly; *lockd.ArgumentError for bad input. When ctx ends a
// wait, the last attempt's error is joined with ctx.Err(). A failed attempt
// deletes its lease from every node, including nodes that seemed to fail.
func (e *Engine) Acquire(ctx context.Context, name string, opts lockd.AcquireOptions) (lockd.Lease, error) {
	opts, err := opts.Prepare(name)
	if err != nil {
		return lockd.Lease{}, err
	}
	if opts.Wait <= 0 {
		if opts.Fair && e.lines.Len(name) > 0 {
			return lockd.Lease{}, &lockd.NotObtainedError{Name: name} // others wait first
		}
		return e.tryAcquire(ctx, name, opts, false)
	}
	// Wait in line: after one attempt on arrival, only the head of the
	// lock's queue calls the nodes.
	start := time.Now()
	deadline := start.Add(opts.Wait)
	e.listen()
	w := e.lines.Join(name)
	granted := false
	defer func() { e.lines.Leave(name, w, granted) }()
	var last error // the last attempt that ran to its end
	if opts.Fair && !w.Head() {
		// Behind the others from the start: no attempt on arrival.
		if !waitq.Pause(ctx, w.Turn(), deadline) {
			return lockd.Lease{}, e.waitEnded(ctx, &lockd.NotObtainedError{Name: name})
		}
	}
	for attempt := 0; ; attempt++ {
		if attempt > 0 && e.isClosed() {
			return lockd.Lease{}, e.waitEnded(ctx, last)
		}
		// Taken before the attempt, so that a release heard between the
		// attempt and the pause below is not missed.
		woken := e.lines.Woken(name)
		at := time.Now()
		lease, err := e.tryAcquire(ctx, name, opts, e.lines.Len(name) > 1)
		if err == nil {
			lease.Waited = at.Sub(start)
			granted = true
			return lease, nil
		}
		if ctx.Err() != nil {
			// The context cut this attempt short; the one before, if any,
			// is the real cause.
			if last != nil {
				err = last
			}
			return lockd.Lease{}, errors.Join(err, ctx.Err())
		}
		if !retryable(err) || !time.Now().Before(deadline) || e.isClosed() {
			return lockd.Lease{}, err
		}
		last = err
		if !w.Head() {
			if !waitq.Pause(ctx, w.Turn(), deadline) {
				return lockd.Lease{}, e.waitEnded(ctx, err)
			}
			if after, released := w.AfterGrant(); after {
				// The one before us in line holds the lock now: an attempt
				// before its release would be refused. Wait for that
				// release (or the poll).
				woken = released
				err = nil
			}
		}
		// The head: retry when a release is heard, when the holder's lease
		// runs out, or at the poll interval, whichever comes first. With
		// too few nodes answering, back off instead.
		pause := e.cfg.waitPoll
		var held *lockd.NotObtainedError
		switch {
		case err == nil: // a new holder, whose expiry we do not know: the poll
		case errors.As(err, &held):
			if held.Holder != nil {
				pause = min(pause, max(time.Until(held.Holder.ExpiresAt), time.Millisecond))
			}
		default:
			pause = e.backoff(attempt)
		}
		until := time.Now().Add(pause)
		if deadline.Before(until) {
			until = deadline
		}
		if !waitq.Pause(ctx, woken, until) && ctx.Err() != nil {
			return lockd.Lease{}, e.waitEnded(ctx, err)
		}
	}
}

// retryable reports whether a waiting acquire tries again after err: the
// lock is held, or too few nodes answered.
func retryable(err error) bool {
	return errors.Is(err, lockd.ErrNotObtained) || errors.Is(err, lockd.ErrQuorumUnavailable)
}

// waitEnded is the error of a wait that ran out, with the last attempt's
// cause (lock_held, or too few nodes answering) and the context's error
// when it ended the wait.
func (e *Engine) waitEnded(ctx context.Context, last error) error {
	if err := ctx.Err(); err != nil {
		return errors.Join(last, err)
	}
	return last
}

// backoff returns a jittered pause in [d/2, d] where d doubles from
// retryMin to retryMax with each attempt.
func (e *Engine) backoff(attempt int) time.Duration {
	d := e.cfg.retryMin << min(attempt, 20)
	if d > e.cfg.retryMax || d <= 0 {
		d = e.cfg.retryMax
	}
	return d/2 + mrand.N(d/2+1)
}

// Node answers to the acquire script.
const (
	statusHeld = 0 // another lease holds the lock
	statusSame = 1 // this lease already holds it (a retry)
	statusNew  = 2 // it was free and is now ours
)

type acquireReply struct {
	status  int64
	fence   int64  // the fence stored with our lease (statusSame); 0 when none
	counter int64  // the node's fence counter (after increment for statusNew)
	owner   string // the other holder (statusHeld)
	pttl    int64  // the other holder's remaining ms (statusHeld)
	meta    string // our lease's stored metadata (statusSame)
}

func parseAcquire(v any) (acquireReply, error) {
	a, ok := v.([]any)
	if !ok || len(a) < 2 {
		return acquireReply{}, fmt.Errorf("acquire: unexpected reply %v", v)
	}
	r := acquireReply{status: toInt(a[0])}
	switch {
	case r.status == statusNew:
		r.counter = toInt(a[1])
	case r.status == statusSame && len(a) >= 4:
		r.fence, r.counter, r.meta = toInt(a[1]), toInt(a[2]), toStr(a[3])
	case r.status == statusHeld && len(a) >= 3:
		r.owner, r.pttl = toStr(a[1]), toInt(a[2])
	default:
		return r, fmt.Errorf("acquire: unexpected reply %v", v)
	}
	return r, nil
}

// grantsOK says whether a node's reply to the acquire script is a yes.
func grantsOK(r reply) bool {
	a := fields(r)
	return len(a) > 0 && toInt(a[0]) != statusHeld
}

// newAttempt returns a random tag for one attempt, stored with its writes,
// so that the cleanup of a failed attempt never deletes what a later
// attempt with the same lease wrote. It needs to be unique, not secret.
func newAttempt() string {
	return strconv.FormatUint(mrand.Uint64(), 36)
}

// tryAcquire makes one attempt: the acquire round, then, when the granting
// nodes do not already store one fence, a commit round. othersWait marks
// the grant so that its release is announced to the line behind it; an
// acquire that does not wait passes false and never touches the lines.
func (e *Engine) tryAcquire(ctx context.Context, name string, opts lockd.AcquireOptions, othersWait bool) (lockd.Lease, error) {
	start := time.Now()
	keys := []string{e.lockKey(name), e.fenceKey()}
	timeout := e.callTimeout(opts.TTL)
	id, att := opts.Lease, newAttempt()
	replies, late := e.round(ctx, timeout, nil, acquireScript, keys, []string{
		id, opts.Owner, strconv.FormatInt(opts.TTL.Milliseconds(), 10), string(opts.Metadata),
		flag(opts.ReleaseByOwner), flag(e.cfg.minter != nil), att, flag(opts.Wait > 0), flag(othersWait),
	}, e.acquireDecided)

	parsed := make([]acquireReply, len(replies))
	yes := 0
	for i := range replies {
		if replies[i].err != nil {
			continue
		}
		p, err := parseAcquire(replies[i].v)
		if err != nil {
			replies[i].err = &lockd.NodeError{Node: e.nodes[i].addr(), Err: err}
			continue
		}
		parsed[i] = p
		if p.status != statusHeld {
			yes++
		}
	}
	fail := func(err error) (lockd.Lease, error) {
		e.cleanup(name, id, att, timeout, replies, late)
		return lockd.Lease{}, err
	}
	if yes < e.quorum {
		answered := count(replies, isAnswer)
		err := e.quorumError("agreed", yes, replies)
		if answered >= e.quorum {
			err = &lockd.NotObtainedError{Name: name, Holder: e.holder(parsed, replies, start)}
		}
		return fail(err)
	}

	fence, needCommit := e.choose(parsed, replies)
	meta := opts.Metadata
	if meta == nil {
		meta = storedMeta(parsed, replies)
	}
	expires := start.Add(opts.TTL - drift(opts.TTL))
	if fence == 0 {
		// A new grant under a store: its fence comes from the store, within
		// validity, so fences are minted in the order grants are made.
		mctx, cancel := context.WithDeadline(ctx, expires)
		f, err := e.cfg.minter.MintFence(mctx, lockd.Lease{
			Name: name, Owner: opts.Owner, ID: id, TTL: opts.TTL,
			AcquiredAt: start, ExpiresAt: expires, Metadata: meta,
		})
		cancel()
		if err != nil {
			if !errors.Is(err, lockd.ErrStoreUnavailable) {
				err = fmt.Errorf("%w: %w", lockd.ErrStoreUnavailable, err)
			}
			return fail(err)
		}
		fence, needCommit = f, true
	}
	fenceArg := strconv.FormatInt(fence, 10)

	if needCommit {
		committed := func(r reply) bool { return r.err == nil && toInt(r.v) == 1 }
		commits, _ := e.round(ctx, timeout, replies, commitScript, keys, []string{id, fenceArg}, e.quorumOrImpossible(committed))
		if ok := count(commits, committed); ok < e.quorum {
			return fail(e.quorumError("confirmed the fence", ok, commits))
		}
	}
	if !time.Now().Before(expires) {
		return fail(fmt.Errorf("%w: nodes answered after the lease's validity (%v) ran out",
			lockd.ErrQuorumUnavailable, opts.TTL-drift(opts.TTL)))
	}
	// A node that says yes after the grant holds our lease with its own
	// provisional fence: give it the grant's.
	e.followUp(replies, late, keys[0], func(i int, r reply) {
		if !grantsOK(r) {
			return
		}
		cctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		call(cctx, e.nodes[i], commitScript, keys, []string{id, fenceArg})
	})
	return lockd.Lease{
		Name:       name,
		Owner:      opts.Owner,
		ID:         id,
		Fence:      fence,
		TTL:        opts.TTL,
		AcquiredAt: start,
		ExpiresAt:  expires,
		Metadata:   meta,
	}, nil
}

// acquireDecided decides an acquire round once a quorum said yes, or once
// that is out of reach and it is known whether a quorum answered (lock
// held) or not (quorum unavailable).
func (e *Engine) acquireDecided(replies []reply) bool {
	yes, answered, pending := count(replies, grantsOK), count(replies, isAnswer), count(replies, isPending)
	return yes >= e.quorum ||
		yes+pending < e.quorum && (answered >= e.quorum || answered+pending < e.quorum)
}

// cleanup deletes a failed attempt's writes, on its own context (the
// caller's may be what ended the attempt), bounded by timeout: from the
// nodes that said yes or failed (a failed node's reply may have been lost
// after the write), and from a node still to answer once it answers yes or
// fails, so the delete never overtakes the write. It returns once a quorum
// of the nodes asked (or all of them, when fewer) deleted them, so the lock
// is free again when the acquire answers; nodes that said held wrote
// nothing and are not asked.
func (e *Engine) cleanup(name, id, att string, timeout time.Duration, attempt []reply, late stragglers) {
	keys, args := []string{e.lockKey(name)}, []string{id, "", att, e.releasedChannel(), name}
	only := make([]reply, len(attempt))
	asked := 0
	for i, r := range attempt {
		if isPending(r) || r.err == nil && !grantsOK(r) {
			only[i].err = errSkipped
			continue
		}
		asked++
	}
	if asked > 0 {
		enough := min(asked, e.quorum)
		_, _ = e.round(context.Background(), timeout, only, releaseScript, keys, args, func(replies []reply) bool {
			return count(replies, isAnswer) >= enough
		})
	}
	e.followUp(attempt, late, keys[0], func(i int, r reply) {
		if r.err == nil && !grantsOK(r) {
			return
		}
		cctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		call(cctx, e.nodes[i], releaseScript, keys, args)
	})
}

// choose decides the fence of a grant from the nodes that said yes, and
// whether a commit round must follow. A fence of 0 means a store must mint
// one.
//
// When a quorum holds our lease with one fence F, a grant of this lease
// with F was already made: a store's grant stores no fence until its
// commit, and without a store, one counter value on a quorum is a grant
// (a later grant's quorum shares a node with it). The acquire is a retry,
// and F stands. Otherwise the grant is new: its fence is above every
// counter the granting nodes reported, or a store mints it. The commit
// round is skipped only when every granting node already stores the chosen
// fence.
func (e *Engine) choose(parsed []acquireReply, replies []reply) (fence int64, needCommit bool) {
	yes := func(i int) bool { return replies[i].err == nil && parsed[i].status != statusHeld }
	var same []int64
	for i, p := range parsed {
		if yes(i) && p.status == statusSame && p.fence > 0 {
			same = append(same, p.fence)
		}
	}
	if f := mostCommon(same); f > 0 {
		n := 0
		for _, v := range same {
			if v == f {
				n++
			}
		}
		if n >= e.quorum {
			fence = f
		}
	}
	if fence == 0 && e.cfg.minter == nil {
		for i, p := range parsed {
			switch {
			case !yes(i):
			case p.status == statusNew:
				fence = max(fence, p.counter)
			default:
				fence = max(fence, p.counter+1)
			}
		}
	}
	for i, p := range parsed {
		stored := p.fence
		if p.status == statusNew && e.cfg.minter == nil {
			stored = p.counter
		}
		if yes(i) && stored != fence {
			needCommit = true
		}
	}
	return fence, needCommit || fence == 0
}

// storedMeta returns the metadata our lease already has on the granting
// nodes (a retry that gives none keeps it), or nil.
func storedMeta(parsed []acquireReply, replies []reply) json.RawMessage {
	for i, p := range parsed {
		if replies[i].err == nil && p.status == statusSame && p.meta != "" {
			return json.RawMessage(p.meta)
		}
	}
	return nil
}

// holder names the other owner from the nodes that refused, with the time
// its lease runs out on a quorum of them when known.
func (e *Engine) holder(parsed []acquireReply, replies []reply, start time.Time) *lockd.Holder {
	votes := map[string][]int64{}
	for i, p := range parsed {
		if replies[i].err == nil && p.status == statusHeld {
			votes[p.owner] = append(votes[p.owner], p.pttl)
		}
	}
	var best string
	for o, v := range votes {
		if best == "" || len(v) > len(votes[best]) || len(v) == len(votes[best]) && o < best {
			best = o
		}
	}
	if best == "" {
		return nil
	}
	return &lockd.Holder{Owner: best, ExpiresAt: quorumExpiry(votes[best], e.quorum, start)}
}

// quorumExpiry returns when fewer than a quorum of the nodes whose
// remaining lifetimes (ms) are given still hold a lease: the quorum-th
// largest, or the smallest when fewer nodes report.
func quorumExpiry(pttls []int64, quorum int, from time.Time) time.Time {
	ms := slices.Clone(pttls)
	slices.Sort(ms)
	slices.Reverse(ms)
	k := min(quorum, len(ms)) - 1
	if k < 0 || ms[k] < 0 {
		return time.Time{}
	}
	return from.Add(time.Duration(ms[k]) * time.Millisecond)
}
