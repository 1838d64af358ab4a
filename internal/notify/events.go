package notify

import (
	"fmt"
	"strings"
	"time"

	"github.com/slotless/slotless/internal/report"
	"github.com/slotless/slotless/internal/rollout"
	"github.com/slotless/slotless/stack"
)

// EventKind names what a message tells. The names are part of the json format's schema.
type EventKind string

// The events a stack's targets are told of.
const (
	// ReleaseStarted: a release passed its start gate and takes its first step (or resumes).
	ReleaseStarted EventKind = "release.started"
	// ReleaseStep: a step's shift is done, or its bake passed (Step.Phase says which).
	ReleaseStep EventKind = "release.step"
	// ReleaseCompleted: the release slot carries 100% and its last bake passed (GA).
	ReleaseCompleted EventKind = "release.completed"
	// ReleaseRolledBack: an analysis failed and the release slot is back at 0%.
	ReleaseRolledBack EventKind = "release.rolledBack"
	// ReleaseRollbackFailed: an analysis failed and so did the rollback: the slot may still
	// carry traffic, and someone must roll it back by hand.
	ReleaseRollbackFailed EventKind = "release.rollbackFailed"
	// ReleaseStopped: the release stopped with traffic where it stood and no rollback: it could
	// not observe the canary, traffic moved behind its back, a shift failed, it was cancelled,
	// or it failed before its slot took traffic.
	ReleaseStopped EventKind = "release.stopped"
	// BreakGlass: a rollback wrote the pool through ARM because the Pulumi update could not go
	// through; traffic is at 0% and Pulumi state lags until the next pulumi up.
	BreakGlass EventKind = "rollback.breakGlass"
	// WatchRolledBack: slotless watch found the standing canary failing and rolled it back.
	WatchRolledBack EventKind = "watch.rolledBack"
	// WatchRollbackFailed: the watch's rollback failed too.
	WatchRollbackFailed EventKind = "watch.rollbackFailed"
	// WatcherRolledBack: the watcher in Azure found the standing canary failing and rolled it
	// back through ARM.
	WatcherRolledBack EventKind = "watcher.rolledBack"
	// WatcherRollbackFailed: the watcher's rollback failed too.
	WatcherRollbackFailed EventKind = "watcher.rollbackFailed"
)

// Severity says how a message should look: a colour in Slack's and Teams' terms.
type Severity string

// Severities, from routine to someone-must-act.
const (
	SeverityInfo    Severity = "info"
	SeveritySuccess Severity = "success"
	SeverityWarning Severity = "warning"
	SeverityFailure Severity = "failure"
)

// Event is one message's content, the same for every format.
type Event struct {
	Kind     EventKind
	Severity Severity
	At       time.Time
	// Project and Stack name the stack (Pulumi.yaml's name, the stack's); Slot and Version the
	// release slot and what it serves, when known.
	Project, Stack string
	Slot, Version  string
	// Title is the message's first line, short enough for Slack's header (150 characters).
	Title string
	// Headline is the sentence of the message; for the end of a run, the report's own
	// (report.Headline), word for word.
	Headline string
	// Outcome is the run's outcome, for the end of a run.
	Outcome string
	// Reason is why a rollback or a stop happened, as the record says it.
	Reason string
	// Step is the step a release.step is about.
	Step *Step
	// Traffic is where traffic stands after the event, when known.
	Traffic *Traffic
	// By is the slotless command that moved traffic (slotless release, slotless watch, the
	// break-glass rollback); Actor who started the run, as CI names them.
	By, Actor string
	// Link is the CI run, whose summary holds the report.
	Link *Link
}

// Step is a release's step as a message tells it.
type Step struct {
	// Index is the step's number from 1 among Of, the steps the run plans from where it started.
	Index, Of int
	From, To  int
	// Phase is "shifted" (its bake begins) or "passed" (its bake passed).
	Phase   string
	Resumed bool
}

// Traffic is the pool's weights.
type Traffic struct {
	Green int `json:"green"`
	Blue  int `json:"blue"`
}

// Link is where to read more: the CI run.
type Link struct {
	URL  string `json:"url"`
	Text string `json:"text"`
}

// Origin is what every message of one command says about where it comes from.
type Origin struct {
	Project, Stack string
	// By is the slotless command (slotless release, slotless watch).
	By    string
	Actor string
	Link  *Link
}

// event starts an event of kind from o at t.
func (o Origin) event(kind EventKind, sev Severity, at time.Time) Event {
	return Event{Kind: kind, Severity: sev, At: at.UTC(), Project: o.Project, Stack: o.Stack, By: o.By, Actor: o.Actor, Link: o.Link}
}

// progressEvent is the message of a release's moment.
func progressEvent(o Origin, p rollout.Progress, at time.Time) Event {
	rec := p.Record
	slot, version := string(rec.Slot), rec.Version
	switch p.Event {
	case rollout.ProgressStarted:
		e := o.event(ReleaseStarted, SeverityInfo, at)
		e.Slot, e.Version = slot, version
		e.Traffic = &Traffic{Green: rec.FromWeights.Green, Blue: rec.FromWeights.Blue}
		at := rec.FromWeights.Green
		if rec.Slot == stack.Blue {
			at = rec.FromWeights.Blue
		}
		steps := plannedTargets(rec.Planned)
		if u := rec.Until; u != 0 && u < 100 {
			steps += fmt.Sprintf(", then it stops (--until %d)", u)
		}
		if at > 0 {
			e.Title = fmt.Sprintf("Release of %s %s resumed at %d%% on %s", slot, version, at, o.Stack)
			e.Headline = fmt.Sprintf("The release of %s %s passed its start gate standing at %d%%; its steps: %s.", slot, version, at, steps)
		} else {
			e.Title = fmt.Sprintf("Release of %s %s started on %s", slot, version, o.Stack)
			e.Headline = fmt.Sprintf("The release of %s %s passed its start gate; its steps: %s.", slot, version, steps)
		}
		return e
	case rollout.ProgressShifted:
		s := p.Step
		e := o.event(ReleaseStep, SeverityInfo, at)
		e.Slot, e.Version = slot, version
		e.Step = &Step{Index: p.Index, Of: p.Steps, From: s.From, To: s.To, Phase: "shifted"}
		e.Traffic = &Traffic{Green: s.Weights.Green, Blue: s.Weights.Blue}
		e.Title = fmt.Sprintf("%s %s on %s: %d%% (step %d of %d)", slot, version, o.Stack, s.To, p.Index, p.Steps)
		e.Headline = fmt.Sprintf("%s now carries %d%% of the traffic; %s.", slot, s.To, bakeOf(rec, p.Index))
		return e
	default:
		s := p.Step
		e := o.event(ReleaseStep, SeverityInfo, at)
		e.Slot, e.Version = slot, version
		e.Step = &Step{Index: p.Index, Of: p.Steps, From: s.From, To: s.To, Phase: "passed", Resumed: s.Resumed}
		e.Traffic = &Traffic{Green: s.Weights.Green, Blue: s.Weights.Blue}
		e.Title = fmt.Sprintf("%s %s on %s: %d%% passed (step %d of %d)", slot, version, o.Stack, s.To, p.Index, p.Steps)
		next := "the release completes"
		switch {
		case p.Index < p.Steps:
			next = fmt.Sprintf("next %d%%", rec.Planned[p.Index].To)
		case s.To < 100:
			next = fmt.Sprintf("the release stops here (--until %d) until its next run", rec.Until)
		}
		e.Headline = fmt.Sprintf("The bake of %s at %d%% passed: %s; %s.", slot, s.To, plural(len(s.Analyses), "analysis", "analyses"), next)
		return e
	}
}

// releaseEndEvent is the message of how a release ended, if it is one to tell: GA, a rollback
// (or a failed one), or a stop that left traffic where it stood. A dry run, a refusal before
// anything moved, nothing to do, and a pause at --until (its step's passing was told) are not.
func releaseEndEvent(o Origin, rec rollout.Record, at time.Time) (Event, bool) {
	var kind EventKind
	var sev Severity
	switch rec.Outcome {
	case rollout.OutcomeComplete:
		kind, sev = ReleaseCompleted, SeveritySuccess
	case rollout.OutcomeRolledBack:
		kind, sev = ReleaseRolledBack, SeverityWarning
	case rollout.OutcomeRollbackFailed:
		kind, sev = ReleaseRollbackFailed, SeverityFailure
	case rollout.OutcomeAborted, rollout.OutcomeFailed, rollout.OutcomeInterrupted:
		if !begun(rec) {
			// Stopped before its start was told, with no traffic on its slot: nothing changed
			// that a channel heard of, and the CI run shows the failure.
			return Event{}, false
		}
		kind, sev = ReleaseStopped, SeverityWarning
	default:
		return Event{}, false
	}
	e := endEvent(o, rec, kind, sev, at)
	switch kind {
	case ReleaseCompleted:
		e.Title = fmt.Sprintf("%s %s is live on %s (100%%)", rec.Slot, rec.Version, o.Stack)
	case ReleaseRolledBack:
		e.Title = fmt.Sprintf("%s %s rolled back on %s", rec.Slot, rec.Version, o.Stack)
	case ReleaseRollbackFailed:
		e.Title = fmt.Sprintf("%s %s on %s: ROLLBACK FAILED, roll it back by hand", rec.Slot, rec.Version, o.Stack)
	default:
		e.Title = fmt.Sprintf("Release of %s %s stopped on %s", rec.Slot, rec.Version, o.Stack)
	}
	return e, true
}

// begun reports whether a release had told its start (its start gate passed) or its slot
// carried traffic when it began.
func begun(rec rollout.Record) bool {
	share := rec.FromWeights.Blue
	if rec.Slot == stack.Green {
		share = rec.FromWeights.Green
	}
	return share > 0 || (rec.Start != nil && rec.Start.Verdict == rollout.VerdictPass)
}

// watchEndEvent is the message of a watch that rolled its canary back, or failed to; a watch
// that left a healthy canary alone, or could not judge it, tells nobody (it runs every few
// minutes, and CI shows its failures).
func watchEndEvent(o Origin, rec rollout.Record, at time.Time) (Event, bool) {
	switch rec.Outcome {
	case rollout.OutcomeRolledBack:
		e := endEvent(o, rec, WatchRolledBack, SeverityWarning, at)
		e.Title = fmt.Sprintf("The watch rolled %s back on %s", rec.Slot, o.Stack)
		return e, true
	case rollout.OutcomeRollbackFailed:
		e := endEvent(o, rec, WatchRollbackFailed, SeverityFailure, at)
		e.Title = fmt.Sprintf("The watch's rollback of %s FAILED on %s: roll it back by hand", rec.Slot, o.Stack)
		return e, true
	}
	return Event{}, false
}

// watcherEndEvent is watchEndEvent for the watcher in Azure: its own kinds, so a receiver can
// tell a rollback nobody's CI ran from one a scheduled CI watch made.
func watcherEndEvent(o Origin, rec rollout.Record, at time.Time) (Event, bool) {
	switch rec.Outcome {
	case rollout.OutcomeRolledBack:
		e := endEvent(o, rec, WatcherRolledBack, SeverityWarning, at)
		e.Title = fmt.Sprintf("The watcher rolled %s back on %s", rec.Slot, o.Stack)
		return e, true
	case rollout.OutcomeRollbackFailed:
		e := endEvent(o, rec, WatcherRollbackFailed, SeverityFailure, at)
		e.Title = fmt.Sprintf("The watcher's rollback of %s FAILED on %s: roll it back by hand", rec.Slot, o.Stack)
		return e, true
	}
	return Event{}, false
}

// endEvent is the end of a run: the report's headline, the reason and where traffic stands.
func endEvent(o Origin, rec rollout.Record, kind EventKind, sev Severity, at time.Time) Event {
	e := o.event(kind, sev, at)
	e.Slot, e.Version, e.Outcome = string(rec.Slot), rec.Version, string(rec.Outcome)
	e.Headline, _ = report.Headline(rec)
	switch {
	case rec.Rollback != nil:
		e.Reason = firstLine(rec.Rollback.Reason)
		if rec.Rollback.Error == "" && rec.Rollback.Weights != (rollout.Shares{}) {
			e.Traffic = &Traffic{Green: rec.Rollback.Weights.Green, Blue: rec.Rollback.Weights.Blue}
		}
	case rec.Outcome != rollout.OutcomeComplete:
		e.Reason = firstLine(rec.Error)
	}
	if e.Traffic == nil && rec.Rollback == nil {
		if n := len(rec.StepsTaken); n > 0 {
			w := rec.StepsTaken[n-1].Weights
			if w != (rollout.Shares{}) {
				e.Traffic = &Traffic{Green: w.Green, Blue: w.Blue}
			}
		}
	}
	return e
}

// breakGlassEvent is the message of a rollback written through ARM.
func breakGlassEvent(o Origin, slot stack.Slot, reason string, at time.Time) Event {
	e := o.event(BreakGlass, SeverityWarning, at)
	e.Slot = string(slot)
	e.Reason = firstLine(reason)
	w := Traffic{Green: 100}
	if slot == stack.Green {
		w = Traffic{Blue: 100}
	}
	e.Traffic = &w
	e.Title = fmt.Sprintf("%s rolled back through ARM on %s (break-glass)", slot, o.Stack)
	e.Headline = fmt.Sprintf("%s was rolled back to 0%% by writing the pool through ARM, because the Pulumi update could not go through (%s). Traffic is where it should be; Pulumi state lags Azure until the next pulumi up, which converges it without moving traffic.", slot, strings.TrimSuffix(e.Reason, "."))
	return e
}

// plannedTargets renders the steps a run plans: "10%, 50%, 100%", a resumed one marked.
func plannedTargets(steps []rollout.PlannedStep) string {
	parts := make([]string, len(steps))
	for i, s := range steps {
		parts[i] = fmt.Sprintf("%d%%", s.To)
		if s.Resumed {
			parts[i] += " (its bake again)"
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// bakeOf says how step index (from 1) is watched, as the run planned it.
func bakeOf(rec rollout.Record, index int) string {
	if index < 1 || index > len(rec.Planned) {
		return "its bake begins"
	}
	if b := rec.Planned[index-1].Bake; b > 0 {
		return fmt.Sprintf("its bake of %s begins", b)
	}
	return "the step has no bake"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
