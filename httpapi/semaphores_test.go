package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/memlock"
)

// plainEngine is an engine without semaphores.
type plainEngine struct{ lockd.Engine }

func TestSemaphore(t *testing.T) {
	srv := newServer(t, nil)
	acq := func(owner string) response {
		return send(t, srv, "POST", "/v1/semaphores/pool/acquire", `{"owner":"`+owner+`","limit":2,"ttl_ms":5000,"metadata":{"k":1}}`)
	}
	a := wantStatus(t, acq("a"), http.StatusOK)
	for _, k := range []string{"name", "owner", "lease", "fence", "ttl_ms", "acquired_at", "expires_at", "metadata", "limit"} {
		if _, ok := a[k]; !ok {
			t.Errorf("permit %v lacks %q", a, k)
		}
	}
	if a["limit"] != float64(2) || a["name"] != "pool" || a["owner"] != "a" {
		t.Errorf("got %v, want pool's permit for a of limit 2", a)
	}
	b := wantStatus(t, acq("b"), http.StatusOK)
	e := wantError(t, acq("c"), http.StatusConflict, lockd.CodeLockHeld, "")
	if h, _ := e["holder"].(map[string]any); h == nil || (h["owner"] != "a" && h["owner"] != "b") {
		t.Errorf("got %v, want a holder a or b", e)
	}

	e = wantError(t, send(t, srv, "POST", "/v1/semaphores/pool/acquire", `{"owner":"c","limit":3}`), http.StatusConflict, lockd.CodeLimitConflict, "")
	if e["limit"] != float64(2) {
		t.Errorf("limit conflict: got %v, want the limit in force, 2", e)
	}

	got := wantStatus(t, send(t, srv, "GET", "/v1/semaphores/pool", ""), http.StatusOK)
	permits, _ := got["permits"].([]any)
	if got["limit"] != float64(2) || len(permits) != 2 || got["name"] != "pool" {
		t.Fatalf("inspect: got %v, want limit 2 and two permits", got)
	}
	if strings.Contains(string(send(t, srv, "GET", "/v1/semaphores/pool", "").body), a["lease"].(string)) {
		t.Error("inspect shows a lease value")
	}

	x := wantStatus(t, send(t, srv, "POST", "/v1/semaphores/pool/extend", `{"lease":"`+a["lease"].(string)+`","ttl_ms":8000}`), http.StatusOK)
	if x["ttl_ms"] != float64(8000) || x["fence"] != a["fence"] {
		t.Errorf("extend: got %v, want ttl 8000 and fence %v", x, a["fence"])
	}
	r := wantStatus(t, send(t, srv, "POST", "/v1/semaphores/pool/release", `{"lease":"`+b["lease"].(string)+`"}`), http.StatusOK)
	if r["released"] != true || r["owner"] != "b" || r["fence"] != b["fence"] {
		t.Errorf("release: got %v, want b's permit released", r)
	}
	r = wantStatus(t, send(t, srv, "POST", "/v1/semaphores/pool/release", `{"lease":"`+b["lease"].(string)+`"}`), http.StatusOK)
	if r["released"] != false || r["reason"] != lockd.CodeNotHeld {
		t.Errorf("second release: got %v, want released false, reason not_held", r)
	}
	wantError(t, send(t, srv, "POST", "/v1/semaphores/pool/extend", `{"lease":"`+b["lease"].(string)+`"}`), http.StatusConflict, lockd.CodeLockLost, "")
	wantStatus(t, acq("c"), http.StatusOK)

	// The lock of the same name is another thing.
	if l := wantStatus(t, send(t, srv, "GET", "/v1/locks/pool", ""), http.StatusOK); l["held"] != false {
		t.Errorf("lock pool: got %v, want free", l)
	}
}

func TestSemaphoreBadInput(t *testing.T) {
	srv := newServer(t, nil)
	tests := []struct {
		name, body, field string
	}{
		{"NoLimit", `{"owner":"a"}`, "limit"},
		{"NullLimit", `{"owner":"a","limit":null}`, "limit"},
		{"ZeroLimit", `{"owner":"a","limit":0}`, "limit"},
		{"NegativeLimit", `{"owner":"a","limit":-1}`, "limit"},
		{"LimitTooLarge", `{"owner":"a","limit":1025}`, "limit"},
		{"HugeLimit", `{"owner":"a","limit":9223372036854775807}`, "limit"},
		{"OverflowLimit", `{"owner":"a","limit":9223372036854775808}`, "limit"},
		{"FractionalLimit", `{"owner":"a","limit":1.5}`, "limit"},
		{"StringLimit", `{"owner":"a","limit":"2"}`, "limit"},
		{"BoolLimit", `{"owner":"a","limit":true}`, "limit"},
		{"NoOwner", `{"limit":2}`, "owner"},
		{"ShortTTL", `{"owner":"a","limit":2,"ttl_ms":99}`, "ttl_ms"},
		{"ZeroTTL", `{"owner":"a","limit":2,"ttl_ms":0}`, "ttl_ms"},
		{"NegativeWait", `{"owner":"a","limit":2,"wait_ms":-1}`, "wait_ms"},
		{"StringFair", `{"owner":"a","limit":2,"fair":"yes"}`, "fair"},
		{"BadLease", `{"owner":"a","limit":2,"lease":"XYZ"}`, "lease"},
		{"MetadataArray", `{"owner":"a","limit":2,"metadata":[1]}`, "metadata"},
		{"Reentrant", `{"owner":"a","limit":2,"reentrant":true}`, "reentrant"},
		{"Mode", `{"owner":"a","limit":2,"mode":"read"}`, "mode"},
		{"Malformed", `{"owner":`, "body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := wantError(t, send(t, srv, "POST", "/v1/semaphores/x/acquire", tt.body), http.StatusBadRequest, lockd.CodeInvalidArgument, tt.field)
			if msg, _ := e["message"].(string); !strings.HasPrefix(msg, tt.field+": ") {
				t.Errorf("got message %q, want it to start with the field %q", msg, tt.field)
			}
		})
	}
	routes := []struct {
		name, method, path, body, field string
	}{
		{"BadName", "POST", "/v1/semaphores/a%2Fb/acquire", `{"owner":"a","limit":1}`, "name"},
		{"BadNameWinsOverBody", "POST", "/v1/semaphores/a%20b/acquire", `{`, "name"},
		{"DotDotName", "POST", "/v1/semaphores/../acquire", `{"owner":"a","limit":1}`, "name"},
		{"ExtendBadLease", "POST", "/v1/semaphores/x/extend", `{"lease":"nope"}`, "lease"},
		{"ExtendZeroTTL", "POST", "/v1/semaphores/x/extend", `{"lease":"` + lockd.NewLeaseID() + `","ttl_ms":0}`, "ttl_ms"},
		{"ExtendUnknownField", "POST", "/v1/semaphores/x/extend", `{"lease":"` + lockd.NewLeaseID() + `","limit":2}`, "limit"},
		{"ReleaseNoLease", "POST", "/v1/semaphores/x/release", `{}`, "lease"},
		{"ReleaseHold", "POST", "/v1/semaphores/x/release", `{"lease":"` + lockd.NewLeaseID() + `","hold":"` + lockd.NewLeaseID() + `"}`, "hold"},
		{"InspectBadName", "GET", "/v1/semaphores/a%21", "", "name"},
	}
	for _, tt := range routes {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, send(t, srv, tt.method, tt.path, tt.body), http.StatusBadRequest, lockd.CodeInvalidArgument, tt.field)
		})
	}
	t.Run("MethodNotAllowed", func(t *testing.T) {
		r := send(t, srv, "DELETE", "/v1/semaphores/x", "")
		wantError(t, r, http.StatusMethodNotAllowed, "method_not_allowed", "")
	})
	t.Run("NothingGranted", func(t *testing.T) {
		got := wantStatus(t, send(t, srv, "GET", "/v1/semaphores/x", ""), http.StatusOK)
		if got["limit"] != float64(0) || len(got["permits"].([]any)) != 0 {
			t.Errorf("bad input granted a permit: %v", got)
		}
	})
}

// TestSemaphoreNotServed: an engine without semaphores answers 501.
func TestSemaphoreNotServed(t *testing.T) {
	srv := newServer(t, plainEngine{memlock.New()})
	wantError(t, send(t, srv, "POST", "/v1/semaphores/x/acquire", `{"owner":"a","limit":1}`), http.StatusNotImplemented, lockd.CodeNotConfigured, "")
	wantError(t, send(t, srv, "GET", "/v1/semaphores/x", ""), http.StatusNotImplemented, lockd.CodeNotConfigured, "")
}

// TestSemaphoreWaitWakes: a waiting acquire over HTTP is granted when a
// permit is released.
func TestSemaphoreWaitWakes(t *testing.T) {
	srv := newServer(t, nil)
	a := wantStatus(t, send(t, srv, "POST", "/v1/semaphores/w/acquire", `{"owner":"a","limit":1,"ttl_ms":30000}`), http.StatusOK)
	done := make(chan asyncResult, 1)
	go func() {
		r, err := sendAsync(srv, "POST", "/v1/semaphores/w/acquire", `{"owner":"b","limit":1,"wait_ms":8000}`)
		done <- asyncResult{r, err}
	}()
	time.Sleep(200 * time.Millisecond)
	wantStatus(t, send(t, srv, "POST", "/v1/semaphores/w/release", `{"lease":"`+a["lease"].(string)+`"}`), http.StatusOK)
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	select {
	case res := <-done:
		if res.err != nil {
			t.Fatal(res.err)
		}
		if got := wantStatus(t, res.r, http.StatusOK); got["owner"] != "b" || got["limit"] != float64(1) {
			t.Errorf("got %v, want b's permit", got)
		}
	case <-ctx.Done():
		t.Fatal("the waiter was not granted")
	}
}
