package redlock

import "sync"

// registry knows every node's run_id, to tell when two addresses reach the
// same server.
type registry struct {
	mu    sync.Mutex
	nodes []*redisNode
	ids   []string
}

// update re-reads the nodes' run_ids, then blocks the nodes that may not
// vote and unblocks those that may again (a node that is down stays down
// until its probe sees it back).
func (r *registry) update() {
	ids := make([]string, len(r.nodes))
	for i, n := range r.nodes {
		n.mu.Lock()
		ids[i] = n.runID
		n.mu.Unlock()
	}
	r.mu.Lock()
	copy(r.ids, ids)
	r.mu.Unlock()
	for _, n := range r.nodes {
		if n.isDown() {
			continue
		}
		err := n.refusal()
		switch cur := n.blocked.Load(); {
		case err != nil:
			n.setBlocked(err)
		case cur != nil:
			n.setBlocked(nil)
		}
	}
}

// duplicateOf returns the address of an earlier node with the same run_id
// as node i, or "".
func (r *registry) duplicateOf(i int) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ids[i] == "" {
		return ""
	}
	for j := 0; j < i; j++ {
		if r.ids[j] == r.ids[i] {
			return r.nodes[j].address
		}
	}
	return ""
}
