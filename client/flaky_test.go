package client_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/client"
	"github.com/lockd/lockd/httpapi"
	"github.com/lockd/lockd/memlock"
)

// flaky is a real memory engine that fails extends on demand, the way an
// engine that lost its quorum does, so that keep-alive can be tested
// through both kinds of Client.
type flaky struct {
	lockd.Engine
	mu        sync.Mutex
	extendErr error
	hang      bool // Extend waits for its context to end
	extends   int
}

// hangExtends makes every Extend wait until its context ends, as a call
// to an engine that does not answer, until it is called with false.
func (f *flaky) hangExtends(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hang = on
}

// failExtends makes every Extend return err until it is called with nil.
func (f *flaky) failExtends(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.extendErr = err
}

// extendCalls returns how many Extends were asked for.
func (f *flaky) extendCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.extends
}

func (f *flaky) Extend(ctx context.Context, name, leaseID string, ttl time.Duration) (lockd.Lease, error) {
	f.mu.Lock()
	err, hang := f.extendErr, f.hang
	f.extends++
	f.mu.Unlock()
	if hang {
		<-ctx.Done()
		return lockd.Lease{}, ctx.Err()
	}
	if err != nil {
		return lockd.Lease{}, err
	}
	return f.Engine.Extend(ctx, name, leaseID, ttl)
}

// both runs f once with a Client that links a fresh engine (NewLocal) and
// once with one that calls the same kind of engine through lockd's HTTP
// API (New): the SDK must behave the same either way.
func both(t *testing.T, f func(t *testing.T, c *client.Client, eng *flaky)) {
	t.Helper()
	for _, mode := range []string{"Local", "Remote"} {
		t.Run(mode, func(t *testing.T) {
			eng := &flaky{Engine: memlock.New()}
			t.Cleanup(func() { _ = eng.Engine.Close() })
			f(t, connect(t, mode, eng), eng)
		})
	}
}

// connect returns a Client of the kind mode names over eng.
func connect(t *testing.T, mode string, eng lockd.Engine, opts ...client.Option) *client.Client {
	t.Helper()
	if mode == "Local" {
		c, err := client.NewLocal(eng, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	srv := httptest.NewServer(httpapi.New(eng, httpapi.WithLogger(slog.New(slog.DiscardHandler))))
	t.Cleanup(srv.Close)
	return newClient(t, srv.URL, opts...)
}

// closedWithin waits up to d for l's Done and reports how long it took,
// failing the test when it stayed open.
func closedWithin(t *testing.T, l *client.Lease, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	select {
	case <-l.Done():
		return time.Since(start)
	case <-time.After(d):
		t.Fatalf("Done still open after %v (Err %v)", d, l.Err())
		return 0
	}
}

// stillOpen fails the test when l's Done has closed.
func stillOpen(t *testing.T, l *client.Lease) {
	t.Helper()
	select {
	case <-l.Done():
		t.Fatalf("Done closed: %v", l.Err())
	default:
	}
	if err := l.Err(); err != nil {
		t.Fatalf("Err = %v while Done is open", err)
	}
}
