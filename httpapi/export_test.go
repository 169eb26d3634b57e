package httpapi

import "time"

// WithBodyReadTimeout lets tests shorten the body read timeout.
func WithBodyReadTimeout(d time.Duration) Option {
	return func(s *Server) { s.bodyReadTimeout = d }
}

// WithClock lets tests drive the clock that rate-limits warnings.
func WithClock(now func() time.Time) Option {
	return func(s *Server) { s.warnings = newLogLimiter(now) }
}

// Parked returns how many waits s holds parked.
func Parked(s *Server) int {
	if s.park == nil {
		return 0
	}
	s.park.mu.Lock()
	defer s.park.mu.Unlock()
	return len(s.park.waits)
}

// IdleCalls returns how many goroutines wait to run the calls of s's next
// waits.
func IdleCalls(s *Server) int {
	if s.park == nil {
		return 0
	}
	return s.park.calls.Idle()
}
