package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/httpapi"
	"github.com/lockd/lockd/locktest"
	"github.com/lockd/lockd/memlock"
)

func TestHistory(t *testing.T) {
	j := &locktest.Journal{}
	srv := newServer(t, lockd.Journaled(memlock.New(), j, "lockd-test"), httpapi.WithJournal(j))
	a := acquire(t, srv, "h", "a", 5000)
	wantStatus(t, send(t, srv, "POST", "/v1/locks/h/acquire", `{"owner":"b"}`), http.StatusConflict)
	wantStatus(t, send(t, srv, "POST", "/v1/locks/h/release", fmt.Sprintf(`{"lease":%q}`, a["lease"])), http.StatusOK)

	t.Run("OK", func(t *testing.T) {
		body := wantStatus(t, send(t, srv, "GET", "/v1/locks/h/history", ""), http.StatusOK)
		events, _ := body["events"].([]any)
		if len(events) != 3 {
			t.Fatalf("got %d events %v, want 3", len(events), body)
		}
		kinds := []string{}
		for _, e := range events {
			m := e.(map[string]any)
			kinds = append(kinds, m["kind"].(string))
			if _, ok := m["lease"]; ok {
				t.Errorf("event %v shows a lease value", m)
			}
			if m["instance"] != "lockd-test" || m["name"] != "h" || m["at"] == "" {
				t.Errorf("event %v lacks instance, name or time", m)
			}
		}
		if fmt.Sprint(kinds) != "[released denied acquired]" {
			t.Errorf("got kinds %v, want newest first: released denied acquired", kinds)
		}
		first := events[2].(map[string]any)
		if first["owner"] != "a" || first["fence"] != a["fence"] {
			t.Errorf("acquired event %v, want owner a and fence %v", first, a["fence"])
		}
	})
	t.Run("Limit", func(t *testing.T) {
		body := wantStatus(t, send(t, srv, "GET", "/v1/locks/h/history?limit=1", ""), http.StatusOK)
		if events, _ := body["events"].([]any); len(events) != 1 {
			t.Errorf("got %v, want one event", body)
		}
	})
	t.Run("Empty", func(t *testing.T) {
		body := wantStatus(t, send(t, srv, "GET", "/v1/locks/never-used/history", ""), http.StatusOK)
		if events, ok := body["events"].([]any); !ok || len(events) != 0 {
			t.Errorf("got %v, want an empty events list", body)
		}
	})
	for _, q := range []string{"0", "1001", "-1", "x", "1.5", ""} {
		t.Run("ErrInvalidArgument:limit="+q, func(t *testing.T) {
			wantError(t, send(t, srv, "GET", "/v1/locks/h/history?limit="+q, ""), http.StatusBadRequest, lockd.CodeInvalidArgument, "limit")
		})
	}
	t.Run("ErrInvalidArgument:name", func(t *testing.T) {
		wantError(t, send(t, srv, "GET", "/v1/locks/a%20b/history", ""), http.StatusBadRequest, lockd.CodeInvalidArgument, "name")
	})
	t.Run("ErrStoreUnavailable", func(t *testing.T) {
		j.FailHistory(fmt.Errorf("%w: connection refused to db-host:27017", lockd.ErrStoreUnavailable))
		defer j.FailHistory(nil)
		r := send(t, srv, "GET", "/v1/locks/h/history", "")
		e := wantError(t, r, http.StatusServiceUnavailable, lockd.CodeStoreUnavailable, "")
		if e["message"] != "lockd: store unavailable" {
			t.Errorf("got %s, want the sentinel text and no internal detail", r.body)
		}
	})
}

func TestHistoryNotConfigured(t *testing.T) {
	srv := newServer(t, memlock.New())
	wantError(t, send(t, srv, "GET", "/v1/locks/h/history", ""), http.StatusNotImplemented, lockd.CodeNotConfigured, "")
	wantError(t, send(t, srv, "GET", "/v1/locks/h/history?limit=0", ""), http.StatusBadRequest, lockd.CodeInvalidArgument, "limit")
}

func TestAcquireStoreUnavailable(t *testing.T) {
	f := newFake()
	f.acquire = func(ctx context.Context, name string, opts lockd.AcquireOptions) (lockd.Lease, error) {
		return lockd.Lease{}, fmt.Errorf("%w: mongo at db-host: timeout", lockd.ErrStoreUnavailable)
	}
	srv := newServer(t, f)
	r := send(t, srv, "POST", "/v1/locks/x/acquire", `{"owner":"a"}`)
	e := wantError(t, r, http.StatusServiceUnavailable, lockd.CodeStoreUnavailable, "")
	if e["message"] != "lockd: store unavailable" {
		t.Errorf("got message %v, want the sentinel text only", e["message"])
	}
}

func TestReadyCheck(t *testing.T) {
	var mu sync.Mutex
	var storeErr error
	check := func(ctx context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		return storeErr
	}
	srv := newServer(t, memlock.New(), httpapi.WithReadyCheck("store", check))
	body := wantStatus(t, send(t, srv, "GET", "/readyz", ""), http.StatusOK)
	if nodes, _ := body["nodes"].([]any); len(nodes) != 2 {
		t.Fatalf("got %v, want the engine node and the store", body)
	}
	mu.Lock()
	storeErr = errors.Join(lockd.ErrStoreUnavailable, errors.New("db-host:27017 refused"))
	mu.Unlock()
	r := send(t, srv, "GET", "/readyz", "")
	body = wantStatus(t, r, http.StatusServiceUnavailable)
	store := body["nodes"].([]any)[1].(map[string]any)
	if body["ready"] != false || store["addr"] != "store" || store["ok"] != false || store["error"] != lockd.CodeStoreUnavailable {
		t.Errorf("got %s, want not ready with the store failing as store_unavailable", r.body)
	}
}
