package main

import (
	"io"
	"net/url"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/cli"
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

// command is bankd's flags and help.
var command = cli.Command{
	Name: "bankd",
	About: `bankd is lockd's demo service: it moves money between accounts stored in
MongoDB, taking a lockd lock per account and writing with fenced updates.
With --no-lock it does the same without either, and loses updates.

Routes:
  POST /transfer {"from":"acct-1","to":"acct-2","amount":10}
  POST /seed     {"accounts":10,"balance":1000}
  GET  /total
`,
	Settings: []cli.Setting{
		{Flag: "addr", Env: "BANKD_ADDR", Default: ":3100", Usage: "address to listen on, host:port"},
		{Flag: "lockd", Env: "BANKD_LOCKD", Default: "http://127.0.0.1:3000", Usage: "base URL of lockd"},
		{Flag: "mongo", Env: "BANKD_MONGO", Default: "mongodb://127.0.0.1:27017", Usage: "MongoDB connection URI"},
		{Flag: "db", Env: "BANKD_DB", Default: "bank", Usage: "MongoDB database holding the accounts collection"},
		{Flag: "no-lock", Env: "BANKD_NO_LOCK", Default: "false", Usage: "transfer without locks or fences, to show the lost-update race", Bool: true},
		{Flag: "think", Env: "BANKD_THINK", Default: "2ms", Usage: "pause between reading balances and writing them, to make races visible"},
		{Flag: "lock-wait", Env: "BANKD_LOCK_WAIT", Default: "10s", Usage: "how long a transfer waits for each account lock before answering 503"},
		{Flag: "log-format", Env: "BANKD_LOG_FORMAT", Default: "text", Usage: "log format: text or json"},
	},
}

// errExit means the flags asked for help and nothing else; it is not a
// failure.
var errExit = cli.ErrExit

// usageError is a bad flag or environment value; main exits 2 for it.
type usageError = cli.UsageError

var usageErrorf = cli.Usagef

// parseConfig reads args and env. It prints help to stdout and returns
// errExit when asked to, and returns a *usageError for bad input (printing
// the usage to stderr when a flag is unknown or malformed).
func parseConfig(args []string, env func(string) string, stdout, stderr io.Writer) (config, error) {
	vals, err := command.Parse(args, env, stdout, stderr)
	if err != nil {
		return config{}, err
	}
	values := make(map[string]*string, len(vals))
	for k, v := range vals {
		values[k] = &v
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
	cfg.noLock = *values["no-lock"] == "true"
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
