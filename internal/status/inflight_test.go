package status

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/slotless/slotless/internal/history"
)

func TestInFlightOf(t *testing.T) {
	now := time.Date(2026, 12, 7, 3, 30, 0, 0, time.UTC)
	bake := now.Add(-4 * time.Minute)
	running := history.Entry{ID: "r1", Kind: history.KindRelease, InFlight: true, Slot: "blue", Version: "1.1.0", Started: now.Add(-10 * time.Minute),
		Step: &history.InFlight{Step: 1, Steps: []int{10, 50, 100}, Weight: 10, BakeStarted: bake, Bake: 10 * time.Minute, LastAnalysis: now.Add(-time.Minute), Verdict: "pass"}}
	paused := running
	paused.ID, paused.Finished = "r2", now.Add(-time.Minute)
	done := history.Entry{ID: "r0", Kind: history.KindRelease, Outcome: "complete"}
	rollback := history.Entry{ID: "rb", Kind: history.KindRollback, Outcome: "rolled-back"}
	healthyTick := history.Entry{ID: "w", Kind: history.KindWatcher, Outcome: "watched"}
	refused := history.Entry{ID: "rf", Kind: history.KindRelease, Outcome: "refused"}
	watcherRollback := history.Entry{ID: "wr", Kind: history.KindWatcher, Outcome: "rolled-back"}
	for _, tt := range []struct {
		name    string
		entries []history.Entry
		want    string
		paused  bool
	}{
		{"a running release", []history.Entry{running, done}, "r1", false},
		{"a paused release, a healthy watcher tick since", []history.Entry{healthyTick, paused}, "r2", true},
		{"rolled back since", []history.Entry{rollback, running}, "", false},
		{"a release refused since, with nothing moved", []history.Entry{refused, paused}, "r2", true},
		{"rolled back by the watcher since", []history.Entry{watcherRollback, paused}, "", false},
		{"the last release completed", []history.Entry{done, running}, "", false},
		{"no history", nil, "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := InFlightOf(tt.entries, now)
			switch {
			case tt.want == "" && got != nil:
				t.Fatalf("got %s in flight, want none", got.ID)
			case tt.want == "":
				return
			case got == nil || got.ID != tt.want || got.Paused != tt.paused:
				t.Fatalf("got %+v, want %s (paused %v)", got, tt.want, tt.paused)
			}
			if !tt.paused && (got.BakeElapsed != 4*time.Minute || got.BakeRemaining != 6*time.Minute) {
				t.Errorf("bake: got %s elapsed, %s remaining; want 4m and 6m", got.BakeElapsed, got.BakeRemaining)
			}
		})
	}
}

func TestPrintHistory(t *testing.T) {
	for _, tt := range []struct {
		name string
		st   Status
		want []string
	}{
		{"not asked", Status{}, nil},
		{"unreadable", Status{HistorySkipped: "the history cannot be read: 403"}, []string{"in flight: not read: the history cannot be read: 403"}},
		{"in flight, lease held", Status{Lease: &Lease{Held: true, Kind: "release", ID: "r1", By: "slotless release (octocat)"},
			InFlight: &InFlight{ID: "r1", Slot: "blue", Version: "1.1.0", Step: 1, Steps: []int{10, 50, 100}, Weight: 10, BakeStarted: time.Now(), Bake: time.Minute, BakeElapsed: 20 * time.Second, BakeRemaining: 40 * time.Second, LastAnalysis: time.Now(), Verdict: "pass"}},
			[]string{"step 1/3 at 10%", "bake: 20s elapsed of 1m0s, 40s remaining", "last analysis: pass at", "lease: held by release r1 (slotless release (octocat))"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			tt.st.printHistory(&b)
			if tt.want == nil && b.Len() > 0 {
				t.Fatalf("got %q, want nothing", b.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("want %q in\n%s", w, b.String())
				}
			}
		})
	}
}
