package httpapi

import "time"

// WithBodyReadTimeout lets tests shorten the body read timeout.
func WithBodyReadTimeout(d time.Duration) Option {
	return func(s *Server) { s.bodyReadTimeout = d }
}
