package lockctl

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/client"
)

// DefaultKillGrace is how long run gives its command between SIGTERM and
// SIGKILL once the lock is lost.
const DefaultKillGrace = 5 * time.Second

// Variables run adds to its command's environment.
const (
	envName  = "LOCKD_NAME"
	envLease = "LOCKD_LEASE"
	envFence = "LOCKD_FENCE"
	envURL   = "LOCKD_URL"
)

// pipeWaitDelay bounds how long run waits, once its command has exited,
// for the command's leftover children to close the pipes that carry its
// output. Pipes are only there when lockctl's own streams are not files
// (Main called in-process); a process's stdio is passed on as is.
const pipeWaitDelay = time.Second

// groupPoll is how often run checks whether a lost command's process
// group is gone after its leader exited.
const groupPoll = 50 * time.Millisecond

// killSettle bounds how long run waits, after SIGKILL, for the processes
// of a lost command's group to die: one in uninterruptible sleep (stuck
// on a dead NFS server, say) does not die until it wakes.
const killSettle = 2 * time.Second

// forwarded are the signals run passes on to its command's process group.
var forwarded = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP}

// osSignals delivers the forwarded signals the process receives. While it
// delivers them, they no longer stop lockctl.
func osSignals() (<-chan os.Signal, func()) {
	c := make(chan os.Signal, 8)
	signal.Notify(c, forwarded...)
	return c, func() { signal.Stop(c) }
}

// runConfig is what one run does.
type runConfig struct {
	name    string
	argv    []string // the command and its arguments
	ttl     time.Duration
	wait    time.Duration
	maxHold time.Duration // 0: no bound
	grace   time.Duration // between SIGTERM and SIGKILL
	fair    bool          // wait behind the acquires already waiting
	permits int           // run under one of this many permits of the semaphore name; 0: the lock name
}

func (g *globals) newRun() *cobra.Command {
	var rc runConfig
	cmd := &cobra.Command{
		Use:   "run NAME [flags] -- COMMAND [ARGS...]",
		Short: "Run a command while holding a lock, and stop it if the lock is lost",
		Long: "run takes the lock NAME for --ttl, waiting up to --wait while someone else holds it, runs COMMAND\n" +
			"while renewing the lease about every --ttl/3, releases the lock when COMMAND exits, and exits with\n" +
			"COMMAND's status (128+N when signal N killed it).\n\n" +
			"COMMAND gets lockctl's stdin, stdout and stderr, and its environment plus " + envName + ", " + envLease + ",\n" +
			envFence + " (pass it to what the lock protects) and " + envURL + ". It runs in a process group of its own;\n" +
			"SIGINT, SIGTERM and SIGHUP sent to lockctl are passed on to that group.\n\n" +
			"If the lock is lost (a renewal refused, or no successful renewal before the lease ran out) or\n" +
			"--max-hold passes, run says why on stderr, sends SIGTERM to COMMAND's process group, SIGKILL after\n" +
			"--kill-grace, and exits 70. COMMAND is never started when the lock is not obtained within --wait\n" +
			"(75), when lockd or its quorum is unavailable (69), or when it cannot be found (127).\n\n" +
			"With --semaphore N, run takes one of at most N live permits of the semaphore NAME instead of the\n" +
			"lock NAME (semaphore names are apart from lock names), and everything else is the same: " + envFence + "\n" +
			"is the permit's fence, and a full semaphore past --wait exits 75.\n\n" +
			"Exit statuses of lockctl; once COMMAND has run, run exits with COMMAND's status, whatever it is,\n" +
			"unless the lock was lost (70):\n" + exitCodeTable(),
		Example: "  lockctl run reports:nightly --ttl 30s --wait 1m -- ./build-report.sh --full\n" +
			"  lockctl run db:migrate --max-hold 10m --kill-grace 30s -- sh -c 'migrate --fence \"$LOCKD_FENCE\"'",
	}
	superviseCommand(cmd, &rc, "lease", "the lock", g.run)
	f := cmd.Flags()
	f.DurationVar(&rc.wait, "wait", 0, "how long to keep trying while someone else holds the lock, up to 5m; 0 tries once")
	f.BoolVar(&rc.fair, "fair", false, "wait behind the acquires already waiting at this lockd instead of trying first; with --wait 0, refused while anyone waits")
	f.IntVar(&rc.permits, "semaphore", 0, "run under a permit of the semaphore NAME, of which at most this many (1 to 1024) are live at once, instead of the lock NAME; 0 takes the lock")
	return cmd
}

// superviseCommand gives cmd what run and elect share: the arguments NAME
// -- COMMAND and their completion, the flags --ttl (of what: "lease"),
// --max-hold and --kill-grace (of held: "the lock"), and a RunE that calls
// do with rc filled in.
func superviseCommand(cmd *cobra.Command, rc *runConfig, what, held string, do func(context.Context, runConfig) error) {
	cmd.Args = runArgs
	cmd.ValidArgsFunction = func(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) == 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp // NAME
		}
		return nil, cobra.ShellCompDirectiveDefault // COMMAND and its arguments
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		rc.name, rc.argv = args[0], args[cmd.ArgsLenAtDash():]
		return do(cmd.Context(), *rc)
	}
	f := cmd.Flags()
	f.DurationVar(&rc.ttl, "ttl", lockd.DefaultTTL, what+" time-to-live, 100ms to 1h; keep-alive renews it about every third of it")
	f.DurationVar(&rc.maxHold, "max-hold", 0, "stop COMMAND, as for a loss, once "+held+" has been held this long; 0 sets no bound")
	f.DurationVar(&rc.grace, "kill-grace", DefaultKillGrace, "how long COMMAND has between SIGTERM and SIGKILL once "+held+" is lost")
}

// runArgs checks run's arguments: NAME, then COMMAND and its arguments
// after "--".
func runArgs(cmd *cobra.Command, args []string) error {
	const want = "want NAME -- COMMAND [ARGS...]"
	dash := cmd.ArgsLenAtDash()
	switch {
	case dash < 0:
		return usagef("%s: no -- before the command", want)
	case dash != 1:
		return usagef("%s: got %d argument(s) before --", want, dash)
	case len(args) == dash:
		return usagef("%s: no command after --", want)
	}
	return nil
}

// check returns a usage error for a flag run would refuse, and the
// *lockd.ArgumentError of a name, owner or TTL lockd would refuse.
func (rc runConfig) check(owner string) error {
	if err := checkTTL(rc.ttl); err != nil {
		return err
	}
	if rc.wait < 0 || rc.wait > lockd.MaxWait {
		return usagef("--wait %s: want 0 to %s", rc.wait, lockd.MaxWait)
	}
	if rc.maxHold < 0 {
		return usagef("--max-hold %s: want 0 (no bound) or more", rc.maxHold)
	}
	if rc.grace < 0 {
		return usagef("--kill-grace %s: want 0 or more", rc.grace)
	}
	if rc.permits < 0 || rc.permits > lockd.MaxLimit {
		return usagef("--semaphore %d: want 1 to %d permits, or 0 for the lock", rc.permits, lockd.MaxLimit)
	}
	_, err := (lockd.AcquireOptions{Owner: owner, TTL: rc.ttl, Wait: rc.wait}).Prepare(rc.name)
	return err
}

// held is what a command runs under: a lock's lease, or a leadership.
type held struct {
	lease *client.Lease
	// subject names what is held in messages: lock "x", leadership of "x".
	subject string
	// env is what the command gets besides the lease's variables.
	env []string
	// free releases what is held (a resignation, for a leadership).
	free func(ctx context.Context) error
}

// taker gets what a command runs under, with keep-alive bound to kctx;
// ctx ending stops only the wait.
type taker func(ctx, kctx context.Context, c *client.Client) (held, error)

// run takes the lock (or a permit, with --semaphore), runs the command
// under it and releases it. Its error carries the exit status: the
// command's own, or one of lockctl's when the command did not run or was
// stopped.
func (g *globals) run(ctx context.Context, rc runConfig) error {
	subject := fmt.Sprintf("lock %q", rc.name)
	if rc.permits > 0 {
		subject = fmt.Sprintf("permit of semaphore %q", rc.name)
	}
	return g.supervised(ctx, rc, subject, func(_, kctx context.Context, c *client.Client) (held, error) {
		opts := []client.AcquireOption{client.Owner(g.owner), client.TTL(rc.ttl), client.Wait(rc.wait),
			client.KeepAlive(), client.MaxHold(rc.maxHold)}
		if rc.fair {
			opts = append(opts, client.Fair())
		}
		var (
			l   *client.Lease
			err error
		)
		if rc.permits > 0 {
			l, err = c.AcquirePermit(kctx, rc.name, rc.permits, opts...)
		} else {
			l, err = c.Acquire(kctx, rc.name, opts...)
		}
		if err != nil {
			return held{}, err
		}
		return held{lease: l, subject: subject, free: l.Release}, nil
	})
}

// supervised checks rc, takes what the command runs under with take, runs
// the command, stops it if that is lost, and frees it when the command
// exits. subject names what is taken in messages before it is. Its error
// carries the exit status: the command's own, or one of lockctl's when
// the command did not run or was stopped.
func (g *globals) supervised(ctx context.Context, rc runConfig, subject string, take taker) error {
	if err := rc.check(g.owner); err != nil {
		return g.runErr(err)
	}
	// A command that cannot be found is reported before anything is taken.
	if _, err := exec.LookPath(rc.argv[0]); err != nil {
		return startError(rc.argv[0], err)
	}
	cmd := exec.Command(rc.argv[0], rc.argv[1:]...)
	if err := inOwnGroup(cmd); err != nil {
		return &exitError{code: ExitFailure, msg: err.Error(), err: err}
	}
	sigs, stopSignals := g.signals()
	defer stopSignals()
	c, err := g.client()
	if err != nil {
		return err
	}
	defer c.Close()

	// Keep-alive lives as long as the command. ctx only stops the wait:
	// SIGINT and SIGTERM end it, but once the command runs they are
	// passed on to it, and it decides whether to stop. --timeout bounds
	// single requests, not the hold.
	kctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	h, err := g.takeForRun(ctx, kctx, stop, sigs, c, subject, take)
	if err != nil {
		return err
	}
	l := h.lease
	cmd.Env = append(append(os.Environ(),
		envName+"="+l.Name(),
		envLease+"="+l.ID(),
		envFence+"="+strconv.FormatInt(l.Fence(), 10),
		envURL+"="+g.url), h.env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = g.stdin, g.stdout, g.stderr
	cmd.WaitDelay = pipeWaitDelay
	if err := cmd.Start(); err != nil {
		g.release(ctx, h)
		return startError(rc.argv[0], err)
	}
	status, lost := g.supervise(cmd, h, sigs, rc)
	if !errors.Is(lost, lockd.ErrLost) {
		// A lost lease has nothing left to free: it ran out, or lockd
		// said it no longer holds the lock. A lease past --max-hold holds
		// it until its TTL unless released.
		g.release(ctx, h)
	}
	if lost != nil {
		return &exitError{code: ExitLost, err: lost} // said when it happened
	}
	if status == ExitOK {
		return nil
	}
	return &exitError{code: status} // the command's own status, nothing to add
}

// taken is the outcome of a taker.
type taken struct {
	h   held
	err error
}

// takeForRun runs take with keep-alive bound to kctx. ctx ending, or a
// signal, stops the wait: kctx is then cancelled with stop, what was taken
// meanwhile is freed, and the error says the command was not started.
func (g *globals) takeForRun(ctx, kctx context.Context, stop context.CancelFunc, sigs <-chan os.Signal, c *client.Client, subject string, take taker) (held, error) {
	ch := make(chan taken, 1)
	go func() {
		h, err := take(ctx, kctx, c)
		ch <- taken{h, err}
	}()
	select {
	case a := <-ch:
		if a.err != nil {
			return held{}, g.runErr(a.err)
		}
		return a.h, nil
	case <-ctx.Done():
	case <-sigs:
	}
	stop()
	if a := <-ch; a.err == nil {
		g.release(ctx, a.h)
	}
	return held{}, &exitError{code: ExitInterrupted, err: context.Canceled,
		msg: fmt.Sprintf("interrupted while waiting for %s; the command was not started", subject)}
}

// supervise waits for the command to exit, passing on signals, and stops
// it when the lease ends first. It returns the command's exit status and,
// when the lock was lost or --max-hold passed while it ran, why.
func (g *globals) supervise(cmd *exec.Cmd, h held, sigs <-chan os.Signal, rc runConfig) (int, error) {
	l := h.lease
	pgid := cmd.Process.Pid
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait() // the status is read from cmd.ProcessState
		close(exited)
	}()
	var (
		done       = l.Done()
		lost       error
		killTimer  *time.Timer
		kill       <-chan time.Time // fires --kill-grace after SIGTERM
		killedAt   time.Time        // when SIGKILL was sent; zero before
		pollTicker *time.Ticker
		poll       <-chan time.Time // while a lost command's group outlives its leader
	)
	for {
		select {
		case <-exited:
			exited = nil
		case s := <-sigs:
			_ = signalGroup(pgid, s)
		case <-done:
			done = nil
			lost = l.Err()
			fmt.Fprintf(g.stderr, "lockctl: %s; stopping the command: SIGTERM now, SIGKILL in %s\n", lossReason(h.subject, rc, lost), rc.grace)
			_ = signalGroup(pgid, syscall.SIGTERM)
			killTimer = time.NewTimer(rc.grace)
			kill = killTimer.C
		case <-kill:
			kill = nil
			if groupAlive(pgid) {
				fmt.Fprintf(g.stderr, "lockctl: the command did not stop within --kill-grace %s; sending SIGKILL\n", rc.grace)
				_ = signalGroup(pgid, syscall.SIGKILL)
				killedAt = time.Now()
			}
		case <-poll:
		}
		if exited != nil {
			continue
		}
		// The leader has exited. Unless the lock was lost, its leftover
		// children are its own business; once it was, none of them may
		// outlive the grace, and run returns when they are gone.
		if lost == nil || !groupAlive(pgid) || (!killedAt.IsZero() && time.Since(killedAt) > killSettle) {
			break
		}
		if pollTicker == nil {
			pollTicker = time.NewTicker(groupPoll)
			poll = pollTicker.C
		}
	}
	if killTimer != nil {
		killTimer.Stop()
	}
	if pollTicker != nil {
		pollTicker.Stop()
	}
	if lost == nil {
		// The lease may have ended just as the command exited: a loss
		// means the end of its run may not have been covered.
		if err := l.Err(); err != nil && errors.Is(err, lockd.ErrLost) {
			fmt.Fprintf(g.stderr, "lockctl: %s as the command exited\n", lossReason(h.subject, rc, err))
			lost = err
		}
	}
	return exitStatus(cmd.ProcessState), lost
}

// release frees what h holds, with its own bound (--timeout), so that it
// runs whatever happened to ctx. A failure is reported as a warning: the
// command's outcome decides the exit status, and the lease runs out at its
// TTL anyway.
func (g *globals) release(ctx context.Context, h held) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.timeout)
	defer cancel()
	err := h.free(rctx)
	if err == nil || errors.Is(err, lockd.ErrLost) || errors.Is(err, lockd.ErrNotHeld) {
		return
	}
	_, msg := g.explain(rctx, g.runErr(err))
	fmt.Fprintf(g.stderr, "lockctl: %s not released (%s); it runs out within %s\n", h.subject, msg, h.lease.TTL())
}

// lossReason says in one line why the lease of subject (lock "x") ended
// while its command ran.
func lossReason(subject string, rc runConfig, err error) string {
	switch {
	case errors.Is(err, client.ErrMaxHold):
		return fmt.Sprintf("%s held for --max-hold %s", subject, rc.maxHold)
	case errors.Is(err, client.ErrExpired):
		s := fmt.Sprintf("%s lost: no successful renewal before the lease ran out", subject)
		if last := lastRenewal(err); last != nil {
			s += " (last renewal: " + renewalFailure(last) + ")"
		}
		return s
	case errors.Is(err, lockd.ErrLost):
		return fmt.Sprintf("%s lost: lockd refused a renewal (the lease no longer holds the lock)", subject)
	}
	return fmt.Sprintf("%s lost: %s", subject, oneLine(fmt.Sprint(err)))
}

// lastRenewal returns the last renewal's failure that Lease.Err joins to
// client.ErrExpired, or nil.
func lastRenewal(err error) error {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return nil
	}
	for _, e := range j.Unwrap() {
		if e != nil && !errors.Is(e, lockd.ErrLost) && !errors.Is(e, client.ErrExpired) {
			return e
		}
	}
	return nil
}

// renewalFailure says briefly why a renewal failed.
func renewalFailure(err error) string {
	var ue *url.Error
	switch {
	case errors.Is(err, lockd.ErrQuorumUnavailable):
		return "quorum unavailable"
	case errors.Is(err, context.DeadlineExceeded):
		return "no answer in time"
	case errors.As(err, &ue):
		return "cannot reach lockd: " + oneLine(ue.Err.Error())
	}
	return oneLine(err.Error())
}

// oneLine keeps a message on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// startError explains why the command could not be started, with the
// shell's statuses: 127 when it was not found, else 126.
func startError(name string, err error) error {
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		return &exitError{code: ExitNotFound, err: err, msg: fmt.Sprintf("command %q not found", name)}
	}
	return &exitError{code: ExitCannotExecute, err: err, msg: fmt.Sprintf("cannot run %q: %v", name, err)}
}
