package status

import (
	"strings"
	"testing"
)

// TestPrintWatcher: status prints the watcher's line when the stack declares one, why it could
// not be read when it could not, and nothing without a watcher.
func TestPrintWatcher(t *testing.T) {
	for _, tt := range []struct {
		name  string
		w     *Watcher
		want  string
		never string
	}{
		{"running", &Watcher{Line: "watcher: last ran 12s ago (2026-12-07T03:29:48Z), version v1.2.3", Running: true}, "watcher: last ran 12s ago", ""},
		{"down", &Watcher{Line: "watcher: last ran 10m0s ago; it has not run for 10 periods of 60s: it is down"}, "it has not run for 10 periods", ""},
		{"unreadable", &Watcher{Skipped: "its heartbeat cannot be read: 403"}, "watcher: not read: its heartbeat cannot be read: 403", ""},
		{"no watcher", nil, "", "watcher:"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			st := Status{Stack: "dev", LiveSlot: "green", IdleSlot: "blue", Watcher: tt.w, SlotsSkipped: "not asked"}
			st.Weights.Green = 100
			st.Print(&b)
			if tt.want != "" && !strings.Contains(b.String(), tt.want) {
				t.Errorf("got\n%s\nwant a line containing %q", b.String(), tt.want)
			}
			if tt.never != "" && strings.Contains(b.String(), tt.never) {
				t.Errorf("got\n%s\nwant no %q", b.String(), tt.never)
			}
		})
	}
}
