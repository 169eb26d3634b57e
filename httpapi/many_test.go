package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/memlock"
)

func TestAcquireMany(t *testing.T) {
	srv := newServer(t, memlock.New())
	body := wantStatus(t, send(t, srv, "POST", "/v1/locks:acquire-many", `{"names":["m:c","m:a","m:b"],"owner":"o","ttl_ms":5000}`), http.StatusOK)
	lease, _ := body["lease"].(string)
	locks, _ := body["locks"].([]any)
	if !lockd.IsLeaseID(lease) || len(locks) != 3 || locks[0].(map[string]any)["name"] != "m:a" {
		t.Fatalf("acquire-many answered %v, want a lease and the three locks in name order", body)
	}
	wantError(t, send(t, srv, "POST", "/v1/locks/m:b/acquire", `{"owner":"x"}`), http.StatusConflict, lockd.CodeLockHeld, "")
	wantStatus(t, send(t, srv, "POST", "/v1/locks:extend-many", fmt.Sprintf(`{"names":["m:a","m:b","m:c"],"lease":%q,"ttl_ms":9000}`, lease)), http.StatusOK)
	rel := wantStatus(t, send(t, srv, "POST", "/v1/locks:release-many", fmt.Sprintf(`{"names":["m:a","m:b","m:c"],"lease":%q}`, lease)), http.StatusOK)
	if got := fmt.Sprint(rel["locks"]); strings.Count(got, "released:true") != 3 {
		t.Errorf("release-many answered %v, want three released", rel)
	}
	rel = wantStatus(t, send(t, srv, "POST", "/v1/locks:release-many", fmt.Sprintf(`{"names":["m:a"],"lease":%q}`, lease)), http.StatusOK)
	if got := fmt.Sprint(rel["locks"]); !strings.Contains(got, "reason:not_held") {
		t.Errorf("release-many again answered %v, want not_held", rel)
	}

	t.Run("AllOrNone", func(t *testing.T) {
		wantStatus(t, send(t, srv, "POST", "/v1/locks/n:b/acquire", `{"owner":"x"}`), http.StatusOK)
		wantError(t, send(t, srv, "POST", "/v1/locks:acquire-many", `{"names":["n:a","n:b"],"owner":"o"}`), http.StatusConflict, lockd.CodeLockHeld, "")
		if r := wantStatus(t, send(t, srv, "GET", "/v1/locks/n:a", ""), http.StatusOK); r["held"] != false {
			t.Errorf("n:a after a failed acquire-many: %v, want free", r)
		}
	})
	sixtyFive := make([]string, lockd.MaxManyNames+1)
	for i := range sixtyFive {
		sixtyFive[i] = fmt.Sprintf("%q", fmt.Sprint("x", i))
	}
	for _, tc := range []struct{ name, body, field string }{
		{"NoNames", `{"owner":"o"}`, "names"},
		{"EmptyNames", `{"names":[],"owner":"o"}`, "names"},
		{"DuplicateNames", `{"names":["a","a"],"owner":"o"}`, "names"},
		{"TooManyNames", `{"names":[` + strings.Join(sixtyFive, ",") + `],"owner":"o"}`, "names"},
		{"BadName", `{"names":["a b"],"owner":"o"}`, "names"},
		{"NamesNotList", `{"names":"a","owner":"o"}`, "names"},
		{"FairNotBool", `{"names":["a"],"owner":"o","fair":"yes"}`, "fair"},
		{"NoOwner", `{"names":["a"]}`, "owner"},
	} {
		t.Run("ErrInvalidArgument:"+tc.name, func(t *testing.T) {
			wantError(t, send(t, srv, "POST", "/v1/locks:acquire-many", tc.body), http.StatusBadRequest, lockd.CodeInvalidArgument, tc.field)
		})
	}
	t.Run("ErrInvalidArgument:ReleaseManyTTL", func(t *testing.T) {
		wantError(t, send(t, srv, "POST", "/v1/locks:release-many", `{"names":["a"],"lease":"x","ttl_ms":5}`), http.StatusBadRequest, lockd.CodeInvalidArgument, "ttl_ms")
	})
	t.Run("ErrInvalidArgument:ReleaseManyNoNames", func(t *testing.T) {
		wantError(t, send(t, srv, "POST", "/v1/locks:release-many", `{"names":[],"lease":"x"}`), http.StatusBadRequest, lockd.CodeInvalidArgument, "names")
	})
}
