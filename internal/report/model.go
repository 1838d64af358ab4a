package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/slotless/slotless/internal/rollout"
	"github.com/slotless/slotless/stack"
)

// view is a record as both reports draw it: the release slot's share over time, and every
// analysis in order.
type view struct {
	rec      rollout.Record
	headline string
	// ok is whether the run ended where its operator wanted it: at GA, paused at --until, or
	// with nothing to do.
	ok       bool
	t0, t1   time.Time
	traffic  []sharePoint
	analyses []analysis
	marks    []mark
	thr      rollout.RecordThresholds
}

// sharePoint is the release slot's share from At on.
type sharePoint struct {
	At    time.Time
	Share int
}

// analysis is one analysis with the step it belongs to.
type analysis struct {
	Step, To int
	rollout.Analysis
}

// mark is a moment the charts draw as a vertical line: a shift, the rollback, the decision.
type mark struct {
	At    time.Time
	Label string
	Class string
}

func newView(rec rollout.Record) view {
	v := view{rec: rec, t0: rec.Started, t1: rec.Finished}
	if rec.Thresholds != nil {
		v.thr = *rec.Thresholds
	}
	share := func(s rollout.Shares) int {
		if rec.Slot == stack.Green {
			return s.Green
		}
		return s.Blue
	}
	v.traffic = append(v.traffic, sharePoint{rec.Started, share(rec.FromWeights)})
	for i, s := range rec.StepsTaken {
		if !s.ShiftFinished.IsZero() {
			v.traffic = append(v.traffic, sharePoint{s.ShiftFinished, share(s.Weights)})
			v.marks = append(v.marks, mark{s.ShiftStarted, fmt.Sprintf("→%d%%", s.To), "shift"})
		} else if s.Resumed && !s.BakeStarted.IsZero() {
			v.marks = append(v.marks, mark{s.BakeStarted, fmt.Sprintf("resumed at %d%%", s.To), "resume"})
		}
		for _, a := range s.Analyses {
			v.analyses = append(v.analyses, analysis{Step: i + 1, To: s.To, Analysis: a})
		}
	}
	if rb := rec.Rollback; rb != nil {
		v.marks = append(v.marks, mark{rb.Started, "rollback", "rollback"})
		if rb.Error == "" {
			v.traffic = append(v.traffic, sharePoint{rb.Finished, share(rb.Weights)})
		}
	}
	for _, p := range v.traffic {
		v.t1 = later(v.t1, p.At)
	}
	for _, a := range v.analyses {
		v.t1 = later(v.t1, a.At)
	}
	if !v.t1.After(v.t0) {
		v.t1 = v.t0.Add(time.Second)
	}
	v.headline, v.ok = headline(rec, v.analyses)
	return v
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Headline is the one sentence both reports lead with, how the run ended and why ("The release
// of blue 1.1.0 was rolled back to 0% after 57s, because ..."), and whether the run ended where
// its operator wanted it. A notification of the run's end says the same sentence.
func Headline(rec rollout.Record) (string, bool) {
	v := newView(rec)
	return v.headline, v.ok
}

// headline is the one sentence at the top of both reports: how the run ended, and why.
func headline(rec rollout.Record, as []analysis) (string, bool) {
	if rec.Command != "" {
		return moveHeadline(rec)
	}
	who := fmt.Sprintf("The release of %s %s", orDash(string(rec.Slot)), orDash(rec.Version))
	if rec.Outcome == rollout.OutcomeWatched || (rec.Version == "" && rec.Outcome != "") {
		who = fmt.Sprintf("The watch of %s", orDash(string(rec.Slot)))
	}
	took := rec.Finished.Sub(rec.Started).Round(time.Second)
	last := 0
	if n := len(rec.StepsTaken); n > 0 {
		last = rec.StepsTaken[n-1].To
	}
	judged := fmt.Sprintf("%d %s", len(as), plural(len(as), "analysis", "analyses"))
	switch rec.Outcome {
	case rollout.OutcomeComplete:
		return fmt.Sprintf("%s reached 100%% in %s: every one of %s passed.", who, took, judged), true
	case rollout.OutcomePaused:
		return fmt.Sprintf("%s is paused at %d%% (--until %d) after %s, %s passed; a new run goes on from there.", who, last, rec.Until, took, judged), true
	case rollout.OutcomeNothingToDo:
		return fmt.Sprintf("%s had nothing to do: traffic already stood past --until.", who), true
	case rollout.OutcomeWatched:
		return fmt.Sprintf("%s judged the standing canary healthy and left it where it was.", who), true
	case rollout.OutcomeRolledBack:
		return fmt.Sprintf("%s was rolled back to 0%% after %s, because %s.", who, took, because(rec)), false
	case rollout.OutcomeAborted:
		return fmt.Sprintf("%s was aborted before it took traffic, because %s.", who, because(rec)), false
	case rollout.OutcomeRollbackFailed:
		return fmt.Sprintf("%s failed and so did its rollback: %s may still carry traffic; roll it back by hand (%s).", who, rec.Slot, firstLine(rec.Error)), false
	case rollout.OutcomeInterrupted:
		return fmt.Sprintf("%s was interrupted at %d%%: traffic stays there and a new run resumes.", who, last), false
	case rollout.OutcomeRefused:
		return fmt.Sprintf("%s was refused before anything moved: %s.", who, firstLine(rec.Error)), false
	case rollout.OutcomeDryRun:
		return fmt.Sprintf("%s was a dry run: nothing moved.", who), true
	default:
		return fmt.Sprintf("%s ended %s: %s.", who, orDash(string(rec.Outcome)), firstLine(orDash(rec.Error))), false
	}
}

// moveHeadline is the headline of a shift, promote or rollback: one move, no gates of its own.
func moveHeadline(rec rollout.Record) (string, bool) {
	took := rec.Finished.Sub(rec.Started).Round(time.Second)
	to := 0
	if len(rec.Steps) > 0 {
		to = rec.Steps[0]
	}
	switch rec.Outcome {
	case rollout.OutcomeRolledBack:
		line := fmt.Sprintf("slotless rollback took %s to 0%% in %s", orDash(string(rec.Slot)), took)
		if rec.Rollback != nil && rec.Rollback.Reason != "" {
			line += ", " + strings.TrimSuffix(firstLine(rec.Rollback.Reason), ".")
		}
		return line + ".", true
	case rollout.OutcomeComplete:
		return fmt.Sprintf("slotless %s moved %s to %d%% in %s.", rec.Command, orDash(string(rec.Slot)), to, took), true
	case rollout.OutcomeRollbackFailed:
		return fmt.Sprintf("slotless rollback of %s failed: it may still carry traffic; roll it back by hand (%s).", orDash(string(rec.Slot)), firstLine(rec.Error)), false
	default:
		return fmt.Sprintf("slotless %s of %s to %d%% ended %s: %s.", rec.Command, orDash(string(rec.Slot)), to, orDash(string(rec.Outcome)), strings.TrimSuffix(firstLine(orDash(rec.Error)), ".")), false
	}
}

// because is the reason of a rollback or abort, as the record states it.
func because(rec rollout.Record) string {
	reason := rec.Error
	if rec.Rollback != nil && rec.Rollback.Reason != "" {
		reason = rec.Rollback.Reason
	}
	return strings.TrimSuffix(firstLine(orDash(reason)), ".")
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// elapsed says how long after t0 t is, compactly: 0s, 45s, 2m10s, 1h05m.
func elapsed(t0, t time.Time) string {
	d := t.Sub(t0).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}

// cause is an analysis's one-line reason when it did not pass.
func cause(a rollout.Analysis) string {
	for _, c := range []struct {
		name string
		chk  *rollout.Check
	}{{"health", &a.Health}, {"metrics over the step", a.Step}, {"metrics", a.Metrics}} {
		if c.chk != nil && c.chk.Verdict != "" && c.chk.Verdict != rollout.VerdictPass {
			return c.name + ": " + firstLine(c.chk.Detail)
		}
	}
	if a.Probes != nil && a.Probes.Verdict != rollout.VerdictPass {
		return "probes: " + firstLine(a.Probes.Detail)
	}
	return ""
}
