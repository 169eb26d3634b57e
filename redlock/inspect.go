package redlock

import (
	"context"
	"time"

	"github.com/lockd/lockd"
)

// Inspect reports the holder a quorum of nodes agrees on; lease values
// tell holders apart here and never leave the engine. It returns
// ErrQuorumUnavailable when fewer than a quorum answered.
func (e *Engine) Inspect(ctx context.Context, name string) (lockd.LockInfo, error) {
	if err := lockd.ValidateName(name); err != nil {
		return lockd.LockInfo{}, err
	}
	start := time.Now()
	replies, _ := e.round(ctx, e.cfg.nodeTimeout, nil, inspectScript, []string{e.lockKey(name), e.readersKey(name), e.readerDetailsKey(name)}, nil, e.inspectDecided)
	if ok := count(replies, isAnswer); ok < e.quorum {
		return lockd.LockInfo{}, e.quorumError("answered", ok, replies)
	}
	for id, v := range views(replies) {
		if len(v.pttls) < e.quorum {
			continue
		}
		info := lockd.LockInfo{
			Name:      name,
			Held:      true,
			Owner:     v.owner,
			Fence:     mostCommon(v.fences),
			ExpiresAt: quorumExpiry(v.pttls, e.quorum, start),
		}
		if id == readersView {
			info.Mode, info.Readers = lockd.ModeRead, int(mostCommon(v.readers))
		}
		if v.meta != "" {
			info.Metadata = []byte(v.meta)
		}
		return info, nil
	}
	return lockd.LockInfo{Name: name}, nil
}

// view is what the nodes that hold one lease report of it, or, under
// readersView, what the nodes where readers hold the lock report of them.
type view struct {
	owner, meta string
	fences      []int64
	pttls       []int64
	readers     []int64 // how many readers each node has
}

// readersView is the key of the readers' view: inspect.lua reports them
// under 'r', which no lease value can be.
const readersView = "r"

// views groups the inspect replies by lease.
func views(replies []reply) map[string]*view {
	out := map[string]*view{}
	for _, r := range replies {
		a := fields(r)
		if len(a) < 5 {
			continue
		}
		id := toStr(a[0])
		v := out[id]
		if v == nil {
			v = &view{owner: toStr(a[1]), meta: toStr(a[3])}
			out[id] = v
		}
		v.fences = append(v.fences, toInt(a[2]))
		v.pttls = append(v.pttls, toInt(a[4]))
		if len(a) >= 6 {
			v.readers = append(v.readers, toInt(a[5]))
		}
	}
	return out
}

// inspectDecided decides an inspect once a quorum answered and either one
// lease is on a quorum or none can be any more.
func (e *Engine) inspectDecided(replies []reply) bool {
	if count(replies, isAnswer) < e.quorum {
		return false
	}
	pending := count(replies, isPending)
	for _, v := range views(replies) {
		if len(v.pttls) >= e.quorum || len(v.pttls)+pending >= e.quorum {
			return len(v.pttls) >= e.quorum
		}
	}
	return true
}
