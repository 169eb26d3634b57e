// Command bankd is lockd's demo service: it moves money between accounts
// stored in MongoDB, taking a lockd lock per account and writing with
// fenced updates (package fence), so that any number of bankd instances can
// run side by side and the total never changes. With --no-lock it does the
// same read-think-write without locks or fences, and concurrent transfers
// lose updates: the total drifts. See docs/demo.md and bankd --help.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/lockd/lockd/client"
	"github.com/lockd/lockd/internal/cli"
)

// Limits of the process.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 64 << 10
	// shutdownTimeout is how long in-flight requests get to finish on
	// SIGINT or SIGTERM before their contexts are cancelled; a cancelled
	// transfer gives up its lock waits, and one already writing finishes
	// its writes (they are bounded by writeTimeout).
	shutdownTimeout = 15 * time.Second
	// mongoTimeout bounds each MongoDB operation; startTimeout bounds the
	// first contact with MongoDB and lockd.
	mongoTimeout = 10 * time.Second
	startTimeout = 10 * time.Second
	// lockdTimeout bounds each request to lockd, not counting a wait.
	lockdTimeout = 5 * time.Second
)

func main() { cli.Main("bankd", run) }

// run serves until ctx ends, then shuts down gracefully. It returns nil
// after a clean shutdown or when --help was asked for, a *usageError for
// bad flags or environment, and other errors when MongoDB does not answer
// at start, the listener cannot start, or serving fails. lockd not
// answering at start is logged, not fatal: transfers answer 503 until it
// does.
func run(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, env, stdout, stderr)
	if errors.Is(err, errExit) {
		return nil
	}
	if err != nil {
		return err
	}
	log := cli.NewLogger(cfg.logFormat, slog.LevelInfo, stderr)

	mc, err := mongo.Connect(options.Client().ApplyURI(cfg.mongo).
		SetTimeout(mongoTimeout).
		SetConnectTimeout(startTimeout).
		SetServerSelectionTimeout(startTimeout))
	if err != nil {
		return fmt.Errorf("mongo: %w", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		defer cancel()
		if err := mc.Disconnect(dctx); err != nil {
			log.Error("disconnecting from mongo", slog.Any("err", err))
		}
	}()
	pctx, cancel := context.WithTimeout(ctx, startTimeout)
	err = mc.Ping(pctx, nil)
	cancel()
	if err != nil {
		return fmt.Errorf("mongo not answering: %w", err)
	}

	var locks *client.Client
	mode := "locked"
	if cfg.noLock {
		mode = "no-lock"
		log.Warn("no-lock mode: transfers take no locks and write without fences; concurrent transfers lose updates")
	} else {
		locks, err = client.New(cfg.lockd, client.WithTimeout(lockdTimeout))
		if err != nil {
			return &usageError{Err: fmt.Errorf("--lockd (BANKD_LOCKD): %w", err)}
		}
		defer func() { _ = locks.Engine().Close() }() // closes idle connections; cannot fail
		hctx, cancel := context.WithTimeout(ctx, startTimeout)
		h := locks.Engine().Health(hctx)
		cancel()
		if !h.Ready {
			log.Warn("lockd not ready; transfers answer 503 until it is", slog.String("lockd", cfg.lockd), slog.Any("nodes", h.Nodes))
		}
	}
	b := newBank(mc.Database(cfg.db).Collection(accountsCollection), locks, cfg.think, cfg.lockWait, log)

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	srv := &http.Server{
		Handler:           b.handler(),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
	}
	log.Info("listening", slog.String("addr", ln.Addr().String()), slog.String("mode", mode),
		slog.String("db", cfg.db), slog.Duration("think", cfg.think))
	// A cancelled transfer that is already writing finishes its writes,
	// which writeTimeout bounds.
	return cli.Serve(ctx, srv, ln, log, shutdownTimeout, writeTimeout+time.Second)
}
