package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/client"
	"github.com/lockd/lockd/httpapi"
	"github.com/lockd/lockd/memlock"
)

// lossyTransport sends every request to the server, but for requests
// whose path ends in drop it throws the first answer away and reports a
// network failure instead, after calling between: the fault lands between
// the server's action and the client learning of it.
type lossyTransport struct {
	drop    string
	between func(answer []byte)
	mu      sync.Mutex
	dropped bool
	paths   []string
}

func (lt *lossyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	lt.mu.Lock()
	lt.paths = append(lt.paths, req.URL.Path)
	drop := !lt.dropped && strings.HasSuffix(req.URL.Path, lt.drop)
	if drop {
		lt.dropped = true
	}
	lt.mu.Unlock()
	if err != nil || !drop {
		return resp, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if lt.between != nil {
		lt.between(b)
	}
	return nil, errors.New("connection reset (injected)")
}

// count returns how many requests went to paths ending in suffix.
func (lt *lossyTransport) count(suffix string) int {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	n := 0
	for _, p := range lt.paths {
		if strings.HasSuffix(p, suffix) {
			n++
		}
	}
	return n
}

// lossy serves a memory engine and returns a client whose transport is
// lt, and one that talks to the same server plainly.
func lossy(t *testing.T, lt *lossyTransport) (*client.Client, *client.Client) {
	t.Helper()
	eng := memlock.New()
	srv := httptest.NewServer(httpapi.New(eng, httpapi.WithLogger(slog.New(slog.DiscardHandler))))
	t.Cleanup(func() {
		srv.Close()
		_ = eng.Close()
	})
	return newClient(t, srv.URL, client.WithHTTPClient(&http.Client{Transport: lt})), newClient(t, srv.URL)
}

func TestRetries(t *testing.T) {
	t.Run("AcquireAnswerLost", func(t *testing.T) {
		var first struct{ Fence int64 }
		lt := &lossyTransport{drop: "/acquire", between: func(b []byte) { _ = json.Unmarshal(b, &first) }}
		c, other := lossy(t, lt)
		ctx := ctxFor(t)
		l, err := c.Acquire(ctx, "r")
		if err != nil {
			t.Fatalf("Acquire after a lost answer: %v", err)
		}
		if first.Fence == 0 || l.Fence() != first.Fence {
			t.Errorf("retried Acquire has fence %d, the lost grant %d: want the same grant back", l.Fence(), first.Fence)
		}
		if n := lt.count("/acquire"); n != 2 {
			t.Errorf("%d acquire requests, want 2", n)
		}
		if _, err := other.Acquire(ctx, "r"); !errors.Is(err, lockd.ErrNotObtained) {
			t.Errorf("Acquire by another: %v, want ErrNotObtained (one grant only)", err)
		}
	})
	t.Run("ReleaseAnswerLostNewHolder", func(t *testing.T) {
		ctx := ctxFor(t)
		var (
			newer    *client.Lease
			newerErr error
			other    *client.Client
		)
		lt := &lossyTransport{drop: "/release", between: func([]byte) {
			// The release went through; a new holder takes the lock
			// before the first client hears back.
			newer, newerErr = other.Acquire(ctx, "r", client.Owner("newer"))
		}}
		c, o := lossy(t, lt)
		other = o
		l, err := c.Acquire(ctx, "r", client.Owner("older"))
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Release(ctx); err != nil {
			t.Errorf("Release whose first answer was lost = %v, want nil", err)
		}
		if newerErr != nil {
			t.Fatalf("the new holder's Acquire: %v", newerErr)
		}
		if n := lt.count("/release"); n != 2 {
			t.Errorf("%d release requests, want 2 (one retry)", n)
		}
		info, err := other.Inspect(ctx, "r")
		if err != nil || !info.Held || info.Owner != "newer" {
			t.Errorf("Inspect = %+v, %v; want the new holder untouched", info, err)
		}
		if err := newer.Extend(ctx, 0); err != nil {
			t.Errorf("the new holder's Extend: %v", err)
		}
	})
	t.Run("Unavailable", func(t *testing.T) {
		var calls atomic.Int32
		eng := memlock.New()
		defer eng.Close()
		api := httpapi.New(eng, httpapi.WithLogger(slog.New(slog.DiscardHandler)))
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) <= 2 {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = io.WriteString(w, `{"error":{"code":"unavailable","message":"lockd: unavailable"}}`)
				return
			}
			api.ServeHTTP(w, r)
		}))
		defer srv.Close()
		if _, err := newClient(t, srv.URL).Acquire(ctxFor(t), "r"); err != nil {
			t.Errorf("Acquire after two 503s: %v", err)
		}
		if n := calls.Load(); n != 3 {
			t.Errorf("%d requests, want 3", n)
		}
	})
	t.Run("GatewayError", func(t *testing.T) {
		var calls atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			w.WriteHeader(http.StatusBadGateway)
			_, _ = io.WriteString(w, "<html>no upstream</html>")
		}))
		defer srv.Close()
		start := time.Now()
		_, err := newClient(t, srv.URL, client.WithRetry(300*time.Millisecond)).Inspect(ctxFor(t), "r")
		if !errors.Is(err, lockd.ErrUnavailable) {
			t.Errorf("Inspect through a failing proxy: %v, want ErrUnavailable", err)
		}
		if n := calls.Load(); n < 2 {
			t.Errorf("%d requests, want retries", n)
		}
		if el := time.Since(start); el > 3*time.Second {
			t.Errorf("gave up after %v with a retry budget of 300ms", el)
		}
	})
	t.Run("NotTransient", func(t *testing.T) {
		var calls atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			w.WriteHeader(http.StatusConflict)
			_, _ = io.Copy(w, bytes.NewReader([]byte(`{"error":{"code":"lock_held","message":"held"}}`)))
		}))
		defer srv.Close()
		if _, err := newClient(t, srv.URL).Acquire(ctxFor(t), "r"); !errors.Is(err, lockd.ErrNotObtained) {
			t.Errorf("Acquire = %v, want ErrNotObtained", err)
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("%d requests for a refusal, want 1", n)
		}
	})
	t.Run("CallerDeadline", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `{"error":{"code":"quorum_unavailable","message":"q"}}`)
		}))
		defer srv.Close()
		ctx, cancel := context.WithTimeout(ctxFor(t), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := newClient(t, srv.URL).Inspect(ctx, "r")
		if !errors.Is(err, lockd.ErrQuorumUnavailable) {
			t.Errorf("Inspect = %v, want ErrQuorumUnavailable (the cause, even when the deadline cut a retry short)", err)
		}
		if el := time.Since(start); el > 2*time.Second {
			t.Errorf("retried for %v past a 300ms deadline", el)
		}
	})
	t.Run("DeadlineCutsRetry", func(t *testing.T) {
		var calls atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = io.WriteString(w, `{"error":{"code":"quorum_unavailable","message":"q"}}`)
				return
			}
			<-r.Context().Done() // the retry hangs until the caller gives up
		}))
		defer srv.Close()
		ctx, cancel := context.WithTimeout(ctxFor(t), 500*time.Millisecond)
		defer cancel()
		_, err := newClient(t, srv.URL).Inspect(ctx, "r")
		if !errors.Is(err, lockd.ErrQuorumUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Inspect = %v, want the first attempt's ErrQuorumUnavailable joined with the deadline", err)
		}
		if n := calls.Load(); n != 2 {
			t.Errorf("%d requests, want 2", n)
		}
	})
}
