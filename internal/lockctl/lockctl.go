// Package lockctl is lockd's command-line client: the command tree of the
// lockctl command (acquire, extend, release, inspect, history, run, elect, bench,
// version, completion), built with cobra over the Go SDK (package client).
// cmd/lockctl only wires Main to the process.
//
// Every global flag has an environment twin whose value replaces the
// built-in default; the flag wins over both. Errors are printed as one line
// on stderr, and the exit status says what kind of failure it was (see
// ExitCodes).
package lockctl

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/client"
)

// Defaults of the global flags.
const (
	// DefaultURL is where lockctl finds lockd when neither --url nor
	// LOCKD_URL says: lockd's own dev-mode address.
	DefaultURL = "http://127.0.0.1:3000"
	// DefaultOutput is the output format when neither -o nor LOCKD_OUTPUT
	// says.
	DefaultOutput = outputText
)

// Output formats.
const (
	outputText = "text"
	outputJSON = "json"
)

// envTwin ties a global flag to the environment variable that sets its
// default.
type envTwin struct{ flag, env string }

// envTwins are the global flags' environment variables, in help order.
var envTwins = []envTwin{
	{"url", "LOCKD_URL"},
	{"timeout", "LOCKD_TIMEOUT"},
	{"retry", "LOCKD_RETRY"},
	{"owner", "LOCKD_OWNER"},
	{"token", "LOCKD_TOKEN"},
	{"output", "LOCKD_OUTPUT"},
}

// globals are the global flags and the streams every command writes to.
type globals struct {
	url     string
	timeout time.Duration
	retry   time.Duration
	owner   string
	token   string
	output  string

	env    func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	now    func() time.Time
	// signals starts delivering the signals that run passes on to its
	// command, and returns them with a function that stops the delivery.
	signals func() (<-chan os.Signal, func())
}

// Main runs lockctl with args (without the program name), the streams and
// the environment given, and returns the exit status (see ExitCodes). It
// returns when the command is done or, for the commands that wait or run
// for a while, soon after ctx ends; cmd/lockctl cancels ctx on SIGINT and
// SIGTERM. The exception is run once its command has started: it returns
// when the command exits, and passes SIGINT, SIGTERM and SIGHUP that the
// process receives on to the command instead. run's command writes to
// stdout and stderr from goroutines of their own when they are not files:
// give writers that are safe for concurrent use.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env func(string) string) int {
	g := &globals{env: env, stdin: stdin, stdout: stdout, stderr: stderr, now: time.Now, signals: osSignals}
	return g.main(ctx, args)
}

// main runs the command tree with args.
func (g *globals) main(ctx context.Context, args []string) int {
	root := g.newRoot()
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	code, msg := g.explain(ctx, err)
	if msg == "" {
		// The command said what happened already, or its status is a
		// child's (run).
		return code
	}
	if code == ExitUsage && cmd != nil {
		msg += fmt.Sprintf(" (see '%s --help')", cmd.CommandPath())
	}
	fmt.Fprintf(g.stderr, "lockctl: %s\n", msg)
	return code
}

// newRoot builds the command tree.
func (g *globals) newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "lockctl",
		Short: "lockctl is the command-line client of lockd, the distributed lock service",
		Long: "lockctl is the command-line client of lockd, the distributed lock service.\n\n" +
			"Global flags have environment twins that set their defaults: " + envList() + ".\n\n" +
			"Exit statuses:\n" + exitCodeTable(),
		SilenceErrors:     true,
		SilenceUsage:      true,
		Version:           Version(),
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error { return g.applyEnv(cmd.Root()) },
	}
	root.SetIn(g.stdin)
	root.SetOut(g.stdout)
	root.SetErr(g.stderr)
	root.SetVersionTemplate("lockctl {{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usagef("%v", err) })

	pf := root.PersistentFlags()
	pf.StringVar(&g.url, "url", DefaultURL, "lockd's base URL (env LOCKD_URL)")
	pf.DurationVar(&g.timeout, "timeout", client.DefaultTimeout, "bound on each request to lockd; an acquire's --wait is added to it (env LOCKD_TIMEOUT)")
	pf.DurationVar(&g.retry, "retry", client.DefaultRetry, "how long a request keeps retrying transient failures (lockd unreachable, HTTP 502/503/504, quorum or store unavailable); 0 turns retries off (env LOCKD_RETRY)")
	pf.StringVar(&g.owner, "owner", "", "owner label of the locks taken, shown to anyone who inspects them (env LOCKD_OWNER; default hostname-pid)")
	pf.StringVar(&g.token, "token", "", "API key sent to lockd, for a lockd that asks for keys; prefer the variable, which ps does not show (env LOCKD_TOKEN)")
	pf.StringVarP(&g.output, "output", "o", DefaultOutput, "output format: text or json (env LOCKD_OUTPUT)")
	_ = root.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(
		[]cobra.Completion{outputText, outputJSON}, cobra.ShellCompDirectiveNoFileComp))

	root.AddCommand(
		g.newAcquire(),
		g.newExtend(),
		g.newRelease(),
		g.newInspect(),
		g.newHistory(),
		g.newList(),
		g.newForceRelease(),
		g.newRun(),
		g.newElect(),
		g.newBench(),
		g.newVersion(),
	)
	return root
}

// applyEnv gives every global flag not set on the command line the value
// of its environment twin, when set, and checks the results.
func (g *globals) applyEnv(root *cobra.Command) error {
	pf := root.PersistentFlags()
	for _, t := range envTwins {
		v := g.env(t.env)
		if v == "" || pf.Changed(t.flag) {
			continue
		}
		if err := pf.Lookup(t.flag).Value.Set(v); err != nil {
			return usagef("%s=%q: %v", t.env, v, err)
		}
	}
	if g.timeout <= 0 {
		return usagef("--timeout %s: want more than 0", g.timeout)
	}
	if g.retry < 0 {
		return usagef("--retry %s: want 0 or more", g.retry)
	}
	if g.output != outputText && g.output != outputJSON {
		return usagef("--output %q: want text or json", g.output)
	}
	if g.owner == "" {
		g.owner = lockd.DefaultInstance() // "<hostname>-<pid>"
	}
	if err := lockd.ValidateOwner(g.owner); err != nil {
		return g.runErr(err)
	}
	return nil
}

// client returns an SDK client for the global flags, with opts added.
func (g *globals) client(opts ...client.Option) (*client.Client, error) {
	c, err := client.New(g.url, append([]client.Option{client.WithTimeout(g.timeout), client.WithRetry(g.retry), client.WithOwner(g.owner), client.WithToken(g.token)}, opts...)...)
	if err != nil {
		return nil, usagef("--url %q: want http://host[:port] or https://host[:port]", g.url)
	}
	return c, nil
}

// runErr marks err as a failure of a command's body (see runError).
func (g *globals) runErr(err error) error {
	if err == nil {
		return nil
	}
	return &runError{err}
}

// noFiles completes lock names and leases, which lockctl cannot list, with
// nothing rather than with file names.
var noFiles = cobra.NoFileCompletions

// exactArgs checks the number of positional arguments and names them in
// its error.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		switch {
		case len(args) == len(names):
			return nil
		case len(names) == 0:
			return usagef("takes no arguments, got %q", args)
		}
		return usagef("want %s, got %d argument(s)", strings.Join(names, " "), len(args))
	}
}

// envList lists the environment twins for help.
func envList() string {
	var b strings.Builder
	for i, t := range envTwins {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s (--%s)", t.env, t.flag)
	}
	return b.String()
}

// exitCodeTable renders ExitCodes for help.
func exitCodeTable() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, c := range ExitCodes() {
		fmt.Fprintf(tw, "  %d\t%s\t%s\n", c.Code, c.Name, c.Meaning)
	}
	_ = tw.Flush()
	return b.String()
}
