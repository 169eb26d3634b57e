package httpapi_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/httpapi"
	"github.com/lockd/lockd/memlock"
)

// TestWaitEndedByShutdown checks what a waiting acquire is told when the
// server cancels its context: 503 unavailable when the cause is
// lockd.ErrUnavailable (shutting down: retry on another lockd), and
// lock_held as before for any other cause.
func TestWaitEndedByShutdown(t *testing.T) {
	tests := []struct {
		name   string
		cause  error
		status int
		code   string
	}{
		{"ErrUnavailable", lockd.ErrUnavailable, http.StatusServiceUnavailable, lockd.CodeUnavailable},
		{"WrappedErrUnavailable", errors.Join(errors.New("shutting down"), lockd.ErrUnavailable), http.StatusServiceUnavailable, lockd.CodeUnavailable},
		{"OtherCause", errors.New("something else"), http.StatusConflict, lockd.CodeLockHeld},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			eng := memlock.New()
			srv := httptest.NewUnstartedServer(httpapi.New(eng, httpapi.WithLogger(discardLogger())))
			srv.Config.BaseContext = func(net.Listener) context.Context { return base }
			srv.Start()
			t.Cleanup(func() {
				srv.Close()
				_ = eng.Close()
			})
			acquire(t, srv, "w", "a", 60000)
			done := make(chan asyncResult, 1)
			go func() {
				r, err := sendAsync(srv, "POST", "/v1/locks/w/acquire", `{"owner":"b","wait_ms":60000}`)
				done <- asyncResult{r, err}
			}()
			time.Sleep(100 * time.Millisecond)
			cancel(tt.cause)
			select {
			case res := <-done:
				if res.err != nil {
					t.Fatalf("waiting acquire: %v", res.err)
				}
				wantError(t, res.r, tt.status, tt.code, "")
			case <-time.After(5 * time.Second):
				t.Fatal("the waiting acquire did not answer after its context was cancelled")
			}
		})
	}
}
