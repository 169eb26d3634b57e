package locktest

import (
	"context"
	"sync"

	"github.com/lockd/lockd"
)

// Journal is an in-memory lockd.Journal for tests: it keeps every event it
// is given and answers History from them, newest first. It is safe for
// concurrent use.
type Journal struct {
	mu         sync.Mutex
	events     []lockd.Event
	historyErr error
}

// Record keeps ev.
func (j *Journal) Record(_ context.Context, ev lockd.Event) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.events = append(j.events, ev)
}

// History returns up to limit events of the lock name, newest first, or
// the error given to FailHistory.
func (j *Journal) History(_ context.Context, name string, limit int) ([]lockd.Event, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.historyErr != nil {
		return nil, j.historyErr
	}
	var out []lockd.Event
	for i := len(j.events) - 1; i >= 0 && len(out) < limit; i-- {
		if j.events[i].Name == name {
			out = append(out, j.events[i])
		}
	}
	return out, nil
}

// Events returns a copy of every event recorded so far, oldest first.
func (j *Journal) Events() []lockd.Event {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]lockd.Event(nil), j.events...)
}

// FailHistory makes History return err until it is called with nil.
func (j *Journal) FailHistory(err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.historyErr = err
}
