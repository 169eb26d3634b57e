package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/memlock"
)

// TestReadModeRoutes: two readers share a lock over HTTP, GET shows them,
// a writer is refused until both release.
func TestReadModeRoutes(t *testing.T) {
	srv := newServer(t, memlock.New())
	r1 := wantStatus(t, send(t, srv, "POST", "/v1/locks/rw/acquire", `{"owner":"r1","mode":"read"}`), http.StatusOK)
	r2 := wantStatus(t, send(t, srv, "POST", "/v1/locks/rw/acquire", `{"owner":"r2","mode":"read"}`), http.StatusOK)
	if r1["mode"] != lockd.ModeRead || r2["mode"] != lockd.ModeRead {
		t.Fatalf("read grants: got %v and %v", r1, r2)
	}
	info := wantStatus(t, send(t, srv, "GET", "/v1/locks/rw", ""), http.StatusOK)
	if info["held"] != true || info["mode"] != lockd.ModeRead || info["readers"] != float64(2) {
		t.Fatalf("GET: got %v, want held by 2 readers", info)
	}
	wantError(t, send(t, srv, "POST", "/v1/locks/rw/acquire", `{"owner":"w","mode":"write"}`), http.StatusConflict, lockd.CodeLockHeld, "")
	x := wantStatus(t, send(t, srv, "POST", "/v1/locks/rw/extend", `{"lease":"`+r1["lease"].(string)+`"}`), http.StatusOK)
	if x["mode"] != lockd.ModeRead || x["fence"] != r1["fence"] {
		t.Errorf("extend of a reader: got %v", x)
	}
	for _, r := range []map[string]any{r1, r2} {
		rel := wantStatus(t, send(t, srv, "POST", "/v1/locks/rw/release", `{"lease":"`+r["lease"].(string)+`"}`), http.StatusOK)
		if rel["released"] != true {
			t.Fatalf("release of a reader: got %v", rel)
		}
	}
	w := wantStatus(t, send(t, srv, "POST", "/v1/locks/rw/acquire", `{"owner":"w","mode":"write"}`), http.StatusOK)
	if _, ok := w["mode"]; ok {
		t.Errorf("write grant: got %v, want no mode", w)
	}
	info = wantStatus(t, send(t, srv, "GET", "/v1/locks/rw", ""), http.StatusOK)
	if _, ok := info["readers"]; ok || info["owner"] != "w" {
		t.Errorf("GET with a writer: got %v", info)
	}
}

// TestModeBadInput: bad modes are refused with the field named.
func TestModeBadInput(t *testing.T) {
	srv := newServer(t, memlock.New())
	for _, tc := range []struct {
		name, path, body string
	}{
		{"Unknown", "/v1/locks/x/acquire", `{"owner":"a","mode":"shared"}`},
		{"Uppercase", "/v1/locks/x/acquire", `{"owner":"a","mode":"READ"}`},
		{"Number", "/v1/locks/x/acquire", `{"owner":"a","mode":1}`},
		{"ReadReentrant", "/v1/locks/x/acquire", `{"owner":"a","mode":"read","reentrant":true}`},
		{"AcquireMany", "/v1/locks:acquire-many", `{"names":["x","y"],"owner":"a","mode":"read"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, send(t, srv, "POST", tc.path, tc.body), http.StatusBadRequest, lockd.CodeInvalidArgument, "mode")
		})
	}
}
