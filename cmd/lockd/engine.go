package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/httpapi"
	"github.com/lockd/lockd/memlock"
	"github.com/lockd/lockd/metrics"
	"github.com/lockd/lockd/mongostore"
	"github.com/lockd/lockd/redlock"
)

// backend is what newEngine built: the engine to serve, the mode GET /
// reports, the server options it needs, and how to close it all.
type backend struct {
	engine lockd.Engine
	mode   string
	opts   []httpapi.Option
	// close closes the engine, then flushes and closes the store (if
	// any) within ctx.
	close func(ctx context.Context) error
}

// newEngine builds the engine cfg asks for: the memory engine in dev mode,
// Redlock over cfg.redis otherwise; with cfg.mongoURI, fences come from
// MongoDB and every outcome goes to its journal. The Redlock engine dials
// its nodes on first use, so it starts while some are down; MongoDB must
// answer at start (within ctx and the store's connect timeout), since
// lockd fails closed without it. It returns an *lockd.ArgumentError for a
// malformed node list and an error matching lockd.ErrStoreUnavailable when
// MongoDB cannot be reached. Everything reports to metrics on a registry of
// its own, served at GET /metrics.
func newEngine(ctx context.Context, cfg config, log *slog.Logger) (*backend, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := metrics.New(reg)
	if err != nil {
		return nil, err
	}
	var store *mongostore.Store
	if cfg.mongoURI != "" {
		var err error
		store, err = mongostore.New(ctx, cfg.mongoURI,
			mongostore.WithDatabase(cfg.mongoDB),
			mongostore.WithJournalRetention(cfg.retention),
			mongostore.WithInstance(cfg.instance),
			mongostore.WithLogger(log))
		if err != nil {
			return nil, err
		}
	}
	b := &backend{opts: []httpapi.Option{
		httpapi.WithRequestObserver(m),
		httpapi.WithMetrics(promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelError)})),
	}}
	var minter lockd.FenceMinter
	if store != nil {
		minter = metrics.Minter(store, m)
		if err := m.Journal(store); err != nil {
			_ = store.Close(ctx)
			return nil, err
		}
	}
	if len(cfg.redis) == 0 {
		var opts []memlock.Option
		if store != nil {
			opts = append(opts, memlock.WithFenceMinter(minter))
		}
		b.engine, b.mode = memlock.New(opts...), httpapi.ModeDev
	} else {
		opts := []redlock.Option{
			redlock.WithNodeTimeout(cfg.nodeTimeout),
			redlock.WithAllowEviction(cfg.allowEviction),
			redlock.WithLogger(log),
			redlock.WithMaxTTL(cfg.maxTTL),
			redlock.WithObserver(m),
		}
		if cfg.redisCA != "" {
			tc, err := redisTLS(cfg.redisCA)
			if err != nil {
				if store != nil {
					_ = store.Close(ctx)
				}
				return nil, err
			}
			opts = append(opts, redlock.WithTLSConfig(tc))
		}
		if cfg.rejoinDelay >= 0 {
			opts = append(opts, redlock.WithRejoinDelay(cfg.rejoinDelay))
		}
		if store != nil {
			opts = append(opts, redlock.WithFenceMinter(minter))
		}
		e, err := redlock.New(cfg.redis, opts...)
		if err != nil {
			if store != nil {
				_ = store.Close(ctx)
			}
			return nil, err
		}
		b.engine, b.mode = e, httpapi.ModeRedis
	}
	inner := b.engine
	var mopts []metrics.EngineOption
	if cfg.eventLog {
		mopts = append(mopts, metrics.WithEventLog(httpapi.LogRequestIDs(log)))
	}
	b.engine = metrics.Engine(inner, m, mopts...)
	b.close = func(ctx context.Context) error { return inner.Close() }
	if store != nil {
		b.engine = lockd.Journaled(b.engine, store, cfg.instance)
		b.opts = append(b.opts, httpapi.WithJournal(store), httpapi.WithReadyCheck("mongodb", store.Ping), httpapi.WithLister(store))
		b.close = func(ctx context.Context) error {
			return errors.Join(inner.Close(), store.Close(ctx))
		}
	}
	return b, nil
}

// redisTLS is the TLS configuration of rediss:// nodes that trusts the CA
// certificates in the PEM file at caFile.
func redisTLS(caFile string) (*tls.Config, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("--redis-tls-ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--redis-tls-ca: %s holds no PEM certificate", caFile)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}
