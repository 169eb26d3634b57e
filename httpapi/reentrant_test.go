package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/memlock"
)

// TestReentrantRoutes takes two holds over HTTP and releases them one by
// one, by hold: the answers carry hold and holds.
func TestReentrantRoutes(t *testing.T) {
	srv := newServer(t, memlock.New())
	lease, h1, h2 := lockd.NewLeaseID(), lockd.NewLeaseID(), lockd.NewLeaseID()
	a := wantStatus(t, send(t, srv, "POST", "/v1/locks/re/acquire", `{"owner":"a","lease":"`+lease+`","reentrant":true,"hold":"`+h1+`"}`), http.StatusOK)
	if a["hold"] != h1 || a["holds"] != float64(1) {
		t.Fatalf("first hold: got %v", a)
	}
	b := wantStatus(t, send(t, srv, "POST", "/v1/locks/re/acquire", `{"owner":"a","lease":"`+lease+`","reentrant":true,"hold":"`+h2+`"}`), http.StatusOK)
	if b["hold"] != h2 || b["holds"] != float64(2) || b["fence"] != a["fence"] {
		t.Fatalf("second hold: got %v", b)
	}
	wantError(t, send(t, srv, "POST", "/v1/locks/re/acquire", `{"owner":"a","lease":"`+lease+`"}`), http.StatusBadRequest, lockd.CodeInvalidArgument, "reentrant")
	r := wantStatus(t, send(t, srv, "POST", "/v1/locks/re/release", `{"lease":"`+lease+`","hold":"`+h2+`"}`), http.StatusOK)
	if r["released"] != true || r["holds"] != float64(1) {
		t.Fatalf("release of the inner hold: got %v", r)
	}
	r = wantStatus(t, send(t, srv, "POST", "/v1/locks/re/release", `{"lease":"`+lease+`","hold":"`+h2+`"}`), http.StatusOK)
	if r["released"] != false || r["reason"] != lockd.CodeNotHeld {
		t.Fatalf("the inner hold released twice: got %v", r)
	}
	wantError(t, send(t, srv, "POST", "/v1/locks/re/acquire", `{"owner":"b"}`), http.StatusConflict, lockd.CodeLockHeld, "")
	r = wantStatus(t, send(t, srv, "POST", "/v1/locks/re/release", `{"lease":"`+lease+`","hold":"`+h1+`"}`), http.StatusOK)
	if r["released"] != true || r["holds"] != nil {
		t.Fatalf("release of the last hold: got %v", r)
	}
	wantStatus(t, send(t, srv, "POST", "/v1/locks/re/acquire", `{"owner":"b"}`), http.StatusOK)
}

// TestReentrantBadInput: bad reentrant fields are refused with the field
// named.
func TestReentrantBadInput(t *testing.T) {
	srv := newServer(t, memlock.New())
	lease := lockd.NewLeaseID()
	for _, tc := range []struct {
		name, path, body, field string
	}{
		{"ReentrantString", "/v1/locks/x/acquire", `{"owner":"a","reentrant":"yes"}`, "reentrant"},
		{"ReentrantNumber", "/v1/locks/x/acquire", `{"owner":"a","reentrant":1}`, "reentrant"},
		{"HoldNotHex", "/v1/locks/x/acquire", `{"owner":"a","reentrant":true,"hold":"not-hex"}`, "hold"},
		{"HoldNumber", "/v1/locks/x/acquire", `{"owner":"a","reentrant":true,"hold":7}`, "hold"},
		{"HoldWithoutReentrant", "/v1/locks/x/acquire", `{"owner":"a","hold":"` + lease + `"}`, "hold"},
		{"ReleaseBadHold", "/v1/locks/x/release", `{"lease":"` + lease + `","hold":"ABC"}`, "hold"},
		{"AcquireMany", "/v1/locks:acquire-many", `{"names":["x","y"],"owner":"a","reentrant":true}`, "reentrant"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, send(t, srv, "POST", tc.path, tc.body), http.StatusBadRequest, lockd.CodeInvalidArgument, tc.field)
		})
	}
}
