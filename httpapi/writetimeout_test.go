package httpapi_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lockd/lockd/httpapi"
)

// TestWaitOutlastsWriteTimeout checks that a waiting acquire gets its wait
// on top of the write timeout: it answers well after the base bound.
func TestWaitOutlastsWriteTimeout(t *testing.T) {
	const writeTimeout = 200 * time.Millisecond
	srv := newServer(t, nil, httpapi.WithWriteTimeout(writeTimeout))
	a := acquire(t, srv, "w", "a", 60000)
	done := make(chan asyncResult, 1)
	start := time.Now()
	go func() {
		r, err := sendAsync(srv, "POST", "/v1/locks/w/acquire", `{"owner":"b","wait_ms":5000}`)
		done <- asyncResult{r, err}
	}()
	time.Sleep(4 * writeTimeout)
	wantStatus(t, send(t, srv, "POST", "/v1/locks/w/release", fmt.Sprintf(`{"lease":%q}`, a["lease"])), http.StatusOK)
	select {
	case res := <-done:
		if res.err != nil {
			t.Fatalf("waiting acquire: %v", res.err)
		}
		got := wantStatus(t, res.r, http.StatusOK)
		if got["owner"] != "b" {
			t.Errorf("got %v, want b holding", got)
		}
		if el := time.Since(start); el < 3*writeTimeout {
			t.Errorf("answered after %v, want past the %v write timeout for this test to mean anything", el, writeTimeout)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waiting acquire never answered")
	}
}

// TestClientThatNeverReadsIsDropped pipelines many requests on one
// connection and reads none of the answers: once the socket buffers are
// full the server's writes block, and the write timeout must close the
// connection rather than leave the handler blocked for good.
func TestClientThatNeverReadsIsDropped(t *testing.T) {
	const (
		writeTimeout = 200 * time.Millisecond
		requests     = 20000
	)
	srv := newServer(t, nil, httpapi.WithWriteTimeout(writeTimeout))
	// Answers of about 4 KiB each: ~80 MB in all, far more than the
	// socket buffers hold.
	meta := `{"x":"` + strings.Repeat("y", 4000) + `"}`
	wantStatus(t, send(t, srv, "POST", "/v1/locks/big/acquire", `{"owner":"a","ttl_ms":600000,"metadata":`+meta+`}`), http.StatusOK)

	conn, err := net.DialTimeout("tcp", srv.Listener.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	wrote := make(chan error, 1)
	go func() {
		// Ends when all is written or when the server drops the
		// connection; the deadline bounds it either way.
		_ = conn.SetWriteDeadline(time.Now().Add(20 * time.Second))
		req := []byte("GET /v1/locks/big HTTP/1.1\r\nHost: lockd\r\n\r\n")
		var err error
		for i := 0; i < requests && err == nil; i++ {
			_, err = conn.Write(req)
		}
		wrote <- err
	}()
	// Not reading for many times the write timeout.
	time.Sleep(10 * writeTimeout)

	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	rd := bufio.NewReader(conn)
	answers := 0
	for {
		resp, err := http.ReadResponse(rd, nil)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("after %d of %d answers the connection is still open, idle: want it closed by the write timeout", answers, requests)
			}
			break // closed or reset by the server: what we want
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			break
		}
		answers++
	}
	if answers >= requests {
		t.Errorf("got all %d answers, want the connection dropped before", answers)
	}
	select {
	case <-wrote:
	case <-time.After(25 * time.Second):
		t.Error("the writing goroutine did not end")
	}
	// The server is still fine for everyone else.
	wantStatus(t, send(t, srv, "GET", "/healthz", ""), http.StatusOK)
}
