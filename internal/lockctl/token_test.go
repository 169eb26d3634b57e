package lockctl_test

import (
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lockd/lockd/httpapi"
	"github.com/lockd/lockd/internal/lockctl"
	"github.com/lockd/lockd/memlock"
)

// TestToken: against a lockd that asks for keys, lockctl without a token
// exits 77 and says how to give one; --token and LOCKD_TOKEN both work;
// a key outside its prefixes exits 77 too.
func TestToken(t *testing.T) {
	h, err := httpapi.ParseKeyHash(httpapi.HashToken("tok"))
	if err != nil {
		t.Fatal(err)
	}
	eng := memlock.New()
	srv := httptest.NewServer(httpapi.New(eng, httpapi.WithLogger(slog.New(slog.DiscardHandler)),
		httpapi.WithKeys([]httpapi.Key{{Name: "ci", Hash: h, Role: httpapi.RoleWrite, Prefixes: []string{"ci:"}}})))
	t.Cleanup(func() {
		srv.Close()
		_ = eng.Close()
	})
	r := lockctlAt(t, srv.URL, "inspect", "ci:a")
	wantCode(t, r, lockctl.ExitNoPerm)
	if !strings.Contains(r.stderr, "--token") {
		t.Errorf("stderr %q does not say how to give a key", r.stderr)
	}
	wantCode(t, lockctlAt(t, srv.URL, "--token", "tok", "inspect", "ci:a"), lockctl.ExitOK)
	wantCode(t, run(t.Context(), t, map[string]string{"LOCKD_TOKEN": "tok", "LOCKD_URL": srv.URL}, "inspect", "ci:a"), lockctl.ExitOK)
	wantCode(t, lockctlAt(t, srv.URL, "--token", "tok", "acquire", "other:a"), lockctl.ExitNoPerm)
}
