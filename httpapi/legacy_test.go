package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
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
				if f, _ := got["fence"].(float64); got["resource"] != res || got["identity"] != "me" || f < 1 || !leaseRE.MatchString(fmt.Sprint(got["lease"])) {
					t.Errorf("got %v, want resource %s identity me, a fence and a lease", got, res)
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
	t.Run("PrototypeBodyWithoutID", func(t *testing.T) {
		// Exactly what the prototype's front service sent.
		r := send(t, srv, "POST", "/get-lock", `{"duration":"30","resource":"acct-42","identity":"front-7"}`)
		got := wantMessage(t, r, http.StatusOK, "Locks granted")
		if _, has := got["id"]; has {
			t.Errorf("got id %v, want no id when none was sent (body %s)", got["id"], r.body)
		}
		if got["resource"] != "acct-42" || got["identity"] != "front-7" || got["duration"] != "30" {
			t.Errorf("got %v, want acct-42 front-7 duration \"30\"", got)
		}
	})
	t.Run("SameIdentityAgain", func(t *testing.T) {
		first := wantMessage(t, send(t, srv, "POST", "/get-lock", `{"id":1,"duration":30,"resource":"again","identity":"me"}`), http.StatusOK, "Locks granted")
		r := send(t, srv, "POST", "/get-lock", `{"id":2,"duration":1,"resource":"again","identity":"me"}`)
		got := wantMessage(t, r, http.StatusConflict, "Lock already exists on resource again by me")
		if len(got) != 1 {
			t.Errorf("got %s, want only the message (no lease)", r.body)
		}
		info := wantStatus(t, send(t, srv, "GET", "/v1/locks/again", ""), http.StatusOK)
		if info["expires_at"] != first["expires_at"] || info["fence"] != first["fence"] {
			t.Errorf("got %v, want the first grant untouched (expiry %v fence %v)", info, first["expires_at"], first["fence"])
		}
	})
	t.Run("SameIdentityOnV1Lock", func(t *testing.T) {
		v1 := acquire(t, srv, "v1-held", "front-7", 30000)
		r := send(t, srv, "POST", "/get-lock", `{"duration":"0.1","resource":"v1-held","identity":"front-7"}`)
		got := wantMessage(t, r, http.StatusConflict, "Lock already exists on resource v1-held by front-7")
		if strings.Contains(string(r.body), v1["lease"].(string)) {
			t.Errorf("conflict body %s shows the v1 holder's lease", r.body)
		}
		if len(got) != 1 {
			t.Errorf("got %s, want only the message", r.body)
		}
		info := wantStatus(t, send(t, srv, "GET", "/v1/locks/v1-held", ""), http.StatusOK)
		if info["expires_at"] != v1["expires_at"] || info["fence"] != v1["fence"] {
			t.Errorf("got %v, want the v1 holder's expiry %v and fence %v unchanged", info, v1["expires_at"], v1["fence"])
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
			`{"id":1,"resource":"r","identity":"me"}`,
			`{"id":1,"duration":30,"identity":"me"}`,
			`{"id":1,"duration":30,"resource":"r"}`,
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
		g := grant(t, "rl-ok", "me")
		r := send(t, srv, "POST", "/release-lock", `{"id":"x-1","resource":"rl-ok","identity":"me","extra":true}`)
		got := wantMessage(t, r, http.StatusOK, "Locks Released")
		if got["id"] != "x-1" || got["resource"] != "rl-ok" || got["identity"] != "me" || got["fence"] != g["fence"] {
			t.Errorf("got %v, want id, resource and identity echoed and fence %v", got, g["fence"])
		}
		if h := held(t, "rl-ok"); h["held"] != false {
			t.Errorf("after release got %v, want free", h)
		}
	})
	t.Run("PrototypeBodyConstantKey", func(t *testing.T) {
		// Exactly what the prototype's front service sent: key is a
		// constant, not a lease, and is ignored.
		wantMessage(t, send(t, srv, "POST", "/get-lock", `{"duration":"30","resource":"acct-42","identity":"front-7"}`), http.StatusOK, "Locks granted")
		r := send(t, srv, "POST", "/release-lock", `{"id":"189","key":"3600","resource":"acct-42","identity":"front-7"}`)
		got := wantMessage(t, r, http.StatusOK, "Locks Released")
		if got["id"] != "189" || got["resource"] != "acct-42" || got["identity"] != "front-7" {
			t.Errorf("got %v, want id 189, acct-42, front-7 echoed", got)
		}
		if h := held(t, "acct-42"); h["held"] != false {
			t.Errorf("after release got %v, want free", h)
		}
	})
	t.Run("NoID", func(t *testing.T) {
		grant(t, "rl-noid", "me")
		r := send(t, srv, "POST", "/release-lock", `{"resource":"rl-noid","identity":"me"}`)
		got := wantMessage(t, r, http.StatusOK, "Locks Released")
		if _, has := got["id"]; has {
			t.Errorf("got id %v, want none when none was sent", got["id"])
		}
	})
	t.Run("WithKey", func(t *testing.T) {
		g := grant(t, "rl-key", "me")
		body := fmt.Sprintf(`{"id":2,"resource":"rl-key","identity":"me","key":%q}`, g["lease"])
		wantMessage(t, send(t, srv, "POST", "/release-lock", body), http.StatusOK, "Locks Released")
		if h := held(t, "rl-key"); h["held"] != false {
			t.Errorf("after release got %v, want free", h)
		}
	})
	t.Run("V1LeaseAsKey", func(t *testing.T) {
		// A lease proves ownership whichever route took the lock.
		a := acquire(t, srv, "rl-v1key", "me", 30000)
		body := fmt.Sprintf(`{"resource":"rl-v1key","identity":"me","key":%q}`, a["lease"])
		wantMessage(t, send(t, srv, "POST", "/release-lock", body), http.StatusOK, "Locks Released")
		if h := held(t, "rl-v1key"); h["held"] != false {
			t.Errorf("after release got %v, want free", h)
		}
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
	t.Run("V1LockByIdentity", func(t *testing.T) {
		// The back door: the owner label is public, so it must not
		// release a lock taken through the v1 API, with or without a key
		// that is not its lease.
		a := acquire(t, srv, "rl-v1", "front-7", 30000)
		for _, body := range []string{
			`{"id":"189","key":"3600","resource":"rl-v1","identity":"front-7"}`,
			`{"resource":"rl-v1","identity":"front-7"}`,
			`{"resource":"rl-v1","identity":"front-7","key":"0123456789abcdef0123456789abcdef"}`,
		} {
			t.Run(body, func(t *testing.T) {
				wantMessage(t, send(t, srv, "POST", "/release-lock", body), http.StatusConflict, "Lock on rl-v1 is held by front-7")
				if h := held(t, "rl-v1"); h["held"] != true || h["fence"] != a["fence"] || h["expires_at"] != a["expires_at"] {
					t.Errorf("got %v, want the v1 lock still held, untouched", h)
				}
			})
		}
	})
	t.Run("WrongKeyFallsBackToIdentity", func(t *testing.T) {
		grant(t, "rl-wrongkey", "me")
		r := send(t, srv, "POST", "/release-lock", `{"id":5,"resource":"rl-wrongkey","identity":"me","key":"0123456789abcdef0123456789abcdef"}`)
		wantMessage(t, r, http.StatusOK, "Locks Released")
	})
	t.Run("WrongKeyOtherHolder", func(t *testing.T) {
		grant(t, "rl-wrongkey2", "alice")
		r := send(t, srv, "POST", "/release-lock", `{"resource":"rl-wrongkey2","identity":"bob","key":"0123456789abcdef0123456789abcdef"}`)
		wantMessage(t, r, http.StatusConflict, "Lock on rl-wrongkey2 is held by alice")
		if h := held(t, "rl-wrongkey2"); h["owner"] != "alice" {
			t.Errorf("got %v, want alice still holding", h)
		}
	})
	t.Run("NumberKeyIgnored", func(t *testing.T) {
		grant(t, "rl-numkey", "me")
		wantMessage(t, send(t, srv, "POST", "/release-lock", `{"resource":"rl-numkey","identity":"me","key":3600}`), http.StatusOK, "Locks Released")
	})
	t.Run("RaceWithExpiry", func(t *testing.T) {
		// The lock was held when ReleaseByOwner looked, and had run out by
		// the time Inspect did.
		eng := newFake()
		eng.releaseByOwner = func(context.Context, string, string) (lockd.Released, error) {
			return lockd.Released{}, lockd.ErrNotHeld
		}
		r := send(t, newServer(t, eng), "POST", "/release-lock", `{"id":6,"resource":"r","identity":"me"}`)
		wantMessage(t, r, http.StatusOK, "Lock already released")
	})
	t.Run("Missing", func(t *testing.T) {
		for _, body := range []string{
			`{}`,
			`{"id":1,"identity":"me"}`,
			`{"id":1,"resource":"r"}`,
			`{"key":"3600","resource":"r","identity":null}`,
		} {
			t.Run(body, func(t *testing.T) {
				wantLegacyError(t, send(t, srv, "POST", "/release-lock", body), http.StatusBadRequest, "Missing required fields")
			})
		}
	})
	t.Run("BadFields", func(t *testing.T) {
		tests := []struct{ name, body, msg string }{
			{"BadResource", `{"id":1,"resource":"..","identity":"me"}`, `resource may not be "." or ".."`},
			{"EmptyIdentity", `{"id":1,"resource":"r","identity":""}`, "identity is required"},
			{"ObjectID", `{"id":{},"resource":"r","identity":"me"}`, "id must be a string or a number"},
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
		eng.releaseByOwner = func(context.Context, string, string) (lockd.Released, error) {
			return lockd.Released{}, errors.New("mongo at 10.2.2.2 said no")
		}
		r := send(t, newServer(t, eng), "POST", "/release-lock", `{"id":6,"resource":"r","identity":"me"}`)
		wantLegacyError(t, r, http.StatusInternalServerError, "lockd: internal error")
	})
}
