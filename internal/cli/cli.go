// Package cli is the command-line plumbing lockd's commands share: flags
// with environment twins, help that documents both, a version subcommand,
// usage errors with their own exit code (which spell flags --name, as the
// help does), and a main that turns SIGINT and SIGTERM into a cancelled
// context.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"text/tabwriter"
)

// ErrExit means the flags asked for output (--help, --version) and
// nothing else; it is not a failure.
var ErrExit = errors.New("exit")

// UsageError is a bad flag or environment value; Main exits 2 for it.
type UsageError struct{ Err error }

// Error returns the cause's message.
func (e *UsageError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef returns a *UsageError with a formatted message.
func Usagef(format string, args ...any) error {
	return &UsageError{fmt.Errorf(format, args...)}
}

// Setting is one flag with its environment twin. The variable, when set,
// replaces the built-in default; the flag overrides both. A Bool flag may
// be given bare (--no-lock) or with a value (--no-lock=false).
type Setting struct {
	Flag, Env, Default, Usage string
	Bool                      bool
}

// Command describes a command's flags and help.
type Command struct {
	// Name is the command's name, as in "Usage: <name> [flags]".
	Name string
	// About is the help text between the usage line and the flags.
	About string
	// Settings are the command's flags.
	Settings []Setting
	// Version, when not empty, adds --version and the subcommand
	// "<name> version", which both print "<name> <Version>".
	Version string
	// Usages are more usage lines for the help, after the name, such as
	// "config print [flags]"; the command parses them itself.
	Usages []string
}

// Parse reads args and env and returns every setting's value by flag name
// (Bool settings as "true" or "false"). Flags are spelled --name or -name,
// as with the standard flag package; messages and help say --name.
//
// Parse prints the help to stdout and returns ErrExit for --help (and the
// version for --version or a first argument "version"). It returns a
// *UsageError for an unknown or malformed flag (printing the help to
// stderr), a Bool environment value that is not a boolean, or stray
// arguments.
func (c *Command) Parse(args []string, env func(string) string, stdout, stderr io.Writer) (map[string]string, error) {
	l, err := c.ParseLayers(args, env, stdout, stderr)
	if err != nil {
		return nil, err
	}
	vals := make(map[string]string, len(c.Settings))
	for _, m := range []map[string]string{l.Defaults, l.Env, l.Flags} {
		maps.Copy(vals, m)
	}
	return vals, nil
}

// Layers are a command's settings by where they were given, each by flag
// name: the built-in defaults (every setting), the environment variables
// that are set, and the flags on the command line. A command that reads a
// file too puts it between the defaults and the environment.
type Layers struct {
	Defaults, Env, Flags map[string]string
}

// ParseLayers is Parse without the merging: it returns each layer apart,
// with the same help, version and error handling.
func (c *Command) ParseLayers(args []string, env func(string) string, stdout, stderr io.Writer) (Layers, error) {
	if c.Version != "" && len(args) > 0 && args[0] == "version" {
		// Before the environment is read: a bad variable must not stop
		// anyone from asking which version this is.
		if len(args) > 1 {
			return Layers{}, Usagef("%s version takes no arguments, got %q", c.Name, args[1:])
		}
		c.printVersion(stdout)
		return Layers{}, ErrExit
	}
	l := Layers{Defaults: map[string]string{}, Env: map[string]string{}, Flags: map[string]string{}}
	vals := make(map[string]string, len(c.Settings)+1)
	isBool := make(map[string]bool)
	for _, s := range c.Settings {
		l.Defaults[s.Flag] = s.Default
		v := env(s.Env)
		if v != "" && s.Bool {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return Layers{}, Usagef("%s (--%s) %q: want true or false", s.Env, s.Flag, v)
			}
			v = strconv.FormatBool(b)
		}
		if s.Bool {
			isBool[s.Flag] = true
		}
		if v != "" {
			l.Env[s.Flag] = v
		}
		vals[s.Flag] = s.Default
	}
	if c.Version != "" {
		vals["version"], isBool["version"] = "false", true
	}
	rest, err := scanFlags(args, vals, isBool, l.Flags)
	if errors.Is(err, errHelp) {
		c.Help(stdout)
		return Layers{}, ErrExit
	}
	if err != nil {
		c.Help(stderr)
		return Layers{}, err
	}
	if c.Version != "" {
		if vals["version"] == "true" {
			c.printVersion(stdout)
			return Layers{}, ErrExit
		}
		delete(l.Flags, "version")
	}
	if len(rest) > 0 {
		if c.Version != "" {
			return Layers{}, Usagef("unexpected arguments %q: %s takes flags only, or the single argument version; see %s --help", rest, c.Name, c.Name)
		}
		return Layers{}, Usagef("unexpected arguments %q: %s takes flags only; see %s --help", rest, c.Name, c.Name)
	}
	return l, nil
}

// printVersion prints "<name> <version>" and a newline to w.
func (c *Command) printVersion(w io.Writer) {
	fmt.Fprintf(w, "%s %s\n", c.Name, c.Version)
}

// Help documents every flag with its environment twin and default.
func (c *Command) Help(w io.Writer) {
	fmt.Fprintf(w, "Usage: %s [flags]\n", c.Name)
	if c.Version != "" {
		fmt.Fprintf(w, "       %s version\n", c.Name)
	}
	for _, u := range c.Usages {
		fmt.Fprintf(w, "       %s %s\n", c.Name, u)
	}
	fmt.Fprintf(w, "\n%s\nFlags (each has an environment variable that sets its default):\n", c.About)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, s := range c.Settings {
		def := s.Default
		if def == "" {
			def = "none"
		}
		fmt.Fprintf(tw, "  --%s\t%s\t%s (default %s)\n", s.Flag, s.Env, s.Usage, def)
	}
	if c.Version != "" {
		fmt.Fprintf(tw, "  --version\t\tprint the version and exit (as does %s version)\n", c.Name)
	}
	fmt.Fprintf(tw, "  --help\t\tprint this help and exit\n")
	_ = tw.Flush()
}

// RunFunc is a command's body: it serves until ctx ends.
type RunFunc func(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error

// Main runs run with the process's arguments, environment and streams, and
// a context cancelled by the first SIGINT or SIGTERM (a second one kills
// the process the default way). It exits 2 for a *UsageError, 1 for any
// other error, and returns normally otherwise.
func Main(name string, run RunFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		var ue *UsageError
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}
