package lockctl_test

import (
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/httpapi"
	"github.com/lockd/lockd/internal/lockctl"
	"github.com/lockd/lockd/locktest"
	"github.com/lockd/lockd/memlock"
)

// TestListAndForceRelease: lockctl list pages through held locks, and
// force-release frees one with an admin key and a reason (journaled),
// refusing a write key and a missing reason.
func TestListAndForceRelease(t *testing.T) {
	admin, _ := httpapi.ParseKeyHash(httpapi.HashToken("adm"))
	app, _ := httpapi.ParseKeyHash(httpapi.HashToken("app"))
	j := &locktest.Journal{}
	eng := lockd.Journaled(memlock.New(), j, "test")
	srv := httptest.NewServer(httpapi.New(eng, httpapi.WithLogger(slog.New(slog.DiscardHandler)), httpapi.WithJournal(j),
		httpapi.WithKeys([]httpapi.Key{{Name: "admin", Hash: admin, Role: httpapi.RoleAdmin}, {Name: "app", Hash: app, Role: httpapi.RoleWrite}})))
	t.Cleanup(func() {
		srv.Close()
		_ = eng.Close()
	})
	for _, n := range []string{"q:1", "q:2", "q:3"} {
		wantCode(t, lockctlAt(t, srv.URL, "--token", "app", "acquire", n, "--ttl", "1m"), lockctl.ExitOK)
	}
	r := lockctlAt(t, srv.URL, "--token", "adm", "list", "--prefix", "q:", "--limit", "2")
	wantCode(t, r, lockctl.ExitOK)
	if !strings.Contains(r.stdout, "q:1") || !strings.Contains(r.stdout, "q:2") || strings.Contains(r.stdout, "q:3") || !strings.Contains(r.stdout, "--cursor q:2") {
		t.Errorf("list page 1:\n%s", r.stdout)
	}
	r = lockctlAt(t, srv.URL, "--token", "adm", "-o", "json", "list", "--prefix", "q:", "--cursor", "q:2")
	wantCode(t, r, lockctl.ExitOK)
	if !strings.Contains(r.stdout, `"name": "q:3"`) || strings.Contains(r.stdout, `"next"`) {
		t.Errorf("list page 2: %s", r.stdout)
	}
	wantCode(t, lockctlAt(t, srv.URL, "--token", "adm", "list", "--limit", "0"), lockctl.ExitUsage)
	wantCode(t, lockctlAt(t, srv.URL, "--token", "app", "force-release", "q:1", "--reason", "x"), lockctl.ExitNoPerm)
	wantCode(t, lockctlAt(t, srv.URL, "--token", "adm", "force-release", "q:1"), lockctl.ExitUsage)
	r = lockctlAt(t, srv.URL, "--token", "adm", "force-release", "q:1", "--reason", "worker hung")
	wantCode(t, r, lockctl.ExitOK)
	if !strings.Contains(r.stdout, "released") || !strings.Contains(r.stdout, "yes") {
		t.Errorf("force-release:\n%s", r.stdout)
	}
	r = lockctlAt(t, srv.URL, "--token", "adm", "force-release", "q:1", "--reason", "again")
	wantCode(t, r, lockctl.ExitOK)
	if !strings.Contains(r.stdout, "not held") {
		t.Errorf("force-release of a free lock:\n%s", r.stdout)
	}
	found := false
	for _, ev := range j.Events() {
		found = found || ev.Kind == lockd.EventForceReleased && ev.Name == "q:1" && ev.Reason == "worker hung"
	}
	if !found {
		t.Errorf("journal %+v has no forced release of q:1 with its reason", j.Events())
	}
}
