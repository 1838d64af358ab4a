package history

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/slotless/slotless/internal/report"
	"github.com/slotless/slotless/internal/rollout"
	"github.com/slotless/slotless/stack"
)

// writeTimeout bounds one write of an entry: history is told, never waited on for long. A run
// whose history cannot be written still succeeds or fails on its own.
const writeTimeout = 20 * time.Second

// By is who ran a command, as an entry and the lease name it: the command, and the CI actor
// who started the job when there is one.
func By(command, actor string) string {
	if actor == "" {
		return command
	}
	return command + " (" + actor + ")"
}

// EntryOf is the entry of a run that ended, from its record: outcome, the report's headline as
// reason (report.Headline: one sentence, the same the reports and the notifications lead
// with), and the whole record, as `slotless report --id` reads it. A release paused at --until,
// or stopped where it stood, stays in flight, standing on its last step.
func EntryOf(id, kind, by, stackName string, rec rollout.Record) (Entry, error) {
	raw, err := json.Marshal(rec)
	if err != nil {
		return Entry{}, fmt.Errorf("history entry %s: the record: %w", id, err)
	}
	headline, _ := report.Headline(rec)
	e := Entry{
		ID: id, Kind: kind, Started: rec.Started, Finished: rec.Finished, By: by, Stack: stackName,
		Slot: string(rec.Slot), Version: rec.Version, Outcome: string(rec.Outcome), Reason: headline, Record: raw,
	}
	if n := len(rec.StepsTaken); kind == KindRelease && n > 0 && standsMidway(rec) {
		e.InFlight = true
		e.Step = stepOf(rec.StepsTaken[n-1], n, rec.Steps)
	}
	return e, nil
}

// standsMidway reports whether a release that ended left its canary with part of the traffic
// for a later run to go on from: paused at --until, or stopped where it stood (interrupted, a
// shift or a read that failed).
func standsMidway(rec rollout.Record) bool {
	switch rec.Outcome {
	case rollout.OutcomePaused, rollout.OutcomeInterrupted, rollout.OutcomeFailed:
		to := rec.StepsTaken[len(rec.StepsTaken)-1].To
		return to > 0 && to < 100
	}
	return false
}

// stepOf is where a release stands on step index (from 1) of the steps it plans.
func stepOf(sr rollout.StepRecord, index int, steps []int) *InFlight {
	in := &InFlight{Step: index, Steps: steps, Weight: sr.To, BakeStarted: sr.BakeStarted}
	if n := len(sr.Analyses); n > 0 {
		a := sr.Analyses[n-1]
		in.LastAnalysis, in.Verdict, in.Detail = a.At, a.Verdict, analysisDetail(a)
	}
	return in
}

// analysisDetail is an analysis's one-line why: the first gate that did not pass, else the
// metrics gate's figures, else the health gate's.
func analysisDetail(a rollout.Analysis) string {
	checks := []*rollout.Check{&a.Health, a.Metrics, a.Step}
	for _, c := range checks {
		if c != nil && c.Verdict != "" && c.Verdict != rollout.VerdictPass && c.Detail != "" {
			return firstLine(c.Detail)
		}
	}
	if a.Probes != nil && a.Probes.Verdict != rollout.VerdictPass && a.Probes.Detail != "" {
		return firstLine(a.Probes.Detail)
	}
	if a.Metrics != nil && a.Metrics.Detail != "" {
		return firstLine(a.Metrics.Detail)
	}
	return firstLine(a.Health.Detail)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// Recorder writes a release's entry as it goes, so `slotless status` can show the release in
// flight: at its start, every shift, every analysis and every passed bake; then at its end.
// The writes happen in the background, the newest replacing one not yet sent, so the release's
// own path never waits on storage; a write that fails is one warning, never an error of the
// release. A nil Recorder records nothing.
type Recorder struct {
	store *Store
	warn  io.Writer
	base  Entry
	// bake is each planned step's bake, by its share, so an in-flight entry says how long the
	// step it stands on bakes.
	bake map[int]time.Duration

	mu      sync.Mutex
	pending *Entry
	warned  bool
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

// NewRecorder starts recording the release base names (ID, Kind, By, Stack, Slot, Version,
// Started) in s; nil when s is nil.
func NewRecorder(s *Store, base Entry, plan rollout.Plan, warn io.Writer) *Recorder {
	if s == nil {
		return nil
	}
	r := &Recorder{store: s, warn: warn, base: base, bake: map[int]time.Duration{},
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	for _, w := range plan.Steps {
		r.bake[w] = plan.Bake
		if b, own := plan.StepBakes[w]; own {
			r.bake[w] = b
		}
	}
	go r.loop()
	return r
}

// Progress records a moment of the release as its in-flight entry. It returns at once.
func (r *Recorder) Progress(p rollout.Progress) {
	if r == nil {
		return
	}
	e := r.base
	e.InFlight = true
	if p.Step.To > 0 || p.Index > 0 {
		e.Step = stepOf(p.Step, p.Index, p.Record.Steps)
		e.Step.Bake = r.bake[p.Step.To]
	}
	rec := p.Record
	if p.Event == rollout.ProgressShifted || p.Event == rollout.ProgressAnalysed {
		// The record so far holds the steps that ended; this one is still baking.
		rec.StepsTaken = append(slices.Clone(rec.StepsTaken), p.Step)
	}
	if raw, err := json.Marshal(rec); err == nil {
		e.Record = raw
	}
	e.Outcome = "in-flight"
	r.mu.Lock()
	r.pending = &e
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *Recorder) loop() {
	defer close(r.done)
	for {
		select {
		case <-r.stop:
			return
		case <-r.wake:
			r.flush()
		}
	}
}

// flush writes the newest pending entry, if any.
func (r *Recorder) flush() {
	r.mu.Lock()
	e := r.pending
	r.pending = nil
	r.mu.Unlock()
	if e == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	if err := r.store.Put(ctx, *e); err != nil {
		r.warnOnce(err)
	}
}

func (r *Recorder) warnOnce(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.warned {
		return
	}
	r.warned = true
	fmt.Fprintf(r.warn, "warning: the history cannot be written (%v): the run goes on; status cannot show it in flight\n", err)
}

// Finish stops the in-flight writes and writes the run's entry from its record, its bake
// length kept when the release pauses on a step. It returns the entry written.
func (r *Recorder) Finish(ctx context.Context, rec rollout.Record) (Entry, error) {
	if r == nil {
		return Entry{}, nil
	}
	close(r.stop)
	<-r.done
	e, err := EntryOf(r.base.ID, r.base.Kind, r.base.By, r.base.Stack, rec)
	if err != nil {
		return e, err
	}
	if e.Step != nil {
		e.Step.Bake = r.bake[e.Step.Weight]
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	return e, r.store.Put(ctx, e)
}

// Record writes one finished run's entry with a bounded wait: for the commands that record
// only at their end (shift, promote, rollback, a break-glass write).
func Record(ctx context.Context, s *Store, e Entry) error {
	if s == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	return s.Put(ctx, e)
}

// MoveRecord is the run record of a shift, promote or rollback: no gates or bakes of its own,
// only the move, who made it and how it ended, in the record `slotless report` reads.
func MoveRecord(command string, slot string, to int, from, after rollout.Shares, currentSlot string, started, finished time.Time, reason string, err error) rollout.Record {
	rec := rollout.Record{
		Kind: rollout.RecordKind, SchemaVersion: rollout.RecordSchemaVersion, Command: command,
		Slot: slotOf(slot), Steps: []int{to}, FromWeights: from, CurrentSlotName: currentSlot,
		Started: started, Finished: finished, Outcome: rollout.OutcomeComplete,
	}
	if command == "rollback" {
		rec.Outcome = rollout.OutcomeRolledBack
		rec.Rollback = &rollout.RollbackRec{Reason: reason, Started: started, Finished: finished, Weights: after}
	} else {
		rec.StepsTaken = []rollout.StepRecord{{From: shareOf(from, slot), To: to, ShiftStarted: started, ShiftFinished: finished, Weights: after, Verdict: rollout.VerdictPass}}
	}
	if err != nil {
		rec.Outcome, rec.Error = rollout.OutcomeFailed, err.Error()
		if rec.Rollback != nil {
			rec.Outcome, rec.Rollback.Error = rollout.OutcomeRollbackFailed, err.Error()
		}
	}
	return rec
}

func slotOf(s string) stack.Slot { return stack.Slot(s) }

// shareOf is slot's share in w.
func shareOf(w rollout.Shares, slot string) int {
	if stack.Slot(slot) == stack.Blue {
		return w.Blue
	}
	return w.Green
}
