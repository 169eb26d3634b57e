package main

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/httpapi"
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
	procs           int // 0: chosen by procsFor
	eventLog        bool
	keys            []httpapi.Key
	tlsCert, tlsKey string
	redisCA         string
	limits          httpapi.Limits
}

// command is lockd's flags and help. Its version is filled in by
// parseConfig, since buildVersion reads the binary's build info.
var command = cli.Command{
	Name:   "lockd",
	Usages: []string{"config print [flags]"},
	About: `lockd serves distributed locks over HTTP/JSON. Without --redis it runs in
dev mode: one process, state in memory, lost on exit. Settings come from
the flags, else their environment variables, else the YAML file --config
names, else the defaults; "lockd config print" shows the result.
`,
	Settings: []cli.Setting{
		{Flag: "config", Env: "LOCKD_CONFIG", Usage: "YAML file of settings, keyed by flag name (redis: [a:6379, b:6379]); flags and environment variables override it"},
		{Flag: "addr", Env: "LOCKD_ADDR", Usage: "address to listen on, host:port; none means " + devAddr + " in dev mode (loopback only) and " + redisAddr + " in Redis mode"},
		{Flag: "redis", Env: "LOCKD_REDIS", Usage: "comma-separated Redis host:port list; when set, lockd runs in Redis mode, else in dev mode (memory, one process)"},
		{Flag: "node-timeout", Env: "LOCKD_NODE_TIMEOUT", Default: "200ms", Usage: "Redis mode: bound on each call to one Redis node (at most a third of a lease's TTL is used)"},
		{Flag: "max-ttl", Env: "LOCKD_MAX_TTL", Default: lockd.MaxTTL.String(), Usage: "Redis mode: longest lease TTL granted or extended (at most " + lockd.MaxTTL.String() + "); a restarted Redis node gets no vote for this long after lockd sees the restart, so lower it to the longest TTL your clients use"},
		{Flag: "rejoin-delay", Env: "LOCKD_REJOIN_DELAY", Usage: "Redis mode: how long a restarted Redis node (new run_id) gets no vote; none means --max-ttl. Set 0 only when every node keeps its data across restarts (appendonly yes, appendfsync always)"},
		{Flag: "redis-tls-ca", Env: "LOCKD_REDIS_TLS_CA", Usage: "Redis mode: PEM file of the CA certificates that rediss:// nodes are verified against; none means the system's roots"},
		{Flag: "redis-allow-eviction", Env: "LOCKD_REDIS_ALLOW_EVICTION", Bool: true, Default: "false", Usage: "Redis mode: count nodes whose maxmemory-policy can evict keys (anything but noeviction); such a node can drop a held lock and grant it again, so they get no vote unless this is set"},
		{Flag: "mongo", Env: "LOCKD_MONGO_URI", Usage: "MongoDB URI; when set, fences are minted in MongoDB and lock records and a journal are kept there (both modes)"},
		{Flag: "mongo-db", Env: "LOCKD_MONGO_DB", Default: "lockd", Usage: "MongoDB database"},
		{Flag: "journal-retention", Env: "LOCKD_JOURNAL_RETENTION", Default: "168h", Usage: "how long journal events are kept (whole seconds)"},
		{Flag: "instance", Env: "LOCKD_INSTANCE", Usage: "this instance's id in the journal; none means hostname-pid"},
		{Flag: "log-format", Env: "LOCKD_LOG_FORMAT", Default: "text", Usage: "log format: text or json"},
		{Flag: "log-level", Env: "LOCKD_LOG_LEVEL", Default: "info", Usage: "log level: debug, info, warn or error"},
		{Flag: "tls-cert", Env: "LOCKD_TLS_CERT", Usage: "PEM certificate (chain) file: serve HTTPS instead of HTTP; needs --tls-key"},
		{Flag: "tls-key", Env: "LOCKD_TLS_KEY", Usage: "PEM private key file of --tls-cert"},
		{Flag: "max-waiters", Env: "LOCKD_MAX_WAITERS", Default: "20000", Usage: "acquires that may wait at once in this lockd (each holds a connection; a wait that lasts is parked, about 19 KiB of lockd memory); more get 429; 0 means no limit"},
		{Flag: "max-waiters-per-name", Env: "LOCKD_MAX_WAITERS_PER_NAME", Default: "10000", Usage: "acquires that may wait at once for one name; more get 429; 0 means no limit"},
		{Flag: "rate-limit", Env: "LOCKD_RATE_LIMIT", Default: "0", Usage: "requests per second one client may send (its API key, else its IP address); more get 429; 0 means no limit"},
		{Flag: "rate-burst", Env: "LOCKD_RATE_BURST", Default: "0", Usage: "requests one client may send at once under --rate-limit; 0 means the rate rounded up"},
		{Flag: "names-per-minute", Env: "LOCKD_NAMES_PER_MINUTE", Default: "0", Usage: "distinct lock, semaphore and election names one client may use in a minute; more get 429; 0 means no limit"},
		{Flag: "max-observers-per-client", Env: "LOCKD_MAX_OBSERVERS_PER_CLIENT", Default: "256", Usage: "election observe streams one client (its API key, else its IP address) may keep open at once, of the 1024 this lockd serves; more get 429; 0 means no limit"},
		{Flag: "event-log", Env: "LOCKD_EVENT_LOG", Bool: true, Default: "true", Usage: "log one info line per grant, refusal after a wait, loss and release (name, owner, fence, wait, hold time)"},
		{Flag: "pprof", Env: "LOCKD_PPROF", Usage: "serve Go's profiles (/debug/pprof/) on this host:port, apart from the API; none means off. Profiles show internals: keep it on a loopback address"},
		{Flag: "shutdown-timeout", Env: "LOCKD_SHUTDOWN_TIMEOUT", Default: "10s", Usage: "on SIGINT or SIGTERM, how long in-flight requests may take to finish"},
		{Flag: "procs", Env: "LOCKD_PROCS", Default: "0", Usage: "how many threads run lockd's Go code at once (GOMAXPROCS); 0 means 1 where Go would use 2 or fewer (a small machine, where a second one costs more in wake-ups than it adds), else Go's choice; the GOMAXPROCS environment variable, when set, stands for 0"},
	},
}

// errExit means the arguments asked for output (--help, --version,
// version) and nothing else; it is not a failure.
var errExit = cli.ErrExit

// usageError is a bad flag or environment value; main exits 2 for it.
type usageError = cli.UsageError

var usageErrorf = cli.Usagef

// parseConfig reads args, env and the config file (--config), in that
// order of precedence over the defaults. It prints help, the version or
// the effective config ("lockd config print") to stdout and returns
// errExit when asked to, and returns a *usageError for bad input (printing
// the usage to stderr when a flag is unknown or malformed). Every message
// names the setting: a flag as --name with its environment twin, or the
// file's key.
func parseConfig(args []string, env func(string) string, stdout, stderr io.Writer) (config, error) {
	cmd := command
	cmd.Version = buildVersion()
	printing := len(args) > 0 && args[0] == "config"
	if printing {
		if len(args) < 2 || args[1] != "print" {
			return config{}, usageErrorf("lockd config takes the subcommand print: lockd config print [flags]")
		}
		args = args[2:]
	}
	layers, err := cmd.ParseLayers(args, env, stdout, stderr)
	if err != nil {
		return config{}, err
	}
	s, err := loadSettings(layers)
	if err != nil {
		return config{}, err
	}
	cfg, err := s.config()
	if err != nil {
		return config{}, err
	}
	if printing {
		s.print(stdout)
		return config{}, errExit
	}
	return cfg, nil
}

// config validates the settings into a config.
func (s *settings) config() (config, error) {
	cfg := config{addr: s.get("addr"), logFormat: s.get("log-format")}
	if r := strings.TrimSpace(s.get("redis")); r != "" {
		for _, a := range strings.Split(r, ",") {
			a = strings.TrimSpace(a)
			if a == "" {
				return config{}, usageErrorf("%s %q has an empty address", s.label("redis"), r)
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
		return config{}, usageErrorf("%s %q: want text or json", s.label("log-format"), cfg.logFormat)
	}
	switch lvl := s.get("log-level"); lvl {
	case "debug", "info", "warn", "error":
		// UnmarshalText knows these four; nothing else is accepted.
		_ = cfg.logLevel.UnmarshalText([]byte(lvl))
	default:
		return config{}, usageErrorf("%s %q: want debug, info, warn or error", s.label("log-level"), lvl)
	}
	var err error
	if cfg.shutdownTimeout, err = s.duration("shutdown-timeout", "a positive duration like 10s", func(d time.Duration) bool { return d > 0 }); err != nil {
		return config{}, err
	}
	if cfg.nodeTimeout, err = s.duration("node-timeout", "a positive duration like 200ms", func(d time.Duration) bool { return d > 0 }); err != nil {
		return config{}, err
	}
	if cfg.maxTTL, err = s.duration("max-ttl", fmt.Sprintf("a duration in [%v, %v]", lockd.MinTTL, lockd.MaxTTL), func(d time.Duration) bool {
		return d >= lockd.MinTTL && d <= lockd.MaxTTL
	}); err != nil {
		return config{}, err
	}
	cfg.rejoinDelay = -1
	if strings.TrimSpace(s.get("rejoin-delay")) != "" {
		if cfg.rejoinDelay, err = s.duration("rejoin-delay", "a duration like 1h, or 0", func(d time.Duration) bool { return d >= 0 }); err != nil {
			return config{}, err
		}
	}
	if cfg.allowEviction, err = s.bool("redis-allow-eviction"); err != nil {
		return config{}, err
	}
	cfg.mongoURI = strings.TrimSpace(s.get("mongo"))
	cfg.mongoDB = s.get("mongo-db")
	if cfg.mongoDB == "" {
		return config{}, usageErrorf("%s is empty", s.label("mongo-db"))
	}
	if cfg.retention, err = s.duration("journal-retention", "whole seconds, at least 1s, like 168h", func(d time.Duration) bool {
		return d >= time.Second && d%time.Second == 0
	}); err != nil {
		return config{}, err
	}
	cfg.pprofAddr = strings.TrimSpace(s.get("pprof"))
	if cfg.procs, err = strconv.Atoi(s.get("procs")); err != nil || cfg.procs < 0 {
		return config{}, usageErrorf("%s %q: want a whole number, 0 or more", s.label("procs"), s.get("procs"))
	}
	if cfg.eventLog, err = s.bool("event-log"); err != nil {
		return config{}, err
	}
	cfg.redisCA = strings.TrimSpace(s.get("redis-tls-ca"))
	if cfg.limits, err = s.limitsConfig(); err != nil {
		return config{}, err
	}
	cfg.keys = s.keys
	cfg.tlsCert, cfg.tlsKey = strings.TrimSpace(s.get("tls-cert")), strings.TrimSpace(s.get("tls-key"))
	if (cfg.tlsCert == "") != (cfg.tlsKey == "") {
		return config{}, usageErrorf("%s and %s go together: give both, or neither", s.label("tls-cert"), s.label("tls-key"))
	}
	cfg.instance = s.get("instance")
	if cfg.instance == "" {
		cfg.instance = lockd.DefaultInstance()
	}
	return cfg, nil
}

// duration parses the setting name as a duration that ok accepts; want
// says what is accepted, in the error.
func (s *settings) duration(name, want string, ok func(time.Duration) bool) (time.Duration, error) {
	v := s.get(name)
	d, err := time.ParseDuration(v)
	if err != nil || !ok(d) {
		return 0, usageErrorf("%s %q: want %s", s.label(name), v, want)
	}
	return d, nil
}

// bool parses the setting name as true or false.
func (s *settings) bool(name string) (bool, error) {
	switch v := s.get(name); v {
	case "true", "false":
		return v == "true", nil
	default:
		return false, usageErrorf("%s %q: want true or false", s.label(name), v)
	}
}

// limitsConfig reads the limits.
func (s *settings) limitsConfig() (httpapi.Limits, error) {
	var l httpapi.Limits
	var err error
	for _, f := range []struct {
		name string
		to   *int
	}{{"max-waiters", &l.MaxWaiters}, {"max-waiters-per-name", &l.MaxWaitersPerName}, {"rate-burst", &l.Burst}, {"names-per-minute", &l.NamesPerMinute}, {"max-observers-per-client", &l.ObserversPerClient}} {
		if *f.to, err = strconv.Atoi(s.get(f.name)); err != nil || *f.to < 0 {
			return l, usageErrorf("%s %q: want a whole number, 0 or more", s.label(f.name), s.get(f.name))
		}
	}
	if l.Rate, err = strconv.ParseFloat(s.get("rate-limit"), 64); err != nil || l.Rate < 0 || math.IsInf(l.Rate, 0) || math.IsNaN(l.Rate) {
		return l, usageErrorf("%s %q: want requests per second, 0 or more", s.label("rate-limit"), s.get("rate-limit"))
	}
	return l, nil
}
