// Command lockd serves distributed locks over HTTP/JSON. Without --redis
// it runs in dev mode over the memory engine; with it, over Redlock. Every
// flag has a LOCKD_ environment twin; see lockd --help. Flags are spelled
// --name (-name works too); lockd version prints the version.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/lockd/lockd/httpapi"
	"github.com/lockd/lockd/internal/cli"
	"github.com/lockd/lockd/internal/rawconn"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = ""

// Limits of the HTTP server. There is no ReadTimeout or WriteTimeout: an
// acquire may wait up to lockd.MaxWait, and httpapi bounds body reads and
// the writing of each answer (httpapi.DefaultWriteTimeout, plus a waiting
// acquire's wait).
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 64 << 10
	// cancelGrace is how long handlers get to answer once their contexts
	// are cancelled after the shutdown timeout.
	cancelGrace = time.Second
)

const devModeWarning = "dev mode: not highly available, state is lost on exit"

// quorumNodes is the fewest Redis nodes that survive the loss of one.
const quorumNodes = 3

func main() { cli.Main("lockd", run) }

// procsFor returns the GOMAXPROCS lockd sets for the setting procs, or 0
// to leave Go's: procs when it is given; otherwise 1 where Go chose 2 or
// fewer (current) and the GOMAXPROCS environment variable is not set.
// lockd's work is system calls and goroutine wake-ups; on a 2-CPU machine
// shared with its Redis nodes and clients, a second P woke and spun for
// nearly every one: under 16 workers on one lock, 1 P cut lockd's CPU a
// cycle from 518 to 349µs and raised the rate 1.23x; with 32 workers on
// their own locks, 428 to 219µs and 1.5x (docs/benchmarks.md).
func procsFor(procs int, envSet bool, current int) int {
	switch {
	case procs > 0:
		return procs
	case envSet || current > 2:
		return 0
	default:
		return 1
	}
}

// How log lines are batched: written at most logBatch after the first
// line of a batch, or at once past logBatchBytes.
const (
	logBatch      = 20 * time.Millisecond
	logBatchBytes = 64 << 10
)

// run serves until ctx ends, then shuts down gracefully: it stops
// accepting, lets in-flight requests finish within the shutdown timeout
// (cancelling those still running after it), and closes the engine. It
// returns nil after a clean shutdown or when --help, --version or the
// version subcommand was asked for, a *usageError for bad flags, arguments
// or environment, and other errors
// when the engine or the listener cannot start or serving fails.
func run(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, env, stdout, stderr)
	if errors.Is(err, errExit) {
		return nil
	}
	if err != nil {
		return err
	}
	// Lines are written in batches at most logBatch apart: one write per
	// line costs a busy lockd several percent of its CPU (the event log
	// has two lines a lock cycle).
	logOut := cli.NewBatchWriter(stderr, logBatch, logBatchBytes)
	defer logOut.Close()
	log := cli.NewLogger(cfg.logFormat, cfg.logLevel, logOut)
	if n := procsFor(cfg.procs, env("GOMAXPROCS") != "", runtime.GOMAXPROCS(0)); n > 0 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(n))
	}
	if len(cfg.redis) == 0 {
		log.Warn(devModeWarning+"; "+listenNote(cfg), slog.String("addr", cfg.addr))
	} else if len(cfg.redis) < quorumNodes {
		log.Warn("fewer than 3 Redis nodes: a quorum needs all of them, so losing any one stops locking; run 3 or more, an odd number",
			slog.Int("nodes", len(cfg.redis)))
	}
	b, err := newEngine(ctx, cfg, log)
	if err != nil {
		return fmt.Errorf("starting engine: %w", err)
	}
	eng, mode := b.engine, b.mode
	if mode == httpapi.ModeRedis {
		h := eng.Health(ctx)
		up := 0
		for _, n := range h.Nodes {
			if n.OK {
				up++
			} else {
				log.Warn("redis node not answering", slog.String("node", n.Addr), slog.String("err", n.Error))
			}
		}
		log.Info("redis mode", slog.Int("nodes", len(h.Nodes)), slog.Int("up", up), slog.Bool("ready", h.Ready))
	}
	if cfg.mongoURI != "" {
		log.Info("mongodb store on", slog.String("db", cfg.mongoDB), slog.String("instance", cfg.instance), slog.Duration("journal_retention", cfg.retention))
	}
	defer func() {
		// Flushing the journal gets its own bound: the shutdown timeout.
		ctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
		defer cancel()
		if err := b.close(ctx); err != nil {
			log.Error("closing engine and store", slog.Any("err", err))
		}
	}()

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	ln = rawconn.Listener{Listener: ln}
	scheme := "http"
	if cfg.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.tlsCert, cfg.tlsKey)
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("--tls-cert and --tls-key: %w", err)
		}
		ln, scheme = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}), "https"
	}
	if openToOthers(cfg) {
		log.Warn("NO AUTHENTICATION: lockd listens on a non-loopback address without API keys, so anyone who reaches it can take, keep and release any lock; configure keys in the --config file",
			slog.String("addr", ln.Addr().String()))
	}
	if cfg.pprofAddr != "" {
		stop, err := servePprof(cfg.pprofAddr, log)
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("listening for --pprof: %w", err)
		}
		defer stop()
	}
	api := httpapi.New(eng, append(b.opts, httpapi.WithLogger(log), httpapi.WithMode(mode), httpapi.WithVersion(buildVersion()), httpapi.WithKeys(cfg.keys), httpapi.WithLimits(cfg.limits))...)
	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
	}
	log.Info("listening", slog.String("addr", ln.Addr().String()), slog.String("scheme", scheme), slog.String("mode", mode),
		slog.String("version", buildVersion()), slog.Int("api_keys", len(cfg.keys)), slog.Int("procs", runtime.GOMAXPROCS(0)))
	var stopping atomic.Int64 // when ctx ended, in Unix nanoseconds
	context.AfterFunc(ctx, func() { stopping.Store(time.Now().UnixNano()) })
	err = cli.Serve(ctx, srv, api.Listener(ln), log, cfg.shutdownTimeout, cancelGrace)
	// Parked waits are not requests the http.Server waits for: they get
	// the rest of the shutdown timeout, counted from the signal, and the
	// grace after it, before the engine closes.
	stop := time.Now()
	if at := stopping.Load(); at != 0 {
		stop = time.Unix(0, at).Add(cfg.shutdownTimeout)
	}
	drainCtx, cancel := context.WithDeadline(context.Background(), stop)
	defer cancel()
	if n := api.Drain(drainCtx, cancelGrace); n > 0 {
		log.Warn("shutdown timeout passed; cancelling in-flight requests", slog.Int("parked_waits", n))
	}
	return err
}

// openToOthers reports whether lockd listens where other machines may
// reach it without API keys: then anyone who reaches it can take and
// release any lock, which lockd says loudly at start.
func openToOthers(cfg config) bool { return len(cfg.keys) == 0 && !isLoopback(cfg.addr) }

// listenNote says where dev mode listens, and whether only this machine
// can reach it.
func listenNote(cfg config) string {
	note := "listening on " + cfg.addr
	if isLoopback(cfg.addr) {
		note += ", loopback only"
	}
	if cfg.addrDefaulted {
		note += " (--addr to change)"
	}
	return note
}

// isLoopback reports whether addr's host is a loopback address or
// localhost.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// buildVersion is the version set at build time, else the module version
// go install recorded, else "dev".
func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return httpapi.DefaultVersion
}
