package status

import (
	"fmt"
	"io"
	"time"
)

// Watcher is what the watcher's heartbeat says of it: when it last ran, which slotless, what
// it found, and whether it is down (more than a few periods without a tick). A healthy tick
// leaves no history entry, so this line is how a team sees that the watcher runs at all.
type Watcher struct {
	// Line is the sentence status prints (watcher.Liveness).
	Line string `json:"line"`
	// Running is false when it never ran or has missed more than a few periods.
	Running       bool      `json:"running"`
	LastRan       time.Time `json:"lastRan,omitzero"`
	Version       string    `json:"version,omitempty"`
	Found         string    `json:"found,omitempty"`
	MissedPeriods int       `json:"missedPeriods,omitempty"`
	// Skipped says why the heartbeat could not be read.
	Skipped string `json:"skipped,omitempty"`
}

func (st Status) printWatcher(w io.Writer) {
	switch {
	case st.Watcher == nil:
	case st.Watcher.Skipped != "":
		fmt.Fprintf(w, "watcher: not read: %s\n", st.Watcher.Skipped)
	default:
		fmt.Fprintln(w, st.Watcher.Line)
	}
}
