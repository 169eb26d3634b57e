package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"reflect"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/lockd/lockd"
)

// MaxBodyBytes is the largest request body the server reads.
const MaxBodyBytes = 64 << 10

// bodyReadTimeout bounds the reading of a request body, so a client that
// trickles one in cannot hold a handler forever. lockd's http.Server has
// no ReadTimeout, which would also cut off long acquire waits.
const bodyReadTimeout = 10 * time.Second

// readBody reads the whole request body, bounded in size and in time. It
// returns an *lockd.ArgumentError (field "body") when the body is too large,
// too slow, unreadable or not UTF-8.
func readBody(w http.ResponseWriter, r *http.Request, timeout time.Duration) ([]byte, error) {
	rc := http.NewResponseController(w)
	// Errors mean the writer cannot set deadlines (a test recorder, say);
	// reading proceeds without one.
	_ = rc.SetReadDeadline(time.Now().Add(timeout))
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		// Leave the deadline in force: net/http drains an unread body
		// before answering, and without one a stalled client would hold
		// the answer forever. Closing the body marks the connection to be
		// closed after the answer.
		_ = r.Body.Close()
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &lockd.ArgumentError{Field: "body", Reason: fmt.Sprintf("is too large: at most %d bytes", MaxBodyBytes)}
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, &lockd.ArgumentError{Field: "body", Reason: fmt.Sprintf("was not received within %v", timeout)}
		}
		return nil, &lockd.ArgumentError{Field: "body", Reason: "could not be read"}
	}
	// The body is in; no deadline for the rest of the request, which may
	// be a long acquire wait.
	_ = rc.SetReadDeadline(time.Time{})
	if !utf8.Valid(b) {
		return nil, &lockd.ArgumentError{Field: "body", Reason: "is not valid UTF-8"}
	}
	return b, nil
}

// decode reads the body into v, which must point to a struct. The body
// must hold exactly one JSON object; when strict, fields v does not know are
// refused. It returns an *lockd.ArgumentError naming the offending field, or
// "body" when the problem is the body as a whole.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any, strict bool) error {
	b, err := readBody(w, r, s.bodyReadTimeout)
	if err != nil {
		return err
	}
	trimmed := bytes.TrimLeft(b, " \t\r\n")
	if len(trimmed) == 0 {
		return &lockd.ArgumentError{Field: "body", Reason: "is empty: want a JSON object"}
	}
	if trimmed[0] != '{' {
		return &lockd.ArgumentError{Field: "body", Reason: "must be a JSON object"}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return &lockd.ArgumentError{Field: "body", Reason: "has data after the JSON object"}
	}
	return nil
}

// jsonField is the JSON name of a field in an UnmarshalTypeError's path,
// without the Go names of embedded structs ("AcquireRequest.fair" is
// "fair"): JSON names in the API are lowercase, Go type names are not.
func jsonField(path string) string {
	parts := strings.Split(path, ".")
	for len(parts) > 1 && parts[0] != "" && unicode.IsUpper(rune(parts[0][0])) {
		parts = parts[1:]
	}
	return strings.Join(parts, ".")
}

// jsonError turns a decoding error into an *lockd.ArgumentError.
func jsonError(err error) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syn):
		return &lockd.ArgumentError{Field: "body", Reason: fmt.Sprintf("is not valid JSON at byte %d", syn.Offset)}
	case errors.As(err, &typ):
		if typ.Field == "" {
			return &lockd.ArgumentError{Field: "body", Reason: "must be a JSON object"}
		}
		return &lockd.ArgumentError{Field: jsonField(typ.Field), Reason: fmt.Sprintf("must be %s, not %s", describeType(typ.Type), typ.Value)}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &lockd.ArgumentError{Field: "body", Reason: "is truncated JSON"}
	}
	// DisallowUnknownFields reports with an untyped error.
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return &lockd.ArgumentError{Field: strings.Trim(f, `"`), Reason: "is not a known field"}
	}
	return &lockd.ArgumentError{Field: "body", Reason: "is not valid JSON"}
}

// describeType names a Go type the way a JSON client thinks of it.
func describeType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Bool:
		return "a boolean"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "a " + t.String()
}

// writeJSON sends v with the given status. It marshals before writing, so
// on error nothing has been sent and the caller can still send an error.
// Failures to write (a client gone) are not reported: nothing can be done.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("httpapi: encoding response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
	return nil
}

// formatTime renders t as RFC 3339 in UTC, and the zero time as "".
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// millis turns a count of milliseconds from the wire into a Duration,
// saturating at the Duration range: out-of-range counts then fail the
// engine's own range check, with its message.
func millis(ms int64) time.Duration {
	const limit = math.MaxInt64 / int64(time.Millisecond)
	switch {
	case ms > limit:
		return math.MaxInt64
	case ms < -limit:
		return math.MinInt64
	}
	return time.Duration(ms) * time.Millisecond
}
