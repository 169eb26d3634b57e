package redlock

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/lockd/lockd"
)

// Steps that a lock's acquire and a permit's share once the first round
// is over: settling a grant's fence, and undoing a failed attempt.

// fenceGrant settles the fence of a grant that a quorum agreed to: it
// picks it from the granting nodes' replies (choose), mints it with a
// store when the grant is new, and commits it with s (args gives the
// script's arguments for a fence) to the nodes that answered the round
// when they do not all store it already. l is the grant, without its
// fence. It returns the fence, or the error to fail the attempt with:
// ErrStoreUnavailable when the store could not mint, ErrQuorumUnavailable
// when too few nodes confirmed the fence or they answered after the
// grant's validity (l.ExpiresAt) ran out.
func (e *Engine) fenceGrant(ctx context.Context, l lockd.Lease, timeout time.Duration, parsed []acquireReply, replies []reply, s *script, keys []string, args func(fence string) []string) (int64, error) {
	fence, needCommit := e.choose(parsed, replies)
	if fence == 0 {
		// A new grant under a store: its fence comes from the store, within
		// validity, so fences are minted in the order grants are made.
		mctx, cancel := context.WithDeadline(ctx, l.ExpiresAt)
		f, err := e.cfg.minter.MintFence(mctx, l)
		cancel()
		if err != nil {
			if !errors.Is(err, lockd.ErrStoreUnavailable) {
				err = fmt.Errorf("%w: %w", lockd.ErrStoreUnavailable, err)
			}
			return 0, err
		}
		fence, needCommit = f, true
	}
	if needCommit {
		committed := func(r reply) bool { return r.err == nil && toInt(r.v) == 1 }
		commits, _ := e.round(ctx, timeout, replies, s, keys, args(strconv.FormatInt(fence, 10)), e.quorumOrImpossible(committed))
		if ok := count(commits, committed); ok < e.quorum {
			return 0, e.quorumError("confirmed the fence", ok, commits)
		}
	}
	if !time.Now().Before(l.ExpiresAt) {
		return 0, fmt.Errorf("%w: nodes answered after the lease's validity (%v) ran out",
			lockd.ErrQuorumUnavailable, l.TTL-drift(l.TTL))
	}
	return fence, nil
}

// undo deletes a failed attempt's writes with s (keys, args), on its own
// context (the caller's may be what ended the attempt), bounded by
// timeout: from the nodes whose reply wrote says wrote something or that
// failed (a failed node's reply may have been lost after the write), and
// from a node still to answer once it answers so or fails, so the delete
// never overtakes the write. It returns once a quorum of the nodes asked
// (or all of them, when fewer) answered, so what the attempt took is free
// again when the acquire answers; nodes that wrote nothing are not asked.
func (e *Engine) undo(attempt []reply, late stragglers, timeout time.Duration, wrote func(reply) bool, s *script, keys, args []string) {
	only := make([]reply, len(attempt))
	asked := 0
	for i, r := range attempt {
		if isPending(r) || r.err == nil && !wrote(r) {
			only[i].err = errSkipped
			continue
		}
		asked++
	}
	if asked > 0 {
		enough := min(asked, e.quorum)
		_, _ = e.round(context.Background(), timeout, only, s, keys, args, func(replies []reply) bool {
			return count(replies, isAnswer) >= enough
		})
	}
	e.followUp(attempt, late, keys[0], func(i int, r reply) {
		if r.err == nil && !wrote(r) {
			return
		}
		cctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		call(cctx, e.nodes[i], s, keys, args)
	})
}
