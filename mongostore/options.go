package mongostore

import (
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/lockd/lockd"
)

// Defaults of the options.
const (
	// DefaultDatabase is the database lockd keeps its collections in.
	DefaultDatabase = "lockd"
	// DefaultJournalRetention is how long journal events are kept.
	DefaultJournalRetention = 7 * 24 * time.Hour
	// DefaultQueueSize is how many journal events may wait to be written.
	DefaultQueueSize = 10000
	// DefaultOpTimeout bounds each operation on MongoDB.
	DefaultOpTimeout = 2 * time.Second
	// ConnectTimeout bounds New: reaching the server and creating the
	// indexes, unless its context ends first.
	ConnectTimeout = 10 * time.Second
)

type config struct {
	database  string
	retention time.Duration
	log       *slog.Logger
	queueSize int
	opTimeout time.Duration
	instance  string
}

// Option configures a Store.
type Option func(*config)

// WithDatabase sets the database lockd keeps its collections in. The
// default is DefaultDatabase.
func WithDatabase(name string) Option { return func(c *config) { c.database = name } }

// WithJournalRetention sets how long journal events are kept: a TTL index
// on lock_events.at deletes older ones. Whole seconds, at least one. The
// default is DefaultJournalRetention.
func WithJournalRetention(d time.Duration) Option { return func(c *config) { c.retention = d } }

// WithLogger sets where the Store logs journal events it could not write
// (at Error, with their content) and MongoDB outages (at Warn); nil
// discards them. The default is slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l == nil {
			l = slog.New(slog.DiscardHandler)
		}
		c.log = l
	}
}

// WithQueueSize sets how many journal events may wait to be written while
// MongoDB is slow or away; Record drops, counts and logs events beyond
// that. The default is DefaultQueueSize.
func WithQueueSize(n int) Option { return func(c *config) { c.queueSize = n } }

// WithOpTimeout bounds each operation on MongoDB, including each attempt
// of the journal writer. The default is DefaultOpTimeout.
func WithOpTimeout(d time.Duration) Option { return func(c *config) { c.opTimeout = d } }

// WithInstance sets the id of this lockd process, written into the journal
// events that carry none. The default is lockd.DefaultInstance().
func WithInstance(id string) Option { return func(c *config) { c.instance = id } }

func newConfig(opts []Option) (config, error) {
	cfg := config{
		database:  DefaultDatabase,
		retention: DefaultJournalRetention,
		log:       slog.Default(),
		queueSize: DefaultQueueSize,
		opTimeout: DefaultOpTimeout,
		instance:  lockd.DefaultInstance(),
	}
	for _, o := range opts {
		o(&cfg)
	}
	switch {
	case cfg.database == "":
		return cfg, &lockd.ArgumentError{Field: "database", Reason: "is required"}
	case cfg.retention < time.Second || cfg.retention%time.Second != 0 || cfg.retention/time.Second > math.MaxInt32:
		return cfg, &lockd.ArgumentError{Field: "journal_retention", Reason: fmt.Sprintf("must be whole seconds in [1s, %ds]", math.MaxInt32)}
	case cfg.queueSize < 1:
		return cfg, &lockd.ArgumentError{Field: "queue_size", Reason: "must be at least 1"}
	case cfg.opTimeout <= 0:
		return cfg, &lockd.ArgumentError{Field: "op_timeout", Reason: "must be positive"}
	case cfg.instance == "":
		return cfg, &lockd.ArgumentError{Field: "instance", Reason: "is required"}
	}
	return cfg, nil
}
