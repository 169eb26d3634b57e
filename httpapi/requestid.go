package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
)

// HeaderRequestID names the header that carries a request's id, in the
// request (from the client or a proxy) and in every answer.
const HeaderRequestID = "X-Request-Id"

// maxRequestIDLen bounds a request id taken from a client.
const maxRequestIDLen = 128

type requestIDKey struct{}

// RequestID returns the id of the request whose context ctx is, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// withRequestID takes the request's id from its X-Request-Id header when
// it has a sane one (1-128 printable ASCII characters, no spaces, so that
// it cannot forge log lines), else makes one; it puts the id in the
// request's context and in the answer's header.
func withRequestID(w http.ResponseWriter, r *http.Request) *http.Request {
	id := r.Header.Get(HeaderRequestID)
	if !saneRequestID(id) {
		id = newRequestID()
	}
	w.Header().Set(HeaderRequestID, id)
	return r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id))
}

func saneRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}

// newRequestID returns 64 random bits in hex.
func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms.
	return hex.EncodeToString(b[:])
}

// LogRequestIDs returns a logger that writes through l's handler and adds
// the request id of the context it is given (InfoContext and the like) to
// every line, as request_id. The server does this to its own logger; give
// the engine's wrappers such a logger too, so that their lines name the
// request.
func LogRequestIDs(l *slog.Logger) *slog.Logger {
	if _, ok := l.Handler().(requestIDHandler); ok {
		return l
	}
	return slog.New(requestIDHandler{l.Handler()})
}

// requestIDHandler adds the request id of a record's context to it, so
// that every line logged while serving a request names the request.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, rec slog.Record) error {
	if id := RequestID(ctx); id != "" {
		rec = rec.Clone()
		rec.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, rec)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
