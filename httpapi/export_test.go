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
