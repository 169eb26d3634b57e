package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/lockd/lockd"
)

// NewLogger returns a logger writing text or, for format "json", JSON
// lines to w at the given level.
func NewLogger(format string, level slog.Level, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Serve serves srv on ln until ctx ends, then shuts down gracefully: it
// stops accepting and lets in-flight requests finish within shutdown; past
// that it cancels their contexts (which Serve owns, through srv's
// BaseContext) with lockd.ErrUnavailable as the cause, so that handlers can
// tell their clients to retry elsewhere, and gives them grace more to
// answer before closing what is left. srv's ErrorLog goes to log. Serve
// returns nil after a clean shutdown and the serving error otherwise.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, log *slog.Logger, shutdown, grace time.Duration) error {
	reqCtx, cancelRequests := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelRequests(lockd.ErrUnavailable)
	srv.BaseContext = func(net.Listener) context.Context { return reqCtx }
	srv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", slog.Duration("timeout", shutdown))
	shutCtx, cancel := context.WithTimeout(context.Background(), shutdown)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		// Long waits are the usual stragglers: end them so their clients
		// get an answer rather than a cut connection.
		log.Warn("shutdown timeout passed; cancelling in-flight requests", slog.Any("err", err))
		cancelRequests(lockd.ErrUnavailable)
		graceCtx, cancelGrace := context.WithTimeout(context.Background(), grace)
		defer cancelGrace()
		if err := srv.Shutdown(graceCtx); err != nil {
			_ = srv.Close()
		}
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving: %w", err)
	}
	log.Info("stopped")
	return nil
}
