package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lockd/lockd"
)

var leaseRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// parseTime parses an RFC 3339 time from the wire and checks it is UTC.
func parseTime(t *testing.T, v any) time.Time {
	t.Helper()
	s, _ := v.(string)
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("got time %v, want RFC 3339: %v", v, err)
	}
	if !strings.HasSuffix(s, "Z") {
		t.Errorf("got time %q, want UTC (Z)", s)
	}
	return tm
}

func TestAcquire(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		srv := newServer(t, nil)
		before := time.Now()
		got := wantStatus(t, send(t, srv, "POST", "/v1/locks/orders:42/acquire",
			`{"owner":"svc-a-1","ttl_ms":5000,"metadata":{ "job": 7 }}`), http.StatusOK)
		if got["name"] != "orders:42" || got["owner"] != "svc-a-1" || got["ttl_ms"] != 5000.0 || got["fence"] != 1.0 {
			t.Errorf("got %v, want orders:42 svc-a-1 ttl 5000 fence 1", got)
		}
		if !leaseRE.MatchString(fmt.Sprint(got["lease"])) {
			t.Errorf("got lease %v, want 32 hex digits", got["lease"])
		}
		acq, exp := parseTime(t, got["acquired_at"]), parseTime(t, got["expires_at"])
		if d := exp.Sub(acq); d != 5*time.Second {
			t.Errorf("got expires_at - acquired_at = %v, want 5s", d)
		}
		if acq.Before(before.Add(-time.Second)) || acq.After(time.Now().Add(time.Second)) {
			t.Errorf("got acquired_at %v, want about now", acq)
		}
		if m, _ := got["metadata"].(map[string]any); m["job"] != 7.0 {
			t.Errorf("got metadata %v, want {job: 7}", got["metadata"])
		}
	})
	t.Run("DefaultsAndNoMetadata", func(t *testing.T) {
		srv := newServer(t, nil)
		for _, body := range []string{`{"owner":"a"}`, `{"owner":"b","metadata":null}`, `{"owner":"c","metadata":{}}`} {
			name := fmt.Sprintf("d%d", len(body))
			got := wantStatus(t, send(t, srv, "POST", "/v1/locks/"+name+"/acquire", body), http.StatusOK)
			if got["ttl_ms"] != 10000.0 {
				t.Errorf("%s: got ttl_ms %v, want the default 10000", body, got["ttl_ms"])
			}
			if _, has := got["metadata"]; has {
				t.Errorf("%s: got metadata %v, want it omitted", body, got["metadata"])
			}
		}
	})
	t.Run("ErrNotObtained", func(t *testing.T) {
		srv := newServer(t, nil)
		a := acquire(t, srv, "x", "a", 5000)
		r := send(t, srv, "POST", "/v1/locks/x/acquire", `{"owner":"b"}`)
		e := wantError(t, r, http.StatusConflict, lockd.CodeLockHeld, "")
		h, _ := e["holder"].(map[string]any)
		if h["owner"] != "a" || h["expires_at"] != a["expires_at"] {
			t.Errorf("got holder %v, want owner a expiring %v", h, a["expires_at"])
		}
		if strings.Contains(string(r.body), a["lease"].(string)) {
			t.Errorf("conflict body %s shows the holder's lease", r.body)
		}
	})
	t.Run("SameOwnerWithoutLease", func(t *testing.T) {
		srv := newServer(t, nil)
		a := acquire(t, srv, "x", "a", 5000)
		e := wantError(t, send(t, srv, "POST", "/v1/locks/x/acquire", `{"owner":"a","ttl_ms":5000}`), http.StatusConflict, lockd.CodeLockHeld, "")
		if h, _ := e["holder"].(map[string]any); h["owner"] != "a" || h["expires_at"] != a["expires_at"] {
			t.Errorf("got holder %v, want a expiring %v", h, a["expires_at"])
		}
	})
	t.Run("RetrySameLease", func(t *testing.T) {
		srv := newServer(t, nil)
		lease := lockd.NewLeaseID()
		body := fmt.Sprintf(`{"owner":"a","ttl_ms":5000,"lease":%q}`, lease)
		a := wantStatus(t, send(t, srv, "POST", "/v1/locks/x/acquire", body), http.StatusOK)
		again := wantStatus(t, send(t, srv, "POST", "/v1/locks/x/acquire", body), http.StatusOK)
		if a["lease"] != lease || again["lease"] != lease || again["fence"] != a["fence"] {
			t.Errorf("got %v then %v, want lease %s both times with the same fence", a, again, lease)
		}
		other := fmt.Sprintf(`{"owner":"a","ttl_ms":5000,"lease":%q}`, lockd.NewLeaseID())
		wantError(t, send(t, srv, "POST", "/v1/locks/x/acquire", other), http.StatusConflict, lockd.CodeLockHeld, "")
	})
	t.Run("LongLease", func(t *testing.T) {
		srv := newServer(t, nil)
		lease := strings.Repeat("ab", lockd.MaxLeaseIDLen/2)
		got := wantStatus(t, send(t, srv, "POST", "/v1/locks/x/acquire", fmt.Sprintf(`{"owner":"a","lease":%q}`, lease)), http.StatusOK)
		if got["lease"] != lease {
			t.Errorf("got lease %v, want %s", got["lease"], lease)
		}
	})
	t.Run("OwnerLabelIsNoKey", func(t *testing.T) {
		// The attack of issue 6: the owner label is public (inspect and
		// every conflict show it), so knowing it must get an attacker
		// nothing: not the lease, not a shorter TTL, not the lock.
		srv := newServer(t, nil)
		victim := acquire(t, srv, "orders:42", "svc-a-1", 30000)
		info := wantStatus(t, send(t, srv, "GET", "/v1/locks/orders:42", ""), http.StatusOK)
		if info["owner"] != "svc-a-1" {
			t.Fatalf("got %v, want svc-a-1 shown", info)
		}
		r := send(t, srv, "POST", "/v1/locks/orders:42/acquire", `{"owner":"svc-a-1","ttl_ms":100}`)
		wantError(t, r, http.StatusConflict, lockd.CodeLockHeld, "")
		if strings.Contains(string(r.body), victim["lease"].(string)) {
			t.Errorf("the attacker got the victim's lease: %s", r.body)
		}
		time.Sleep(300 * time.Millisecond)
		wantError(t, send(t, srv, "POST", "/v1/locks/orders:42/acquire", `{"owner":"mallory"}`), http.StatusConflict, lockd.CodeLockHeld, "")
		info = wantStatus(t, send(t, srv, "GET", "/v1/locks/orders:42", ""), http.StatusOK)
		if info["expires_at"] != victim["expires_at"] || info["fence"] != victim["fence"] {
			t.Errorf("got %v, want the victim's expiry %v and fence %v unchanged", info, victim["expires_at"], victim["fence"])
		}
	})
	t.Run("WaitThenGet", func(t *testing.T) {
		srv := newServer(t, nil)
		a := acquire(t, srv, "x", "a", 5000)
		done := make(chan response, 1)
		go func() {
			done <- send(t, srv, "POST", "/v1/locks/x/acquire", `{"owner":"b","wait_ms":5000}`)
		}()
		time.Sleep(100 * time.Millisecond)
		wantStatus(t, send(t, srv, "POST", "/v1/locks/x/release", fmt.Sprintf(`{"lease":%q}`, a["lease"])), http.StatusOK)
		select {
		case r := <-done:
			got := wantStatus(t, r, http.StatusOK)
			if got["owner"] != "b" || got["fence"] != 2.0 {
				t.Errorf("got %v, want owner b fence 2", got)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("waiting acquire did not return after release")
		}
	})
	t.Run("WaitEndsWithClient", func(t *testing.T) {
		// The engine's wait is bounded by the request: when the client
		// goes away, the handler's context ends the wait.
		eng := newFake()
		returned := make(chan error, 1)
		eng.acquire = func(ctx context.Context, name string, opts lockd.AcquireOptions) (lockd.Lease, error) {
			l, err := eng.Engine.Acquire(ctx, name, opts)
			if opts.Owner == "b" {
				returned <- err
			}
			return l, err
		}
		srv := newServer(t, eng)
		acquire(t, srv, "x", "a", 30000)
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/v1/locks/x/acquire", strings.NewReader(`{"owner":"b","wait_ms":60000}`))
		go func() {
			time.Sleep(100 * time.Millisecond)
			cancel()
		}()
		if _, err := srv.Client().Do(req); !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
		select {
		case err := <-returned:
			if !errors.Is(err, lockd.ErrNotObtained) || !errors.Is(err, context.Canceled) {
				t.Errorf("engine returned %v, want ErrNotObtained joined with context.Canceled", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the engine kept waiting after the client went away")
		}
	})
}

func TestAcquireBadInput(t *testing.T) {
	srv := newServer(t, nil)
	tests := []struct {
		name, body, field string
	}{
		{"ExplicitZeroTTL", `{"owner":"a","ttl_ms":0}`, "ttl_ms"},
		{"ShortTTL", `{"owner":"a","ttl_ms":99}`, "ttl_ms"},
		{"LongTTL", `{"owner":"a","ttl_ms":3600001}`, "ttl_ms"},
		{"NegativeTTL", `{"owner":"a","ttl_ms":-5}`, "ttl_ms"},
		{"HugeTTL", `{"owner":"a","ttl_ms":1e309}`, "ttl_ms"},
		{"MaxInt64TTL", `{"owner":"a","ttl_ms":9223372036854775807}`, "ttl_ms"},
		{"OverflowTTL", `{"owner":"a","ttl_ms":9223372036854775808}`, "ttl_ms"},
		{"FractionalTTL", `{"owner":"a","ttl_ms":1500.5}`, "ttl_ms"},
		{"StringTTL", `{"owner":"a","ttl_ms":"1000"}`, "ttl_ms"},
		{"StringFair", `{"owner":"a","fair":"yes"}`, "fair"},
		{"NumberFair", `{"owner":"a","fair":1}`, "fair"},
		{"NullTTLIsDefault", `{"owner":"a","ttl_ms":null,"wait_ms":-1}`, "wait_ms"},
		{"NegativeWait", `{"owner":"a","wait_ms":-1}`, "wait_ms"},
		{"LongWait", `{"owner":"a","wait_ms":300001}`, "wait_ms"},
		{"HugeWait", `{"owner":"a","wait_ms":-9223372036854775807}`, "wait_ms"},
		{"NoOwner", `{"ttl_ms":1000}`, "owner"},
		{"EmptyOwner", `{"owner":""}`, "owner"},
		{"NumberOwner", `{"owner":1}`, "owner"},
		{"ObjectOwner", `{"owner":{}}`, "owner"},
		{"LongOwner", `{"owner":"` + strings.Repeat("o", 129) + `"}`, "owner"},
		{"ControlCharOwner", `{"owner":"a\u0007b"}`, "owner"},
		{"MetadataArray", `{"owner":"a","metadata":[1]}`, "metadata"},
		{"MetadataString", `{"owner":"a","metadata":"x"}`, "metadata"},
		{"MetadataTooBig", `{"owner":"a","metadata":{"x":"` + strings.Repeat("y", lockd.MaxMetadataLen) + `"}}`, "metadata"},
		{"UnknownField", `{"owner":"a","bogus":1}`, "bogus"},
		{"ShortLease", `{"owner":"a","lease":"x"}`, "lease"},
		{"LeaseOf31", `{"owner":"a","lease":"0123456789abcdef0123456789abcde"}`, "lease"},
		{"LeaseOf65", `{"owner":"a","lease":"` + strings.Repeat("a", 65) + `"}`, "lease"},
		{"UpperLease", `{"owner":"a","lease":"0123456789ABCDEF0123456789ABCDEF"}`, "lease"},
		{"NumberLease", `{"owner":"a","lease":5}`, "lease"},
		{"Malformed", `{"owner":`, "body"},
		{"Syntax", `{"owner" "a"}`, "body"},
		{"TrailingGarbage", `{"owner":"a"} x`, "body"},
		{"TwoObjects", `{"owner":"a"}{"owner":"b"}`, "body"},
		{"Empty", ``, "body"},
		{"Whitespace", " \n\t ", "body"},
		{"Null", `null`, "body"},
		{"Array", `[]`, "body"},
		{"String", `"owner"`, "body"},
		{"Number", `42`, "body"},
		{"InvalidUTF8", "{\"owner\":\"\xff\xfe\"}", "body"},
		{"TooLarge", `{"owner":"a","metadata":{"x":"` + strings.Repeat("y", 70<<10) + `"}}`, "body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := wantError(t, send(t, srv, "POST", "/v1/locks/x/acquire", tt.body), http.StatusBadRequest, lockd.CodeInvalidArgument, tt.field)
			if msg, _ := e["message"].(string); !strings.HasPrefix(msg, tt.field+": ") {
				t.Errorf("got message %q, want it to start with the field %q", msg, tt.field)
			}
		})
	}
	t.Run("TooLargeSaysSo", func(t *testing.T) {
		e := wantError(t, send(t, srv, "POST", "/v1/locks/x/acquire", strings.Repeat(" ", 65<<10)+`{}`), http.StatusBadRequest, lockd.CodeInvalidArgument, "body")
		if msg, _ := e["message"].(string); !strings.Contains(msg, "too large") {
			t.Errorf("got message %q, want it to say the body is too large", msg)
		}
	})
	t.Run("NothingGranted", func(t *testing.T) {
		got := wantStatus(t, send(t, srv, "GET", "/v1/locks/x", ""), http.StatusOK)
		if got["held"] != false {
			t.Errorf("bad input granted the lock: %v", got)
		}
	})
}

func TestExtend(t *testing.T) {
	srv := newServer(t, nil)
	t.Run("OK", func(t *testing.T) {
		a := acquire(t, srv, "ext-ok", "a", 1000)
		got := wantStatus(t, send(t, srv, "POST", "/v1/locks/ext-ok/extend", fmt.Sprintf(`{"lease":%q,"ttl_ms":60000}`, a["lease"])), http.StatusOK)
		if got["lease"] != a["lease"] || got["fence"] != a["fence"] || got["owner"] != "a" || got["ttl_ms"] != 60000.0 {
			t.Errorf("got %v, want the same lease with ttl 60000", got)
		}
		if !parseTime(t, got["expires_at"]).After(parseTime(t, a["expires_at"]).Add(50 * time.Second)) {
			t.Errorf("got expires_at %v, want about a minute after %v", got["expires_at"], a["expires_at"])
		}
	})
	t.Run("KeepsTTL", func(t *testing.T) {
		for _, body := range []string{`{"lease":%q}`, `{"lease":%q,"ttl_ms":null}`} {
			t.Run(body, func(t *testing.T) {
				a := acquire(t, srv, "ext-keep", "a", 60000)
				before := time.Now()
				got := wantStatus(t, send(t, srv, "POST", "/v1/locks/ext-keep/extend", fmt.Sprintf(body, a["lease"])), http.StatusOK)
				if got["ttl_ms"] != 60000.0 {
					t.Errorf("got ttl_ms %v, want the lease's own 60000", got["ttl_ms"])
				}
				if d := parseTime(t, got["expires_at"]).Sub(before); d < 50*time.Second {
					t.Errorf("got expiry %v after the extend, want about a minute", d)
				}
				wantStatus(t, send(t, srv, "POST", "/v1/locks/ext-keep/release", fmt.Sprintf(`{"lease":%q}`, a["lease"])), http.StatusOK)
			})
		}
	})
	t.Run("ErrLost", func(t *testing.T) {
		acquire(t, srv, "ext-lost", "a", 5000)
		r := send(t, srv, "POST", "/v1/locks/ext-lost/extend", `{"lease":"0123456789abcdef0123456789abcdef"}`)
		wantError(t, r, http.StatusConflict, lockd.CodeLockLost, "")
	})
	bad := []struct{ name, body, field string }{
		{"NoLease", `{}`, "lease"},
		{"ShortLease", `{"lease":"abc"}`, "lease"},
		{"UpperLease", `{"lease":"0123456789ABCDEF0123456789ABCDEF"}`, "lease"},
		{"NumberLease", `{"lease":5}`, "lease"},
		{"ZeroTTL", `{"lease":"0123456789abcdef0123456789abcdef","ttl_ms":0}`, "ttl_ms"},
		{"LongTTL", `{"lease":"0123456789abcdef0123456789abcdef","ttl_ms":3600001}`, "ttl_ms"},
		{"HugeTTL", `{"lease":"0123456789abcdef0123456789abcdef","ttl_ms":1e400}`, "ttl_ms"},
		{"UnknownField", `{"lease":"0123456789abcdef0123456789abcdef","owner":"a"}`, "owner"},
		{"Empty", ``, "body"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, send(t, srv, "POST", "/v1/locks/ext-bad/extend", tt.body), http.StatusBadRequest, lockd.CodeInvalidArgument, tt.field)
		})
	}
}

func TestRelease(t *testing.T) {
	srv := newServer(t, nil)
	t.Run("OK", func(t *testing.T) {
		a := acquire(t, srv, "rel", "a", 5000)
		body := fmt.Sprintf(`{"lease":%q}`, a["lease"])
		got := wantStatus(t, send(t, srv, "POST", "/v1/locks/rel/release", body), http.StatusOK)
		if got["released"] != true || got["owner"] != "a" || got["fence"] != a["fence"] || len(got) != 3 {
			t.Errorf("got %v, want {\"released\":true,\"owner\":\"a\",\"fence\":%v}", got, a["fence"])
		}
		info := wantStatus(t, send(t, srv, "GET", "/v1/locks/rel", ""), http.StatusOK)
		if info["held"] != false {
			t.Errorf("after release got %v, want not held", info)
		}
		t.Run("Again", func(t *testing.T) {
			got := wantStatus(t, send(t, srv, "POST", "/v1/locks/rel/release", body), http.StatusOK)
			if got["released"] != false || got["reason"] != "not_held" {
				t.Errorf("got %v, want released false, reason not_held", got)
			}
		})
	})
	t.Run("StaleLeaseLeavesHolder", func(t *testing.T) {
		acquire(t, srv, "rel-stale", "b", 5000)
		got := wantStatus(t, send(t, srv, "POST", "/v1/locks/rel-stale/release", `{"lease":"0123456789abcdef0123456789abcdef"}`), http.StatusOK)
		if got["released"] != false || got["reason"] != "not_held" {
			t.Errorf("got %v, want released false, reason not_held", got)
		}
		if info := wantStatus(t, send(t, srv, "GET", "/v1/locks/rel-stale", ""), http.StatusOK); info["owner"] != "b" {
			t.Errorf("got %v, want b still holding", info)
		}
	})
	for _, tt := range []struct{ name, body, field string }{
		{"NoLease", `{}`, "lease"},
		{"BadLease", `{"lease":"zz"}`, "lease"},
		{"UnknownField", `{"lease":"0123456789abcdef0123456789abcdef","ttl_ms":5}`, "ttl_ms"},
		{"Null", `null`, "body"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, send(t, srv, "POST", "/v1/locks/rel/release", tt.body), http.StatusBadRequest, lockd.CodeInvalidArgument, tt.field)
		})
	}
}

func TestInspect(t *testing.T) {
	srv := newServer(t, nil)
	t.Run("Free", func(t *testing.T) {
		got := wantStatus(t, send(t, srv, "GET", "/v1/locks/free", ""), http.StatusOK)
		if len(got) != 2 || got["name"] != "free" || got["held"] != false {
			t.Errorf("got %v, want exactly {name: free, held: false}", got)
		}
	})
	t.Run("Held", func(t *testing.T) {
		a := wantStatus(t, send(t, srv, "POST", "/v1/locks/held/acquire", `{"owner":"a","metadata":{"k":"v"}}`), http.StatusOK)
		r := send(t, srv, "GET", "/v1/locks/held", "")
		got := wantStatus(t, r, http.StatusOK)
		if got["name"] != "held" || got["held"] != true || got["owner"] != "a" || got["fence"] != a["fence"] || got["expires_at"] != a["expires_at"] {
			t.Errorf("got %v, want held by a like %v", got, a)
		}
		if m, _ := got["metadata"].(map[string]any); m["k"] != "v" {
			t.Errorf("got metadata %v, want {k: v}", got["metadata"])
		}
		if strings.Contains(string(r.body), a["lease"].(string)) {
			t.Errorf("inspect body %s shows the lease value", r.body)
		}
		for k := range got {
			if strings.Contains(k, "lease") {
				t.Errorf("inspect body has field %q", k)
			}
		}
	})
	t.Run("HEAD", func(t *testing.T) {
		if r := send(t, srv, "HEAD", "/v1/locks/held", ""); r.status != http.StatusOK || len(r.body) != 0 {
			t.Errorf("got %d with %d bytes, want 200 with no body", r.status, len(r.body))
		}
	})
}

// TestConcurrentRequests checks the server under concurrent use of many
// locks; the race detector does the rest.
func TestConcurrentRequests(t *testing.T) {
	srv := newServer(t, nil)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			name := fmt.Sprintf("c%d", w%3)
			for range 20 {
				r := send(t, srv, "POST", "/v1/locks/"+name+"/acquire", fmt.Sprintf(`{"owner":"w%d","wait_ms":5000}`, w))
				if r.status != http.StatusOK {
					t.Errorf("acquire: got %d %s", r.status, r.body)
					return
				}
				l := r.object(t)
				send(t, srv, "GET", "/v1/locks/"+name, "")
				if got := send(t, srv, "POST", "/v1/locks/"+name+"/release", fmt.Sprintf(`{"lease":%q}`, l["lease"])).object(t); got["released"] != true {
					t.Errorf("release: got %v", got)
					return
				}
			}
		})
	}
	wg.Wait()
}
