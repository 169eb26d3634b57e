package wire

// LockList answers GET /v1/locks: held locks in name order, and the cursor
// of the next page.
type LockList struct {
	Locks []Lock `json:"locks"`
	// Next is the cursor of the next page; omitted on the last.
	Next string `json:"next,omitempty"`
}

// ForceReleaseRequest is the body of POST /v1/locks/{name}/force-release.
type ForceReleaseRequest struct {
	Reason string `json:"reason"`
}
