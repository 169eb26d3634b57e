package lockctl

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/client"
)

// envTerm is the variable elect adds to its command's environment: the
// leadership's term (the same value as LOCKD_FENCE).
const envTerm = "LOCKD_TERM"

func (g *globals) newElect() *cobra.Command {
	var rc runConfig
	cmd := &cobra.Command{
		Use:   "elect NAME [flags] -- COMMAND [ARGS...]",
		Short: "Run a command only while leader of an election, and stop it if the leadership is lost",
		Long: "elect campaigns in the election NAME (the lock NAME: elections and locks share names) until it\n" +
			"leads, or for --wait when given, then runs COMMAND while renewing the leadership about every\n" +
			"--ttl/3, resigns when COMMAND exits, and exits with COMMAND's status (128+N when signal N killed it).\n" +
			"Others campaigning for NAME wait meanwhile, and one of them leads once this leader resigns or\n" +
			"its leadership runs out.\n\n" +
			"COMMAND gets lockctl's stdin, stdout and stderr, and its environment plus " + envName + ", " + envLease + ",\n" +
			envTerm + " and " + envFence + " (both the term: pass it to what the leader writes to) and " + envURL + ". It runs\n" +
			"in a process group of its own; SIGINT, SIGTERM and SIGHUP sent to lockctl are passed on to that group.\n\n" +
			"If the leadership is lost (a renewal refused, or no successful renewal before the lease ran out)\n" +
			"or --max-hold passes, elect says why on stderr, sends SIGTERM to COMMAND's process group, SIGKILL\n" +
			"after --kill-grace, and exits 70, as run does. COMMAND is never started when NAME is not won within\n" +
			"--wait (75), when lockd or its quorum is unavailable (69), or when it cannot be found (127).\n\n" +
			"Exit statuses of lockctl; once COMMAND has run, elect exits with COMMAND's status, whatever it is,\n" +
			"unless the leadership was lost (70):\n" + exitCodeTable(),
		Example: "  lockctl elect scheduler --ttl 10s -- ./scheduler --term \"$LOCKD_TERM\"\n" +
			"  lockctl elect db:primary-promoter --wait 30s -- sh -c 'promote --fence \"$LOCKD_TERM\"'",
	}
	superviseCommand(cmd, &rc, "leadership", "the leadership", g.elect)
	cmd.Flags().DurationVar(&rc.wait, "wait", 0, "how long to campaign while someone else leads, up to 5m; 0 campaigns until elected")
	return cmd
}

// elect campaigns, runs the command while leader and resigns. Its error
// carries the exit status, as run's does.
func (g *globals) elect(ctx context.Context, rc runConfig) error {
	subject := fmt.Sprintf("leadership of %q", rc.name)
	return g.supervised(ctx, rc, subject, func(_, kctx context.Context, c *client.Client) (held, error) {
		opts := []client.AcquireOption{client.Owner(g.owner), client.TTL(rc.ttl), client.MaxHold(rc.maxHold)}
		var (
			l   *client.Leadership
			err error
		)
		if rc.wait > 0 {
			l, err = c.Campaign(kctx, rc.name, append(opts, client.Wait(rc.wait))...)
		} else {
			// Until elected: one waiting campaign after another, as long
			// as someone else leads, until the wait is stopped (kctx).
			for {
				l, err = c.Campaign(kctx, rc.name, append(opts, client.Wait(lockd.MaxWait))...)
				if err == nil || !errors.Is(err, lockd.ErrNotObtained) || kctx.Err() != nil {
					break
				}
			}
		}
		if err != nil {
			return held{}, err
		}
		return held{lease: l.Lease(), subject: subject, env: []string{envTerm + "=" + strconv.FormatInt(l.Term(), 10)}, free: l.Resign}, nil
	})
}
