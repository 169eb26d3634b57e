package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/httpapi"
	"github.com/lockd/lockd/locktest"
	"github.com/lockd/lockd/memlock"
)

// TestListLocks: GET /v1/locks pages through held locks in name order,
// by prefix, and refuses bad arguments; a key limited to prefixes lists
// only inside them.
func TestListLocks(t *testing.T) {
	srv := newServer(t, memlock.New(), httpapi.WithKeys([]httpapi.Key{
		key(t, "admin", "admin-token", httpapi.RoleAdmin),
		key(t, "jobs", "jobs-token", httpapi.RoleAdmin, "a:"),
		key(t, "reader", "read-token", httpapi.RoleRead),
	}))
	for _, n := range []string{"a:2", "b:1", "a:1"} {
		wantStatus(t, sendAs(t, srv, "admin-token", "POST", "/v1/locks/"+n+"/acquire", `{"owner":"o-`+n+`","ttl_ms":10000}`), http.StatusOK)
	}
	names := func(body map[string]any) string {
		var out []string
		locks, _ := body["locks"].([]any)
		for _, l := range locks {
			out = append(out, l.(map[string]any)["name"].(string))
		}
		return strings.Join(out, ",")
	}
	all := wantStatus(t, sendAs(t, srv, "admin-token", "GET", "/v1/locks", ""), http.StatusOK)
	if got := names(all); got != "a:1,a:2,b:1" || all["next"] != nil {
		t.Errorf("list: %v, want a:1,a:2,b:1 and no next", all)
	}
	first := wantStatus(t, sendAs(t, srv, "admin-token", "GET", "/v1/locks?prefix=a:&limit=1", ""), http.StatusOK)
	if names(first) != "a:1" || first["next"] != "a:1" {
		t.Fatalf("first page: %v, want a:1 and next a:1", first)
	}
	second := wantStatus(t, sendAs(t, srv, "admin-token", "GET", "/v1/locks?prefix=a:&limit=1&cursor=a:1", ""), http.StatusOK)
	if names(second) != "a:2" {
		t.Errorf("second page: %v, want a:2", second)
	}
	if r := wantStatus(t, sendAs(t, srv, "jobs-token", "GET", "/v1/locks?prefix=a:", ""), http.StatusOK); names(r) != "a:1,a:2" {
		t.Errorf("list by a key limited to a:: %v", r)
	}
	wantError(t, sendAs(t, srv, "jobs-token", "GET", "/v1/locks", ""), http.StatusForbidden, lockd.CodePermissionDenied, "")
	wantError(t, sendAs(t, srv, "read-token", "GET", "/v1/locks?prefix=a:", ""), http.StatusForbidden, lockd.CodePermissionDenied, "")
	for _, q := range []string{"limit=0", "limit=x", "limit=1001", "prefix=a%20b", "cursor=a%20b"} {
		field := strings.SplitN(q, "=", 2)[0]
		wantError(t, sendAs(t, srv, "admin-token", "GET", "/v1/locks?"+q, ""), http.StatusBadRequest, lockd.CodeInvalidArgument, field)
	}
}

// TestAdminNeedsKeys: without API keys the admin routes answer
// not_configured: anyone could otherwise free any lock by its public name.
func TestAdminNeedsKeys(t *testing.T) {
	srv := newServer(t, memlock.New())
	got := wantStatus(t, send(t, srv, "POST", "/v1/locks/x/acquire", `{"owner":"o"}`), http.StatusOK)
	wantError(t, send(t, srv, "POST", "/v1/locks/x/force-release", `{"reason":"steal"}`), http.StatusNotImplemented, lockd.CodeNotConfigured, "")
	wantError(t, send(t, srv, "GET", "/v1/locks", ""), http.StatusNotImplemented, lockd.CodeNotConfigured, "")
	if r := wantStatus(t, send(t, srv, "GET", "/v1/locks/x", ""), http.StatusOK); r["held"] != true || r["fence"] != got["fence"] {
		t.Errorf("after a refused force-release: %v, want the lock still held", r)
	}
}

// TestForceRelease: only an admin key frees a lock without its lease, with
// a reason, which the journal keeps; the holder then finds the lock lost.
func TestForceRelease(t *testing.T) {
	j := &locktest.Journal{}
	srv := newServer(t, lockd.Journaled(memlock.New(), j, "test"), httpapi.WithJournal(j), httpapi.WithKeys([]httpapi.Key{
		key(t, "admin", "admin-token", httpapi.RoleAdmin),
		key(t, "app", "app-token", httpapi.RoleWrite),
	}))
	got := wantStatus(t, sendAs(t, srv, "app-token", "POST", "/v1/locks/stuck/acquire", `{"owner":"app","ttl_ms":60000}`), http.StatusOK)
	lease := got["lease"].(string)
	wantError(t, sendAs(t, srv, "app-token", "POST", "/v1/locks/stuck/force-release", `{"reason":"mine"}`), http.StatusForbidden, lockd.CodePermissionDenied, "")
	wantError(t, sendAs(t, srv, "admin-token", "POST", "/v1/locks/stuck/force-release", `{}`), http.StatusBadRequest, lockd.CodeInvalidArgument, "reason")
	wantError(t, sendAs(t, srv, "admin-token", "POST", "/v1/locks/stuck/force-release", `{"reason":"  "}`), http.StatusBadRequest, lockd.CodeInvalidArgument, "reason")
	rel := wantStatus(t, sendAs(t, srv, "admin-token", "POST", "/v1/locks/stuck/force-release", `{"reason":"holder hung, ticket OPS-12"}`), http.StatusOK)
	if rel["released"] != true || rel["owner"] != "app" || rel["fence"] != got["fence"] {
		t.Errorf("force-release: %v, want released app's lock (fence %v)", rel, got["fence"])
	}
	wantError(t, sendAs(t, srv, "app-token", "POST", "/v1/locks/stuck/extend", fmt.Sprintf(`{"lease":%q}`, lease)), http.StatusConflict, lockd.CodeLockLost, "")
	again := wantStatus(t, sendAs(t, srv, "admin-token", "POST", "/v1/locks/stuck/force-release", `{"reason":"again"}`), http.StatusOK)
	if again["released"] != false || again["reason"] != lockd.CodeNotHeld {
		t.Errorf("second force-release: %v, want released false, not_held", again)
	}
	hist := wantStatus(t, sendAs(t, srv, "admin-token", "GET", "/v1/locks/stuck/history", ""), http.StatusOK)
	if s := fmt.Sprint(hist["events"]); !strings.Contains(s, "kind:force_released") || !strings.Contains(s, "reason:holder hung, ticket OPS-12") {
		t.Errorf("history %v, want the forced release with its reason", hist)
	}
}
