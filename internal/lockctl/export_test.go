package lockctl

import (
	"context"
	"io"
	"os"
	"time"
)

// MainWithSignals is Main with sigs standing for the signals the process
// receives, so that a test can signal run without signalling itself.
func MainWithSignals(ctx context.Context, sigs <-chan os.Signal, args []string, stdin io.Reader, stdout, stderr io.Writer, env func(string) string) int {
	g := &globals{env: env, stdin: stdin, stdout: stdout, stderr: stderr, now: time.Now,
		signals: func() (<-chan os.Signal, func()) { return sigs, func() {} }}
	return g.main(ctx, args)
}
