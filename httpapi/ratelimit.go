package httpapi

import (
	"sync"
	"time"
)

// warnEvery is the least time between two log lines for the same failure
// code: during an outage every request fails alike, and one line a second
// tells as much as thousands.
const warnEvery = time.Second

// logLimiter lets through one log line per key per warnEvery and counts
// the lines it holds back. It is safe for concurrent use.
type logLimiter struct {
	now func() time.Time

	mu   sync.Mutex
	keys map[string]*limitState
}

type limitState struct {
	last       time.Time
	suppressed int
}

func newLogLimiter(now func() time.Time) *logLimiter {
	return &logLimiter{now: now, keys: make(map[string]*limitState)}
}

// allow reports whether a line for key may be logged now and, when it may,
// how many lines for key were held back since the last one.
func (l *logLimiter) allow(key string) (suppressed int, ok bool) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	st, seen := l.keys[key]
	if !seen {
		l.keys[key] = &limitState{last: now}
		return 0, true
	}
	if now.Sub(st.last) < warnEvery {
		st.suppressed++
		return 0, false
	}
	suppressed = st.suppressed
	st.last, st.suppressed = now, 0
	return suppressed, true
}
