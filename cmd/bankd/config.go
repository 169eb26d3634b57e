package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/lockd/lockd"
)

// config is what the flags and their environment twins decide.
type config struct {
	addr      string
	lockd     string
	mongo     string
	db        string
	noLock    bool
	think     time.Duration
	lockWait  time.Duration
	logFormat string
}

// setting is one flag with its environment twin. The variable, when set,
// replaces the built-in default; the flag overrides both. A boolean flag
// may be given bare (--no-lock) or with a value (--no-lock=false).
type setting struct {
	flag, env, def, usage string
	boolean               bool
}

var settings = []setting{
	{"addr", "BANKD_ADDR", ":3100", "address to listen on, host:port", false},
	{"lockd", "BANKD_LOCKD", "http://127.0.0.1:3000", "base URL of lockd", false},
	{"mongo", "BANKD_MONGO", "mongodb://127.0.0.1:27017", "MongoDB connection URI", false},
	{"db", "BANKD_DB", "bank", "MongoDB database holding the accounts collection", false},
	{"no-lock", "BANKD_NO_LOCK", "false", "transfer without locks or fences, to show the lost-update race", true},
	{"think", "BANKD_THINK", "2ms", "pause between reading balances and writing them, to make races visible", false},
	{"lock-wait", "BANKD_LOCK_WAIT", "10s", "how long a transfer waits for each account lock before answering 503", false},
	{"log-format", "BANKD_LOG_FORMAT", "text", "log format: text or json", false},
}

// errExit means the flags asked for help and nothing else; it is not a
// failure.
var errExit = errors.New("exit")

// usageError is a bad flag or environment value; main exits 2 for it.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// parseConfig reads args and env. It prints help to stdout and returns
// errExit when asked to, and returns a *usageError for bad input (printing
// the usage to stderr when a flag is unknown or malformed).
func parseConfig(args []string, env func(string) string, stdout, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("bankd", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // usage is printed below, to the right stream
	values := make(map[string]*string, len(settings))
	bools := make(map[string]*bool)
	for _, s := range settings {
		def := s.def
		if v := env(s.env); v != "" {
			def = v
		}
		if !s.boolean {
			values[s.flag] = fs.String(s.flag, def, s.usage)
			continue
		}
		b, err := strconv.ParseBool(def)
		if err != nil {
			return config{}, usageErrorf("%s %q: want true or false", s.env, def)
		}
		bools[s.flag] = fs.Bool(s.flag, b, s.usage)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			return config{}, errExit
		}
		usage(stderr)
		return config{}, &usageError{err}
	}
	if fs.NArg() > 0 {
		return config{}, usageErrorf("unexpected arguments: %q", fs.Args())
	}
	cfg := config{
		addr:      *values["addr"],
		lockd:     *values["lockd"],
		mongo:     *values["mongo"],
		db:        *values["db"],
		logFormat: *values["log-format"],
	}
	if cfg.addr == "" {
		return config{}, usageErrorf("--addr (BANKD_ADDR) is empty")
	}
	if u, err := url.Parse(cfg.lockd); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return config{}, usageErrorf("--lockd (BANKD_LOCKD) %q: want http://host:port", cfg.lockd)
	}
	if cfg.mongo == "" {
		return config{}, usageErrorf("--mongo (BANKD_MONGO) is empty")
	}
	if cfg.db == "" {
		return config{}, usageErrorf("--db (BANKD_DB) is empty")
	}
	cfg.noLock = *bools["no-lock"]
	think, err := time.ParseDuration(*values["think"])
	if err != nil || think < 0 || think > time.Minute {
		return config{}, usageErrorf("--think (BANKD_THINK) %q: want a duration in [0, 1m] like 2ms", *values["think"])
	}
	cfg.think = think
	wait, err := time.ParseDuration(*values["lock-wait"])
	if err != nil || wait < 0 || wait > lockd.MaxWait {
		return config{}, usageErrorf("--lock-wait (BANKD_LOCK_WAIT) %q: want a duration in [0, %v] like 10s", *values["lock-wait"], lockd.MaxWait)
	}
	cfg.lockWait = wait
	if cfg.logFormat != "text" && cfg.logFormat != "json" {
		return config{}, usageErrorf("--log-format (BANKD_LOG_FORMAT) %q: want text or json", cfg.logFormat)
	}
	return cfg, nil
}

// usage documents every flag with its environment twin.
func usage(w io.Writer) {
	fmt.Fprint(w, `Usage: bankd [flags]

bankd is lockd's demo service: it moves money between accounts stored in
MongoDB, taking a lockd lock per account and writing with fenced updates.
With --no-lock it does the same without either, and loses updates.

Routes:
  POST /transfer {"from":"acct-1","to":"acct-2","amount":10}
  POST /seed     {"accounts":10,"balance":1000}
  GET  /total

Flags (each has an environment variable that sets its default):
`)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, s := range settings {
		fmt.Fprintf(tw, "  --%s\t%s\t%s (default %s)\n", s.flag, s.env, s.usage, s.def)
	}
	fmt.Fprintf(tw, "  --help\t\tprint this help and exit\n")
	_ = tw.Flush()
}
