package wire

import (
	"encoding/json"
	"time"

	"github.com/lockd/lockd"
)

// PermitRequest is the body of POST /v1/semaphores/{name}/acquire: the
// fields of a lock's acquire that apply to permits, and the limit.
type PermitRequest struct {
	Owner string `json:"owner"`
	// Limit is a pointer to tell an omitted limit, which is required, from
	// an explicit 0, which is out of range.
	Limit    *int64          `json:"limit"`
	Lease    string          `json:"lease,omitempty"`
	TTLMs    *int64          `json:"ttl_ms,omitempty"`
	WaitMs   int64           `json:"wait_ms,omitempty"`
	Metadata json.RawMessage `json:"metadata,omitempty"`
	Fair     bool            `json:"fair,omitempty"`
}

// AcquireRequest returns the lock acquire that carries r's options.
func (r PermitRequest) AcquireRequest() AcquireRequest {
	return AcquireRequest{Owner: r.Owner, Lease: r.Lease, TTLMs: r.TTLMs, WaitMs: r.WaitMs, Metadata: r.Metadata, Fair: r.Fair}
}

// PermitReleaseRequest is the body of POST /v1/semaphores/{name}/release.
type PermitReleaseRequest struct {
	Lease string `json:"lease"`
}

// Permit answers a permit's acquire: a lease, and the semaphore's limit.
type Permit struct {
	Lease
	Limit int `json:"limit"`
}

// Semaphore answers GET /v1/semaphores/{name}: the limit of the live
// permits (0 when none is live) and the permits, soonest to expire first,
// without their lease values.
type Semaphore struct {
	Name    string       `json:"name"`
	Limit   int          `json:"limit"`
	Permits []PermitInfo `json:"permits"`
}

// PermitInfo is one live permit in a Semaphore.
type PermitInfo struct {
	Owner     string          `json:"owner"`
	Fence     int64           `json:"fence"`
	ExpiresAt time.Time       `json:"expires_at,omitzero"`
	Metadata  json.RawMessage `json:"metadata,omitempty"`
}

// FromSemaphoreInfo returns the wire form of info.
func FromSemaphoreInfo(info lockd.SemaphoreInfo) Semaphore {
	out := Semaphore{Name: info.Name, Limit: info.Limit, Permits: make([]PermitInfo, 0, len(info.Permits))}
	for _, p := range info.Permits {
		out.Permits = append(out.Permits, PermitInfo{Owner: p.Owner, Fence: p.Fence, ExpiresAt: UTC(p.ExpiresAt), Metadata: p.Metadata})
	}
	return out
}

// Domain returns the semaphore info s describes.
func (s Semaphore) Domain() lockd.SemaphoreInfo {
	info := lockd.SemaphoreInfo{Name: s.Name, Limit: s.Limit}
	for _, p := range s.Permits {
		info.Permits = append(info.Permits, lockd.Permit{Owner: p.Owner, Fence: p.Fence, ExpiresAt: p.ExpiresAt, Metadata: p.Metadata})
	}
	return info
}
