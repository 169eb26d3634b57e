package lockctl

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/wire"
)

// history is what the history command prints: the HTTP API's events
// (wire.Event, so the JSON names cannot drift), with the lock's name.
type history struct {
	Name   string       `json:"name"`
	Events []wire.Event `json:"events"`
}

func (g *globals) newHistory() *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "history NAME",
		Short: "List a lock's journal events, newest first",
		Long: "history lists the journal events of the lock NAME (acquired, extended, released, expired, lost,\n" +
			"denied), newest first, with the owner, fence and lockd instance of each. Leases are never shown.\n\n" +
			"It needs a lockd started with a store (--mongo); against one without, it says so and exits 1.",
		Example:           "  lockctl history orders:42 --limit 10",
		Args:              exactArgs("NAME"),
		ValidArgsFunction: noFiles,
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if limit < 1 || limit > lockd.MaxHistoryLimit {
				return usagef("--limit %d: want 1 to %d", limit, lockd.MaxHistoryLimit)
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			defer c.Close()
			evs, err := c.History(cmd.Context(), name, limit)
			if errors.Is(err, lockd.ErrNotConfigured) {
				return &exitError{code: ExitFailure, err: err,
					msg: fmt.Sprintf("lockd at %s keeps no history: it runs without a store (start it with --mongo)", g.url)}
			}
			if err != nil {
				return g.runErr(err)
			}
			out := history{Name: name, Events: make([]wire.Event, 0, len(evs))}
			for _, ev := range evs {
				out.Events = append(out.Events, wire.FromEvent(ev))
			}
			return g.emit(out, func(w io.Writer) { g.historyText(w, out) })
		},
	}
	cmd.Flags().IntVar(&limit, "limit", lockd.DefaultHistoryLimit, fmt.Sprintf("most events to list, 1 to %d", lockd.MaxHistoryLimit))
	return cmd
}

// historyText writes h as a table, one event a line.
func (g *globals) historyText(w io.Writer, h history) {
	if len(h.Events) == 0 {
		fmt.Fprintf(w, "no events for %s\n", h.Name)
		return
	}
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "AT\tKIND\tOWNER\tFENCE\tINSTANCE\tDETAIL")
	for _, ev := range h.Events {
		fence := "-"
		if ev.Fence != 0 {
			fence = strconv.FormatInt(ev.Fence, 10)
		}
		var detail string
		switch {
		case !ev.ExpiresAt.IsZero():
			detail = "expires " + ev.ExpiresAt.Local().Format(timeLayout)
		case ev.Holder != "":
			detail = "held by " + ev.Holder
		case ev.Reason != "":
			detail = "reason: " + ev.Reason
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", ev.At.Local().Format(timeLayout), ev.Kind, dash(ev.Owner), fence, dash(ev.Instance), detail)
	}
	_ = tw.Flush()
	// tabwriter pads the cell before an empty DETAIL; no line should end in spaces.
	for line := range strings.Lines(buf.String()) {
		fmt.Fprintln(w, strings.TrimRight(line, " \n"))
	}
}

// dash shows an empty value as "-".
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
