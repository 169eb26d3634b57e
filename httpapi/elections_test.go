package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lockd/lockd/httpapi"
	"github.com/lockd/lockd/memlock"
)

// sseEvent is one Server-Sent Event, or a comment (event "comment").
type sseEvent struct {
	event string
	data  map[string]any
}

// stream is an open observe stream.
type stream struct {
	events <-chan sseEvent // closes at the end of the stream
	cancel context.CancelFunc
	resp   *http.Response
}

// observe opens GET /v1/elections/{name}/observe and parses its events in
// a goroutine of its own; the stream is cut when the test ends.
func observe(t *testing.T, url, name string) *stream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, "GET", url+"/v1/elections/"+name+"/observe", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("observe: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		t.Fatalf("observe: status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type %q, want text/event-stream", ct)
	}
	c := make(chan sseEvent, 64)
	go func() {
		defer close(c)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, ":"):
				c <- sseEvent{event: "comment"}
			case strings.HasPrefix(line, "event: "):
				ev.event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev.data)
			case line == "" && ev.event != "":
				c <- ev
				ev = sseEvent{}
			}
		}
	}()
	return &stream{events: c, cancel: cancel, resp: resp}
}

// next returns the next event other than a comment, failing t when none
// comes within 5s or the stream ends.
func (s *stream) next(t *testing.T) sseEvent {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				t.Fatal("stream ended, want an event")
			}
			if ev.event != "comment" {
				return ev
			}
		case <-deadline:
			t.Fatal("no event within 5s")
		}
	}
}

// ended waits for the end of the stream, failing t after 5s.
func (s *stream) ended(t *testing.T) []sseEvent {
	t.Helper()
	var rest []sseEvent
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				return rest
			}
			rest = append(rest, ev)
		case <-deadline:
			t.Fatal("stream still open after 5s")
		}
	}
}

// wantLeader checks a leader event: owner "" for no leader.
func wantLeader(t *testing.T, ev sseEvent, owner string, term float64) {
	t.Helper()
	if ev.event != "leader" {
		t.Fatalf("event %q (%v), want leader", ev.event, ev.data)
	}
	if owner == "" {
		if ev.data["leader"] != nil || ev.data["term"] != nil {
			t.Errorf("got %v, want no leader", ev.data)
		}
		return
	}
	if ev.data["leader"] != owner || ev.data["term"] != term {
		t.Errorf("got %v, want leader %s term %v", ev.data, owner, term)
	}
}

func TestCampaignLeaderResign(t *testing.T) {
	srv := newServer(t, nil)
	r := wantStatus(t, send(t, srv, "GET", "/v1/elections/db:primary", ""), http.StatusOK)
	if v, ok := r["leader"]; !ok || v != nil || r["name"] != "db:primary" {
		t.Errorf("no leader: got %v, want name and \"leader\": null", r)
	}
	a := wantStatus(t, send(t, srv, "POST", "/v1/elections/db:primary/campaign", `{"owner":"a","ttl_ms":5000,"metadata":{"addr":"10.0.0.1:5432"}}`), http.StatusOK)
	if a["term"] != a["fence"] || a["term"].(float64) < 1 || a["lease"] == "" {
		t.Errorf("campaign: got %v, want a lease with term = fence", a)
	}
	r = wantStatus(t, send(t, srv, "GET", "/v1/elections/db:primary", ""), http.StatusOK)
	if r["leader"] != "a" || r["term"] != a["term"] || r["expires_at"] == nil || r["metadata"].(map[string]any)["addr"] != "10.0.0.1:5432" {
		t.Errorf("leader: got %v, want a with term %v", r, a["term"])
	}
	if _, ok := r["lease"]; ok {
		t.Errorf("leader shows the lease: %v", r)
	}
	e := wantError(t, send(t, srv, "POST", "/v1/elections/db:primary/campaign", `{"owner":"b","wait_ms":50}`), http.StatusConflict, "lock_held", "")
	if e["holder"].(map[string]any)["owner"] != "a" {
		t.Errorf("got holder %v, want a", e["holder"])
	}
	body := `{"lease":"` + a["lease"].(string) + `"}`
	r = wantStatus(t, send(t, srv, "POST", "/v1/elections/db:primary/resign", body), http.StatusOK)
	if r["resigned"] != true || r["owner"] != "a" || r["term"] != a["term"] {
		t.Errorf("resign: got %v, want resigned, a, term %v", r, a["term"])
	}
	r = wantStatus(t, send(t, srv, "POST", "/v1/elections/db:primary/resign", body), http.StatusOK)
	if r["resigned"] != false || r["reason"] != "not_held" {
		t.Errorf("resign again: got %v, want resigned false, reason not_held", r)
	}
	// Keep-alive goes through the lock extend route: the election is the
	// lock of the same name.
	b := wantStatus(t, send(t, srv, "POST", "/v1/elections/db:primary/campaign", `{"owner":"b","ttl_ms":5000}`), http.StatusOK)
	if b["term"].(float64) <= a["term"].(float64) {
		t.Errorf("b's term %v after a's %v, want it larger", b["term"], a["term"])
	}
	wantStatus(t, send(t, srv, "POST", "/v1/locks/db:primary/extend", `{"lease":"`+b["lease"].(string)+`"}`), http.StatusOK)
}

func TestElectionErrInvalidArgument(t *testing.T) {
	srv := newServer(t, nil)
	a := wantStatus(t, send(t, srv, "POST", "/v1/elections/e/campaign", `{"owner":"a"}`), http.StatusOK)
	tests := []struct {
		name, method, path, body, field string
	}{
		{"BadName", "POST", "/v1/elections/bad%20name/campaign", `{"owner":"a"}`, "name"},
		{"DotDot", "POST", "/v1/elections/../campaign", `{"owner":"a"}`, "name"},
		{"LongName", "GET", "/v1/elections/" + strings.Repeat("x", 201), "", "name"},
		{"ObserveBadName", "GET", "/v1/elections/a%2Fb/observe", "", "name"},
		{"NoOwner", "POST", "/v1/elections/e2/campaign", `{}`, "owner"},
		{"TTLTooShort", "POST", "/v1/elections/e2/campaign", `{"owner":"a","ttl_ms":1}`, "ttl_ms"},
		{"TTLZero", "POST", "/v1/elections/e2/campaign", `{"owner":"a","ttl_ms":0}`, "ttl_ms"},
		{"TTLString", "POST", "/v1/elections/e2/campaign", `{"owner":"a","ttl_ms":"1s"}`, "ttl_ms"},
		{"WaitString", "POST", "/v1/elections/e2/campaign", `{"owner":"a","wait_ms":"5s"}`, "wait_ms"},
		{"WaitBool", "POST", "/v1/elections/e2/campaign", `{"owner":"a","wait_ms":true}`, "wait_ms"},
		{"WaitTooLong", "POST", "/v1/elections/e2/campaign", `{"owner":"a","wait_ms":300001}`, "wait_ms"},
		{"MetadataNotObject", "POST", "/v1/elections/e2/campaign", `{"owner":"a","metadata":[1]}`, "metadata"},
		{"UnknownField", "POST", "/v1/elections/e2/campaign", `{"owner":"a","reentrant":true}`, "reentrant"},
		{"BadLease", "POST", "/v1/elections/e2/campaign", `{"owner":"a","lease":"xyz"}`, "lease"},
		{"ResignBadLease", "POST", "/v1/elections/e/resign", `{"lease":"not-hex"}`, "lease"},
		{"ResignNoLease", "POST", "/v1/elections/e/resign", `{}`, "lease"},
		{"ResignLeaseNumber", "POST", "/v1/elections/e/resign", `{"lease":42}`, "lease"},
		{"ResignNotJSON", "POST", "/v1/elections/e/resign", `lease`, "body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, send(t, srv, tt.method, tt.path, tt.body), http.StatusBadRequest, "invalid_argument", tt.field)
		})
	}
	r := wantStatus(t, send(t, srv, "GET", "/v1/elections/e", ""), http.StatusOK)
	if r["leader"] != "a" || r["term"] != a["term"] {
		t.Errorf("after bad input: got %v, want a still leading", r)
	}
	wantError(t, send(t, srv, "PUT", "/v1/elections/e/campaign", `{}`), http.StatusMethodNotAllowed, "method_not_allowed", "")
}

// TestObserve: the stream's first event is the current state, then one
// per change made through the API, in order; a quiet stream gets
// heartbeat comments; an expiry shows within the poll interval.
func TestObserve(t *testing.T) {
	srv := newServer(t, nil, httpapi.WithHeartbeat(20*time.Millisecond), httpapi.WithElectionPoll(20*time.Millisecond))
	s := observe(t, srv.URL, "e")
	wantLeader(t, s.next(t), "", 0)
	a := wantStatus(t, send(t, srv, "POST", "/v1/elections/e/campaign", `{"owner":"a"}`), http.StatusOK)
	wantLeader(t, s.next(t), "a", a["term"].(float64))
	wantStatus(t, send(t, srv, "POST", "/v1/elections/e/resign", `{"lease":"`+a["lease"].(string)+`"}`), http.StatusOK)
	wantLeader(t, s.next(t), "", 0)
	b := wantStatus(t, send(t, srv, "POST", "/v1/elections/e/campaign", `{"owner":"b","ttl_ms":200}`), http.StatusOK)
	wantLeader(t, s.next(t), "b", b["term"].(float64))
	wantLeader(t, s.next(t), "", 0) // b expired: the poll saw it
	comment := false
	deadline := time.After(5 * time.Second)
	for !comment {
		select {
		case ev := <-s.events:
			comment = ev.event == "comment"
		case <-deadline:
			t.Fatal("no heartbeat within 5s")
		}
	}
}

// TestObserveCap: past WithMaxObservers, observe answers 503 unavailable
// with Retry-After; a stream whose client leaves frees its place.
func TestObserveCap(t *testing.T) {
	srv := newServer(t, nil, httpapi.WithMaxObservers(1))
	s := observe(t, srv.URL, "e")
	wantLeader(t, s.next(t), "", 0)
	r := send(t, srv, "GET", "/v1/elections/other/observe", "")
	e := wantError(t, r, http.StatusServiceUnavailable, "unavailable", "")
	if !strings.Contains(e["message"].(string), "too many observers") {
		t.Errorf("message %q, want it to say too many observers", e["message"])
	}
	if r.header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	s.cancel() // the client leaves
	deadline := time.Now().Add(5 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1/elections/other/observe", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		status := resp.StatusCode
		resp.Body.Close()
		cancel()
		if status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("observe still refused (%d) 5s after the other client left", status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestObserveEndsOnShutdown: http.Server.Shutdown is not held up by an
// open stream: the stream gets an error event (unavailable) and ends.
func TestObserveEndsOnShutdown(t *testing.T) {
	eng := memlock.New()
	t.Cleanup(func() { _ = eng.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: httpapi.New(eng, httpapi.WithLogger(discardLogger()))}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	url := "http://" + ln.Addr().String()
	s := observe(t, url, "e")
	wantLeader(t, s.next(t), "", 0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := hs.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Shutdown took %v with a stream open, want well under the 10s bound", d)
	}
	rest := s.ended(t)
	if len(rest) != 1 || rest[0].event != "error" || rest[0].data["error"].(map[string]any)["code"] != "unavailable" {
		t.Errorf("stream ended with %v, want one error event with code unavailable", rest)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve: %v", err)
	}
}

// TestObserveEndsOnDisconnect: a client that leaves ends its stream on the
// server: httptest.Server.Close, which waits for every request, returns.
func TestObserveEndsOnDisconnect(t *testing.T) {
	eng := memlock.New()
	t.Cleanup(func() { _ = eng.Close() })
	srv := httptest.NewServer(httpapi.New(eng, httpapi.WithLogger(discardLogger())))
	s := observe(t, srv.URL, "e")
	wantLeader(t, s.next(t), "", 0)
	s.cancel()
	s.ended(t)
	closed := make(chan struct{})
	go func() {
		srv.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the server still serves the stream 5s after its client left")
	}
}

// TestObserveOutlivesWriteTimeout: the write timeout bounds each event's
// write, not the stream: a stream with heartbeats lives past it.
func TestObserveOutlivesWriteTimeout(t *testing.T) {
	srv := newServer(t, nil, httpapi.WithWriteTimeout(100*time.Millisecond), httpapi.WithHeartbeat(20*time.Millisecond))
	s := observe(t, srv.URL, "e")
	wantLeader(t, s.next(t), "", 0)
	time.Sleep(500 * time.Millisecond)
	a := wantStatus(t, send(t, srv, "POST", "/v1/elections/e/campaign", `{"owner":"a"}`), http.StatusOK)
	wantLeader(t, s.next(t), "a", a["term"].(float64))
}

// openObserve opens an observe stream as token and returns its status
// once the answer's head came, and the function that leaves it.
func openObserve(t *testing.T, url, name, token string) (int, http.Header, func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	req, err := http.NewRequestWithContext(ctx, "GET", url+"/v1/elections/"+name+"/observe", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("observe: %v", err)
	}
	leave := func() {
		cancel()
		resp.Body.Close()
	}
	t.Cleanup(leave)
	return resp.StatusCode, resp.Header, leave
}

// TestObserveCapPerClient: past Limits.ObserversPerClient, a client's next
// observe stream is refused 429 rate_limited with Retry-After, while
// another client still gets its own; a stream that ends frees its place.
func TestObserveCapPerClient(t *testing.T) {
	srv := newServer(t, nil, httpapi.WithMaxObservers(10), httpapi.WithLimits(httpapi.Limits{ObserversPerClient: 2}),
		httpapi.WithKeys([]httpapi.Key{key(t, "a", "token-a", httpapi.RoleRead), key(t, "b", "token-b", httpapi.RoleRead)}))
	var leaveFirst func()
	for i := range 2 {
		status, _, leave := openObserve(t, srv.URL, "e", "token-a")
		if status != http.StatusOK {
			t.Fatalf("a's stream %d: status %d, want 200", i+1, status)
		}
		if i == 0 {
			leaveFirst = leave
		}
	}
	status, h, _ := openObserve(t, srv.URL, "e", "token-a")
	if status != http.StatusTooManyRequests || h.Get("Retry-After") == "" {
		t.Fatalf("a's third stream: status %d, Retry-After %q; want 429 with Retry-After", status, h.Get("Retry-After"))
	}
	if status, _, _ := openObserve(t, srv.URL, "e", "token-b"); status != http.StatusOK {
		t.Fatalf("b's stream: status %d, want 200: a's limit is a's", status)
	}
	leaveFirst()
	deadline := time.Now().Add(5 * time.Second)
	for {
		status, _, leave := openObserve(t, srv.URL, "e", "token-a")
		if status == http.StatusOK {
			break
		}
		leave()
		if time.Now().After(deadline) {
			t.Fatalf("a's stream still refused (%d) 5s after one of its streams ended", status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
