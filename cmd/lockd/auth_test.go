package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/client"
	"github.com/lockd/lockd/httpapi"
	"github.com/lockd/lockd/internal/testenv"
)

// testCert makes a self-signed certificate for 127.0.0.1 (see
// testenv.Cert).
func testCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	return testenv.Cert(t, t.TempDir())
}

// TestTLSAndKeys runs lockd with HTTPS and API keys from its config file,
// end to end: the SDK with the key and the test certificate gets a lock;
// without the key it is refused; plain HTTP gets nothing.
func TestTLSAndKeys(t *testing.T) {
	certFile, keyFile, pool := testCert(t)
	conf := writeFile(t, fmt.Sprintf(`
keys:
  - name: app
    sha256: %s
    role: write
    prefixes: ["app:"]
  - name: dash
    sha256: %s
    role: read
`, httpapi.HashToken("app-token"), httpapi.HashToken("dash-token")))
	s := start(t, "--config", conf, "--tls-cert", certFile, "--tls-key", keyFile)
	base := "https://" + s.addr
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}

	c, err := client.New(base, client.WithHTTPClient(hc), client.WithToken("app-token"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := c.Acquire(ctxFor(t), "app:job")
	if err != nil {
		t.Fatalf("acquire over HTTPS with the key: %v", err)
	}
	if err := l.Release(ctxFor(t)); err != nil {
		t.Fatalf("release: %v", err)
	}
	if _, err := c.Acquire(ctxFor(t), "other:job"); !errors.Is(err, lockd.ErrPermissionDenied) {
		t.Errorf("outside the key's prefixes: %v, want ErrPermissionDenied", err)
	}
	dash, err := client.New(base, client.WithHTTPClient(hc), client.WithToken("dash-token"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dash.Inspect(ctxFor(t), "other:job"); err != nil {
		t.Errorf("read key without prefixes inspecting: %v", err)
	}
	if _, err := dash.Acquire(ctxFor(t), "app:job"); !errors.Is(err, lockd.ErrPermissionDenied) {
		t.Errorf("read key acquiring: %v, want ErrPermissionDenied", err)
	}
	anon, err := client.New(base, client.WithHTTPClient(hc))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := anon.Acquire(ctxFor(t), "app:job"); !errors.Is(err, lockd.ErrUnauthenticated) {
		t.Errorf("without a key: %v, want ErrUnauthenticated", err)
	}
	if resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + s.addr + "/healthz"); err == nil {
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP to the HTTPS listener answered 200")
		}
	}
	if !strings.Contains(s.logs.String(), `"scheme":"https"`) || !strings.Contains(s.logs.String(), `"api_keys":2`) {
		t.Errorf("the listening line does not say https with 2 keys; logs:\n%s", s.logs)
	}
}

func TestBadTLSAndKeysConfig(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"KeyWithoutRole", "keys:\n  - name: a\n    sha256: " + httpapi.HashToken("x") + "\n", "role is required"},
		{"KeyBadHash", "keys:\n  - name: a\n    sha256: abc\n    role: read\n", "want 64 hex digits"},
		{"KeyBadRole", "keys:\n  - name: a\n    sha256: " + httpapi.HashToken("x") + "\n    role: root\n", "want read, write or admin"},
		{"KeyTwice", "keys:\n  - {name: a, sha256: " + httpapi.HashToken("x") + ", role: read}\n  - {name: a, sha256: " + httpapi.HashToken("y") + ", role: read}\n", `name "a" is used twice`},
		{"KeyUnknownField", "keys:\n  - {name: a, token: x}\n", `unknown field "token"`},
		{"CertWithoutKey", "tls-cert: /x.pem\n", "go together"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseConfig([]string{"--config", writeFile(t, tc.body)}, envOf(nil), nil, nil)
			var ue *usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want a usage error containing %q", err, tc.want)
			}
		})
	}
}

func TestOpenToOthers(t *testing.T) {
	key := []httpapi.Key{{Name: "k"}}
	for _, tc := range []struct {
		addr string
		keys []httpapi.Key
		want bool
	}{
		{"127.0.0.1:3000", nil, false},
		{"[::1]:3000", nil, false},
		{"localhost:3000", nil, false},
		{":3000", nil, true},
		{"0.0.0.0:3000", nil, true},
		{":3000", key, false},
	} {
		if got := openToOthers(config{addr: tc.addr, keys: tc.keys}); got != tc.want {
			t.Errorf("openToOthers(%s, %d keys) = %v, want %v", tc.addr, len(tc.keys), got, tc.want)
		}
	}
}

func ctxFor(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}
