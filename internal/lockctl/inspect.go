package lockctl

import (
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/wire"
)

func (g *globals) newInspect() *cobra.Command {
	return &cobra.Command{
		Use:   "inspect NAME",
		Short: "Show who holds a lock, its fence and expiry (never its lease)",
		Long: "inspect shows whether the lock NAME is held and, when it is, by which owner, with which fence,\n" +
			"until when, and its metadata. A free lock is not an error: it exits 0.",
		Example:           "  lockctl inspect orders:42\n  lockctl inspect orders:42 -o json | jq .held",
		Args:              exactArgs("NAME"),
		ValidArgsFunction: noFiles,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			defer c.Close()
			info, err := c.Inspect(cmd.Context(), args[0])
			if err != nil {
				return g.runErr(err)
			}
			// The HTTP API's shape, so the JSON names cannot drift.
			out := wire.FromLockInfo(info)
			return g.emit(out, func(w io.Writer) {
				if !out.Held {
					fields(w, "name", out.Name, "held", "no")
					return
				}
				held := "yes"
				if out.Mode == lockd.ModeRead {
					// Owner, fence and expiry are the last reader's.
					held = fmt.Sprintf("yes, by %d readers", out.Readers)
				}
				fields(w,
					"name", out.Name,
					"held", held,
					"owner", out.Owner,
					"fence", strconv.FormatInt(out.Fence, 10),
					"expires", g.when(out.ExpiresAt),
					"metadata", string(out.Metadata))
			})
		},
	}
}
