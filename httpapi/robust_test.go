package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lockd/lockd/client"
	"github.com/lockd/lockd/httpapi"
	"github.com/lockd/lockd/memlock"
)

// postRoutes are the routes that read a body.
var postRoutes = []string{
	"/v1/locks/g/acquire",
	"/v1/locks/g/extend",
	"/v1/locks/g/release",
	"/get-lock",
	"/release-lock",
}

// garbage is a table of bodies no route should answer with a 5xx.
var garbage = []string{
	``,
	`null`,
	`[]`,
	`[{}]`,
	`{}`,
	`""`,
	`0`,
	`true`,
	`{"owner":1}`,
	`{"owner":null}`,
	`{"owner":"a","ttl_ms":1e309}`,
	`{"owner":"a","ttl_ms":-5}`,
	`{"owner":"a","ttl_ms":-1e309}`,
	`{"owner":"a","wait_ms":1e18}`,
	`{"owner":"a","ttl_ms":9223372036854775807,"wait_ms":-9223372036854775808}`,
	`{"lease":"` + strings.Repeat("a", 32) + `","ttl_ms":-9223372036854775808}`,
	`{"lease":[]}`,
	`{"lease":{"a":1}}`,
	`{"owner":"a","metadata":{"x":1e309}}`,
	`{"owner":"a","metadata":{"a":{"b":{"c":[[[[[[[[[[]]]]]]]]]]}}}`,
	`{"owner":"a","metadata":` + strings.Repeat(`{"a":`, 5000) + `1` + strings.Repeat(`}`, 5000) + `}`,
	strings.Repeat(`[`, 20000),
	`{"owner":"a"`,
	`{"owner":"a"}}`,
	`{"owner":"a"}` + strings.Repeat(" ", 100) + `x`,
	"{\"owner\":\"\xff\xfe\xfd\"}",
	"\xef\xbb\xbf{\"owner\":\"a\"}", // byte-order mark
	"{\"owner\":\"a\x00b\"}",
	`{"owner":"\ud800"}`,
	`{"id":{},"duration":{},"resource":{},"identity":{}}`,
	`{"id":1,"duration":"1e400","resource":"r","identity":"i"}`,
	`{"id":1,"duration":-0,"resource":"r","identity":"i"}`,
	`{"id":1,"duration":"0x10","resource":"r","identity":"i","key":""}`,
	`{"id":1,"duration":3600,"resource":"` + strings.Repeat("r", 500) + `","identity":"i"}`,
	`{"id":1,"duration":3600,"resource":"r","identity":"` + strings.Repeat("i", 500) + `"}`,
	`{"ID":1,"DURATION":1,"RESOURCE":"r","IDENTITY":"i"}`,
	`{"owner":"a","OWNER":"b"}`,
	`{"owner":"a","owner":"b"}`,
	strings.Repeat("x", httpapi.MaxBodyBytes+1),
	`{"owner":"` + strings.Repeat("a", httpapi.MaxBodyBytes) + `"}`,
}

// TestGarbageBodies sends every garbage body to every body route and
// checks for a 4xx (or a 2xx/409 where the body happens to be valid), never
// a 5xx, and that the server still answers afterwards.
func TestGarbageBodies(t *testing.T) {
	srv := newServer(t, nil)
	for _, route := range postRoutes {
		for i, body := range garbage {
			t.Run(fmt.Sprintf("%s/%d", strings.ReplaceAll(route, "/", "_"), i), func(t *testing.T) {
				r := send(t, srv, "POST", route, body)
				if r.status >= 500 {
					t.Errorf("got %d %s for body %.80q", r.status, r.body, body)
				}
				if !json.Valid(r.body) {
					t.Errorf("got non-JSON body %q", r.body)
				}
			})
		}
	}
	wantStatus(t, send(t, srv, "GET", "/healthz", ""), http.StatusOK)
}

// TestMutatedBodies flips, drops and inserts bytes of valid bodies (with a
// fixed seed, so failures reproduce) and checks that no answer is a 5xx.
func TestMutatedBodies(t *testing.T) {
	srv := httpapi.New(memlock.New(), httpapi.WithLogger(discardLogger()))
	valid := map[string]string{
		"/v1/locks/m/acquire": `{"owner":"a","ttl_ms":1000,"wait_ms":0,"metadata":{"k":[1,"v",null,true]}}`,
		"/v1/locks/m/extend":  `{"lease":"0123456789abcdef0123456789abcdef","ttl_ms":1000}`,
		"/v1/locks/m/release": `{"lease":"0123456789abcdef0123456789abcdef"}`,
		"/get-lock":           `{"id":"x","duration":"1.5","resource":"m","identity":"i"}`,
		"/release-lock":       `{"id":1,"resource":"m","identity":"i","key":"k"}`,
	}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte(`{}[]":,.-+eE0123456789 \tnulltruefalse` + "\xff\x00")
	for route, body := range valid {
		for range 300 {
			b := []byte(body)
			for range 1 + rng.IntN(4) {
				i := rng.IntN(len(b))
				switch rng.IntN(3) {
				case 0:
					b[i] = alphabet[rng.IntN(len(alphabet))]
				case 1:
					b = append(b[:i], b[i+1:]...)
				default:
					b = append(b[:i], append([]byte{alphabet[rng.IntN(len(alphabet))]}, b[i:]...)...)
				}
				if len(b) == 0 {
					break
				}
			}
			checkNo5xx(t, srv, route, string(b))
		}
	}
}

// FuzzBodies checks that no body makes any route answer with a 5xx or
// anything but JSON. go test runs the seeds; go test -fuzz explores.
func FuzzBodies(f *testing.F) {
	for _, g := range garbage {
		if len(g) < 1024 {
			f.Add(g)
		}
	}
	srv := httpapi.New(memlock.New(), httpapi.WithLogger(discardLogger()))
	f.Fuzz(func(t *testing.T, body string) {
		for _, route := range postRoutes {
			checkNo5xx(t, srv, route, body)
		}
	})
}

func checkNo5xx(t *testing.T, h http.Handler, route, body string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", route, strings.NewReader(body)))
	if rec.Code >= 500 {
		t.Fatalf("POST %s %q: got %d %s", route, body, rec.Code, rec.Body)
	}
	if !json.Valid(rec.Body.Bytes()) {
		t.Fatalf("POST %s %q: got non-JSON %q", route, body, rec.Body)
	}
}

// TestMutualExclusionOverHTTP has 16 goroutines add 500 times each to a
// plain int, each addition under the lock taken through the SDK. A lost
// update or a race report means two holders at once.
func TestMutualExclusionOverHTTP(t *testing.T) {
	const workers, increments = 16, 500
	srv := newServer(t, nil)
	c, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var (
		counter int // guarded by the lock under test only
		wg      sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			owner := fmt.Sprintf("w%d", w)
			for range increments {
				l, err := c.Acquire(ctx, "counter", client.Owner(owner), client.TTL(10*time.Second), client.Wait(20*time.Second))
				if err != nil {
					t.Errorf("%s: Acquire: %v", owner, err)
					return
				}
				v := counter
				runtime.Gosched()
				counter = v + 1
				if err := l.Release(ctx); err != nil {
					t.Errorf("%s: Release: %v", owner, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if want := workers * increments; counter != want {
		t.Errorf("got counter %d, want %d", counter, want)
	}
}

// TestSlowBody checks that a client that stops sending its body mid-way
// gets a 400 once the body read timeout passes, and that the connection is
// closed, rather than holding a handler forever.
func TestSlowBody(t *testing.T) {
	srv := newServer(t, nil, httpapi.WithBodyReadTimeout(200*time.Millisecond))
	conn, err := net.DialTimeout("tcp", srv.Listener.Addr().String(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := io.WriteString(conn, "POST /v1/locks/x/acquire HTTP/1.1\r\nHost: lockd\r\nContent-Length: 100\r\n\r\n{\"owner\":"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer after %v: %v", time.Since(start), err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"field":"body"`) || !resp.Close {
		t.Errorf("got %d %s (close %v), want 400 for the body and the connection closed", resp.StatusCode, body, resp.Close)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("answered after %v, want about 200ms", el)
	}
}
