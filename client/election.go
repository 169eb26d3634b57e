package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/election"
	"github.com/lockd/lockd/internal/wire"
)

// Leader is the state of an election: who leads it and in which term, or
// nobody (Leading false).
type Leader = election.Leader

// Leadership is a handle on a won election: a leadership lease whose
// fence is the term. Done closes when the leadership is over or may be
// lost, and Err says why, as for a Lease (a Leadership is renewed through
// the lock extend route of the election's name). Once Done has closed,
// act as leader no more. It is safe for concurrent use.
type Leadership struct {
	lease *Lease
}

// Name returns the election's name.
func (l *Leadership) Name() string { return l.lease.Name() }

// Owner returns the leader's label.
func (l *Leadership) Owner() string { return l.lease.Owner() }

// Term returns the leadership's term: the lease's fencing token, which
// grows with every new leader. Pass it to what the leader writes to, which
// should refuse a smaller one.
func (l *Leadership) Term() int64 { return l.lease.Fence() }

// Lease returns the leadership lease, for its ID, TTL and Extend (which
// goes through the lock extend route of the election's name). Its Release
// is Resign.
func (l *Leadership) Lease() *Lease { return l.lease }

// Done returns a channel that closes when the leadership is over or may
// be lost; see Lease.Done.
func (l *Leadership) Done() <-chan struct{} { return l.lease.Done() }

// Err returns nil while Done is open, and afterwards why it closed; see
// Lease.Err (ErrReleased after Resign).
func (l *Leadership) Err() error { return l.lease.Err() }

// Resign ends the leadership through POST /v1/elections/{name}/resign (or
// the local hub), so that the observers of that lockd learn of it at once,
// and stops keep-alive; Done closes with ErrReleased. It returns what
// Lease.Release returns: lockd.ErrNotHeld when the leadership had ended
// already, lockd.ErrQuorumUnavailable, an error wrapping lockd.ErrInternal
// or a transport error when it could not be done (the leadership then
// runs out at its TTL).
func (l *Leadership) Resign(ctx context.Context) error { return l.lease.Release(ctx) }

// NoKeepAlive turns keep-alive off for a Campaign, which has it on by
// default: the leadership then ends at its TTL unless extended.
func NoKeepAlive() AcquireOption {
	return func(c *acquireConfig) { c.keepAlive = false }
}

// Campaign waits, up to the Wait option, to lead the election name, and
// returns the leadership. The election is the lock of the same name: see
// package election. Options are those of Acquire, with KeepAlive on by
// default (NoKeepAlive turns it off); Fair is refused (an
// *lockd.ArgumentError on "fair"). Retries send the same lease, so a
// campaign granted just before its answer was lost is not granted twice.
//
// It returns the errors of Acquire: *lockd.NotObtainedError when someone
// else still leads after the wait (joined with ctx.Err() when ctx ended
// first), *lockd.ArgumentError, lockd.ErrQuorumUnavailable,
// lockd.ErrUnavailable, an error wrapping lockd.ErrInternal, or a wrapped
// transport error.
func (c *Client) Campaign(ctx context.Context, name string, opts ...AcquireOption) (*Leadership, error) {
	var cfg acquireConfig
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.opts.Fair {
		return nil, &lockd.ArgumentError{Field: "fair", Reason: "does not apply to a campaign"}
	}
	ec := *c
	ec.eng = electionEngine{Engine: c.eng, c: c}
	l, err := ec.Acquire(ctx, name, append([]AcquireOption{KeepAlive()}, opts...)...)
	if err != nil {
		return nil, err
	}
	return &Leadership{lease: l}, nil
}

// Leader reports who leads the election name (Leading false: nobody). It
// returns *lockd.ArgumentError for a bad name, lockd.ErrQuorumUnavailable
// when the engine could not reach a quorum, an error wrapping
// lockd.ErrInternal for a server failure, and a wrapped transport error.
// Transient failures are retried first (see WithRetry).
func (c *Client) Leader(ctx context.Context, name string) (Leader, error) {
	var l Leader
	err := c.retry(ctx, 0, func(int) error {
		var err error
		if c.remote != nil {
			l, err = c.remote.leader(ctx, name)
		} else {
			l, err = election.Inspect(ctx, c.eng, name)
		}
		return err
	})
	return l, err
}

// Observe follows the election name: the channel's first value is the
// current state, then one per change, leaders in growing term order (see
// election.Hub for what is promised). Over HTTP it reads
// GET /v1/elections/{name}/observe and reconnects, with backoff, when the
// stream breaks or the server ends it, until ctx ends; the first state
// after a reconnect is the current one, and changes in between may be
// missed (never reordered: a state older than one already sent is
// skipped). A NewLocal client polls its engine through a hub of its own.
// The channel closes when ctx ends, or when a reconnect is refused for
// good (a bad name).
//
// Observe returns *lockd.ArgumentError for a bad name,
// lockd.ErrUnavailable when the server serves too many observers already
// (after retrying, see WithRetry), lockd.ErrQuorumUnavailable, and a
// wrapped transport error when the first connection fails.
func (c *Client) Observe(ctx context.Context, name string) (<-chan Leader, error) {
	if err := lockd.ValidateName(name); err != nil {
		return nil, err
	}
	var src source
	if c.remote != nil {
		src = &sseSource{r: c.remote, name: name}
	} else {
		src = &hubSource{h: c.hub, name: name}
	}
	first, err := c.connect(ctx, src)
	if err != nil {
		return nil, err
	}
	out := make(chan Leader)
	go follow(ctx, src, first, out)
	return out, nil
}

// source is where Observe reads states from: an SSE stream or a hub.
type source interface {
	// open starts reading; next then returns states until the source
	// fails or ends (io.EOF), and close stops it.
	open(ctx context.Context) error
	next() (Leader, error)
	close()
}

// connect opens src, retrying transient failures as other calls do.
func (c *Client) connect(ctx context.Context, src source) (Leader, error) {
	var first Leader
	err := c.retry(ctx, 0, func(int) error {
		if err := src.open(ctx); err != nil {
			return err
		}
		var err error
		if first, err = src.next(); err != nil {
			src.close()
		}
		return err
	})
	return first, err
}

// follow sends first and what src reads next to out, skipping states that
// would break the order, and reopens src with backoff when it fails, until
// ctx ends or a reopening fails for good. It closes out.
func follow(ctx context.Context, src source, first Leader, out chan<- Leader) {
	defer close(out)
	var (
		f order
		b backoff
	)
	l, err := first, error(nil)
	for {
		if err == nil {
			if f.admit(l) {
				select {
				case out <- l:
				case <-ctx.Done():
					src.close()
					return
				}
			}
			b = backoff{}
			l, err = src.next()
			continue
		}
		src.close()
		if ctx.Err() != nil || !transient(err) && !errors.Is(err, io.EOF) && !errors.Is(err, election.ErrSlowObserver) {
			return
		}
		if !sleep(ctx, b.wait()) {
			return
		}
		if err = src.open(ctx); err == nil {
			l, err = src.next()
		}
	}
}

// order admits the states an observer may see: leaders in growing term
// order, "no leader" only after a leader.
type order struct {
	started, leading bool
	term             int64 // the highest term sent
}

func (o *order) admit(l Leader) bool {
	switch {
	case !o.started:
	case l.Leading && l.Term > o.term:
	case !l.Leading && o.leading:
	default:
		return false
	}
	o.started, o.leading = true, l.Leading
	o.term = max(o.term, l.Term)
	return true
}

// hubSource reads a local hub.
type hubSource struct {
	h    *election.Hub
	name string
	o    *election.Observer
}

func (s *hubSource) open(ctx context.Context) error {
	o, err := s.h.Observe(ctx, s.name)
	s.o = o
	return err
}

func (s *hubSource) next() (Leader, error) {
	l, ok := <-s.o.C()
	if !ok {
		if err := s.o.Err(); err != nil {
			return Leader{}, err
		}
		return Leader{}, io.EOF
	}
	return l, nil
}

func (s *hubSource) close() {
	if s.o != nil {
		s.o.Close()
	}
}

// idleLimit is how long an observe stream may send nothing, not even a
// heartbeat, before the client takes the connection for dead.
const idleLimit = 3 * wire.ObserveHeartbeat

// maxEventBytes bounds one line of an observe stream.
const maxEventBytes = 64 << 10

// sseSource reads GET /v1/elections/{name}/observe.
type sseSource struct {
	r    *remote
	name string

	cancel context.CancelFunc
	idle   *time.Timer
	body   io.ReadCloser
	rd     *bufio.Reader
}

func (s *sseSource) open(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	// Until the answer's headers arrive the client's timeout applies;
	// then the stream may last, but never idle past idleLimit.
	idle := time.AfterFunc(s.r.timeout, cancel)
	stop := func() {
		idle.Stop()
		cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.r.base+electionPath(s.name, "observe"), nil)
	if err != nil {
		stop()
		return fmt.Errorf("client: observe %q: %w", s.name, err)
	}
	req.Header = s.r.header(acceptEvents, false)
	resp, err := s.r.hc.Do(req)
	if err != nil {
		stop()
		return &transientError{fmt.Errorf("client: observe %q: %w", s.name, err)}
	}
	if resp.StatusCode != http.StatusOK {
		defer stop()
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
		return apiError(resp.StatusCode, b, s.name)
	}
	idle.Reset(idleLimit)
	s.cancel, s.idle, s.body, s.rd = cancel, idle, resp.Body, bufio.NewReaderSize(resp.Body, 4096)
	return nil
}

// next reads events until a leader event: an error event ends the
// stream with its error, as an answer would.
func (s *sseSource) next() (Leader, error) {
	var event, data string
	for {
		line, err := s.readLine()
		if err != nil {
			return Leader{}, &transientError{fmt.Errorf("client: observe %q: %w", s.name, err)}
		}
		s.idle.Reset(idleLimit)
		switch {
		case line == "":
			if event == "" && data == "" {
				continue
			}
			switch event {
			case wire.EventLeader:
				var l wire.Leader
				if err := json.Unmarshal([]byte(data), &l); err != nil {
					return Leader{}, fmt.Errorf("client: observe %q: decoding event: %w: %w", s.name, lockd.ErrInternal, err)
				}
				return l.Domain(), nil
			case wire.EventError:
				return Leader{}, apiError(http.StatusServiceUnavailable, []byte(data), s.name)
			}
			event, data = "", ""
		case strings.HasPrefix(line, ":"):
			// A heartbeat.
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			data += strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " ")
		}
	}
}

// readLine reads one line without its end, at most maxEventBytes long.
func (s *sseSource) readLine() (string, error) {
	var b []byte
	for {
		chunk, isPrefix, err := s.rd.ReadLine()
		if err != nil {
			return "", err
		}
		b = append(b, chunk...)
		if len(b) > maxEventBytes {
			return "", fmt.Errorf("event line longer than %d bytes", maxEventBytes)
		}
		if !isPrefix {
			return string(b), nil
		}
	}
}

func (s *sseSource) close() {
	if s.cancel != nil {
		s.cancel()
		s.idle.Stop()
		_ = s.body.Close()
		s.cancel = nil
	}
}

// electionEngine is the engine a campaign's lease goes through: the
// grant and the resignation take the election routes (or the local hub),
// so that observers learn of them at once; renewals are plain lock
// extends of the election's name.
type electionEngine struct {
	lockd.Engine
	c *Client
}

// Acquire campaigns.
func (e electionEngine) Acquire(ctx context.Context, name string, o lockd.AcquireOptions) (lockd.Lease, error) {
	o = lockd.AcquireOptions{Owner: o.Owner, Lease: o.Lease, TTL: o.TTL, Wait: o.Wait, Metadata: o.Metadata}
	if e.c.remote != nil {
		return e.c.remote.campaign(ctx, name, o)
	}
	return e.c.hub.Campaign(ctx, name, o)
}

// Release resigns.
func (e electionEngine) Release(ctx context.Context, name, leaseID string) (lockd.Released, error) {
	if e.c.remote != nil {
		return e.c.remote.resign(ctx, name, leaseID)
	}
	return e.c.hub.Resign(ctx, name, leaseID)
}

// electionPath builds the path of an election route.
func electionPath(name, action string) string { return namedPath("/v1/elections/", name, action) }

// campaign sends POST /v1/elections/{name}/campaign.
func (r *remote) campaign(ctx context.Context, name string, o lockd.AcquireOptions) (lockd.Lease, error) {
	if err := lockd.ValidateName(name); err != nil {
		return lockd.Lease{}, err
	}
	a := acquireRequest(o)
	in := wire.CampaignRequest{Owner: a.Owner, Lease: a.Lease, TTLMs: a.TTLMs, WaitMs: a.WaitMs, Metadata: a.Metadata}
	var out wire.Leadership
	err := r.do(ctx, call{method: http.MethodPost, path: electionPath(name, "campaign"), name: name, in: in, out: &out, extra: max(o.Wait, 0)})
	if err != nil {
		return lockd.Lease{}, waitEnded(ctx, name, err)
	}
	return out.Lease.Domain(), nil
}

// resign sends POST /v1/elections/{name}/resign.
func (r *remote) resign(ctx context.Context, name, leaseID string) (lockd.Released, error) {
	if err := lockd.ValidateName(name); err != nil {
		return lockd.Released{}, err
	}
	var out wire.Resigned
	if err := r.do(ctx, call{method: http.MethodPost, path: electionPath(name, "resign"), name: name, in: wire.ResignRequest{Lease: leaseID}, out: &out}); err != nil {
		return lockd.Released{}, err
	}
	if !out.Resigned {
		if out.Reason != "" && out.Reason != lockd.CodeNotHeld {
			return lockd.Released{}, fmt.Errorf("client: resign not done, reason %q: %w", out.Reason, lockd.ErrInternal)
		}
		return lockd.Released{}, lockd.ErrNotHeld
	}
	return lockd.Released{Name: name, Owner: out.Owner, Fence: out.Term}, nil
}

// leader sends GET /v1/elections/{name}.
func (r *remote) leader(ctx context.Context, name string) (Leader, error) {
	if err := lockd.ValidateName(name); err != nil {
		return Leader{}, err
	}
	var out wire.Leader
	if err := r.do(ctx, call{method: http.MethodGet, path: electionPath(name, ""), name: name, out: &out}); err != nil {
		return Leader{}, err
	}
	return out.Domain(), nil
}
