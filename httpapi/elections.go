package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/election"
	"github.com/lockd/lockd/internal/wire"
)

// elections is the state of the election routes: the hub that campaigns,
// resigns and observes, made on first use, and what ends observe streams
// when the http.Server serving them shuts down.
type elections struct {
	opts      []election.Option
	heartbeat time.Duration

	once sync.Once
	hub  *election.Hub

	mu       sync.Mutex
	shutdown map[*http.Server]chan struct{} // closed when that server begins Shutdown
}

// WithElectionPoll sets how often the server asks the engine about each
// election that has observers, to see the changes not made through this
// lockd (expiries, other lockd instances). The default is
// election.DefaultPollInterval.
func WithElectionPoll(d time.Duration) Option {
	return func(s *Server) { s.elect.opts = append(s.elect.opts, election.WithPollInterval(d)) }
}

// WithMaxObservers sets how many observe streams the server serves at
// once; past it GET /v1/elections/{name}/observe answers 503 unavailable.
// The default is election.DefaultMaxObservers.
func WithMaxObservers(n int) Option {
	return func(s *Server) { s.elect.opts = append(s.elect.opts, election.WithMaxObservers(n)) }
}

// hub returns the server's election hub.
func (s *Server) hub() *election.Hub {
	s.elect.once.Do(func() { s.elect.hub = election.NewHub(s.engine, s.elect.opts...) })
	return s.elect.hub
}

// handleCampaign serves POST /v1/elections/{name}/campaign: an acquire of
// the lock name, waiting up to wait_ms, whose answer adds the term (the
// fence). Observers at this lockd learn of the grant at once.
func (s *Server) handleCampaign(w http.ResponseWriter, r *http.Request) error {
	name, err := lockName(r)
	if err != nil {
		return err
	}
	var req wire.CampaignRequest
	if err := s.decode(w, r, &req, true); err != nil {
		return err
	}
	opts, err := s.acquireOptions(w, req.Acquire())
	if err != nil {
		return err
	}
	return s.waitParked(w, r, opts.Wait, func(ctx context.Context) (any, error) {
		lease, err := s.hub().Campaign(ctx, name, opts)
		if err != nil {
			return nil, err
		}
		return wire.Leadership{Lease: wire.FromLease(lease), Term: lease.Fence}, nil
	})
}

// handleResign serves POST /v1/elections/{name}/resign. Like a release, it
// is idempotent: a lease that no longer leads answers resigned false with
// reason not_held.
func (s *Server) handleResign(w http.ResponseWriter, r *http.Request) error {
	name, err := lockName(r)
	if err != nil {
		return err
	}
	var req wire.ResignRequest
	if err := s.decode(w, r, &req, true); err != nil {
		return err
	}
	rel, err := s.hub().Resign(r.Context(), name, req.Lease)
	switch {
	case errors.Is(err, lockd.ErrNotHeld):
		return writeJSON(w, http.StatusOK, wire.Resigned{Reason: lockd.CodeNotHeld})
	case err != nil:
		return err
	}
	return writeJSON(w, http.StatusOK, wire.Resigned{Resigned: true, Owner: rel.Owner, Term: rel.Fence})
}

// handleLeader serves GET /v1/elections/{name}: 200 with the leader, or
// with "leader": null when nobody leads.
func (s *Server) handleLeader(w http.ResponseWriter, r *http.Request) error {
	name, err := lockName(r)
	if err != nil {
		return err
	}
	l, err := s.hub().Leader(r.Context(), name)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, wire.FromLeader(l))
}

// handleObserve serves GET /v1/elections/{name}/observe as Server-Sent
// Events: a "leader" event with the current state, then one per change
// (see election.Hub for what is promised), and a comment every
// wire.ObserveHeartbeat on a quiet stream. The stream ends when the client
// leaves; when the http.Server serving it begins Shutdown (the handler
// registers with the server it finds in the request's context, so a
// stream never holds a shutdown up), or when its request's context ends,
// after an "error" event with code unavailable; and when the observer
// falls behind (election.ObserverBuffer changes unread), after the same
// event, so that a client observes again. Past the observer cap the
// answer is 503 unavailable before any stream; past a client's own
// (Limits.ObserversPerClient), 429 rate_limited.
func (s *Server) handleObserve(w http.ResponseWriter, r *http.Request) error {
	name, err := lockName(r)
	if err != nil {
		return err
	}
	h := s.hub()
	stop := s.streamsEnd(r)
	select {
	case <-stop:
		return lockd.ErrUnavailable
	default:
	}
	end, err := s.limits.observe(client(r))
	if err != nil {
		return err
	}
	defer end()
	o, err := h.Observe(r.Context(), name)
	if errors.Is(err, election.ErrTooManyObservers) {
		w.Header().Set("Retry-After", "1")
		return &routeError{code: lockd.CodeUnavailable, message: fmt.Sprintf(
			"lockd: too many observers: this lockd serves at most %d observe streams; retry later or at another lockd", h.MaxObservers())}
	}
	if err != nil {
		return err
	}
	defer o.Close()

	rc := http.NewResponseController(w)
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Accel-Buffering", "no") // nginx: pass events on as they come
	w.WriteHeader(http.StatusOK)
	send := func(chunk string) bool {
		if s.writeTimeout > 0 {
			// Each write gets the write timeout, so a client that stops
			// reading is cut off, and a live stream is not.
			_ = rc.SetWriteDeadline(time.Now().Add(s.writeTimeout))
		}
		if _, err := w.Write([]byte(chunk)); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	heartbeat := s.elect.heartbeat
	if heartbeat <= 0 {
		heartbeat = wire.ObserveHeartbeat
	}
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for {
		select {
		case l, ok := <-o.C():
			if !ok {
				if o.Err() != nil {
					send(errorEvent(lockd.CodeUnavailable, o.Err().Error()+"; observe again"))
				}
				return nil
			}
			b, err := json.Marshal(wire.FromLeader(l))
			if err != nil || !send("event: "+wire.EventLeader+"\ndata: "+string(b)+"\n\n") {
				return nil
			}
		case <-tick.C:
			if !send(": keep-alive\n\n") {
				return nil
			}
		case <-stop:
			send(errorEvent(lockd.CodeUnavailable, "lockd: shutting down; observe again, at another lockd"))
			return nil
		case <-r.Context().Done():
			// The client left, or the server cancelled its requests.
			send(errorEvent(lockd.CodeUnavailable, "lockd: shutting down; observe again, at another lockd"))
			return nil
		}
	}
}

// errorEvent renders an "error" event.
func errorEvent(code, message string) string {
	b, _ := json.Marshal(wire.ErrorBody{Error: &wire.Error{Code: code, Message: strings.TrimSpace(message)}})
	return "event: " + wire.EventError + "\ndata: " + string(b) + "\n\n"
}

// streamsEnd returns a channel that closes when the http.Server serving r
// begins Shutdown, registering for it the first time that server is seen;
// nil (never closes) when r carries no server.
func (s *Server) streamsEnd(r *http.Request) <-chan struct{} {
	srv, ok := r.Context().Value(http.ServerContextKey).(*http.Server)
	if !ok {
		return nil
	}
	s.elect.mu.Lock()
	defer s.elect.mu.Unlock()
	if c, ok := s.elect.shutdown[srv]; ok {
		return c
	}
	if s.elect.shutdown == nil {
		s.elect.shutdown = make(map[*http.Server]chan struct{})
	}
	c := make(chan struct{})
	s.elect.shutdown[srv] = c
	srv.RegisterOnShutdown(func() { close(c) })
	return c
}
