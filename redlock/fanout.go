package redlock

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/lockd/lockd"
)

// reply is one node's answer in a round.
type reply struct {
	v   any
	err error // a *lockd.NodeError
}

var (
	// errPending marks a node whose answer had not come when the round's
	// outcome was decided. Its call goes on in the background.
	errPending = errors.New("no answer yet")
	// errSkipped marks a node a round was not sent to.
	errSkipped = errors.New("not asked in this round")
)

// minGrace is the least a round waits, once decided, for nodes still to
// answer: healthy nodes on a loaded machine answer a few milliseconds
// apart, and a round that leaves one behind sends more work after it. A
// node marked down fails at once, so this is paid only until then.
const minGrace = 2 * time.Millisecond

// nodeReply is a reply with the index of its node.
type nodeReply struct {
	i int
	r reply
}

// stragglers are the calls of a round still running when it returned.
type stragglers struct {
	ch <-chan nodeReply
	n  int
}

// decider reports whether a round's outcome is known from the replies so
// far; unanswered nodes have errPending.
type decider func(replies []reply) bool

// allAnswered never decides early: the round waits for every node.
func allAnswered([]reply) bool { return false }

// round runs s on every node (or, when only is not nil, on the nodes whose
// reply in only is not an error; the others keep theirs) and returns once
// done says the outcome is decided and the nodes still running had a grace
// as long as the round took so far (healthy nodes answer close together,
// so they all get in; a paused one does not hold the round up for more
// than that), or every node answered, or ctx ended. Each call is bounded
// by timeout and does not end with ctx: a late call still lands (an
// acquire's late write is ours, a release's late delete is wanted), and
// its reply comes through the stragglers.
func (e *Engine) round(ctx context.Context, timeout time.Duration, only []reply, s *script, keys, args []string, done decider) ([]reply, stragglers) {
	n := len(e.nodes)
	out := make([]reply, n)
	ch := make(chan nodeReply, n)
	sent := 0
	for i, nd := range e.nodes {
		if only != nil && only[i].err != nil {
			out[i] = reply{err: &lockd.NodeError{Node: nd.addr(), Err: errSkipped}}
			continue
		}
		out[i] = reply{err: &lockd.NodeError{Node: nd.addr(), Err: errPending}}
		sent++
	}
	// One context for the round's calls, apart from ctx's cancellation;
	// the last call to finish cancels it.
	var calls struct {
		ctx     context.Context
		cancel  context.CancelFunc
		running atomic.Int32
	}
	calls.ctx, calls.cancel = context.WithTimeout(context.WithoutCancel(ctx), timeout)
	calls.running.Store(int32(sent))
	var key string
	if len(keys) > 0 {
		key = keys[0]
	}
	tickets := make([]ticket, n)
	tracked := e.track(sent)
	for i, nd := range e.nodes {
		if only != nil && only[i].err != nil {
			continue
		}
		tk := &tickets[i]
		tk.done = make(chan struct{})
		e.workers.Run(func() {
			if tracked {
				defer e.bg.Done()
			}
			var r reply
			if err := e.gates[i].wait(calls.ctx, key); err != nil {
				r.err = &lockd.NodeError{Node: nd.addr(), Err: fmt.Errorf("%s: waiting for an earlier call on this key: %w", s.name, err)}
			} else {
				r = call(calls.ctx, nd, s, keys, args)
			}
			close(tk.done)
			if tk.held.Load() {
				e.gates[i].remove(key, tk.done)
			}
			if calls.running.Add(-1) == 0 {
				calls.cancel()
			}
			ch <- nodeReply{i, r}
		})
	}
	// A call still running when the round answers holds back later calls
	// on the same key to its node, so that this engine's next call on a
	// lock (a release after an acquire) never overtakes it.
	hold := func() {
		for i, r := range out {
			if isPending(r) {
				tickets[i].held.Store(true)
				e.gates[i].add(key, tickets[i].done)
			}
		}
	}
	if sent == 0 {
		calls.cancel()
	}
	start := time.Now()
	var grace <-chan time.Time
	got := 0
	for got < sent {
		select {
		case nr := <-ch:
			out[nr.i] = nr.r
			got++
			if grace == nil && got < sent && done(out) {
				t := time.NewTimer(min(max(time.Since(start), minGrace), timeout))
				defer t.Stop()
				grace = t.C
			}
		case <-grace:
			hold()
			return out, stragglers{ch: ch, n: sent - got}
		case <-ctx.Done():
			hold()
			return out, stragglers{ch: ch, n: sent - got}
		}
	}
	return out, stragglers{}
}

// followUp runs f for each straggler of a round once it answers, in the
// background (Close waits for it), and until f returns holds back this
// engine's later calls on key to that node: a write that answers late gets
// its follow-up (the grant's fence, a failed attempt's delete) before
// anything after it on that lock. A round's stragglers that need no
// follow-up are left alone: their calls end within their timeout.
func (e *Engine) followUp(replies []reply, late stragglers, key string, f func(i int, r reply)) {
	if late.n == 0 {
		return
	}
	holds := make([]chan struct{}, len(replies))
	for i, r := range replies {
		if isPending(r) {
			holds[i] = make(chan struct{})
			e.gates[i].add(key, holds[i])
		}
	}
	e.spawn(func() {
		for range late.n {
			nr := <-late.ch
			f(nr.i, nr.r)
			close(holds[nr.i])
			e.gates[nr.i].remove(key, holds[nr.i])
		}
	})
}

func call(ctx context.Context, n node, s *script, keys, args []string) reply {
	v, err := n.eval(ctx, s, keys, args)
	if err != nil {
		return reply{err: &lockd.NodeError{Node: n.addr(), Err: fmt.Errorf("%s: %w", s.name, err)}}
	}
	return reply{v: v}
}

// count returns how many replies f accepts.
func count(replies []reply, f func(reply) bool) int {
	n := 0
	for _, r := range replies {
		if f(r) {
			n++
		}
	}
	return n
}

func isAnswer(r reply) bool  { return r.err == nil }
func isPending(r reply) bool { return errors.Is(r.err, errPending) }

// collect returns the errors of the nodes that failed or had not answered.
func collect(replies []reply) []error {
	var errs []error
	for _, r := range replies {
		if r.err != nil && !errors.Is(r.err, errSkipped) {
			errs = append(errs, r.err)
		}
	}
	return errs
}

// quorumError says how many nodes did what was needed (agreed, answered,
// confirmed) against the quorum, and why every other node did not. A node
// that answered with an error (out of memory, read-only) is a failure
// like one that did not answer.
func (e *Engine) quorumError(did string, ok int, replies []reply) error {
	errs := collect(replies)
	return fmt.Errorf("%w: %d of %d nodes %s, %d needed; %d failed: %w",
		lockd.ErrQuorumUnavailable, ok, len(e.nodes), did, e.quorum, len(errs), errors.Join(errs...))
}

// quorumOrImpossible decides a round once ok replies reach the quorum, or
// once so few are possible that they cannot.
func (e *Engine) quorumOrImpossible(ok func(reply) bool) decider {
	return func(replies []reply) bool {
		yes, pending := count(replies, ok), count(replies, isPending)
		return yes >= e.quorum || yes+pending < e.quorum
	}
}

func toInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case string:
		n, _ := strconv.ParseInt(x, 10, 64)
		return n
	}
	return 0
}

func toStr(v any) string {
	s, _ := v.(string)
	return s
}

// fields returns a reply that is an array, or nil.
func fields(r reply) []any {
	a, _ := r.v.([]any)
	if r.err != nil {
		return nil
	}
	return a
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return ""
}

// mostCommon returns the value most nodes report, the largest among ties;
// a lease's fence is the same everywhere once committed, and a node that
// answered late may still hold its provisional one for a moment.
func mostCommon(vals []int64) int64 {
	var best int64
	bestN := 0
	for _, v := range vals {
		n := 0
		for _, w := range vals {
			if w == v {
				n++
			}
		}
		if n > bestN || n == bestN && v > best {
			best, bestN = v, n
		}
	}
	return best
}
