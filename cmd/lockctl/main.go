// Command lockctl is lockd's command-line client: it takes, extends,
// releases and inspects locks, runs commands under a lock, reads their
// history, and loads a lockd with bench. The commands live in
// internal/lockctl; see docs/cli.md or lockctl --help.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/lockd/lockd/internal/lockctl"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, a second one kills the process the
		// default way.
		<-ctx.Done()
		stop()
	}()
	code := lockctl.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
