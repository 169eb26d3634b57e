package election

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/lockd/lockd"
)

// Defaults of a Hub.
const (
	// DefaultPollInterval is how often a Hub asks the engine about an
	// observed election when WithPollInterval is not given.
	DefaultPollInterval = 250 * time.Millisecond
	// DefaultMaxObservers is how many observers a Hub serves at once when
	// WithMaxObservers is not given.
	DefaultMaxObservers = 1024
	// ObserverBuffer is how many changes an observer may have unread: one
	// that falls further behind is dropped (ErrSlowObserver) rather than
	// let the hub hold changes without bound.
	ObserverBuffer = 16
)

// pollTimeout bounds one poll of the engine.
const pollTimeout = 2 * time.Second

// Errors of a Hub.
var (
	// ErrTooManyObservers means the hub serves its maximum of observers
	// already. It matches lockd.ErrUnavailable: another lockd may serve
	// the observer.
	ErrTooManyObservers = fmt.Errorf("election: too many observers: %w", lockd.ErrUnavailable)
	// ErrSlowObserver means an observer left ObserverBuffer changes
	// unread and was dropped. Observing again starts from the current
	// state.
	ErrSlowObserver = errors.New("election: observer fell behind")
	// ErrClosed means the hub was closed. It matches
	// lockd.ErrUnavailable.
	ErrClosed = fmt.Errorf("election: hub closed: %w", lockd.ErrUnavailable)
)

// Hub campaigns, resigns and observes elections over one engine. It is
// safe for concurrent use.
//
// What an observer sees:
//
//   - The first state is the current one as the hub knows it: read from
//     the engine when the election had no observer here, else the state
//     the hub has followed since, at most one poll interval old.
//   - Leaders come in term order: a leader is sent only with a term
//     greater than every term sent before, and "no leader" only after a
//     leader. A state is never sent twice in a row, and a renewal is no
//     change.
//   - Every campaign granted and every resignation made through this hub
//     while the observer is there is sent at once. The
//     exception: a leadership granted here that ended elsewhere (expired,
//     or resigned through another hub) in the moment between its grant
//     and the hub hearing of it, after a newer term was sent, is skipped.
//   - Changes made elsewhere, and expiries, are seen by polling the engine
//     every poll interval: they arrive within an interval plus one
//     engine call, and a leadership shorter than the interval (or a gap
//     without a leader) may be missed. The terms then jump.
//   - An observer that leaves ObserverBuffer changes unread is dropped
//     (ErrSlowObserver): the hub never holds changes without bound.
//
// One poller serves all the observers of an election, and stops when the
// last one leaves.
type Hub struct {
	e        lockd.Engine
	interval time.Duration
	max      int

	mu      sync.Mutex
	watches map[string]*watch // observed elections; an entry lives while it has observers or joiners
	count   int               // observers and joiners
	closed  bool
	pollers sync.WaitGroup
}

// watch is one observed election.
type watch struct {
	name    string
	refs    int // observers and joiners
	obs     map[*Observer]struct{}
	state   Leader // the last state sent
	known   bool   // state has been read or published
	term    int64  // the highest term sent
	version uint64 // counts publishes, so a poll that overlapped one is dropped
	stop    context.CancelFunc
}

// Option configures a Hub.
type Option func(*Hub)

// WithPollInterval sets how often the hub asks the engine about each
// observed election; d <= 0 keeps the default. The default is
// DefaultPollInterval.
func WithPollInterval(d time.Duration) Option {
	return func(h *Hub) {
		if d > 0 {
			h.interval = d
		}
	}
}

// WithMaxObservers sets how many observers the hub serves at once; n <= 0
// keeps the default. The default is DefaultMaxObservers.
func WithMaxObservers(n int) Option {
	return func(h *Hub) {
		if n > 0 {
			h.max = n
		}
	}
}

// NewHub returns a hub over e. The hub does not own e.
func NewHub(e lockd.Engine, opts ...Option) *Hub {
	h := &Hub{e: e, interval: DefaultPollInterval, max: DefaultMaxObservers, watches: make(map[string]*watch)}
	for _, o := range opts {
		o(h)
	}
	return h
}

// MaxObservers returns how many observers the hub serves at once.
func (h *Hub) MaxObservers() int { return h.max }

// Campaign makes opts.Owner leader of the election name, waiting up to
// opts.Wait while someone else leads: it is the engine's Acquire, and the
// lease's Fence is the term. Observers here learn of the grant at once.
// It returns the errors of lockd.Engine.Acquire: *lockd.NotObtainedError
// when someone else still leads after the wait, *lockd.ArgumentError,
// lockd.ErrQuorumUnavailable.
func (h *Hub) Campaign(ctx context.Context, name string, opts lockd.AcquireOptions) (lockd.Lease, error) {
	l, err := h.e.Acquire(ctx, name, opts)
	if err != nil {
		return l, err
	}
	h.publish(name, func(w *watch) { h.change(w, FromLease(l)) })
	return l, nil
}

// Resign ends the leadership that leaseID holds: it is the engine's
// Release. Observers here learn of it at once. It returns the errors of
// lockd.Engine.Release: lockd.ErrNotHeld when the lease no longer leads
// (resigning twice is safe), *lockd.ArgumentError,
// lockd.ErrQuorumUnavailable.
func (h *Hub) Resign(ctx context.Context, name, leaseID string) (lockd.Released, error) {
	rel, err := h.e.Release(ctx, name, leaseID)
	if err != nil {
		return rel, err
	}
	h.publish(name, func(w *watch) {
		if w.state.Leading && rel.Fence != 0 && w.state.Term == rel.Fence {
			h.change(w, Leader{Name: name})
		}
	})
	return rel, nil
}

// Leader reports who leads the election name; see Inspect.
func (h *Hub) Leader(ctx context.Context, name string) (Leader, error) {
	return Inspect(ctx, h.e, name)
}

// publish applies a change made through the hub to the election's
// watch, if it is observed.
func (h *Hub) publish(name string, apply func(w *watch)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	w := h.watches[name]
	if w == nil {
		return
	}
	w.version++
	if !w.known {
		// A joiner is reading the engine: what it reads may predate this
		// change, so it will be dropped; the change is the state.
		w.known = true
	}
	apply(w)
}

// change moves w to s when s is news, and sends s to w's observers. Called
// with h.mu held.
func (h *Hub) change(w *watch, s Leader) {
	cur := w.state
	switch {
	case s.Leading && s.Term > w.term:
		// A new leader.
	case s.Leading && cur.Leading && s.Term == cur.Term:
		w.state = s // a renewal: no change for observers
		return
	case s.Leading:
		return // an older term, or one already seen to end
	case !cur.Leading:
		return
	}
	w.state = s
	w.term = max(w.term, s.Term)
	for o := range w.obs {
		select {
		case o.c <- s:
		default:
			h.leave(o, ErrSlowObserver)
		}
	}
}

// Observer receives the changes of one election. Its methods are safe for
// concurrent use.
type Observer struct {
	h         *Hub
	w         *watch
	c         chan Leader
	stopAfter func() bool // stops the context.AfterFunc that closes it
	left      bool        // guarded by h.mu
	err       error       // guarded by h.mu
}

// C returns the channel of changes; its first value is the current state.
// It closes when the observer leaves: through Close, the end of the
// context given to Observe, falling behind, or the hub's Close.
func (o *Observer) C() <-chan Leader { return o.c }

// Err returns why C closed: nil while it is open and after Close or the
// end of the context; ErrSlowObserver or ErrClosed otherwise.
func (o *Observer) Err() error {
	o.h.mu.Lock()
	defer o.h.mu.Unlock()
	return o.err
}

// Close stops the observer: C closes. Closing twice is safe.
func (o *Observer) Close() {
	o.h.mu.Lock()
	defer o.h.mu.Unlock()
	o.h.leave(o, nil)
}

// Observe starts observing the election name, until ctx ends or Close.
// The first value on C is the current state (see Hub for what is
// promised). It returns *lockd.ArgumentError for a bad name,
// ErrTooManyObservers when the hub serves its maximum already, ErrClosed
// after Close, and the engine's error (lockd.ErrQuorumUnavailable) when
// the current state could not be read.
func (h *Hub) Observe(ctx context.Context, name string) (*Observer, error) {
	if err := lockd.ValidateName(name); err != nil {
		return nil, err
	}
	h.mu.Lock()
	switch {
	case h.closed:
		h.mu.Unlock()
		return nil, ErrClosed
	case h.count >= h.max:
		h.mu.Unlock()
		return nil, ErrTooManyObservers
	}
	h.count++
	w := h.watches[name]
	if w == nil {
		w = &watch{name: name, obs: make(map[*Observer]struct{}), state: Leader{Name: name}}
		h.watches[name] = w
	}
	w.refs++
	known, v := w.known, w.version
	h.mu.Unlock()

	var (
		s   Leader
		err error
	)
	if !known {
		s, err = Inspect(ctx, h.e, name)
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil && h.closed {
		err = ErrClosed
	}
	if err != nil {
		h.unref(w)
		return nil, err
	}
	if !w.known && w.version == v {
		w.known, w.state, w.term = true, s, s.Term
	}
	o := &Observer{h: h, w: w, c: make(chan Leader, ObserverBuffer)}
	w.obs[o] = struct{}{}
	o.c <- w.state
	if w.stop == nil {
		pctx, cancel := context.WithCancel(context.Background())
		w.stop = cancel
		h.pollers.Add(1)
		go h.poll(pctx, w)
	}
	o.stopAfter = context.AfterFunc(ctx, o.Close)
	return o, nil
}

// leave removes o, closing its channel, with err as the reason. Called with
// h.mu held.
func (h *Hub) leave(o *Observer, err error) {
	if o.left {
		return
	}
	o.left, o.err = true, err
	if o.stopAfter != nil {
		o.stopAfter()
	}
	delete(o.w.obs, o)
	close(o.c)
	h.unref(o.w)
}

// unref drops one reference to w; the last one stops its poller. Called
// with h.mu held.
func (h *Hub) unref(w *watch) {
	h.count--
	w.refs--
	if w.refs > 0 {
		return
	}
	if h.watches[w.name] == w {
		delete(h.watches, w.name)
	}
	if w.stop != nil {
		w.stop()
	}
}

// poll reads w's election from the engine every interval until ctx ends.
// A failed read changes nothing: the next one tries again.
func (h *Hub) poll(ctx context.Context, w *watch) {
	defer h.pollers.Done()
	t := time.NewTicker(h.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		h.mu.Lock()
		v := w.version
		h.mu.Unlock()
		rctx, cancel := context.WithTimeout(ctx, pollTimeout)
		s, err := Inspect(rctx, h.e, w.name)
		cancel()
		if err != nil {
			continue
		}
		h.mu.Lock()
		if w.version == v {
			// Else a change made here overlapped the read, which may
			// predate it; the next poll reads after it.
			h.change(w, s)
		}
		h.mu.Unlock()
	}
}

// Close ends every observer (their Err is ErrClosed) and poller, and
// refuses new observers. It does not close the engine. It returns nil.
func (h *Hub) Close() error {
	h.mu.Lock()
	h.closed = true
	for _, w := range h.watches {
		for o := range w.obs {
			h.leave(o, ErrClosed)
		}
	}
	h.mu.Unlock()
	h.pollers.Wait()
	return nil
}
