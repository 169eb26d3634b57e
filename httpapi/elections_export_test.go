package httpapi

import "time"

// WithHeartbeat lets tests shorten the observe streams' heartbeat.
func WithHeartbeat(d time.Duration) Option {
	return func(s *Server) { s.elect.heartbeat = d }
}
