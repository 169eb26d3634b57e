package main

import (
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/cli"
)

// Default listen addresses. Dev mode keeps no state worth sharing and
// has no authentication, so by default only this machine can reach it.
const (
	devAddr   = "127.0.0.1:3000"
	redisAddr = ":3000"
)

// config is what the flags and their environment twins decide.
type config struct {
	// addr is where to listen; addrDefaulted says it was not given.
	addr            string
	addrDefaulted   bool
	redis           []string
	logFormat       string
	logLevel        slog.Level
	shutdownTimeout time.Duration
	nodeTimeout     time.Duration
	allowEviction   bool
	maxTTL          time.Duration
	rejoinDelay     time.Duration // -1: the default, maxTTL
	mongoURI        string
	mongoDB         string
	retention       time.Duration
	instance        string
	pprofAddr       string
	eventLog        bool
}

// command is lockd's flags and help. Its version is filled in by
// parseConfig, since buildVersion reads the binary's build info.
var command = cli.Command{
	Name: "lockd",
	About: `lockd serves distributed locks over HTTP/JSON. Without --redis it runs in
dev mode: one process, state in memory, lost on exit.
`,
	Settings: []cli.Setting{
		{Flag: "addr", Env: "LOCKD_ADDR", Usage: "address to listen on, host:port; none means " + devAddr + " in dev mode (loopback only) and " + redisAddr + " in Redis mode"},
		{Flag: "redis", Env: "LOCKD_REDIS", Usage: "comma-separated Redis host:port list; when set, lockd runs in Redis mode, else in dev mode (memory, one process)"},
		{Flag: "node-timeout", Env: "LOCKD_NODE_TIMEOUT", Default: "200ms", Usage: "Redis mode: bound on each call to one Redis node (at most a third of a lease's TTL is used)"},
		{Flag: "max-ttl", Env: "LOCKD_MAX_TTL", Default: lockd.MaxTTL.String(), Usage: "Redis mode: longest lease TTL granted or extended (at most " + lockd.MaxTTL.String() + "); a restarted Redis node gets no vote for this long after lockd sees the restart, so lower it to the longest TTL your clients use"},
		{Flag: "rejoin-delay", Env: "LOCKD_REJOIN_DELAY", Usage: "Redis mode: how long a restarted Redis node (new run_id) gets no vote; none means --max-ttl. Set 0 only when every node keeps its data across restarts (appendonly yes, appendfsync always)"},
		{Flag: "redis-allow-eviction", Env: "LOCKD_REDIS_ALLOW_EVICTION", Bool: true, Default: "false", Usage: "Redis mode: count nodes whose maxmemory-policy can evict keys (anything but noeviction); such a node can drop a held lock and grant it again, so they get no vote unless this is set"},
		{Flag: "mongo", Env: "LOCKD_MONGO_URI", Usage: "MongoDB URI; when set, fences are minted in MongoDB and lock records and a journal are kept there (both modes)"},
		{Flag: "mongo-db", Env: "LOCKD_MONGO_DB", Default: "lockd", Usage: "MongoDB database"},
		{Flag: "journal-retention", Env: "LOCKD_JOURNAL_RETENTION", Default: "168h", Usage: "how long journal events are kept (whole seconds)"},
		{Flag: "instance", Env: "LOCKD_INSTANCE", Usage: "this instance's id in the journal; none means hostname-pid"},
		{Flag: "log-format", Env: "LOCKD_LOG_FORMAT", Default: "text", Usage: "log format: text or json"},
		{Flag: "log-level", Env: "LOCKD_LOG_LEVEL", Default: "info", Usage: "log level: debug, info, warn or error"},
		{Flag: "event-log", Env: "LOCKD_EVENT_LOG", Bool: true, Default: "true", Usage: "log one info line per grant, refusal after a wait, loss and release (name, owner, fence, wait, hold time)"},
		{Flag: "pprof", Env: "LOCKD_PPROF", Usage: "serve Go's profiles (/debug/pprof/) on this host:port, apart from the API; none means off. Profiles show internals: keep it on a loopback address"},
		{Flag: "shutdown-timeout", Env: "LOCKD_SHUTDOWN_TIMEOUT", Default: "10s", Usage: "on SIGINT or SIGTERM, how long in-flight requests may take to finish"},
	},
}

// errExit means the arguments asked for output (--help, --version,
// version) and nothing else; it is not a failure.
var errExit = cli.ErrExit

// usageError is a bad flag or environment value; main exits 2 for it.
type usageError = cli.UsageError

var usageErrorf = cli.Usagef

// parseConfig reads args and env. It prints help or the version to stdout
// and returns errExit when asked to, and returns a *usageError for bad
// input (printing the usage to stderr when a flag is unknown or malformed).
// Every message names a flag as --name, with its environment twin.
func parseConfig(args []string, env func(string) string, stdout, stderr io.Writer) (config, error) {
	cmd := command
	cmd.Version = buildVersion()
	vals, err := cmd.Parse(args, env, stdout, stderr)
	if err != nil {
		return config{}, err
	}
	values := make(map[string]*string, len(vals))
	for k, v := range vals {
		values[k] = &v
	}
	cfg := config{addr: *values["addr"], logFormat: *values["log-format"]}
	if r := strings.TrimSpace(*values["redis"]); r != "" {
		for _, a := range strings.Split(r, ",") {
			a = strings.TrimSpace(a)
			if a == "" {
				return config{}, usageErrorf("--redis (LOCKD_REDIS) %q has an empty address", r)
			}
			cfg.redis = append(cfg.redis, a)
		}
	}
	if cfg.addr == "" {
		cfg.addr, cfg.addrDefaulted = devAddr, true
		if len(cfg.redis) > 0 {
			cfg.addr = redisAddr
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
	mt, err := time.ParseDuration(*values["max-ttl"])
	if err != nil || mt < lockd.MinTTL || mt > lockd.MaxTTL {
		return config{}, usageErrorf("--max-ttl (LOCKD_MAX_TTL) %q: want a duration in [%v, %v]", *values["max-ttl"], lockd.MinTTL, lockd.MaxTTL)
	}
	cfg.maxTTL, cfg.rejoinDelay = mt, -1
	if v := strings.TrimSpace(*values["rejoin-delay"]); v != "" {
		rd, err := time.ParseDuration(v)
		if err != nil || rd < 0 {
			return config{}, usageErrorf("--rejoin-delay (LOCKD_REJOIN_DELAY) %q: want a duration like 1h, or 0", v)
		}
		cfg.rejoinDelay = rd
	}
	switch v := *values["redis-allow-eviction"]; v {
	case "true", "false":
		cfg.allowEviction = v == "true"
	default:
		return config{}, usageErrorf("--redis-allow-eviction (LOCKD_REDIS_ALLOW_EVICTION) %q: want true or false", v)
	}
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
	cfg.pprofAddr = strings.TrimSpace(*values["pprof"])
	switch v := *values["event-log"]; v {
	case "true", "false":
		cfg.eventLog = v == "true"
	default:
		return config{}, usageErrorf("--event-log (LOCKD_EVENT_LOG) %q: want true or false", v)
	}
	cfg.instance = *values["instance"]
	if cfg.instance == "" {
		cfg.instance = lockd.DefaultInstance()
	}
	return cfg, nil
}
