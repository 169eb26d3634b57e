package wire

import (
	"encoding/json"
	"time"

	"github.com/lockd/lockd/election"
)

// CampaignRequest is the body of POST /v1/elections/{name}/campaign: an
// acquire's fields, without the options that make no sense for a
// leadership.
type CampaignRequest struct {
	Owner string `json:"owner"`
	// Lease is the caller's own lease value; a retry with it is idempotent.
	Lease string `json:"lease,omitempty"`
	// TTLMs is a pointer to tell an omitted ttl_ms (the default) from an
	// explicit 0, which is out of range.
	TTLMs    *int64          `json:"ttl_ms,omitempty"`
	WaitMs   int64           `json:"wait_ms,omitempty"`
	Metadata json.RawMessage `json:"metadata,omitempty"`
}

// Acquire returns the acquire that the campaign r is.
func (r CampaignRequest) Acquire() AcquireRequest {
	return AcquireRequest{Owner: r.Owner, Lease: r.Lease, TTLMs: r.TTLMs, WaitMs: r.WaitMs, Metadata: r.Metadata}
}

// Leadership answers a campaign: the leadership lease, and its fence
// again as the term.
type Leadership struct {
	Lease
	Term int64 `json:"term"`
}

// ResignRequest is the body of POST /v1/elections/{name}/resign.
type ResignRequest struct {
	Lease string `json:"lease"`
}

// Resigned answers a resign: when resigned, the owner and term of the
// leadership it ended; when not, the reason.
type Resigned struct {
	Resigned bool   `json:"resigned"`
	Reason   string `json:"reason,omitempty"`
	Owner    string `json:"owner,omitempty"`
	Term     int64  `json:"term,omitempty"`
}

// Leader answers GET /v1/elections/{name} and is the data of each
// observe event. Leader is null when nobody leads; the other fields are
// then left out.
type Leader struct {
	Name      string          `json:"name"`
	Leader    *string         `json:"leader"`
	Term      int64           `json:"term,omitempty"`
	ExpiresAt time.Time       `json:"expires_at,omitzero"`
	Metadata  json.RawMessage `json:"metadata,omitempty"`
}

// FromLeader returns the wire form of l.
func FromLeader(l election.Leader) Leader {
	out := Leader{Name: l.Name}
	if l.Leading {
		owner := l.Owner
		out.Leader, out.Term, out.ExpiresAt, out.Metadata = &owner, l.Term, UTC(l.ExpiresAt), l.Metadata
	}
	return out
}

// Domain returns the election state l describes.
func (l Leader) Domain() election.Leader {
	if l.Leader == nil {
		return election.Leader{Name: l.Name}
	}
	return election.Leader{Name: l.Name, Leading: true, Owner: *l.Leader, Term: l.Term, ExpiresAt: l.ExpiresAt, Metadata: l.Metadata}
}

// Events of GET /v1/elections/{name}/observe.
const (
	// EventLeader carries a Leader: the state of the election.
	EventLeader = "leader"
	// EventError carries an ErrorBody and ends the stream: the server is
	// shutting down (unavailable), or the observer fell behind.
	EventError = "error"
)

// ObserveHeartbeat is how often the server sends a comment on a quiet
// observe stream, so that proxies keep it open and the client can tell a
// dead connection (nothing for three heartbeats) from a quiet election.
const ObserveHeartbeat = 15 * time.Second
