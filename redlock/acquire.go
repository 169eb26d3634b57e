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
//
// With opts.Reentrant, an acquire with the lease that holds the lock adds
// the hold opts.Hold (a retry with a hold the lease has adds nothing), with
// the same fence, and a failed attempt removes only its own hold. An
// acquire whose Reentrant differs from the lease's grant on any node is
// refused with *lockd.ArgumentError (field "reentrant").
//
// With opts.Mode lockd.ModeRead it grants a read lease, shared with other
// readers (see rwlock.go); a lease keeps the mode of its first grant, and
// an acquire in the other mode is refused with *lockd.ArgumentError (field
// "mode"). A write acquire that waits for readers keeps new readers out
// while it waits, and WriterMark at most after it gives up.
func (e *Engine) Acquire(ctx context.Context, name string, opts lockd.AcquireOptions) (lockd.Lease, error) {
	opts, err := opts.Prepare(name)
	if err == nil {
		err = e.checkTTL(opts.TTL)
	}
	if err != nil {
		return lockd.Lease{}, err
	}
	line, deadline := name, time.Now().Add(opts.Wait)
	if opts.Mode == lockd.ModeRead {
		line = lockd.ReadLine(name)
	}
	markFor := func() time.Duration {
		if opts.Wait > 0 {
			return e.markFor(deadline)
		}
		return 0
	}
	var offer func() *attempt
	if opts.Mode != lockd.ModeRead {
		offer = func() *attempt {
			// Others waiting and the writer mark are worked out again when
			// a release runs it (handOff).
			a := e.newAttempt(name, opts, false, 0)
			a.deadline = deadline
			return a
		}
	}
	return e.wait(ctx, line, name, opts, func(othersWait bool) (lockd.Lease, error) {
		return e.tryAcquire(ctx, name, opts, othersWait, markFor())
	}, offer)
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
	// statusMismatch: this lease holds it, reentrant and the acquire not,
	// or the other way round; nothing was written.
	statusMismatch = 3
	// statusWriterWaits: a read refused because a writer waits for the
	// readers (read_acquire.lua).
	statusWriterWaits = 4
	// statusNotTried: a hand-off left the lock to the lines of every
	// engine (handoff.lua); nothing was written for this attempt.
	statusNotTried = 5
)

type acquireReply struct {
	status  int64
	fence   int64  // the fence stored with our lease (statusSame); 0 when none
	counter int64  // the node's fence counter (after increment for statusNew)
	owner   string // the other holder (statusHeld)
	pttl    int64  // the other holder's remaining ms (statusHeld)
	meta    string // our lease's stored metadata (statusSame)
	holds   int64  // a reentrant lease's holds after the call (statusNew, statusSame)
	field   string // the option that differs (statusMismatch)
}

func parseAcquire(v any) (acquireReply, error) {
	a, ok := v.([]any)
	if !ok || len(a) < 1 {
		return acquireReply{}, fmt.Errorf("acquire: unexpected reply %v", v)
	}
	r := acquireReply{status: toInt(a[0])}
	switch {
	case r.status == statusNew && len(a) >= 3:
		r.counter, r.holds = toInt(a[1]), toInt(a[2])
	case r.status == statusSame && len(a) >= 5:
		r.fence, r.counter, r.meta, r.holds = toInt(a[1]), toInt(a[2]), toStr(a[3]), toInt(a[4])
	case r.status == statusHeld && len(a) >= 3:
		r.owner, r.pttl = toStr(a[1]), toInt(a[2])
	case r.status == statusMismatch && len(a) >= 2:
		r.field = toStr(a[1])
	case r.status == statusWriterWaits, r.status == statusNotTried:
	default:
		return r, fmt.Errorf("acquire: unexpected reply %v", v)
	}
	return r, nil
}

// grantsOK says whether a node's reply to the acquire script is a yes.
func grantsOK(r reply) bool {
	a := fields(r)
	return len(a) > 0 && (toInt(a[0]) == statusNew || toInt(a[0]) == statusSame)
}

// newAttemptTag returns a random tag for one attempt, stored with its writes,
// so that the cleanup of a failed attempt never deletes what a later
// attempt with the same lease wrote. It needs to be unique, not secret.
func newAttemptTag() string {
	return strconv.FormatUint(mrand.Uint64(), 36)
}

// attempt is one acquire attempt of a lock: its calls, and once its
// round ran, the replies. A waiting head may leave it for a release to run
// in a hand-off (handoff.go).
type attempt struct {
	name    string
	opts    lockd.AcquireOptions
	id, att string // the lease, and this attempt's tag
	script  *script
	keys    []string
	args    []string
	timeout time.Duration

	// deadline is the end of the wait of an attempt left for a hand-off,
	// whose writer mark and others-wait flag are worked out again when it
	// runs (markArg, othersWaitArg).
	deadline time.Time

	start   time.Time // when its round started
	replies []reply   // acquire script replies, one per node
	late    stragglers
}

// newAttempt prepares one attempt. othersWait marks the grant so that its
// release is announced to the line behind it; an acquire that does not
// wait passes false and never touches the lines. A write acquire refused
// because of readers marks the lock as waited for by a writer for mark (0:
// no mark).
func (e *Engine) newAttempt(name string, opts lockd.AcquireOptions, othersWait bool, mark time.Duration) *attempt {
	a := &attempt{
		name: name, opts: opts, id: opts.Lease, att: newAttemptTag(),
		script:  acquireScript,
		keys:    []string{e.lockKey(name), e.fenceKey(), e.readersKey(name), e.readerDetailsKey(name), e.writerMarkKey(name)},
		timeout: e.callTimeout(opts.TTL),
	}
	ttl := strconv.FormatInt(opts.TTL.Milliseconds(), 10)
	a.args = []string{
		a.id, opts.Owner, ttl, string(opts.Metadata),
		flag(opts.ReleaseByOwner), flag(e.cfg.minter != nil), a.att, flag(opts.Wait > 0), flag(othersWait), opts.Hold,
		strconv.FormatInt(mark.Milliseconds(), 10), e.id,
	}
	if opts.Mode == lockd.ModeRead {
		a.script, a.args = readAcquireScript, []string{a.id, opts.Owner, ttl, string(opts.Metadata), flag(e.cfg.minter != nil), a.att, flag(opts.Wait > 0)}
	}
	return a
}

// Where newAttempt puts the others-wait flag and the writer mark in
// acquire.lua's args.
const (
	othersWaitArg = 8
	markArg       = 10
)

// tryAcquire makes one attempt: the acquire round, then, when the granting
// nodes do not already store one fence, a commit round (see newAttempt).
func (e *Engine) tryAcquire(ctx context.Context, name string, opts lockd.AcquireOptions, othersWait bool, mark time.Duration) (lockd.Lease, error) {
	a := e.newAttempt(name, opts, othersWait, mark)
	a.start = time.Now()
	a.replies, a.late = e.round(ctx, a.timeout, nil, a.script, a.keys, a.args, e.acquireDecided)
	return e.finish(ctx, a)
}

// finish turns an attempt whose round ran into a grant: it checks the
// quorum, settles the fence (a commit round when needed) and the
// validity, or undoes the attempt's writes.
func (e *Engine) finish(ctx context.Context, a *attempt) (lockd.Lease, error) {
	name, opts, id, replies, late, start := a.name, a.opts, a.id, a.replies, a.late, a.start
	keys, timeout := a.keys, a.timeout
	commitKeys := []string{keys[0], keys[1], keys[3]}
	parsed := make([]acquireReply, len(replies))
	yes, mismatch := 0, ""
	var holds []int64
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
		switch p.status {
		case statusNew, statusSame:
			yes++
			holds = append(holds, p.holds)
		case statusMismatch:
			mismatch = p.field
		}
	}
	fail := func(err error) (lockd.Lease, error) {
		e.cleanup(name, id, a.att, opts.Hold, timeout, replies, late)
		return lockd.Lease{}, err
	}
	if mismatch != "" {
		// Refused even by one node: a lease's grants never mix reentrant
		// holds with a plain grant, or reads with a write.
		return fail(lockd.GrantMismatch(mismatch))
	}
	if yes < e.quorum {
		answered := count(replies, isAnswer)
		err := e.quorumError("agreed", yes, replies)
		if answered >= e.quorum {
			err = &lockd.NotObtainedError{Name: name, Holder: e.holder(parsed, replies, start)}
		}
		return fail(err)
	}

	meta := opts.Metadata
	if meta == nil {
		meta = storedMeta(parsed, replies)
	}
	lease := lockd.Lease{
		Name:       name,
		Owner:      opts.Owner,
		ID:         id,
		TTL:        opts.TTL,
		AcquiredAt: start,
		ExpiresAt:  start.Add(opts.TTL - drift(opts.TTL)),
		Metadata:   meta,
		Hold:       opts.Hold,
		Holds:      int(mostCommon(holds)),
		Mode:       opts.Mode,
	}
	fence, err := e.fenceGrant(ctx, lease, timeout, parsed, replies, commitScript, commitKeys, func(f string) []string { return []string{id, f} })
	if err != nil {
		return fail(err)
	}
	fenceArg := strconv.FormatInt(fence, 10)
	// A node that says yes after the grant holds our lease with its own
	// provisional fence: give it the grant's.
	e.followUp(replies, late, keys[0], func(i int, r reply) {
		if !grantsOK(r) {
			return
		}
		cctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		call(cctx, e.nodes[i], commitScript, commitKeys, []string{id, fenceArg})
	})
	lease.Fence = fence
	return lease, nil
}

// acquireDecided decides an acquire round once a quorum said yes, or once
// that is out of reach and it is known whether a quorum answered (lock
// held) or not (quorum unavailable).
//
// A quorum of yeses that mixes "this lease holds it already" with "it was
// free here" (a retry after a grant that missed a node) waits for the
// nodes still to answer: whether the retry keeps its fence depends on how
// many hold the lease, and the answer must not depend on which nodes were
// fastest.
func (e *Engine) acquireDecided(replies []reply) bool {
	yes, answered, pending := count(replies, grantsOK), count(replies, isAnswer), count(replies, isPending)
	if yes >= e.quorum {
		return pending == 0 || !mixedGrant(replies)
	}
	return yes+pending < e.quorum && (answered >= e.quorum || answered+pending < e.quorum)
}

// mixedGrant reports whether some nodes said the lease holds the lock
// already and others that it was free.
func mixedGrant(replies []reply) bool {
	same, fresh := false, false
	for _, r := range replies {
		if a := fields(r); r.err == nil && len(a) > 0 {
			switch toInt(a[0]) {
			case statusSame:
				same = true
			case statusNew:
				fresh = true
			}
		}
	}
	return same && fresh
}

// cleanup deletes a failed attempt's writes, on its own context (the
// caller's may be what ended the attempt), bounded by timeout: from the
// nodes that said yes or failed (a failed node's reply may have been lost
// after the write), and from a node still to answer once it answers yes or
// fails, so the delete never overtakes the write. It returns once a quorum
// of the nodes asked (or all of them, when fewer) deleted them, so the lock
// is free again when the acquire answers; nodes that said held wrote
// nothing and are not asked. For a reentrant acquire it removes only the
// attempt's hold: the lease's other holds, and the lock, stay.
func (e *Engine) cleanup(name, id, att, hold string, timeout time.Duration, attempt []reply, late stragglers) {
	keys := []string{e.lockKey(name), e.readersKey(name), e.readerDetailsKey(name)}
	e.undo(attempt, late, timeout, grantsOK, releaseScript, keys, []string{id, "", att, e.releasedChannel(), name, hold})
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
	yes := func(i int) bool {
		return replies[i].err == nil && (parsed[i].status == statusNew || parsed[i].status == statusSame)
	}
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
