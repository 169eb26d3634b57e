package httpapi_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/lockd/lockd/httpapi"
	"github.com/lockd/lockd/internal/syncbuf"
	"github.com/lockd/lockd/memlock"
)

// TestRequestID: every answer carries X-Request-Id, the client's when it
// is sane, else a fresh one, and every line logged for the request names
// it.
func TestRequestID(t *testing.T) {
	logs := &syncbuf.Buffer{}
	srv := httpapi.New(memlock.New(), httpapi.WithLogger(slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	fresh := regexp.MustCompile(`^[0-9a-f]{16}$`)
	for _, tc := range []struct {
		name, sent string
		keep       bool
	}{
		{"Given", "req-42/a.b", true},
		{"Absent", "", false},
		{"WithSpace", "two words", false},
		{"TooLong", strings.Repeat("x", 129), false},
		{"NotASCII", "é", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/v1/locks/rid/acquire", strings.NewReader(`{"owner":"o","ttl_ms":1000}`))
			if tc.sent != "" {
				r.Header.Set(httpapi.HeaderRequestID, tc.sent)
			}
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, r)
			if w.Code != http.StatusOK && w.Code != http.StatusConflict {
				t.Fatalf("acquire answered %d %s", w.Code, w.Body)
			}
			got := w.Header().Get(httpapi.HeaderRequestID)
			if tc.keep && got != tc.sent || !tc.keep && !fresh.MatchString(got) {
				t.Fatalf("X-Request-Id %q for %q sent, want it kept %v", got, tc.sent, tc.keep)
			}
			if !loggedWith(t, logs.String(), got) {
				t.Errorf("no log line with request_id %q in:\n%s", got, logs)
			}
		})
	}
}

// loggedWith reports whether a JSON log line names request id.
func loggedWith(t *testing.T, logs, id string) bool {
	t.Helper()
	for _, line := range bytes.Split([]byte(logs), []byte("\n")) {
		var m map[string]any
		if json.Unmarshal(line, &m) == nil && m["request_id"] == id {
			return true
		}
	}
	return false
}
