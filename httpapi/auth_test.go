package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/httpapi"
	"github.com/lockd/lockd/memlock"
)

// sendAs is send with an API token ("" sends none).
func sendAs(t *testing.T, srv *httptest.Server, token, method, path, body string) response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func key(t *testing.T, name, token string, role httpapi.Role, prefixes ...string) httpapi.Key {
	t.Helper()
	h, err := httpapi.ParseKeyHash(httpapi.HashToken(token))
	if err != nil {
		t.Fatal(err)
	}
	return httpapi.Key{Name: name, Hash: h, Role: role, Prefixes: prefixes}
}

// TestAuth covers every outcome of authentication: no key, a wrong key, a
// name outside the key's prefixes, a read key writing, a write key, an
// admin key, on the v1 routes, the several-locks routes and the
// prototype's routes; the probes need no key.
func TestAuth(t *testing.T) {
	srv := newServer(t, memlock.New(), httpapi.WithKeys([]httpapi.Key{
		key(t, "reader", "read-token", httpapi.RoleRead, "jobs:"),
		key(t, "writer", "write-token", httpapi.RoleWrite, "jobs:", "ci:"),
		key(t, "admin", "admin-token", httpapi.RoleAdmin),
	}))
	const acquire = `{"owner":"o","ttl_ms":5000}`
	for _, tc := range []struct {
		name, token, method, path, body string
		status                          int
		code                            string
	}{
		{"NoKey", "", "POST", "/v1/locks/jobs:1/acquire", acquire, 401, lockd.CodeUnauthenticated},
		{"WrongKey", "guess", "POST", "/v1/locks/jobs:1/acquire", acquire, 401, lockd.CodeUnauthenticated},
		{"NoKeyInspect", "", "GET", "/v1/locks/jobs:1", "", 401, lockd.CodeUnauthenticated},
		{"Writer", "write-token", "POST", "/v1/locks/jobs:1/acquire", acquire, 200, ""},
		{"WriterOtherPrefix", "write-token", "POST", "/v1/locks/ci:9/acquire", acquire, 200, ""},
		{"WriterOutsidePrefixes", "write-token", "POST", "/v1/locks/billing:1/acquire", acquire, 403, lockd.CodePermissionDenied},
		{"ReaderWriting", "read-token", "POST", "/v1/locks/jobs:2/acquire", acquire, 403, lockd.CodePermissionDenied},
		{"ReaderReading", "read-token", "GET", "/v1/locks/jobs:1", "", 200, ""},
		{"ReaderOutsidePrefixes", "read-token", "GET", "/v1/locks/billing:1", "", 403, lockd.CodePermissionDenied},
		{"ReaderSemaphore", "read-token", "GET", "/v1/semaphores/jobs:s", "", 200, ""},
		{"WriterSemaphoreOutside", "write-token", "POST", "/v1/semaphores/x/acquire", `{"owner":"o","limit":2}`, 403, lockd.CodePermissionDenied},
		{"WriterElectionOutside", "write-token", "POST", "/v1/elections/x/campaign", `{"owner":"o"}`, 403, lockd.CodePermissionDenied},
		{"Admin", "admin-token", "POST", "/v1/locks/billing:1/acquire", acquire, 200, ""},
		{"ManyOneOutside", "write-token", "POST", "/v1/locks:acquire-many", `{"names":["jobs:a","billing:b"],"owner":"o"}`, 403, lockd.CodePermissionDenied},
		{"ManyInside", "write-token", "POST", "/v1/locks:acquire-many", `{"names":["jobs:a","ci:b"],"owner":"o"}`, 200, ""},
		{"ReleaseManyOutside", "write-token", "POST", "/v1/locks:release-many", fmt.Sprintf(`{"names":["billing:b"],"lease":%q}`, lockd.NewLeaseID()), 403, lockd.CodePermissionDenied},
		{"HistoryNoKey", "", "GET", "/v1/locks/jobs:1/history", "", 401, lockd.CodeUnauthenticated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := sendAs(t, srv, tc.token, tc.method, tc.path, tc.body)
			if tc.code == "" {
				wantStatus(t, r, tc.status)
				return
			}
			wantError(t, r, tc.status, tc.code, "")
		})
	}
	t.Run("Probes", func(t *testing.T) {
		for _, p := range []string{"/healthz", "/readyz", "/"} {
			if r := sendAs(t, srv, "", "GET", p, ""); r.status != http.StatusOK {
				t.Errorf("GET %s without a key: %d, want 200", p, r.status)
			}
		}
	})
	t.Run("Legacy", func(t *testing.T) {
		get := `{"duration":"10","resource":"%s","identity":"me"}`
		if r := sendAs(t, srv, "", "POST", "/get-lock", fmt.Sprintf(get, "jobs:l")); r.status != http.StatusUnauthorized {
			t.Errorf("/get-lock without a key: %d %s, want 401", r.status, r.body)
		}
		if r := sendAs(t, srv, "write-token", "POST", "/get-lock", fmt.Sprintf(get, "billing:l")); r.status != http.StatusForbidden {
			t.Errorf("/get-lock outside the prefixes: %d %s, want 403", r.status, r.body)
		}
		if r := sendAs(t, srv, "write-token", "POST", "/get-lock", fmt.Sprintf(get, "jobs:l")); r.status != http.StatusOK {
			t.Errorf("/get-lock inside the prefixes: %d %s, want 200", r.status, r.body)
		}
		if r := sendAs(t, srv, "write-token", "POST", "/release-lock", `{"resource":"billing:l","identity":"me"}`); r.status != http.StatusForbidden {
			t.Errorf("/release-lock outside the prefixes: %d %s, want 403", r.status, r.body)
		}
		if r := sendAs(t, srv, "read-token", "POST", "/release-lock", `{"resource":"jobs:l","identity":"me"}`); r.status != http.StatusForbidden {
			t.Errorf("/release-lock with a read key: %d %s, want 403", r.status, r.body)
		}
	})
	t.Run("Metrics", func(t *testing.T) {
		m := newServer(t, memlock.New(), httpapi.WithKeys([]httpapi.Key{key(t, "reader", "read-token", httpapi.RoleRead, "jobs:")}),
			httpapi.WithMetrics(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "lockd_up 1\n") })))
		if r := sendAs(t, m, "", "GET", "/metrics", ""); r.status != http.StatusUnauthorized {
			t.Errorf("GET /metrics without a key: %d, want 401", r.status)
		}
		if r := sendAs(t, m, "read-token", "GET", "/metrics", ""); r.status != http.StatusOK || string(r.body) != "lockd_up 1\n" {
			t.Errorf("GET /metrics with a read key: %d %q, want 200 and the metrics", r.status, r.body)
		}
	})
	t.Run("Off", func(t *testing.T) {
		open := newServer(t, memlock.New())
		wantStatus(t, send(t, open, "POST", "/v1/locks/any/acquire", acquire), http.StatusOK)
	})
}

func TestParseKeyHash(t *testing.T) {
	if _, err := httpapi.ParseKeyHash("abc"); err == nil {
		t.Error("a short hash parsed")
	}
	if _, err := httpapi.ParseKeyHash(strings.Repeat("g", 64)); err == nil {
		t.Error("a hash that is not hex parsed")
	}
	for _, s := range []string{"read", "write", "admin"} {
		r, err := httpapi.ParseRole(s)
		if err != nil || r.String() != s {
			t.Errorf("ParseRole(%q) = %v, %v", s, r, err)
		}
	}
	if _, err := httpapi.ParseRole("root"); err == nil {
		t.Error("ParseRole(root) did not fail")
	}
}
