package lockctl

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"
)

// timeLayout is how text output shows a time: RFC 3339 with milliseconds,
// in the local time zone.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// emit writes a command's result: v as indented JSON with -o json, else
// what text writes.
func (g *globals) emit(v any, text func(w io.Writer)) error {
	if g.output == outputJSON {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			return g.runErr(fmt.Errorf("writing output: %w", err))
		}
		return nil
	}
	text(g.stdout)
	return nil
}

// fields writes key/value pairs as aligned "key:  value" lines, leaving
// out pairs whose value is empty.
func fields(w io.Writer, kv ...string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", kv[i], kv[i+1])
		}
	}
	_ = tw.Flush()
}

// when shows t with how far it is from now: "2026-11-26T03:41:43.889Z (in
// 9.9s)".
func (g *globals) when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := t.Sub(g.now())
	rel := "in " + roughly(d)
	if d < 0 {
		rel = roughly(-d) + " ago"
	}
	return t.Local().Format(timeLayout) + " (" + rel + ")"
}

// roughly rounds d for people: to 100ms from a second up, else to the
// millisecond.
func roughly(d time.Duration) string {
	if d >= time.Second {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Millisecond).String()
}

// isTerminal reports whether w is a terminal (a character device), which
// is when live progress is worth drawing.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
