package redlock

import (
	"context"
	"slices"
	"strings"

	"github.com/lockd/lockd"
)

// maxScanKeys bounds how many keys ListLocks reads from one node.
const maxScanKeys = 100_000

// ListLocks lists held locks by scanning every node (SCAN) for lock and
// reader keys under prefix: a name is listed when a quorum of the nodes
// that answered has a key for it and Inspect then finds it held. It is
// best-effort: SCAN can miss keys written while it runs, a lock may be
// taken or freed between the scan and the inspect, and at most 100,000
// keys are read from each node. Each listed lock costs one Inspect round.
// It returns ErrQuorumUnavailable when fewer than a quorum of nodes
// answered the scan.
func (e *Engine) ListLocks(ctx context.Context, prefix string, limit int, after string) (lockd.LockPage, error) {
	limit, err := lockd.ValidateList(prefix, limit, after)
	if err != nil {
		return lockd.LockPage{}, err
	}
	lockPrefix, readPrefix := e.lockKey(""), e.readersKey("")
	seen := map[string]int{}
	answered := 0
	var errs []reply
	for _, n := range e.nodes {
		cctx, cancel := context.WithTimeout(ctx, e.cfg.nodeTimeout*10)
		var keys []string
		var err error
		for _, p := range []string{lockPrefix, readPrefix} {
			var ks []string
			if ks, err = n.scan(cctx, p+prefix+"*", maxScanKeys); err != nil {
				break
			}
			for _, k := range ks {
				keys = append(keys, strings.TrimPrefix(k, p))
			}
		}
		cancel()
		if err != nil {
			errs = append(errs, reply{err: &lockd.NodeError{Node: n.addr(), Err: err}})
			continue
		}
		answered++
		slices.Sort(keys)
		for _, name := range slices.Compact(keys) {
			if name > after {
				seen[name]++
			}
		}
	}
	if answered < e.quorum {
		return lockd.LockPage{}, e.quorumError("answered", answered, errs)
	}
	var names []string
	for name, c := range seen {
		if c >= e.quorum && lockd.ValidateName(name) == nil {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var page lockd.LockPage
	for i, name := range names {
		if len(page.Locks) == limit {
			page.Next = names[i-1]
			break
		}
		info, err := e.Inspect(ctx, name)
		if err != nil {
			return lockd.LockPage{}, err
		}
		if info.Held {
			page.Locks = append(page.Locks, info)
		}
	}
	return page, nil
}

// ForceRelease deletes the lock name on every node that answers, whatever
// its lease: the writer with its holds, or every reader; waiters are woken.
// It returns what a quorum's nodes held (the most common owner and fence),
// lockd.ErrNotHeld when none held it, and ErrQuorumUnavailable when fewer
// than a quorum answered (the lock may then still be held).
func (e *Engine) ForceRelease(ctx context.Context, name, reason string) (lockd.Released, error) {
	if err := lockd.ValidateName(name); err != nil {
		return lockd.Released{}, err
	}
	if err := lockd.ValidateReason(reason); err != nil {
		return lockd.Released{}, err
	}
	keys := []string{e.lockKey(name), e.readersKey(name), e.readerDetailsKey(name)}
	replies, _ := e.round(ctx, e.cfg.nodeTimeout, nil, forceScript, keys, []string{e.releasedChannel(), name}, allAnswered)
	if ok := count(replies, isAnswer); ok < e.quorum {
		return lockd.Released{}, e.quorumError("answered", ok, replies)
	}
	votes := map[string]int{}
	fences := map[string]int64{}
	for _, r := range replies {
		a := fields(r)
		if r.err != nil || len(a) < 2 {
			continue
		}
		owner := toStr(a[0])
		votes[owner]++
		fences[owner] = max(fences[owner], toInt(a[1]))
	}
	if len(votes) == 0 {
		return lockd.Released{}, lockd.ErrNotHeld
	}
	best := ""
	for o, v := range votes {
		if _, ok := votes[best]; !ok || v > votes[best] || v == votes[best] && o < best {
			best = o
		}
	}
	return lockd.Released{Name: name, Owner: best, Fence: fences[best]}, nil
}

var (
	_ lockd.Lister        = (*Engine)(nil)
	_ lockd.ForceReleaser = (*Engine)(nil)
)
