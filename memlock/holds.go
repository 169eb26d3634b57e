package memlock

import "slices"

// hold adds hold to a reentrant entry's holds, unless it has it already
// (a retried acquire of that hold).
func (c *entry) hold(hold string) {
	if !slices.Contains(c.holds, hold) {
		c.holds = append(c.holds, hold)
	}
}

// unhold removes hold from a reentrant entry's holds, or the most recent
// one when hold is empty. It reports false when there was no such hold.
func (c *entry) unhold(hold string) bool {
	i := len(c.holds) - 1
	if hold != "" {
		i = slices.Index(c.holds, hold)
	}
	if i < 0 {
		return false
	}
	c.holds = slices.Delete(c.holds, i, i+1)
	return true
}
