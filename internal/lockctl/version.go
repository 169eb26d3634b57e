package lockctl

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time with
// -ldflags "-X github.com/lockd/lockd/internal/lockctl.version=v1.2.3".
var version = ""

// devVersion is the version of a build that carries none, as lockd
// reports its own.
const devVersion = "dev"

// Version returns lockctl's version: the one set at build time, else the
// module version go install recorded, else "dev".
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return devVersion
}

// versionInfo is what the version command prints with -o json.
type versionInfo struct {
	Version string `json:"version"`
	Go      string `json:"go"`
}

func (g *globals) newVersion() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print lockctl's version",
		Args:  exactArgs(),
		RunE: func(*cobra.Command, []string) error {
			v := versionInfo{Version: Version(), Go: runtime.Version()}
			return g.emit(v, func(w io.Writer) { fmt.Fprintf(w, "lockctl %s (%s)\n", v.Version, v.Go) })
		},
	}
}
