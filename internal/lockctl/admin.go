package lockctl

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/wire"
)

func (g *globals) newList() *cobra.Command {
	var (
		prefix, cursor string
		limit          int
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List held locks, in name order",
		Long: "list shows the held locks whose names start with --prefix, up to --limit, in name order,\n" +
			"with owner, fence and expiry (never leases). When there are more, it says the cursor to\n" +
			"pass as --cursor for the next page. lockd lists from its store (--mongo) when it has one,\n" +
			"else from its engine: exact in dev mode, best-effort over Redis (a scan of the nodes).",
		Example:           "  lockctl list --prefix orders:\n  lockctl list --limit 100 -o json | jq -r '.locks[].name'",
		Args:              exactArgs(),
		ValidArgsFunction: noFiles,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 1 || limit > lockd.MaxListLimit {
				return usagef("--limit %d: want 1 to %d", limit, lockd.MaxListLimit)
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			defer c.Close()
			page, err := c.ListLocks(cmd.Context(), prefix, limit, cursor)
			if err != nil {
				return g.runErr(err)
			}
			out := wire.LockList{Locks: make([]wire.Lock, 0, len(page.Locks)), Next: page.Next}
			for _, l := range page.Locks {
				out.Locks = append(out.Locks, wire.FromLockInfo(l))
			}
			return g.emit(out, func(w io.Writer) {
				tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tOWNER\tFENCE\tEXPIRES")
				for _, l := range out.Locks {
					fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", l.Name, l.Owner, l.Fence, g.when(l.ExpiresAt))
				}
				_ = tw.Flush()
				if out.Next != "" {
					fmt.Fprintf(w, "more: --cursor %s\n", out.Next)
				}
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&prefix, "prefix", "", "list only names that start with this")
	f.IntVar(&limit, "limit", lockd.DefaultListLimit, fmt.Sprintf("most locks to list, 1 to %d", lockd.MaxListLimit))
	f.StringVar(&cursor, "cursor", "", "list the names after this one (the cursor a previous list gave)")
	return cmd
}

func (g *globals) newForceRelease() *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "force-release NAME --reason TEXT",
		Short: "Free a lock without its lease (admin)",
		Long: "force-release frees the lock NAME whoever holds it, for an operator's reason, which lockd\n" +
			"journals. It needs an admin key (--token). The holder is not told: its next renewal fails\n" +
			"and it loses the lock. A free lock is not an error: it says so and exits 0.",
		Example:           "  lockctl force-release orders:42 --reason 'worker hung, ticket OPS-12'",
		Args:              exactArgs("NAME"),
		ValidArgsFunction: noFiles,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			defer c.Close()
			rel, err := c.ForceRelease(cmd.Context(), args[0], reason)
			out := wire.Released{Released: err == nil, Owner: rel.Owner, Fence: rel.Fence}
			switch {
			case errors.Is(err, lockd.ErrNotHeld):
				out.Reason = lockd.CodeNotHeld
			case err != nil:
				return g.runErr(err)
			}
			return g.emit(out, func(w io.Writer) {
				if !out.Released {
					fields(w, "name", args[0], "released", "no (not held)")
					return
				}
				fields(w, "name", args[0], "released", "yes", "owner", out.Owner, "fence", strconv.FormatInt(out.Fence, 10))
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why the lock is freed without its lease (required; journaled)")
	return cmd
}
