package redlock

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lockd/lockd"
)

// Node answers to the extend script.
const (
	extendOther = -1 // another lease holds the lock
	extendFree  = 0  // the lock is free here
	extendHeld  = 1  // our lease holds it, now extended
)

func extendStatus(r reply) int64 {
	a := fields(r)
	if len(a) == 0 {
		return extendOther
	}
	return toInt(a[0])
}

func holdsLease(r reply) bool {
	return extendStatus(r) == extendHeld && len(fields(r)) >= 6
}

// Extend pushes the lease's expiry to now+ttl on a quorum of nodes within
// validity; ttl 0 keeps the lease's TTL. When it succeeds, the nodes that
// answered that the lock is free there (restarted empty, say) get the lease
// written back, so one more outage does not lose it.
//
// It returns lockd.ErrLost when so few nodes hold the lease that not even
// the nodes that did not answer could make a quorum with them, or when the
// quorum's answers came after the new validity ran out;
// ErrQuorumUnavailable when it cannot tell (the lease may still be valid
// until its old ExpiresAt; nothing was deleted); *lockd.ArgumentError for
// bad input.
func (e *Engine) Extend(ctx context.Context, name, leaseID string, ttl time.Duration) (lockd.Lease, error) {
	timeout, err := e.checkExtend(name, leaseID, ttl)
	if err != nil {
		return lockd.Lease{}, err
	}
	start := time.Now()
	replies, _ := e.round(ctx, timeout, nil, extendScript, []string{e.lockKey(name), e.readersKey(name), e.readerDetailsKey(name)},
		[]string{leaseID, strconv.FormatInt(ttl.Milliseconds(), 10)}, e.quorumOrImpossible(holdsLease))
	lease := lockd.Lease{Name: name, ID: leaseID, AcquiredAt: start}
	var fences, holds []int64
	byOwner, holdList := false, ""
	for _, r := range replies {
		if !holdsLease(r) {
			continue
		}
		a := fields(r)
		lease.Owner = toStr(a[1])
		fences = append(fences, toInt(a[2]))
		if m := toStr(a[3]); m != "" {
			lease.Metadata = []byte(m)
		}
		got := time.Duration(toInt(a[4])) * time.Millisecond
		if lease.TTL == 0 || got < lease.TTL {
			lease.TTL = got
		}
		byOwner = byOwner || toStr(a[5]) == "1"
		if len(a) >= 7 && toStr(a[6]) != "" {
			holdList = toStr(a[6])
			holds = append(holds, int64(len(strings.Fields(holdList))))
		}
		if len(a) >= 8 && toStr(a[7]) == "r" {
			lease.Mode = lockd.ModeRead
		}
	}
	holders, failed := len(fences), count(replies, func(r reply) bool { return r.err != nil })
	if holders < e.quorum {
		if holders+failed >= e.quorum {
			return lockd.Lease{}, e.quorumError("confirmed the lease", holders, replies)
		}
		return lockd.Lease{}, fmt.Errorf("%w: %d of %d nodes hold the lease, %d needed", lockd.ErrLost, holders, len(e.nodes), e.quorum)
	}
	lease.Fence = mostCommon(fences)
	lease.Holds = int(mostCommon(holds))
	lease.ExpiresAt = start.Add(lease.TTL - drift(lease.TTL))
	if !time.Now().Before(lease.ExpiresAt) {
		return lockd.Lease{}, fmt.Errorf("%w: nodes answered after the lease's validity (%v) ran out", lockd.ErrLost, lease.TTL-drift(lease.TTL))
	}
	e.reseed(ctx, lease, byOwner, holdList, replies)
	return lease, nil
}

// reseed writes a lease that a quorum just confirmed back on the nodes that
// answered that the lock is free there, with its fence and remaining
// lifetime, and for a reentrant lease one node's list of its holds. It never
// overwrites another lease, and it is rare (a node that lost its data), so
// it runs before Extend answers.
func (e *Engine) reseed(ctx context.Context, l lockd.Lease, byOwner bool, holds string, replies []reply) {
	free := make([]reply, len(replies))
	todo := 0
	for i, r := range replies {
		if r.err == nil && extendStatus(r) == extendFree {
			todo++
			continue
		}
		free[i].err = errSkipped
	}
	left := time.Until(l.ExpiresAt)
	if todo == 0 || left <= 0 {
		return
	}
	mode := ""
	if l.Mode == lockd.ModeRead {
		mode = "r"
	}
	keys := []string{e.lockKey(l.Name), e.fenceKey(), e.readersKey(l.Name), e.readerDetailsKey(l.Name)}
	_, _ = e.round(ctx, e.callTimeout(l.TTL), free, reseedScript, keys, []string{
		l.ID, l.Owner, strconv.FormatInt(l.Fence, 10), string(l.Metadata),
		strconv.FormatInt(l.TTL.Milliseconds(), 10), strconv.FormatInt(max(left.Milliseconds(), 1), 10), flag(byOwner), holds, mode,
	}, allAnswered)
}
