package history

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/slotless/slotless/internal/rollout"
	"github.com/slotless/slotless/stack"
)

// TestAcquireWaiting: a lease held by another is waited for, in steps, saying who holds it; the
// wait ends when the holder lets go, or after its bound with the holder named.
func TestAcquireWaiting(t *testing.T) {
	for _, tt := range []struct {
		name      string
		wait      time.Duration
		letGoTick int // the sleep after which the watcher lets go; 0: never
		wantErr   bool
		wantSlept time.Duration
	}{
		{"the holder lets go", time.Minute, 2, false, 10 * time.Second},
		{"the bound passes", 12 * time.Second, 0, true, 12 * time.Second},
		{"no wait at all", 0, 0, true, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			ctx := context.Background()
			rel, wat := w.open(t, "writer"), w.open(t, "watcher")
			tick, err := wat.Acquire(ctx, Holder{Kind: HolderWatcher, ID: "tick", By: "the watcher"}, Infinite)
			if err != nil {
				t.Fatal(err)
			}
			var slept time.Duration
			sleeps := 0
			var out bytes.Buffer
			l, err := rel.AcquireWaiting(ctx, Holder{Kind: HolderRelease, ID: "r", By: "release"}, time.Minute, Wait{For: tt.wait, Every: 5 * time.Second, Progress: &out,
				sleep: func(_ context.Context, d time.Duration) error {
					slept += d
					if sleeps++; sleeps == tt.letGoTick {
						return tick.Release(ctx)
					}
					return nil
				}})
			if tt.wantErr {
				h, held := IsHeld(err)
				if !held || h.ID != "tick" || l != nil {
					t.Fatalf("got %v, want HeldError naming the watcher's tick", err)
				}
			} else if err != nil || l == nil {
				t.Fatalf("got %v, want the lease", err)
			}
			if slept != tt.wantSlept {
				t.Errorf("waited %s, want %s", slept, tt.wantSlept)
			}
			if tt.wait > 0 && !strings.Contains(out.String(), "held by watcher tick by the watcher") {
				t.Errorf("progress: want the holder named, got %q", out.String())
			}
		})
	}
}

// TestRecorderWritesTheReleaseInFlight: the recorder's in-flight entry stands on the step being
// baked with its last analysis; its end writes the entry with the report's headline, and a
// release paused at --until stays in flight on its step.
func TestRecorderWritesTheReleaseInFlight(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	s := w.open(t, "writer")
	t0 := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	base := Entry{ID: NewID(KindRelease, t0), Kind: KindRelease, By: "slotless release", Stack: "dev", Slot: "blue", Version: "1.1.0", Started: t0}
	p := rollout.Plan{Steps: []int{10, 50, 100}, Bake: 10 * time.Minute, StepBakes: map[int]time.Duration{10: 2 * time.Minute}}
	var warn bytes.Buffer
	r := NewRecorder(s, base, p, &warn)
	rec := rollout.Record{Kind: rollout.RecordKind, SchemaVersion: rollout.RecordSchemaVersion, Slot: stack.Blue, Version: "1.1.0", Steps: []int{10, 50, 100}, Started: t0}
	step := rollout.StepRecord{From: 0, To: 10, BakeStarted: t0.Add(time.Minute), Analyses: []rollout.Analysis{{N: 1, At: t0.Add(2 * time.Minute), Verdict: rollout.VerdictPass, Health: rollout.Check{Verdict: "pass", Detail: "blue serves 1.1.0"}}}}
	r.Progress(rollout.Progress{Event: rollout.ProgressAnalysed, Record: rec, Step: step, Index: 1, Steps: 3})
	// Finish waits for the in-flight write queued before it; then the paused end.
	rec.StepsTaken, rec.Outcome, rec.Until, rec.Finished = []rollout.StepRecord{step}, rollout.OutcomePaused, 10, t0.Add(3*time.Minute)
	e, err := r.Finish(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, base.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.InFlight || got.Step == nil || got.Step.Weight != 10 || got.Step.Step != 1 || got.Step.Bake != 2*time.Minute || got.Step.Verdict != "pass" || got.Outcome != "paused" {
		t.Fatalf("the paused entry: got %+v step %+v", got, got.Step)
	}
	if !strings.HasPrefix(got.Reason, "The release of blue 1.1.0 is paused at 10%") || got.Reason != e.Reason {
		t.Errorf("reason: got %q, want the report's headline", got.Reason)
	}
	if warn.Len() > 0 {
		t.Errorf("warnings: %s", warn.String())
	}
	var nilRecorder *Recorder
	nilRecorder.Progress(rollout.Progress{})
	if _, err := nilRecorder.Finish(ctx, rec); err != nil {
		t.Errorf("a nil recorder: %v", err)
	}
}

// TestMoveRecordHeadlines: a shift's, promote's and rollback's record reads as one move in the
// report's headline, a failure with its error.
func TestMoveRecordHeadlines(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name, command string
		to            int
		reason        string
		err           error
		want          string
	}{
		{"shift", "shift", 10, "", nil, "slotless shift moved blue to 10% in 12s."},
		{"rollback", "rollback", 0, "", nil, "slotless rollback took blue to 0% in 12s."},
		{"break-glass", "rollback", 0, "through ARM (break-glass) because the stack is locked", nil, "slotless rollback took blue to 0% in 12s, through ARM (break-glass) because the stack is locked."},
		{"failed rollback", "rollback", 0, "", errors.New("ARM said 403"), "slotless rollback of blue failed: it may still carry traffic; roll it back by hand (ARM said 403)."},
		{"refused shift", "shift", 50, "", errors.New("blocked by a guard rail: step above maxStep"), "slotless shift of blue to 50% ended failed: blocked by a guard rail: step above maxStep."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := MoveRecord(tt.command, "blue", tt.to, rollout.Shares{Green: 100}, rollout.Shares{Green: 100 - tt.to, Blue: tt.to}, "", t0, t0.Add(12*time.Second), tt.reason, tt.err)
			e, err := EntryOf(NewID(tt.command, t0), tt.command, "slotless "+tt.command, "dev", rec)
			if err != nil {
				t.Fatal(err)
			}
			if e.Reason != tt.want {
				t.Fatalf("got %q, want %q", e.Reason, tt.want)
			}
		})
	}
}

// TestEntryOfAReleaseThatStopsMidway: a release that leaves its canary with part of the traffic
// stays in flight on its last step; one that ended at 0% or 100%, or moved nothing, does not.
func TestEntryOfAReleaseThatStopsMidway(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		outcome  rollout.Outcome
		lastTo   int
		inFlight bool
	}{
		{rollout.OutcomePaused, 10, true},
		{rollout.OutcomeInterrupted, 50, true},
		{rollout.OutcomeFailed, 50, true},
		{rollout.OutcomeComplete, 100, false},
		{rollout.OutcomeRolledBack, 10, false},
		{rollout.OutcomeRefused, 0, false},
	} {
		t.Run(string(tt.outcome), func(t *testing.T) {
			rec := rollout.Record{Kind: rollout.RecordKind, Slot: stack.Blue, Version: "1.1.0", Steps: []int{10, 50, 100}, Outcome: tt.outcome, Started: t0, Finished: t0.Add(time.Minute)}
			if tt.lastTo > 0 {
				rec.StepsTaken = []rollout.StepRecord{{From: 0, To: tt.lastTo}}
			}
			e, err := EntryOf(NewID(KindRelease, t0), KindRelease, "slotless release", "dev", rec)
			if err != nil {
				t.Fatal(err)
			}
			if e.InFlight != tt.inFlight || (tt.inFlight && (e.Step == nil || e.Step.Weight != tt.lastTo)) {
				t.Fatalf("got in flight %v, step %+v; want %v at %d%%", e.InFlight, e.Step, tt.inFlight, tt.lastTo)
			}
		})
	}
}
