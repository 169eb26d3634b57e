package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// config is what the flags and their environment twins decide.
type config struct {
	addr            string
	redis           []string
	logFormat       string
	logLevel        slog.Level
	shutdownTimeout time.Duration
	nodeTimeout     time.Duration
	mongoURI        string
	mongoDB         string
	retention       time.Duration
	instance        string
}

// setting is one flag with its environment twin. The variable, when set,
// replaces the built-in default; the flag overrides both.
type setting struct {
	flag, env, def, usage string
}

var settings = []setting{
	{"addr", "LOCKD_ADDR", ":3000", "address to listen on, host:port"},
	{"redis", "LOCKD_REDIS", "", "comma-separated Redis host:port list; when set, lockd runs in Redis mode, else in dev mode (memory, one process)"},
	{"node-timeout", "LOCKD_NODE_TIMEOUT", "200ms", "Redis mode: bound on each call to one Redis node (at most a third of a lease's TTL is used)"},
	{"mongo", "LOCKD_MONGO_URI", "", "MongoDB URI; when set, fences are minted in MongoDB and lock records and a journal are kept there (both modes)"},
	{"mongo-db", "LOCKD_MONGO_DB", "lockd", "MongoDB database"},
	{"journal-retention", "LOCKD_JOURNAL_RETENTION", "168h", "how long journal events are kept (whole seconds)"},
	{"instance", "LOCKD_INSTANCE", "", "this instance's id in the journal (default hostname-pid)"},
	{"log-format", "LOCKD_LOG_FORMAT", "text", "log format: text or json"},
	{"log-level", "LOCKD_LOG_LEVEL", "info", "log level: debug, info, warn or error"},
	{"shutdown-timeout", "LOCKD_SHUTDOWN_TIMEOUT", "10s", "on SIGINT or SIGTERM, how long in-flight requests may take to finish"},
}

// errExit means the flags asked for output (--help, --version) and
// nothing else; it is not a failure.
var errExit = errors.New("exit")

// usageError is a bad flag or environment value; main exits 2 for it.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// parseConfig reads args and env. It prints help or the version to stdout
// and returns errExit when asked to, and returns a *usageError for bad
// input (printing the usage to stderr when a flag is unknown or malformed).
func parseConfig(args []string, env func(string) string, stdout, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("lockd", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // usage is printed below, to the right stream
	values := make(map[string]*string, len(settings))
	for _, s := range settings {
		def := s.def
		if v := env(s.env); v != "" {
			def = v
		}
		values[s.flag] = fs.String(s.flag, def, s.usage)
	}
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			return config{}, errExit
		}
		usage(stderr)
		return config{}, &usageError{err}
	}
	if *showVersion {
		fmt.Fprintf(stdout, "lockd %s\n", buildVersion())
		return config{}, errExit
	}
	if fs.NArg() > 0 {
		return config{}, usageErrorf("unexpected arguments: %q", fs.Args())
	}
	cfg := config{addr: *values["addr"], logFormat: *values["log-format"]}
	if cfg.addr == "" {
		return config{}, usageErrorf("--addr (LOCKD_ADDR) is empty")
	}
	if r := strings.TrimSpace(*values["redis"]); r != "" {
		for _, a := range strings.Split(r, ",") {
			a = strings.TrimSpace(a)
			if a == "" {
				return config{}, usageErrorf("--redis (LOCKD_REDIS) %q has an empty address", r)
			}
			cfg.redis = append(cfg.redis, a)
		}
	}
	if cfg.logFormat != "text" && cfg.logFormat != "json" {
		return config{}, usageErrorf("--log-format (LOCKD_LOG_FORMAT) %q: want text or json", cfg.logFormat)
	}
	switch lvl := *values["log-level"]; lvl {
	case "debug", "info", "warn", "error":
		// UnmarshalText knows these four; nothing else is accepted.
		_ = cfg.logLevel.UnmarshalText([]byte(lvl))
	default:
		return config{}, usageErrorf("--log-level (LOCKD_LOG_LEVEL) %q: want debug, info, warn or error", lvl)
	}
	d, err := time.ParseDuration(*values["shutdown-timeout"])
	if err != nil || d <= 0 {
		return config{}, usageErrorf("--shutdown-timeout (LOCKD_SHUTDOWN_TIMEOUT) %q: want a positive duration like 10s", *values["shutdown-timeout"])
	}
	cfg.shutdownTimeout = d
	nt, err := time.ParseDuration(*values["node-timeout"])
	if err != nil || nt <= 0 {
		return config{}, usageErrorf("--node-timeout (LOCKD_NODE_TIMEOUT) %q: want a positive duration like 200ms", *values["node-timeout"])
	}
	cfg.nodeTimeout = nt
	cfg.mongoURI = strings.TrimSpace(*values["mongo"])
	cfg.mongoDB = *values["mongo-db"]
	if cfg.mongoDB == "" {
		return config{}, usageErrorf("--mongo-db (LOCKD_MONGO_DB) is empty")
	}
	ret, err := time.ParseDuration(*values["journal-retention"])
	if err != nil || ret < time.Second || ret%time.Second != 0 {
		return config{}, usageErrorf("--journal-retention (LOCKD_JOURNAL_RETENTION) %q: want whole seconds, at least 1s, like 168h", *values["journal-retention"])
	}
	cfg.retention = ret
	cfg.instance = *values["instance"]
	if cfg.instance == "" {
		host, _ := os.Hostname()
		cfg.instance = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	return cfg, nil
}

// usage documents every flag with its environment twin.
func usage(w io.Writer) {
	fmt.Fprint(w, `Usage: lockd [flags]

lockd serves distributed locks over HTTP/JSON. Without --redis it runs in
dev mode: one process, state in memory, lost on exit.

Flags (each has an environment variable that sets its default):
`)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, s := range settings {
		def := s.def
		if def == "" {
			def = "none"
		}
		fmt.Fprintf(tw, "  --%s\t%s\t%s (default %s)\n", s.flag, s.env, s.usage, def)
	}
	fmt.Fprintf(tw, "  --version\t\tprint the version and exit\n")
	fmt.Fprintf(tw, "  --help\t\tprint this help and exit\n")
	_ = tw.Flush()
}
