package redlock

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/lockd/lockd"
)

// permitSlot returns the slot of a node's sem_extend.lua reply that holds
// the lease, or -1.
func permitSlot(r reply) int {
	a := fields(r)
	if len(a) < 6 || toInt(a[0]) != 1 {
		return -1
	}
	return int(toInt(a[5]))
}

// ExtendPermit pushes the permit's expiry to now+ttl on the nodes that
// hold it, within validity; ttl 0 keeps the permit's TTL. The permit holds
// while a quorum of nodes hold its lease on one slot. When it succeeds, the
// nodes that answered without the permit (restarted empty, say) get it
// written back into its slot if that is free there, so one more outage
// does not lose it.
//
// It returns lockd.ErrLost when so few nodes hold the permit on one slot
// that not even the nodes that did not answer could make a quorum with
// them, or when the quorum's answers came after the new validity ran out;
// ErrQuorumUnavailable when it cannot tell (the permit may still be valid
// until its old ExpiresAt); *lockd.ArgumentError for bad input.
func (e *Engine) ExtendPermit(ctx context.Context, name, leaseID string, ttl time.Duration) (lockd.Lease, error) {
	timeout, err := e.checkExtend(name, leaseID, ttl)
	if err != nil {
		return lockd.Lease{}, err
	}
	start := time.Now()
	onOneSlot := func(replies []reply) int {
		_, n := mostSlot(replies, permitSlot)
		return n
	}
	replies, _ := e.round(ctx, timeout, nil, semExtendScript, []string{e.semKey(name), e.semDetailsKey(name)},
		[]string{leaseID, strconv.FormatInt(ttl.Milliseconds(), 10)}, func(replies []reply) bool {
			n, pending := onOneSlot(replies), count(replies, isPending)
			return n >= e.quorum || n+pending < e.quorum
		})
	slot, holders := mostSlot(replies, permitSlot)
	failed := count(replies, func(r reply) bool { return r.err != nil })
	if holders < e.quorum {
		if holders+failed >= e.quorum {
			return lockd.Lease{}, e.quorumError("confirmed the permit", holders, replies)
		}
		return lockd.Lease{}, fmt.Errorf("%w: %d of %d nodes hold the permit, %d needed", lockd.ErrLost, holders, len(e.nodes), e.quorum)
	}
	lease := lockd.Lease{Name: name, ID: leaseID, AcquiredAt: start}
	var fences, limits []int64
	for _, r := range replies {
		if permitSlot(r) != slot {
			continue
		}
		a := fields(r)
		lease.Owner = toStr(a[1])
		fences = append(fences, toInt(a[2]))
		if len(a) >= 7 {
			limits = append(limits, toInt(a[6]))
		}
		if m := toStr(a[3]); m != "" {
			lease.Metadata = []byte(m)
		}
		if got := time.Duration(toInt(a[4])) * time.Millisecond; lease.TTL == 0 || got < lease.TTL {
			lease.TTL = got
		}
	}
	lease.Fence = mostCommon(fences)
	lease.ExpiresAt = start.Add(lease.TTL - drift(lease.TTL))
	if !time.Now().Before(lease.ExpiresAt) {
		return lockd.Lease{}, fmt.Errorf("%w: nodes answered after the permit's validity (%v) ran out", lockd.ErrLost, lease.TTL-drift(lease.TTL))
	}
	e.unstrayPermit(ctx, lease, slot, replies)
	e.reseedPermit(ctx, lease, slot, int(mostCommon(limits)), replies)
	return lease, nil
}

// unstrayPermit releases the permit on the nodes that hold it on another
// slot than the one a quorum just confirmed, and turns their replies into
// "not here", so that reseedPermit writes it back on the right slot. A
// node keeps such a stray slot when the undo after the permit's acquire
// failed: it costs that node a slot for as long as the permit lives. It
// is rare, so it runs before ExtendPermit answers.
func (e *Engine) unstrayPermit(ctx context.Context, l lockd.Lease, slot int, replies []reply) {
	stray := make([]reply, len(replies))
	todo := 0
	for i, r := range replies {
		if s := permitSlot(r); s >= 0 && s != slot {
			todo++
			continue
		}
		stray[i].err = errSkipped
	}
	if todo == 0 {
		return
	}
	// Announced as any release, so that a waiter for the slot it frees
	// tries again.
	out, _ := e.round(ctx, e.cfg.nodeTimeout, stray, semReleaseScript, []string{e.semKey(l.Name), e.semDetailsKey(l.Name)},
		[]string{l.ID, "", e.releasedChannel(), lockd.SemaphoreLine(l.Name)}, allAnswered)
	for i, r := range out {
		if stray[i].err == nil && r.err == nil {
			replies[i] = reply{v: []any{int64(0)}}
		}
	}
}

// reseedPermit writes a permit that a quorum just confirmed on slot back
// on the nodes that answered without it, into that slot when it is free
// there under the same limit, with its fence and remaining lifetime. It is
// rare (a node that lost its data), so it runs before ExtendPermit
// answers.
func (e *Engine) reseedPermit(ctx context.Context, l lockd.Lease, slot, limit int, replies []reply) {
	missing := make([]reply, len(replies))
	todo := 0
	for i, r := range replies {
		if a := fields(r); len(a) == 1 && toInt(a[0]) == 0 {
			todo++
			continue
		}
		missing[i].err = errSkipped
	}
	left := time.Until(l.ExpiresAt)
	if todo == 0 || left <= 0 || limit < 1 {
		return
	}
	_, _ = e.round(ctx, e.callTimeout(l.TTL), missing, semReseedScript, []string{e.semKey(l.Name), e.fenceKey(), e.semDetailsKey(l.Name)}, []string{
		l.ID, l.Owner, strconv.FormatInt(l.Fence, 10), string(l.Metadata), strconv.FormatInt(l.TTL.Milliseconds(), 10),
		strconv.FormatInt(max(left.Milliseconds(), 1), 10), strconv.Itoa(limit), strconv.Itoa(slot),
	}, allAnswered)
}

// checkExtend validates an extend's input and returns the timeout of its
// calls to the nodes.
func (e *Engine) checkExtend(name, leaseID string, ttl time.Duration) (time.Duration, error) {
	if err := lockd.ValidateLease(name, leaseID); err != nil {
		return 0, err
	}
	if err := lockd.ValidateExtendTTL(ttl); err != nil {
		return 0, err
	}
	if err := e.checkTTL(ttl); err != nil {
		return 0, err
	}
	if ttl > 0 {
		return e.callTimeout(ttl), nil
	}
	return e.cfg.nodeTimeout, nil
}

// mostSlot returns the slot that slotOf finds in the most replies (the
// lowest among ties), and in how many; -1 and 0 when none.
func mostSlot(replies []reply, slotOf func(reply) int) (slot, n int) {
	counts := map[int]int{}
	slot = -1
	for _, r := range replies {
		if s := slotOf(r); s >= 0 {
			counts[s]++
			if c := counts[s]; c > n || c == n && s < slot {
				slot, n = s, c
			}
		}
	}
	return slot, n
}

// ReleasePermit deletes the permit on every node where leaseID holds it,
// never touching another lease's, and announces the release to the
// acquires that wait. It returns what it deleted when a quorum of nodes
// answered and at least one deleted it; lockd.ErrNotHeld when a quorum
// answered and none held the permit (released, expired); and
// ErrQuorumUnavailable when too few nodes answered to tell. A retried
// release is harmless.
func (e *Engine) ReleasePermit(ctx context.Context, name, leaseID string) (lockd.Released, error) {
	if err := lockd.ValidateLease(name, leaseID); err != nil {
		return lockd.Released{}, err
	}
	replies, _ := e.round(ctx, e.cfg.nodeTimeout, nil, semReleaseScript, []string{e.semKey(name), e.semDetailsKey(name)},
		[]string{leaseID, "", e.releasedChannel(), lockd.SemaphoreLine(name)}, e.quorumOrImpossible(isAnswer))
	if ok := count(replies, isAnswer); ok < e.quorum {
		return lockd.Released{}, e.quorumError("answered", ok, replies)
	}
	out := lockd.Released{Name: name}
	var fences []int64
	for _, r := range replies {
		if a := fields(r); len(a) >= 2 {
			out.Owner = toStr(a[0])
			fences = append(fences, toInt(a[1]))
		}
	}
	if len(fences) == 0 {
		return lockd.Released{}, lockd.ErrNotHeld
	}
	out.Fence = mostCommon(fences)
	return out, nil
}

// permitView is what the nodes that hold one lease on one slot report.
type permitView struct {
	owner, meta string
	fences      []int64
	pttls       []int64
}

// permitViews groups sem_inspect.lua's replies by lease and slot, and
// returns with them the limit of each node that has live permits.
func permitViews(replies []reply) (map[string]*permitView, []int64) {
	out := map[string]*permitView{}
	var limits []int64
	for _, r := range replies {
		a := fields(r)
		if len(a) < 1 {
			continue
		}
		if l := toInt(a[0]); l > 0 {
			limits = append(limits, l)
		}
		for i := 1; i+5 < len(a); i += 6 {
			key := toStr(a[i]) + "/" + strconv.FormatInt(toInt(a[i+5]), 10)
			v := out[key]
			if v == nil {
				v = &permitView{owner: toStr(a[i+1]), meta: toStr(a[i+3])}
				out[key] = v
			}
			v.fences = append(v.fences, toInt(a[i+2]))
			v.pttls = append(v.pttls, toInt(a[i+4]))
		}
	}
	return out, limits
}

// InspectSemaphore reports the permits a quorum of nodes agree on (a
// lease on one slot), soonest to expire first, and the limit they were
// granted under; lease values never leave the engine. It returns
// ErrQuorumUnavailable when fewer than a quorum answered.
func (e *Engine) InspectSemaphore(ctx context.Context, name string) (lockd.SemaphoreInfo, error) {
	if err := lockd.ValidateName(name); err != nil {
		return lockd.SemaphoreInfo{}, err
	}
	start := time.Now()
	replies, _ := e.round(ctx, e.cfg.nodeTimeout, nil, semInspectScript, []string{e.semKey(name), e.semDetailsKey(name)}, nil, func(replies []reply) bool {
		if count(replies, isAnswer) < e.quorum {
			return false
		}
		pending := count(replies, isPending)
		views, _ := permitViews(replies)
		for _, v := range views {
			if n := len(v.pttls); n < e.quorum && n+pending >= e.quorum {
				return false // a node still to answer may make it a permit
			}
		}
		return true
	})
	if ok := count(replies, isAnswer); ok < e.quorum {
		return lockd.SemaphoreInfo{}, e.quorumError("answered", ok, replies)
	}
	info := lockd.SemaphoreInfo{Name: name}
	views, limits := permitViews(replies)
	for _, v := range views {
		if len(v.pttls) < e.quorum {
			continue
		}
		p := lockd.Permit{Owner: v.owner, Fence: mostCommon(v.fences), ExpiresAt: quorumExpiry(v.pttls, e.quorum, start)}
		if v.meta != "" {
			p.Metadata = []byte(v.meta)
		}
		info.Permits = append(info.Permits, p)
	}
	if len(info.Permits) > 0 {
		info.Limit = int(mostCommon(limits))
	}
	slices.SortFunc(info.Permits, func(a, b lockd.Permit) int { return a.ExpiresAt.Compare(b.ExpiresAt) })
	return info, nil
}
