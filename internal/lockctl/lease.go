package lockctl

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/lockd/lockd"
)

func (g *globals) newExtend() *cobra.Command {
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "extend NAME LEASE",
		Short: "Push a held lease's expiry to now + --ttl and print the grant",
		Long: "extend renews the lease LEASE (as acquire printed it) of the lock NAME for --ttl from now, or for\n" +
			"its current TTL when --ttl is not given, and prints the grant.\n\n" +
			"Exits 1 when the lease no longer holds the lock (it expired, was released, or was taken over):\n" +
			"stop acting on the protected resource.",
		Example:           "  lockctl extend orders:42 9273a022713aca78b77e31cbc89c3f97 --ttl 30s",
		Args:              exactArgs("NAME", "LEASE"),
		ValidArgsFunction: noFiles,
		RunE: func(cmd *cobra.Command, args []string) error {
			name, lease := args[0], args[1]
			if cmd.Flags().Changed("ttl") {
				if err := checkTTL(ttl); err != nil {
					return err
				}
			}
			if err := lockd.ValidateLease(name, lease); err != nil {
				return g.runErr(err)
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			defer c.Close()
			l, err := c.Engine().Extend(cmd.Context(), name, lease, ttl)
			if errors.Is(err, lockd.ErrLost) {
				return &exitError{code: ExitFailure, err: err,
					msg: fmt.Sprintf("lease no longer holds lock %q (it expired, was released, or was taken over); nothing was extended", name)}
			}
			if err != nil {
				return g.runErr(err)
			}
			return g.emitGrant(l)
		},
	}
	cmd.Flags().DurationVar(&ttl, "ttl", 0, "new time-to-live from now, 100ms to 1h (default: the lease's current TTL)")
	return cmd
}

// released is what release prints. Its JSON names are the HTTP API's and
// stay stable.
type released struct {
	Name     string `json:"name"`
	Released bool   `json:"released"`
	Owner    string `json:"owner"`
	Fence    int64  `json:"fence"`
}

func (g *globals) newRelease() *cobra.Command {
	return &cobra.Command{
		Use:   "release NAME LEASE",
		Short: "Free a lock held by a lease",
		Long: "release frees the lock NAME if, and only if, the lease LEASE still holds it.\n\n" +
			"Exits 1, deleting nothing, when the lease no longer holds the lock (released before, expired, or\n" +
			"taken over); releasing twice is safe.",
		Example:           "  lockctl release orders:42 9273a022713aca78b77e31cbc89c3f97",
		Args:              exactArgs("NAME", "LEASE"),
		ValidArgsFunction: noFiles,
		RunE: func(cmd *cobra.Command, args []string) error {
			name, lease := args[0], args[1]
			if err := lockd.ValidateLease(name, lease); err != nil {
				return g.runErr(err)
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			defer c.Close()
			r, err := c.Engine().Release(cmd.Context(), name, lease)
			if errors.Is(err, lockd.ErrNotHeld) {
				return &exitError{code: ExitFailure, err: err,
					msg: fmt.Sprintf("lease does not hold lock %q (released before, expired, or taken over); nothing was released", name)}
			}
			if err != nil {
				return g.runErr(err)
			}
			out := released{Name: name, Released: true, Owner: r.Owner, Fence: r.Fence}
			return g.emit(out, func(w io.Writer) {
				fmt.Fprintf(w, "released %s (owner %s, fence %d)\n", out.Name, out.Owner, out.Fence)
			})
		},
	}
}
