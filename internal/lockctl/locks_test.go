package lockctl_test

import (
	"strings"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/lockctl"
)

func TestAcquire(t *testing.T) {
	url := serve(t)
	t.Run("Text", func(t *testing.T) {
		r := lockctlAt(t, url, "acquire", "acq:text", "--owner", "alice", "--ttl", "30s", "--metadata", "job=nightly")
		wantCode(t, r, lockctl.ExitOK)
		for _, want := range []string{"name:", "acq:text", "owner:", "alice", "lease:", "fence:", "ttl:", "30s", "expires:", "(in ", `metadata:  {"job":"nightly"}`} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
			}
		}
	})
	t.Run("JSON", func(t *testing.T) {
		g := acquire(t, url, "acq:json", "alice", "--ttl", "30s", "--metadata", "job=nightly", "--metadata", "run=a=b")
		if g.Name != "acq:json" || g.Owner != "alice" || !lockd.IsLeaseID(g.Lease) || g.Fence < 1 || g.TTLMs != 30000 {
			t.Errorf("grant %+v, want acq:json, alice, a lease, a fence, ttl_ms 30000", g)
		}
		if _, err := time.Parse(time.RFC3339Nano, g.ExpiresAt); err != nil {
			t.Errorf("expires_at %q: %v", g.ExpiresAt, err)
		}
		if g.Metadata["job"] != "nightly" || g.Metadata["run"] != "a=b" || len(g.Metadata) != 2 {
			t.Errorf("metadata %v, want job=nightly run=a=b", g.Metadata)
		}
	})
	t.Run("Fair", func(t *testing.T) {
		if g := acquire(t, url, "acq:fair", "alice", "--fair"); g.Fence < 1 {
			t.Errorf("fair acquire of a free lock: grant %+v", g)
		}
		r := lockctlAt(t, url, "acquire", "acq:fair", "--owner", "bob", "--fair", "--wait", "100ms")
		wantCode(t, r, lockctl.ExitNotObtained)
	})
	t.Run("ErrNotObtained", func(t *testing.T) {
		acquire(t, url, "acq:held", "alice")
		r := lockctlAt(t, url, "acquire", "acq:held", "--owner", "bob", "--wait", "100ms")
		wantCode(t, r, lockctl.ExitNotObtained)
		if want := `lockctl: lock "acq:held" is held by owner "alice" until `; !strings.HasPrefix(r.stderr, want) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("stderr %q, want one line starting %q", r.stderr, want)
		}
		if r.stdout != "" {
			t.Errorf("stdout %q, want nothing", r.stdout)
		}
	})
	t.Run("ErrInvalidArgument", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			args []string
			want string
		}{
			{"NoEquals", []string{"acq:md", "--metadata", "job"}, `--metadata "job": want key=value`},
			{"EmptyKey", []string{"acq:md", "--metadata", "=x"}, `--metadata "=x": the key is empty`},
			{"DuplicateKey", []string{"acq:md", "--metadata", "a=1", "--metadata", "a=2"}, `--metadata: key "a" given twice`},
			{"MetadataTooBig", []string{"acq:md", "--metadata", "k=" + strings.Repeat("x", lockd.MaxMetadataLen)}, "invalid --metadata: is "},
			{"TTL", []string{"acq:ttl", "--ttl", "50ms"}, "--ttl 50ms: want 100ms to 1h0m0s"},
			{"Wait", []string{"acq:wait", "--wait", "6m"}, "--wait 6m0s: want 0 to 5m0s"},
			{"Name", []string{"bad name"}, "invalid NAME: may hold only"},
			{"MissingName", nil, "want NAME, got 0 argument(s)"},
			{"UnknownFlag", []string{"acq:x", "--bogus"}, "unknown flag: --bogus"},
			{"BadDuration", []string{"acq:x", "--ttl", "soon"}, `invalid argument "soon" for "--ttl" flag`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := lockctlAt(t, url, append([]string{"acquire"}, tc.args...)...)
				wantCode(t, r, lockctl.ExitUsage)
				if !strings.Contains(r.stderr, tc.want) || !strings.HasSuffix(r.stderr, "(see 'lockctl acquire --help')\n") {
					t.Errorf("stderr %q, want %q and a pointer to help", r.stderr, tc.want)
				}
			})
		}
	})
}

func TestExtend(t *testing.T) {
	url := serve(t)
	t.Run("Text", func(t *testing.T) {
		g := acquire(t, url, "ext:text", "alice")
		r := lockctlAt(t, url, "extend", "ext:text", g.Lease, "--ttl", "45s")
		wantCode(t, r, lockctl.ExitOK)
		for _, want := range []string{"ext:text", g.Lease, "ttl:", "45s", "expires:"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
			}
		}
	})
	t.Run("JSON", func(t *testing.T) {
		g := acquire(t, url, "ext:json", "alice", "--ttl", "20s")
		r := lockctlAt(t, url, "extend", "ext:json", g.Lease, "-o", "json")
		wantCode(t, r, lockctl.ExitOK)
		var e grant
		decode(t, r, &e)
		if e.Name != g.Name || e.Owner != "alice" || e.Lease != g.Lease || e.Fence != g.Fence || e.TTLMs != 20000 {
			t.Errorf("extend without --ttl: %+v, want the grant %+v with its TTL kept", e, g)
		}
	})
	t.Run("ErrLost", func(t *testing.T) {
		r := lockctlAt(t, url, "extend", "ext:lost", lockd.NewLeaseID())
		wantCode(t, r, lockctl.ExitFailure)
		if want := `lockctl: lease no longer holds lock "ext:lost"`; !strings.HasPrefix(r.stderr, want) {
			t.Errorf("stderr %q, want %q", r.stderr, want)
		}
	})
	t.Run("ErrInvalidArgument", func(t *testing.T) {
		r := lockctlAt(t, url, "extend", "ext:bad", "not-a-lease")
		wantCode(t, r, lockctl.ExitUsage)
		if !strings.Contains(r.stderr, "invalid LEASE") {
			t.Errorf("stderr %q, want invalid LEASE", r.stderr)
		}
	})
}

func TestRelease(t *testing.T) {
	url := serve(t)
	t.Run("Text", func(t *testing.T) {
		g := acquire(t, url, "rel:text", "alice")
		r := lockctlAt(t, url, "release", "rel:text", g.Lease)
		wantCode(t, r, lockctl.ExitOK)
		if want := "released rel:text (owner alice, fence "; !strings.HasPrefix(r.stdout, want) {
			t.Errorf("stdout %q, want %q", r.stdout, want)
		}
	})
	t.Run("JSON", func(t *testing.T) {
		g := acquire(t, url, "rel:json", "alice")
		r := lockctlAt(t, url, "release", "rel:json", g.Lease, "-o", "json")
		wantCode(t, r, lockctl.ExitOK)
		var got struct {
			Name     string `json:"name"`
			Released bool   `json:"released"`
			Owner    string `json:"owner"`
			Fence    int64  `json:"fence"`
		}
		decode(t, r, &got)
		if got.Name != "rel:json" || !got.Released || got.Owner != "alice" || got.Fence != g.Fence {
			t.Errorf("release: %+v, want rel:json released, alice, fence %d", got, g.Fence)
		}
		if r := lockctlAt(t, url, "inspect", "rel:json"); !strings.Contains(r.stdout, "held:  no") {
			t.Errorf("inspect after release: %q, want free", r.stdout)
		}
	})
	t.Run("ErrNotHeld", func(t *testing.T) {
		g := acquire(t, url, "rel:twice", "alice")
		wantCode(t, lockctlAt(t, url, "release", "rel:twice", g.Lease), lockctl.ExitOK)
		r := lockctlAt(t, url, "release", "rel:twice", g.Lease)
		wantCode(t, r, lockctl.ExitFailure)
		if want := `lockctl: lease does not hold lock "rel:twice"`; !strings.HasPrefix(r.stderr, want) {
			t.Errorf("stderr %q, want %q", r.stderr, want)
		}
	})
}

func TestInspect(t *testing.T) {
	url := serve(t)
	g := acquire(t, url, "insp:held", "alice", "--metadata", "job=nightly")
	acquire(t, url, "insp:read", "r1", "--mode", "read")
	acquire(t, url, "insp:read", "r2", "--mode", "read")
	type state struct {
		Name      string            `json:"name"`
		Held      bool              `json:"held"`
		Owner     string            `json:"owner"`
		Fence     int64             `json:"fence"`
		ExpiresAt string            `json:"expires_at"`
		Metadata  map[string]string `json:"metadata"`
	}
	for _, tc := range []struct {
		name, lock string
		json       bool
		want       []string
		wantState  state
	}{
		{name: "HeldText", lock: "insp:held", want: []string{"name:", "insp:held", "held:", "yes", "owner:", "alice", "fence:", "expires:", `{"job":"nightly"}`}},
		{name: "ReadersText", lock: "insp:read", want: []string{"held:", "yes, by 2 readers"}},
		{name: "FreeText", lock: "insp:free", want: []string{"name:  insp:free\nheld:  no\n"}},
		{name: "HeldJSON", lock: "insp:held", json: true, wantState: state{Name: "insp:held", Held: true, Owner: "alice", Fence: g.Fence, ExpiresAt: g.ExpiresAt, Metadata: map[string]string{"job": "nightly"}}},
		{name: "FreeJSON", lock: "insp:free", json: true, wantState: state{Name: "insp:free"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"inspect", tc.lock}
			if tc.json {
				args = append(args, "-o", "json")
			}
			r := lockctlAt(t, url, args...)
			wantCode(t, r, lockctl.ExitOK)
			if r.stdout == "" || strings.Contains(r.stdout, g.Lease) {
				t.Fatalf("stdout %q, want the lock's state without its lease", r.stdout)
			}
			for _, want := range tc.want {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
				}
			}
			if !tc.json {
				return
			}
			var got state
			decode(t, r, &got)
			if got.Name != tc.wantState.Name || got.Held != tc.wantState.Held || got.Owner != tc.wantState.Owner ||
				got.Fence != tc.wantState.Fence || got.Metadata["job"] != tc.wantState.Metadata["job"] || (got.ExpiresAt == "") == tc.wantState.Held {
				t.Errorf("got %+v, want %+v", got, tc.wantState)
			}
			if !tc.wantState.Held && strings.Contains(r.stdout, "owner") {
				t.Errorf("free lock's JSON %q, want no owner field", r.stdout)
			}
		})
	}
}
