package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/lockd/lockd"
)

// observe wraps every request: it gives it an id (X-Request-Id, in every
// log line and in the answer), logs it at debug level and turns a panic in
// a handler into a logged internal error, so one bad request cannot take
// its connection down silently. Metrics belong here too.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = withRequestID(w, r)
		rec := &recorder{ResponseWriter: w, start: time.Now()}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.ErrorContext(r.Context(), "handler panicked", requestAttrs(r),
					slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
				if !rec.wrote {
					s.writeError(rec, r, errPanic)
				}
			}
			if !rec.parked { // a parked wait is reported once answered
				s.served(r, rec.status, rec.start)
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// boundWrites gives every answer WithWriteTimeout to be written, counted
// from now. A client that stops reading then has its connection closed
// instead of holding it, and the handler, forever. Routes that wait extend
// the bound with allowWait.
func (s *Server) boundWrites(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.writeTimeout > 0 {
			// An error means the writer cannot set deadlines (a test
			// recorder, say); the answer is then unbounded.
			_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.writeTimeout))
		}
		next.ServeHTTP(w, r)
	})
}

// allowWait moves the write deadline of the answer w is writing to wait
// plus the write timeout from now, for a route that may spend wait before
// it answers.
func (s *Server) allowWait(w http.ResponseWriter, wait time.Duration) {
	if s.writeTimeout <= 0 || wait <= 0 {
		return
	}
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(min(wait, lockd.MaxWait) + s.writeTimeout))
}

var errPanic = errors.New("httpapi: handler panicked")

// recorder remembers the status a handler sent, and when the request
// came.
type recorder struct {
	http.ResponseWriter
	start  time.Time
	status int
	wrote  bool
	parked bool // the handler parked the request (waitParked)
}

func (r *recorder) WriteHeader(status int) {
	if !r.wrote {
		r.status, r.wrote = status, true
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	if !r.wrote {
		r.status, r.wrote = http.StatusOK, true
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection, which
// readBody and boundWrites need to set their deadlines.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
