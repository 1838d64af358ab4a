package notify

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slotless/slotless/internal/report"
	"github.com/slotless/slotless/internal/rollout"
	"github.com/slotless/slotless/stack"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/ from what the formats render")

var (
	t0     = time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	origin = Origin{Project: "orders", Stack: "prod", By: "slotless release", Actor: "octocat",
		Link: &Link{URL: "https://github.com/contoso/orders/actions/runs/42", Text: "GitHub Actions run 42"}}
)

// rolledBack is a release of blue 1.1.0 whose first step's third analysis failed, 57 s in.
func rolledBack() rollout.Record {
	step := rollout.StepRecord{From: 0, To: 10, ShiftStarted: t0.Add(5 * time.Second), ShiftFinished: t0.Add(12 * time.Second),
		Weights: rollout.Shares{Green: 90, Blue: 10}, BakeStarted: t0.Add(12 * time.Second), Verdict: rollout.VerdictFail}
	for i := 1; i <= 3; i++ {
		step.Analyses = append(step.Analyses, rollout.Analysis{N: i, At: t0.Add(time.Duration(12+10*i) * time.Second), Verdict: rollout.VerdictPass})
	}
	step.Analyses[2].Verdict = rollout.VerdictFail
	reason := "analysis 3 at 10% failed: metrics gate: failure-rate: canary failure rate 20.0% exceeds stable 1.0% by more than 0.2 points & ×1.5"
	return rollout.Record{
		Kind: rollout.RecordKind, SchemaVersion: rollout.RecordSchemaVersion, Slot: stack.Blue, Version: "1.1.0",
		Steps: []int{10, 50, 100}, FromWeights: rollout.Shares{Green: 100}, Started: t0, Finished: t0.Add(57 * time.Second),
		Outcome: rollout.OutcomeRolledBack, Error: "release aborted: " + reason + "; rolled back: blue carries 0%",
		Planned:    []rollout.PlannedStep{{From: 0, To: 10, Bake: time.Minute}, {From: 10, To: 50, Bake: 10 * time.Minute}, {From: 50, To: 100, Bake: 10 * time.Minute}},
		StepsTaken: []rollout.StepRecord{step},
		Rollback:   &rollout.RollbackRec{Reason: reason, Started: t0.Add(52 * time.Second), Finished: t0.Add(57 * time.Second), Weights: rollout.Shares{Green: 100}},
	}
}

// events are one of each kind of message, built as the notifier builds them.
func events(t *testing.T) map[string]Event {
	t.Helper()
	rec := rolledBack()
	started := rec
	started.Outcome, started.Finished, started.StepsTaken, started.Rollback, started.Error = "", time.Time{}, nil, nil, ""
	passed := rec.StepsTaken[0]
	passed.Verdict, passed.Analyses = rollout.VerdictPass, passed.Analyses[:2]
	complete := rec
	complete.Outcome, complete.Rollback, complete.Error = rollout.OutcomeComplete, nil, ""
	complete.StepsTaken = []rollout.StepRecord{{From: 50, To: 100, Weights: rollout.Shares{Blue: 100}, Verdict: rollout.VerdictPass, Analyses: passed.Analyses}}
	watch := rec
	watch.Version, watch.Planned = "", nil
	watch.Outcome = rollout.OutcomeRolledBack
	watch.Rollback = &rollout.RollbackRec{Reason: "watch at 10%: health gate: unhealthy: blue answered 503", Weights: rollout.Shares{Green: 100}}

	out := map[string]Event{
		"started": progressEvent(origin, rollout.Progress{Event: rollout.ProgressStarted, Record: started, Steps: 3}, t0.Add(4*time.Second)),
		"shifted": progressEvent(origin, rollout.Progress{Event: rollout.ProgressShifted, Record: started, Step: rec.StepsTaken[0], Index: 1, Steps: 3}, t0.Add(12*time.Second)),
		"passed":  progressEvent(origin, rollout.Progress{Event: rollout.ProgressPassed, Record: started, Step: passed, Index: 1, Steps: 3}, t0.Add(80*time.Second)),
	}
	for name, r := range map[string]rollout.Record{"rolledBack": rec, "completed": complete} {
		e, ok := releaseEndEvent(origin, r, t0.Add(58*time.Second))
		if !ok {
			t.Fatalf("%s: no message", name)
		}
		out[name] = e
	}
	we, ok := watchEndEvent(Origin{Project: "orders", Stack: "prod", By: "slotless watch"}, watch, t0.Add(58*time.Second))
	if !ok {
		t.Fatal("watch: no message")
	}
	out["watchRolledBack"] = we
	bg := origin
	bg.Link = nil
	out["breakGlass"] = breakGlassEvent(bg, stack.Blue, "the update failed: error: the stack is currently locked by 1 lock(s)", t0.Add(56*time.Second))
	return out
}

// TestFormatsMatchTheirGoldenFiles renders each event in each format and compares it with
// testdata/<format>/<event>.json, so any change to what a channel receives is a reviewed diff.
// go test ./internal/notify -run TestFormatsMatchTheirGoldenFiles -update rewrites them.
func TestFormatsMatchTheirGoldenFiles(t *testing.T) {
	evs := events(t)
	for _, tt := range []struct {
		kind   stack.NotifyKind
		events []string
	}{
		{stack.NotifySlack, []string{"started", "shifted", "rolledBack", "breakGlass"}},
		{stack.NotifyTeams, []string{"started", "passed", "rolledBack", "completed"}},
		{stack.NotifyJSON, []string{"started", "shifted", "passed", "rolledBack", "completed", "watchRolledBack", "breakGlass"}},
	} {
		for _, name := range tt.events {
			t.Run(string(tt.kind)+"/"+name, func(t *testing.T) {
				got, err := Payload(tt.kind, evs[name])
				if err != nil {
					t.Fatal(err)
				}
				var pretty bytes.Buffer
				if err := json.Indent(&pretty, got, "", "  "); err != nil {
					t.Fatalf("not JSON: %v\n%s", err, got)
				}
				pretty.WriteByte('\n')
				golden := filepath.Join("testdata", string(tt.kind), name+".json")
				if *update {
					if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run with -update to write it)", err)
				}
				if !bytes.Equal(pretty.Bytes(), want) {
					t.Errorf("%s differs from its golden file:\n got %s\nwant %s", golden, pretty.Bytes(), want)
				}
			})
		}
	}
}

// TestEndMessagesSayTheReportsHeadline: the end of a run says the report's headline word for
// word, in every format; there is one sentence for how a run ended, not two.
func TestEndMessagesSayTheReportsHeadline(t *testing.T) {
	rec := rolledBack()
	want, _ := report.Headline(rec)
	if !strings.Contains(want, "was rolled back to 0% after 57s, because analysis 3 at 10% failed") {
		t.Fatalf("the fixture's headline is %q", want)
	}
	e, ok := releaseEndEvent(origin, rec, t0)
	if !ok {
		t.Fatal("no message for a rollback")
	}
	for _, kind := range stack.NotifyKinds {
		raw, err := Payload(kind, e)
		if err != nil {
			t.Fatal(err)
		}
		var doc any
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		texts := strings.Join(stringsIn(doc), "\n")
		said := want
		if kind == stack.NotifySlack {
			said = slackEscape(want)
		}
		if !strings.Contains(texts, said) {
			t.Errorf("%s: no %q in\n%s", kind, said, texts)
		}
	}
}

// stringsIn lists every string in a JSON document.
func stringsIn(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, stringsIn(e)...)
		}
		return out
	case map[string]any:
		var out []string
		for _, e := range x {
			out = append(out, stringsIn(e)...)
		}
		return out
	}
	return nil
}

// TestWhichEndsAreTold: a release tells GA, a rollback and a stop that left traffic where it
// stood; a watch tells only its rollbacks; neither tells a dry run, a refusal, nothing to do or a
// pause (its step's passing was told).
func TestWhichEndsAreTold(t *testing.T) {
	for _, tt := range []struct {
		outcome      rollout.Outcome
		release      EventKind
		watch        EventKind
		wantSeverity Severity
		// unstarted is a release that failed before its start gate passed, from 0%.
		unstarted bool
	}{
		{rollout.OutcomeComplete, ReleaseCompleted, "", SeveritySuccess, false},
		{rollout.OutcomeRolledBack, ReleaseRolledBack, WatchRolledBack, SeverityWarning, false},
		{rollout.OutcomeRollbackFailed, ReleaseRollbackFailed, WatchRollbackFailed, SeverityFailure, false},
		{rollout.OutcomeAborted, ReleaseStopped, "", SeverityWarning, false},
		{rollout.OutcomeFailed, ReleaseStopped, "", SeverityWarning, false},
		{rollout.OutcomeInterrupted, ReleaseStopped, "", SeverityWarning, false},
		{rollout.OutcomeFailed, "", "", "", true},
		{rollout.OutcomeInterrupted, "", "", "", true},
		{rollout.OutcomePaused, "", "", "", false},
		{rollout.OutcomeNothingToDo, "", "", "", false},
		{rollout.OutcomeDryRun, "", "", "", false},
		{rollout.OutcomeRefused, "", "", "", false},
		{rollout.OutcomeInvalid, "", "", "", false},
		{rollout.OutcomeWatched, "", "", "", false},
	} {
		name := string(tt.outcome)
		if tt.unstarted {
			name += " before its start"
		}
		t.Run(name, func(t *testing.T) {
			rec := rolledBack()
			rec.Outcome = tt.outcome
			rec.Start = &rollout.Check{Verdict: rollout.VerdictPass}
			if tt.unstarted {
				rec.Start = nil
			}
			e, ok := releaseEndEvent(origin, rec, t0)
			if ok != (tt.release != "") || e.Kind != tt.release {
				t.Errorf("release: got %q (%v), want %q", e.Kind, ok, tt.release)
			}
			if ok && e.Severity != tt.wantSeverity {
				t.Errorf("release: severity %s, want %s", e.Severity, tt.wantSeverity)
			}
			w, ok := watchEndEvent(origin, rec, t0)
			if ok != (tt.watch != "") || w.Kind != tt.watch {
				t.Errorf("watch: got %q (%v), want %q", w.Kind, ok, tt.watch)
			}
			// The watcher in Azure is told of on the same ends as the CI watch, under its own
			// kinds.
			wantWatcher := map[EventKind]EventKind{WatchRolledBack: WatcherRolledBack, WatchRollbackFailed: WatcherRollbackFailed}[tt.watch]
			if w, ok := watcherEndEvent(origin, rec, t0); ok != (wantWatcher != "") || w.Kind != wantWatcher || (ok && !strings.HasPrefix(w.Title, "The watcher")) {
				t.Errorf("watcher: got %q %q (%v), want %q", w.Kind, w.Title, ok, wantWatcher)
			}
		})
	}
}
