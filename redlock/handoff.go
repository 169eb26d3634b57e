package redlock

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/waitq"
)

// Hand-offs. A head of a lock's line that pauses leaves its next attempt
// in the line (wait.go). A release of that lock in this engine takes it and
// runs handoff.lua: on each node, the release and then the waiter's
// acquire, in one call. The waiter's grant is decided by the same rules as
// any attempt (a quorum of yeses within its validity, counted from the
// start of the shared round, and its fence settled by finish); only the
// round is shared, saving the release's own round, its announcement and
// the waiter's wake-up. A release whose hand-off the nodes refused (the
// lock was still held, or a waiter at another engine had marked it) leaves
// the waiter to go on waiting as before.

// takeOffer takes the offer of the head of name's line, when readers do
// not also wait for name here (a hand-off serves writers only; with both
// waiting, they race as without hand-offs).
func (e *Engine) takeOffer(name string) *waitq.Offer {
	// Offered first: most releases find nobody waiting, and it costs no
	// line name.
	if !e.lines.Offered(name) || e.lines.Len(lockd.ReadLine(name)) > 0 {
		return nil
	}
	return e.lines.Take(name)
}

// handOff releases name with release.lua's args and runs the attempt of
// the offer o in the same round, then hands the attempt back to its waiter
// and answers the release.
func (e *Engine) handOff(ctx context.Context, name string, relArgs []string, o *waitq.Offer) (lockd.Released, error) {
	a := o.Attempt().(func() *attempt)()
	defer o.Done(a)
	// As of now: whether others wait behind the waiter (so its grant's
	// release is announced), and the writer mark, never past its wait.
	a.args[othersWaitArg] = flag(e.lines.Len(name) > 1)
	a.args[markArg] = strconv.FormatInt(e.markFor(a.deadline).Milliseconds(), 10)
	args := make([]string, 0, len(relArgs)+1+len(a.args))
	args = append(append(append(args, relArgs...), e.id), a.args...)
	a.start = time.Now()
	// The release's bound on each call, as without a hand-off; the
	// waiter's grant still has to land within its validity (finish).
	// Not cut short with the releaser's context: the round is the
	// waiter's attempt too. Each call is bounded by the node timeout.
	replies, late := e.round(context.WithoutCancel(ctx), e.cfg.nodeTimeout, nil, handoffScript, a.keys, args, func(out []reply) bool {
		return e.acquireDecided(e.handoffPart(out, 1))
	})
	a.replies = e.handoffPart(replies, 1)
	a.late = e.handoffLate(late)
	rel, err := e.releasedFrom(name, e.handoffPart(replies, 0))
	if err == nil && rel.Holds == 0 && count(a.replies, grantsOK) >= e.quorum {
		// The lock went to the waiter: an acquire arriving from now on,
		// the releaser's next one included (it may come as soon as this
		// release is answered), queues behind it instead of making an
		// attempt the nodes would refuse. The waiter notes itself too,
		// once it has settled the grant, which may be later. A release
		// that freed nothing (holds left, another lease) leaves the note.
		e.lines.SetHolder(name, a.opts.Owner, a.start.Add(a.opts.TTL))
	}
	return rel, err
}

// handoffPart returns part k of each node's reply to handoff.lua: 0 is
// release.lua's, 1 acquire.lua's. A node's error stands for both.
func (e *Engine) handoffPart(replies []reply, k int) []reply {
	out := make([]reply, len(replies))
	for i, r := range replies {
		out[i] = e.handoffReply(i, r, k)
	}
	return out
}

// handoffReply returns part k of node i's reply r to handoff.lua. The
// waiter's part may be an error of its own (a full node refused the
// attempt), which is that node's failure for the attempt only.
func (e *Engine) handoffReply(i int, r reply, k int) reply {
	if r.err != nil {
		return r
	}
	a, ok := r.v.([]any)
	if !ok || len(a) != 2 {
		return reply{v: r.v} // unexpected: the parsers report it
	}
	if err, ok := a[k].(error); ok {
		return reply{err: &lockd.NodeError{Node: e.nodes[i].addr(), Err: fmt.Errorf("%s: %w", handoffScript.name, err)}}
	}
	return reply{v: a[k]}
}

// handoffLate passes on a hand-off round's stragglers as acquire.lua's
// replies, for the attempt's follow-up (a late yes gets the grant's fence,
// or the failed attempt's delete).
func (e *Engine) handoffLate(late stragglers) stragglers {
	if late.n == 0 {
		return late
	}
	ch := make(chan nodeReply, late.n)
	e.spawn(func() {
		for range late.n {
			nr := <-late.ch
			ch <- nodeReply{nr.i, e.handoffReply(nr.i, nr.r, 1)}
		}
	})
	return stragglers{ch: ch, n: late.n}
}

// releaseAbandoned releases a lease handed to a waiter whose context had
// ended by the time it learned of the grant: nobody can use it, and it
// would otherwise keep the lock until its TTL.
func (e *Engine) releaseAbandoned(l lockd.Lease) {
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.nodeTimeout)
	defer cancel()
	_, _ = e.release(ctx, l.Name, l.ID, "", l.Hold)
}
