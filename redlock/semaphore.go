package redlock

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/lockd/lockd"
)

// Semaphores. A semaphore of limit N has slots 0..N-1, each exclusive per
// node: a permit is one slot held by its lease on a quorum of nodes. Two
// quorums share a node, and a node gives a slot to one lease at a time, so
// two live permits never hold the same slot and at most N are live. A
// count of permits per node would not do: with 3 nodes and limit 2, A on
// nodes {1,2} and B on {2,3} leave one permit on node 1 and on node 3, and
// C would get {1,3}, a third live permit. With slots, C asks for slot 0
// (A's on node 1) and gets only node 3, or asks for slot 1 (B's on node 3)
// and gets only node 1: refused either way.
//
// The limit is stored with the permits on each node, and a node refuses a
// slot under another limit while any permit lives there. A live permit
// under limit L holds its slot on a quorum, which shares a node with the
// quorum any acquire needs, so no acquire under another limit is granted
// until every permit of L is released or expired: all live permits share
// one limit and its N slots. Expiry is on each node's own clock (TIME).
//
// See sem_lib.lua for the layout of a semaphore on a node.

func loadSemScript(name string) *script {
	return &script{name: name, lua: rueidis.NewLuaScript(scriptSource("sem_lib") + "\n" + scriptSource(name))}
}

// semKey is a semaphore's hash; "sem:" keeps it apart from the lock of
// the same name ("lock:").
func (e *Engine) semKey(name string) string { return e.cfg.prefix + "sem:" + name }

// semDetailsKey is a semaphore's hash of its permits' owners and metadata,
// apart from semKey, which every semaphore script reads whole.
func (e *Engine) semDetailsKey(name string) string { return e.cfg.prefix + "semd:" + name }

// slotRounds bounds the rounds of one attempt: when the nodes agree on no
// slot but one is free on a quorum, the next round asks for that one.
const slotRounds = 3

// Node answers to sem_acquire.lua.
const (
	permitFull     = 0 // no slot (or not the one wanted) is free here
	permitSame     = 1 // the lease already holds a slot here
	permitNew      = 2 // the lease now holds a slot here
	permitConflict = 3 // live permits here have another limit
)

type permitReply struct {
	status  int64
	slot    int
	fence   int64 // the fence stored with our lease (permitSame)
	counter int64 // the node's fence counter
	meta    string
	owner   string // the permit that expires first here (permitFull)
	pttl    int64
	limit   int   // the limit in force here (permitConflict)
	taken   []int // slots other leases hold here
}

func parsePermit(v any) (permitReply, bool) {
	a, ok := v.([]any)
	if !ok || len(a) < 9 {
		return permitReply{}, false
	}
	r := permitReply{
		status: toInt(a[0]), slot: int(toInt(a[1])), fence: toInt(a[2]), counter: toInt(a[3]),
		meta: toStr(a[4]), owner: toStr(a[5]), pttl: toInt(a[6]), limit: int(toInt(a[7])),
	}
	if s := toStr(a[8]); s != "" {
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(f)
			if err != nil {
				return permitReply{}, false
			}
			r.taken = append(r.taken, n)
		}
	}
	return r, r.status >= permitFull && r.status <= permitConflict
}

// grantedSlot returns the slot a node's reply gives the lease, or -1.
func grantedSlot(r reply) int {
	a := fields(r)
	if len(a) < 2 {
		return -1
	}
	if s := toInt(a[0]); s != permitNew && s != permitSame {
		return -1
	}
	return int(toInt(a[1]))
}

func permitWrote(r reply) bool { return grantedSlot(r) >= 0 }

// permitDecided decides an acquire round once a quorum gave the lease one
// slot, or once that is out of reach and it is known whether a quorum
// answered or not.
func (e *Engine) permitDecided(replies []reply) bool {
	_, yes := mostSlot(replies, grantedSlot)
	answered, pending := count(replies, isAnswer), count(replies, isPending)
	return yes >= e.quorum ||
		yes+pending < e.quorum && (answered >= e.quorum || answered+pending < e.quorum)
}

// AcquirePermit grants a permit of the semaphore name, under limit, to
// opts.Owner under opts.Lease (a fresh lease when empty): one slot of the
// semaphore on a quorum of nodes, within the lease's validity as for a
// lock. It waits up to opts.Wait while every slot is taken, woken by
// releases. An acquire with the lease of a live permit is a retry: it
// refreshes the TTL and returns the same permit and fence. Fences come
// from the nodes' fence counter, or from the store when one is configured
// (minted under the semaphore's name: with a store, a semaphore's fences
// share the sequence of the lock of that name, and both grow strictly).
//
// It returns *lockd.NotObtainedError when every slot is taken past the
// wait (naming the holder of the permit that expires first);
// *lockd.LimitConflictError when no quorum granted and a node holds live
// permits under another limit, at once even when waiting;
// ErrQuorumUnavailable when too few nodes agreed because the others failed
// or answered too slowly; *lockd.ArgumentError for bad input. When ctx
// ends a wait, the last attempt's error is joined with ctx.Err(). A failed
// attempt deletes its writes from every node.
func (e *Engine) AcquirePermit(ctx context.Context, name string, limit int, opts lockd.AcquireOptions) (lockd.Lease, error) {
	opts, err := opts.PreparePermit(name, limit)
	if err == nil {
		err = e.checkTTL(opts.TTL)
	}
	if err != nil {
		return lockd.Lease{}, err
	}
	return e.wait(ctx, lockd.SemaphoreLine(name), name, opts, func(othersWait bool) (lockd.Lease, error) {
		want := -1
		for round := 1; ; round++ {
			l, next, err := e.tryPermit(ctx, name, limit, opts, othersWait, want)
			if err == nil || next < 0 || round == slotRounds || ctx.Err() != nil {
				return l, err
			}
			want = next
		}
	}, nil)
}

// tryPermit makes one round for slot want (-1: the lowest free on each
// node) and, once a quorum gave the lease one slot, settles its fence.
// When it is refused, it returns a slot that is free on a quorum of the
// nodes that answered, or -1.
func (e *Engine) tryPermit(ctx context.Context, name string, limit int, opts lockd.AcquireOptions, othersWait bool, want int) (lockd.Lease, int, error) {
	start := time.Now()
	keys := []string{e.semKey(name), e.fenceKey(), e.semDetailsKey(name)}
	undoKeys := []string{keys[0], keys[2]} // sem_release.lua's
	timeout := e.callTimeout(opts.TTL)
	id, att := opts.Lease, newAttemptTag()
	replies, late := e.round(ctx, timeout, nil, semAcquireScript, keys, []string{
		id, opts.Owner, strconv.FormatInt(opts.TTL.Milliseconds(), 10), string(opts.Metadata),
		flag(e.cfg.minter != nil), att, strconv.Itoa(limit), strconv.Itoa(want), flag(opts.Wait > 0), flag(othersWait),
	}, e.permitDecided)
	parsed := make([]permitReply, len(replies))
	for i := range replies {
		if replies[i].err != nil {
			continue
		}
		p, ok := parsePermit(replies[i].v)
		if !ok {
			replies[i].err = &lockd.NodeError{Node: e.nodes[i].addr(), Err: fmt.Errorf("sem_acquire: unexpected reply %v", replies[i].v)}
			continue
		}
		parsed[i] = p
	}
	undoArgs := []string{id, att, e.releasedChannel(), lockd.SemaphoreLine(name)}
	slot, yes := mostSlot(replies, grantedSlot)
	if yes < e.quorum {
		e.undo(replies, late, timeout, permitWrote, semReleaseScript, undoKeys, undoArgs)
		return lockd.Lease{}, e.freeSlot(parsed, replies, limit), e.permitRefusal(name, limit, yes, parsed, replies, start)
	}

	// The nodes that gave the lease the chosen slot grant it; a node that
	// gave it another slot is undone.
	on := make([]reply, len(replies))
	off := make([]reply, len(replies))
	votes := make([]acquireReply, len(replies))
	var meta json.RawMessage
	for i, r := range replies {
		switch s := grantedSlot(r); {
		case s == slot:
			on[i] = r
			votes[i] = acquireReply{status: statusNew, counter: parsed[i].counter}
			if parsed[i].status == permitSame {
				votes[i] = acquireReply{status: statusSame, fence: parsed[i].fence, counter: parsed[i].counter}
				if parsed[i].meta != "" {
					meta = json.RawMessage(parsed[i].meta)
				}
			}
		case s >= 0:
			on[i].err, off[i] = errSkipped, r
		default:
			on[i].err = errSkipped
			votes[i].status = statusHeld
		}
	}
	if len(opts.Metadata) > 0 {
		meta = opts.Metadata
	}
	if count(off, permitWrote) > 0 {
		e.spawn(func() { e.undo(off, stragglers{}, timeout, permitWrote, semReleaseScript, undoKeys, undoArgs) })
	}
	lease := lockd.Lease{
		Name: name, Owner: opts.Owner, ID: id, TTL: opts.TTL,
		AcquiredAt: start, ExpiresAt: start.Add(opts.TTL - drift(opts.TTL)), Metadata: meta,
	}
	slotArg := strconv.Itoa(slot)
	commitArgs := func(f string) []string { return []string{id, f, slotArg} }
	fence, err := e.fenceGrant(ctx, lease, timeout, votes, on, semCommitScript, keys, commitArgs)
	if err != nil {
		e.undo(replies, late, timeout, permitWrote, semReleaseScript, undoKeys, undoArgs)
		return lockd.Lease{}, -1, err
	}
	// A node that answers after the grant gets its fence when it gave the
	// lease the slot, and is undone when it gave it another.
	e.followUp(replies, late, keys[0], func(i int, r reply) {
		s := grantedSlot(r)
		if s < 0 {
			return
		}
		cctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if s == slot {
			call(cctx, e.nodes[i], semCommitScript, keys, commitArgs(strconv.FormatInt(fence, 10)))
			return
		}
		call(cctx, e.nodes[i], semReleaseScript, undoKeys, undoArgs)
	})
	lease.Fence = fence
	return lease, -1, nil
}

// permitRefusal is the error of a round in which no quorum gave the lease
// one slot (yes is the most that did).
func (e *Engine) permitRefusal(name string, limit, yes int, parsed []permitReply, replies []reply, start time.Time) error {
	var limits []int64
	for i, p := range parsed {
		if replies[i].err == nil && p.status == permitConflict {
			limits = append(limits, int64(p.limit))
		}
	}
	if len(limits) > 0 {
		return &lockd.LimitConflictError{Name: name, Limit: int(mostCommon(limits)), Asked: limit}
	}
	if count(replies, isAnswer) < e.quorum {
		return e.quorumError("agreed", yes, replies)
	}
	// The permit that expires first on a refusing node is the first a wait
	// can hope for.
	var h *lockd.Holder
	for i, p := range parsed {
		if replies[i].err != nil || p.status != permitFull || p.owner == "" || p.pttl < 0 {
			continue
		}
		at := start.Add(time.Duration(p.pttl) * time.Millisecond)
		if h == nil || at.Before(h.ExpiresAt) {
			h = &lockd.Holder{Owner: p.owner, ExpiresAt: at}
		}
	}
	return &lockd.NotObtainedError{Name: name, Holder: h}
}

// freeSlot returns the lowest slot that no other lease holds on a quorum
// of the nodes that answered (the next round's choice), or -1.
func (e *Engine) freeSlot(parsed []permitReply, replies []reply, limit int) int {
	free := make([]int, limit)
	for i, p := range parsed {
		if replies[i].err != nil || p.status == permitConflict || p.limit != limit {
			continue
		}
		busy := make(map[int]bool, len(p.taken))
		for _, s := range p.taken {
			busy[s] = true
		}
		for s := range free {
			if !busy[s] {
				free[s]++
			}
		}
	}
	for s, n := range free {
		if n >= e.quorum {
			return s
		}
	}
	return -1
}

var _ lockd.Semaphores = (*Engine)(nil)
