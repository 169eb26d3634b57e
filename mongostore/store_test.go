package mongostore

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/testenv/mongoenv"
)

func TestNew(t *testing.T) {
	t.Run("ErrStoreUnavailable", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close() // nothing listens there now
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		done := make(chan error, 1)
		go func() {
			s, err := New(ctx, "mongodb://"+addr+"/")
			if err == nil {
				_ = s.Close(context.Background())
			}
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, lockd.ErrStoreUnavailable) {
				t.Errorf("got %v, want ErrStoreUnavailable", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("New did not return within 10s with no server")
		}
	})

	t.Run("ArgumentError", func(t *testing.T) {
		tests := []struct {
			name  string
			uri   string
			opts  []Option
			field string
		}{
			{"URI", "http://127.0.0.1:1/", nil, "uri"},
			{"Database", "mongodb://127.0.0.1:1/", []Option{WithDatabase("")}, "database"},
			{"RetentionShort", "mongodb://127.0.0.1:1/", []Option{WithJournalRetention(500 * time.Millisecond)}, "journal_retention"},
			{"RetentionFraction", "mongodb://127.0.0.1:1/", []Option{WithJournalRetention(1500 * time.Millisecond)}, "journal_retention"},
			{"RetentionHuge", "mongodb://127.0.0.1:1/", []Option{WithJournalRetention(100 * 365 * 24 * time.Hour)}, "journal_retention"},
			{"QueueSize", "mongodb://127.0.0.1:1/", []Option{WithQueueSize(0)}, "queue_size"},
			{"OpTimeout", "mongodb://127.0.0.1:1/", []Option{WithOpTimeout(0)}, "op_timeout"},
			{"Instance", "mongodb://127.0.0.1:1/", []Option{WithInstance("")}, "instance"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s, err := New(ctxFor(t), tt.uri, tt.opts...)
				if err == nil {
					_ = s.Close(ctxFor(t))
				}
				var ae *lockd.ArgumentError
				if !errors.As(err, &ae) || ae.Field != tt.field {
					t.Errorf("got %v, want *lockd.ArgumentError for %q", err, tt.field)
				}
			})
		}
	})

	t.Run("OK", func(t *testing.T) {
		m := mongoenv.Start(t)
		s, _ := newStore(t, m)
		if err := s.Ping(ctxFor(t)); err != nil {
			t.Errorf("Ping: %v", err)
		}
		if got := s.Dropped(); got != 0 {
			t.Errorf("got Dropped() = %d, want 0", got)
		}
		closeStore(t, s)
		if err := s.Ping(ctxFor(t)); !errors.Is(err, lockd.ErrStoreUnavailable) {
			t.Errorf("Ping after Close: got %v, want ErrStoreUnavailable", err)
		}
	})
}

// TestDefaults checks the defaults that are defined once, in lockd.
func TestDefaults(t *testing.T) {
	cfg, err := newConfig(nil)
	if err != nil {
		t.Fatalf("newConfig: %v", err)
	}
	if want := lockd.DefaultInstance(); cfg.instance != want {
		t.Errorf("got instance %q, want lockd.DefaultInstance() = %q", cfg.instance, want)
	}
}
