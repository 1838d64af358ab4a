package history

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteTable writes entries as `slotless history` lists them, newest first as given: when, the
// kind, who, the slot, the version, the outcome and the reason (the report's headline), and the
// id to pass to `slotless report --id`.
func WriteTable(w io.Writer, entries []Entry) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WHEN\tKIND\tBY\tSLOT\tVERSION\tOUTCOME\tID")
	for _, e := range entries {
		outcome := e.Outcome
		if e.InFlight {
			outcome += " (in flight)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Started.UTC().Format(time.RFC3339), e.Kind, dash(e.By), dash(e.Slot), dash(e.Version), dash(outcome), e.ID)
		if e.Reason != "" {
			fmt.Fprintf(tw, "\t  %s\t\t\t\t\t\n", strings.TrimSpace(e.Reason))
		}
	}
	return tw.Flush()
}

func dash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}
