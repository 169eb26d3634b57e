package lockctl

import (
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/client"
	"github.com/lockd/lockd/internal/wire"
)

// emitGrant prints the lease l as lockd granted it, in the HTTP API's
// shape (wire.Lease), so the JSON names cannot drift.
func (g *globals) emitGrant(l lockd.Lease) error {
	gr := wire.FromLease(l)
	return g.emit(gr, func(w io.Writer) {
		fields(w,
			"name", gr.Name,
			"owner", gr.Owner,
			"lease", gr.Lease,
			"fence", strconv.FormatInt(gr.Fence, 10),
			"ttl", (time.Duration(gr.TTLMs) * time.Millisecond).String(),
			"expires", g.when(gr.ExpiresAt),
			"metadata", string(gr.Metadata),
			"mode", gr.Mode,
			"hold", gr.Hold,
			"holds", holdsText(gr.Holds))
	})
}

func (g *globals) newAcquire() *cobra.Command {
	var (
		ttl, wait time.Duration
		meta      []string
		fair      bool
		reentrant bool
		lease     string
		mode      string
	)
	cmd := &cobra.Command{
		Use:   "acquire NAME",
		Short: "Take a lock and print its grant: name, owner, lease, fence, expiry",
		Long: "acquire takes the lock NAME for --ttl, waiting up to --wait while someone else holds it, and prints\n" +
			"the grant. Keep the lease: it is the secret that extend and release need. Nothing renews the lease;\n" +
			"it runs out after --ttl unless extended.\n\n" +
			"With --reentrant the lease is reentrant: acquire --reentrant --lease LEASE takes one more hold on the\n" +
			"lock under that lease (same fence), and each release removes one hold, the most recent first; the\n" +
			"lock is free once every hold is released. With --mode read the lease is a read lease: readers share\n" +
			"the lock and keep writers out.\n\n" +
			"Exits 75 when another lease holds the lock past --wait, 69 when lockd or its quorum is unavailable.",
		Example: "  lockctl acquire orders:42 --ttl 30s --wait 5s --metadata job=nightly\n" +
			"  lease=$(lockctl acquire orders:42 -o json | jq -r .lease)\n" +
			"  lease=$(lockctl acquire orders:42 --reentrant -o json | jq -r .lease)\n" +
			"  lockctl acquire orders:42 --reentrant --lease \"$lease\"",
		Args:              exactArgs("NAME"),
		ValidArgsFunction: noFiles,
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := checkTTL(ttl); err != nil {
				return err
			}
			if wait < 0 || wait > lockd.MaxWait {
				return usagef("--wait %s: want 0 to %s", wait, lockd.MaxWait)
			}
			md, err := parseMetadata(meta)
			if err != nil {
				return err
			}
			if lease != "" && !reentrant {
				return usagef("--lease: only with --reentrant, to take one more hold under that lease")
			}
			// What lockd would refuse is refused here, before any request.
			o := lockd.AcquireOptions{Owner: g.owner, Lease: lease, TTL: ttl, Wait: wait, Metadata: md, Reentrant: reentrant, Mode: mode}
			if o, err = o.Prepare(name); err != nil {
				return g.runErr(err)
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			defer c.Close()
			if lease != "" {
				// One more hold under a lease this command did not make: one
				// request, as extend and release send theirs.
				l, err := c.Engine().Acquire(cmd.Context(), name, o)
				if err != nil {
					return g.runErr(err)
				}
				return g.emitGrant(l)
			}
			opts := []client.AcquireOption{client.Owner(g.owner), client.TTL(ttl), client.Wait(wait), client.Metadata(md)}
			if fair {
				opts = append(opts, client.Fair())
			}
			if mode == lockd.ModeRead {
				opts = append(opts, client.Read())
			}
			holds := 0
			if reentrant {
				opts = append(opts, client.Reentrant())
				holds = 1
			}
			l, err := c.Acquire(cmd.Context(), name, opts...)
			if err != nil {
				return g.runErr(err)
			}
			return g.emitGrant(lockd.Lease{
				Name: l.Name(), Owner: l.Owner(), ID: l.ID(), Fence: l.Fence(),
				TTL: l.TTL(), ExpiresAt: l.ExpiresAt(), Metadata: l.Metadata(),
				Hold: l.Hold(), Holds: holds, Mode: l.Mode(),
			})
		},
	}
	f := cmd.Flags()
	f.DurationVar(&ttl, "ttl", lockd.DefaultTTL, "lease time-to-live, 100ms to 1h")
	f.DurationVar(&wait, "wait", 0, "how long to keep trying while someone else holds the lock, up to 5m; 0 tries once")
	f.BoolVar(&fair, "fair", false, "wait behind the acquires already waiting at this lockd instead of trying first; with --wait 0, refused while anyone waits")
	f.StringArrayVar(&meta, "metadata", nil, "key=value stored with the lease and shown by inspect; repeat for more keys")
	f.BoolVar(&reentrant, "reentrant", false, "make the lease reentrant: each acquire with it takes one more hold, each release removes one")
	f.StringVar(&lease, "lease", "", "with --reentrant: take one more hold on the lock under this lease, which holds it")
	f.StringVar(&mode, "mode", lockd.ModeWrite, "read (shared with other readers) or write (exclusive)")
	return cmd
}

// holdsText is a reentrant lease's hold count for text output; "" for a
// lease that is not reentrant.
func holdsText(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// checkTTL returns a usage error unless ttl is one lockd accepts.
func checkTTL(ttl time.Duration) error {
	if ttl < lockd.MinTTL || ttl > lockd.MaxTTL {
		return usagef("--ttl %s: want %s to %s", ttl, lockd.MinTTL, lockd.MaxTTL)
	}
	return nil
}

// parseMetadata turns --metadata key=value pairs into a JSON object of
// strings, or nil for none. It returns a usage error for a pair without
// "=", an empty key, or a key given twice.
func parseMetadata(pairs []string) (json.RawMessage, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(pairs))
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		switch {
		case !ok:
			return nil, usagef("--metadata %q: want key=value", p)
		case k == "":
			return nil, usagef("--metadata %q: the key is empty", p)
		}
		if _, dup := m[k]; dup {
			return nil, usagef("--metadata: key %q given twice", k)
		}
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, usagef("--metadata: %v", err)
	}
	return b, nil
}
