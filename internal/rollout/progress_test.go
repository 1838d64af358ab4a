package rollout

import (
	"context"
	"fmt"
	"slices"
	"testing"
)

// TestProgressTellsEachMoment: a release tells WithProgress when its start gate passed, when each
// shift is done and when each bake passed, in that order, with the step it is about; a resumed
// step has no shift to tell.
func TestProgressTellsEachMoment(t *testing.T) {
	s := newScene(t)
	p := testPlan()
	for _, tt := range []struct {
		name  string
		until int
		want  []string
	}{
		{"to 50 from idle", 50, []string{"started 0 steps=2", "shifted 1/2 0→10", "passed 1/2 0→10", "shifted 2/2 10→50", "passed 2/2 10→50"}},
		{"resumed at 50 to GA", 100, []string{"started 0 steps=2", "passed 1/2 50→50 resumed", "shifted 2/2 50→100", "passed 2/2 50→100"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			s.metrics = NewGateMetrics(s.metrics.Client, s.metrics.WorkspaceID, apps, p)
			c := s.controller().WithProgress(func(pr Progress) {
				if pr.Record.Slot != "blue" || pr.Record.Version != "1.1.0" {
					t.Errorf("%s: the record so far names %s %s, want blue 1.1.0", pr.Event, pr.Record.Slot, pr.Record.Version)
				}
				line := fmt.Sprintf("%s %d/%d %d→%d", pr.Event, pr.Index, pr.Steps, pr.Step.From, pr.Step.To)
				if pr.Event == ProgressStarted {
					line = fmt.Sprintf("%s %d steps=%d", pr.Event, pr.Index, pr.Steps)
				}
				if pr.Step.Resumed {
					line += " resumed"
				}
				got = append(got, line)
			})
			rec, err := c.Run(context.Background(), p, Options{Slot: "blue", Version: "1.1.0", Until: tt.until})
			if err != nil {
				t.Fatalf("got %v (%s), want none", err, rec.Outcome)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("progress:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}
