package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/lockd/lockd"
)

// wantLegacyError checks a prototype error answer: {"error": msg}.
func wantLegacyError(t *testing.T, r response, status int, msg string) {
	t.Helper()
	got := wantStatus(t, r, status)
	if len(got) != 1 || got["error"] != msg {
		t.Errorf("got %s, want {\"error\": %q}", r.body, msg)
	}
}

// wantMessage checks a prototype answer carrying "message".
func wantMessage(t *testing.T, r response, status int, msg string) map[string]any {
	t.Helper()
	got := wantStatus(t, r, status)
	if got["message"] != msg {
		t.Errorf("got message %v, want %q (body %s)", got["message"], msg, r.body)
	}
	return got
}

func TestGetLock(t *testing.T) {
	srv := newServer(t, nil)
	t.Run("OK", func(t *testing.T) {
		tests := []struct {
			name, id, duration string
			wantTTL            time.Duration
		}{
			{"NumberID", `7`, `30`, 30 * time.Second},
			{"StringID", `"req-1"`, `30`, 30 * time.Second},
			{"StringDuration", `8`, `"2.5"`, 2500 * time.Millisecond},
			{"Fraction", `9`, `0.1`, 100 * time.Millisecond},
			{"Max", `10`, `3600`, time.Hour},
			{"PaddedString", `11`, `" 15 "`, 15 * time.Second},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := fmt.Sprintf("res-%d", i)
				body := fmt.Sprintf(`{"id":%s,"duration":%s,"resource":%q,"identity":"me","extra":[1,2]}`, tt.id, tt.duration, res)
				before := time.Now()
				r := send(t, srv, "POST", "/get-lock", body)
				got := wantMessage(t, r, http.StatusOK, "Locks granted")
				var raw map[string]json.RawMessage
				if err := json.Unmarshal(r.body, &raw); err != nil {
					t.Fatal(err)
				}
				if string(raw["id"]) != tt.id || string(raw["duration"]) != tt.duration {
					t.Errorf("got id %s duration %s, want %s and %s echoed as given", raw["id"], raw["duration"], tt.id, tt.duration)
				}
				if got["resource"] != res || got["identity"] != "me" || got["fence"] != 1.0 || !leaseRE.MatchString(fmt.Sprint(got["lease"])) {
					t.Errorf("got %v, want resource %s identity me fence 1 and a lease", got, res)
				}
				exp := parseTime(t, got["expires_at"])
				if d := exp.Sub(before); d < tt.wantTTL-time.Second || d > tt.wantTTL+time.Second {
					t.Errorf("got expiry %v after the request, want about %v", d, tt.wantTTL)
				}
				info := wantStatus(t, send(t, srv, "GET", "/v1/locks/"+res, ""), http.StatusOK)
				if info["owner"] != "me" {
					t.Errorf("inspect got %v, want held by me", info)
				}
			})
		}
	})
	t.Run("SameIdentityAgain", func(t *testing.T) {
		first := wantMessage(t, send(t, srv, "POST", "/get-lock", `{"id":1,"duration":30,"resource":"again","identity":"me"}`), http.StatusOK, "Locks granted")
		second := wantMessage(t, send(t, srv, "POST", "/get-lock", `{"id":2,"duration":60,"resource":"again","identity":"me"}`), http.StatusOK, "Locks granted")
		if second["lease"] != first["lease"] || second["fence"] != first["fence"] {
			t.Errorf("got %v, want the same lease and fence as %v", second, first)
		}
		if !parseTime(t, second["expires_at"]).After(parseTime(t, first["expires_at"])) {
			t.Errorf("got expiry %v, want it refreshed past %v", second["expires_at"], first["expires_at"])
		}
	})
	t.Run("HeldByAnother", func(t *testing.T) {
		wantMessage(t, send(t, srv, "POST", "/get-lock", `{"id":1,"duration":30,"resource":"taken","identity":"alice"}`), http.StatusOK, "Locks granted")
		r := send(t, srv, "POST", "/get-lock", `{"id":2,"duration":30,"resource":"taken","identity":"bob"}`)
		got := wantMessage(t, r, http.StatusConflict, "Lock already exists on resource taken by alice")
		if len(got) != 1 {
			t.Errorf("got %s, want only the message", r.body)
		}
	})
	t.Run("Missing", func(t *testing.T) {
		for _, body := range []string{
			`{}`,
			`{"duration":30,"resource":"r","identity":"me"}`,
			`{"id":1,"resource":"r","identity":"me"}`,
			`{"id":1,"duration":30,"identity":"me"}`,
			`{"id":1,"duration":30,"resource":"r"}`,
			`{"id":null,"duration":30,"resource":"r","identity":"me"}`,
			`{"id":1,"duration":30,"resource":"r","identity":null}`,
		} {
			t.Run(body, func(t *testing.T) {
				wantLegacyError(t, send(t, srv, "POST", "/get-lock", body), http.StatusBadRequest, "Missing required fields")
			})
		}
	})
	t.Run("BadDuration", func(t *testing.T) {
		for _, d := range []string{`0`, `0.05`, `-1`, `3600.5`, `1e9`, `"abc"`, `"NaN"`, `"Inf"`, `""`, `true`, `{}`, `[30]`} {
			t.Run(d, func(t *testing.T) {
				r := send(t, srv, "POST", "/get-lock", `{"id":1,"duration":`+d+`,"resource":"bd","identity":"me"}`)
				wantLegacyError(t, r, http.StatusBadRequest, "duration must be a number of seconds between 0.1 and 3600")
			})
		}
	})
	t.Run("BadFields", func(t *testing.T) {
		tests := []struct{ name, body, msg string }{
			{"ObjectID", `{"id":{},"duration":30,"resource":"r","identity":"me"}`, "id must be a string or a number"},
			{"BoolID", `{"id":true,"duration":30,"resource":"r","identity":"me"}`, "id must be a string or a number"},
			{"NumberResource", `{"id":1,"duration":30,"resource":5,"identity":"me"}`, "resource must be a string"},
			{"BadResource", `{"id":1,"duration":30,"resource":"a b","identity":"me"}`, "resource may hold only A-Z a-z 0-9 . _ : @ -"},
			{"EmptyIdentity", `{"id":1,"duration":30,"resource":"r","identity":""}`, "identity is required"},
			{"ArrayIdentity", `{"id":1,"duration":30,"resource":"r","identity":[]}`, "identity must be a string"},
			{"Malformed", `{"id":1,`, "body is truncated JSON"},
			{"NotObject", `[1]`, "body must be a JSON object"},
			{"Empty", ``, "body is empty: want a JSON object"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				wantLegacyError(t, send(t, srv, "POST", "/get-lock", tt.body), http.StatusBadRequest, tt.msg)
			})
		}
	})
	t.Run("ErrQuorumUnavailable", func(t *testing.T) {
		eng := newFake()
		eng.acquire = func(context.Context, string, lockd.AcquireOptions) (lockd.Lease, error) {
			return lockd.Lease{}, errors.Join(lockd.ErrQuorumUnavailable, &lockd.NodeError{Node: "10.1.1.1:6379", Err: errors.New("refused")})
		}
		r := send(t, newServer(t, eng), "POST", "/get-lock", `{"id":1,"duration":30,"resource":"r","identity":"me"}`)
		wantLegacyError(t, r, http.StatusServiceUnavailable, "lockd: quorum unavailable")
	})
	t.Run("HolderUnknown", func(t *testing.T) {
		eng := newFake()
		eng.acquire = func(_ context.Context, name string, _ lockd.AcquireOptions) (lockd.Lease, error) {
			return lockd.Lease{}, &lockd.NotObtainedError{Name: name}
		}
		r := send(t, newServer(t, eng), "POST", "/get-lock", `{"id":1,"duration":30,"resource":"r","identity":"me"}`)
		wantMessage(t, r, http.StatusConflict, "Lock already exists on resource r")
	})
}

func TestReleaseLock(t *testing.T) {
	srv := newServer(t, nil)
	grant := func(t *testing.T, resource, identity string) map[string]any {
		t.Helper()
		body := fmt.Sprintf(`{"id":1,"duration":30,"resource":%q,"identity":%q}`, resource, identity)
		return wantMessage(t, send(t, srv, "POST", "/get-lock", body), http.StatusOK, "Locks granted")
	}
	held := func(t *testing.T, resource string) map[string]any {
		t.Helper()
		return wantStatus(t, send(t, srv, "GET", "/v1/locks/"+resource, ""), http.StatusOK)
	}
	t.Run("OK", func(t *testing.T) {
		grant(t, "rl-ok", "me")
		r := send(t, srv, "POST", "/release-lock", `{"id":"x-1","resource":"rl-ok","identity":"me","extra":true}`)
		got := wantMessage(t, r, http.StatusOK, "Locks Released")
		if got["id"] != "x-1" || got["resource"] != "rl-ok" || got["identity"] != "me" {
			t.Errorf("got %v, want id, resource and identity echoed", got)
		}
		if h := held(t, "rl-ok"); h["held"] != false {
			t.Errorf("after release got %v, want free", h)
		}
	})
	t.Run("WithKey", func(t *testing.T) {
		g := grant(t, "rl-key", "me")
		body := fmt.Sprintf(`{"id":2,"resource":"rl-key","identity":"me","key":%q}`, g["lease"])
		wantMessage(t, send(t, srv, "POST", "/release-lock", body), http.StatusOK, "Locks Released")
	})
	t.Run("NotHeld", func(t *testing.T) {
		r := send(t, srv, "POST", "/release-lock", `{"id":3,"resource":"rl-free","identity":"me"}`)
		got := wantMessage(t, r, http.StatusOK, "Lock already released")
		if got["id"] != 3.0 || got["resource"] != "rl-free" || got["identity"] != "me" {
			t.Errorf("got %v, want id, resource and identity echoed", got)
		}
	})
	t.Run("HeldByAnother", func(t *testing.T) {
		grant(t, "rl-other", "alice")
		r := send(t, srv, "POST", "/release-lock", `{"id":4,"resource":"rl-other","identity":"bob"}`)
		wantMessage(t, r, http.StatusConflict, "Lock on rl-other is held by alice")
		if h := held(t, "rl-other"); h["owner"] != "alice" {
			t.Errorf("got %v, want alice still holding", h)
		}
	})
	t.Run("WrongKey", func(t *testing.T) {
		grant(t, "rl-wrongkey", "me")
		r := send(t, srv, "POST", "/release-lock", `{"id":5,"resource":"rl-wrongkey","identity":"me","key":"0123456789abcdef0123456789abcdef"}`)
		wantMessage(t, r, http.StatusConflict, "Lock on rl-wrongkey is held by me under another key")
		if h := held(t, "rl-wrongkey"); h["held"] != true {
			t.Errorf("got %v, want still held", h)
		}
	})
	t.Run("RaceWithExpiry", func(t *testing.T) {
		eng := newFake()
		eng.inspect = func(_ context.Context, name string) (lockd.LockInfo, error) {
			return lockd.LockInfo{Name: name, Held: true, Owner: "me", LeaseID: lockd.NewLeaseID(), Fence: 1}, nil
		}
		r := send(t, newServer(t, eng), "POST", "/release-lock", `{"id":6,"resource":"r","identity":"me"}`)
		wantMessage(t, r, http.StatusOK, "Lock already released")
	})
	t.Run("Missing", func(t *testing.T) {
		for _, body := range []string{
			`{}`,
			`{"resource":"r","identity":"me"}`,
			`{"id":1,"identity":"me"}`,
			`{"id":1,"resource":"r"}`,
		} {
			t.Run(body, func(t *testing.T) {
				wantLegacyError(t, send(t, srv, "POST", "/release-lock", body), http.StatusBadRequest, "Missing required fields")
			})
		}
	})
	t.Run("BadFields", func(t *testing.T) {
		tests := []struct{ name, body, msg string }{
			{"BadResource", `{"id":1,"resource":"..","identity":"me"}`, `resource may not be "." or ".."`},
			{"NumberKey", `{"id":1,"resource":"r","identity":"me","key":5}`, "key must be a string"},
			{"TrailingGarbage", `{"id":1,"resource":"r","identity":"me"}}`, "body has data after the JSON object"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				wantLegacyError(t, send(t, srv, "POST", "/release-lock", tt.body), http.StatusBadRequest, tt.msg)
			})
		}
	})
	t.Run("Internal", func(t *testing.T) {
		eng := newFake()
		eng.inspect = func(context.Context, string) (lockd.LockInfo, error) {
			return lockd.LockInfo{}, errors.New("mongo at 10.2.2.2 said no")
		}
		r := send(t, newServer(t, eng), "POST", "/release-lock", `{"id":6,"resource":"r","identity":"me"}`)
		wantLegacyError(t, r, http.StatusInternalServerError, "lockd: internal error")
	})
}
