package rollout

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/slotless/slotless/internal/gate"
)

// WatchOptions is one `slotless watch`: a scheduled look at a release that stands between two
// runs (an --until pause, an approval), with nobody else watching it.
type WatchOptions struct {
	// For is how long the health gate and the probes watch the canary, every HealthWatchEvery.
	For time.Duration
	// Window is the stretch of telemetry the metrics gate judges: the users' requests that
	// reached Log Analytics in the Window before the query. A watch run every Window judges
	// every request once, however late it arrived.
	Window time.Duration
	// From, when set, is where the last judged window ended (the watcher's persisted cursor):
	// the metrics gate judges the arrivals from there to the end of this watch, so a late or
	// missed run judges the gap, and no row goes unjudged. The window is Window at least and
	// MaxWindow at most: a longer gap is judged over its last MaxWindow, and the stretch before
	// that is named in the record (Record.Unjudged), never passed over in silence.
	From      time.Time
	MaxWindow time.Duration
	// Stood, when set, says from when the canary is known to have carried the weight the watch
	// finds (st): the canary's share of the users' requests and its latency count only the
	// requests served from then, since those served before were split by the weights before
	// (a pause seconds ago: the window is mostly the step before, where the canary had less or
	// nothing). The requests served before count for the failure rates alone, as a release
	// counts its earlier steps' late rows. Nil: the weight is taken to have stood for the whole
	// window.
	Stood func(st Status) time.Time
}

// Judged is the window of arrivals a watch's metrics gate judged, and whether it reached a
// verdict over it (pass, fail or too little traffic): a window the query could not read was
// not judged, and the next watch must judge it again.
func (r Record) Judged() (from, to time.Time, ok bool) {
	if len(r.StepsTaken) != 1 || len(r.StepsTaken[0].Analyses) != 1 {
		return time.Time{}, time.Time{}, false
	}
	m := r.StepsTaken[0].Analyses[0].Metrics
	if m == nil || m.Verdict == VerdictError {
		return time.Time{}, time.Time{}, false
	}
	return m.WindowStart, m.WindowEnd, true
}

// JudgedTo is where the run's metrics gate is known to have judged the arrivals to: the latest
// end of a window one of its analyses reached a verdict over (a window the query could not read
// was not judged). Zero when none did. A release writes its record to its in-flight history
// entry at every analysis, so the watcher, skipping a tick while a release holds the lease,
// moves its cursor no further than this: a release that dies leaves the rest for the watcher.
func (r Record) JudgedTo() time.Time {
	var to time.Time
	for _, s := range r.StepsTaken {
		for _, a := range s.Analyses {
			if m := a.Metrics; m != nil && m.Verdict != "" && m.Verdict != VerdictError && m.WindowEnd.After(to) {
				to = m.WindowEnd
			}
		}
	}
	return to
}

// Watch judges the canary of a release in progress once, as an analysis of its bake does: the
// health gate and the probes for o.For, then the metrics gate over o.Window. A failing verdict
// rolls the canary back (ErrAborted), through the same never-refused path as a release. With
// no release in progress (one slot carries all traffic) there is nothing to watch. Too little
// traffic never fails a watch: the release's own bake judges whether its step was seen.
func (c *Controller) Watch(ctx context.Context, p Plan, w WatchOptions) (Record, error) {
	c.start = c.clock.Now()
	rec := newRecord(p, c.start)
	err := c.watch(ctx, p, w, &rec)
	rec.Finished = c.clock.Now()
	if err != nil {
		rec.Error = err.Error()
		if rec.Outcome == "" {
			rec.Outcome = OutcomeFailed
		}
	}
	return rec, err
}

func (c *Controller) watch(ctx context.Context, p Plan, w WatchOptions, rec *Record) error {
	if w.For <= 0 || w.Window <= 0 {
		rec.Outcome = OutcomeInvalid
		return fmt.Errorf("%w: watch for %s over a window of %s: want both above 0", ErrInvalid, w.For, w.Window)
	}
	if c.traffic == nil || c.health == nil || c.metrics == nil {
		rec.Outcome = OutcomeInvalid
		return fmt.Errorf("%w: a watch needs the traffic, the health gate and the metrics gate", ErrInvalid)
	}
	st, err := c.traffic.Status(ctx)
	if err != nil {
		return fmt.Errorf("read where traffic stands: %w", err)
	}
	rec.From, rec.FromWeights, rec.CurrentSlotName = st.Weights, sharesOf(st.Weights), st.CurrentSlotName
	source := "deployed"
	if st.Source != "" {
		source = st.Source
	}
	c.logf("%s: %s, current-slot-name %s", source, st.Weights, orDash(st.CurrentSlotName))
	if st.Weights.Green == 100 || st.Weights.Blue == 100 {
		rec.Outcome = OutcomeNothingToDo
		c.logf("no release in progress: nothing to watch")
		return nil
	}
	origin, err := st.Origin()
	if err != nil {
		rec.Outcome = OutcomeRefused
		return fmt.Errorf("%w: %v; cannot tell the canary from the stable slot", ErrRefused, err)
	}
	canary := origin.Other()
	at := st.Weights.Of(canary)
	rec.Slot = canary
	o := Options{Slot: canary}
	now := c.clock.Now()
	// The metrics query runs after the watch: it reads the rows that reached Log Analytics in
	// the window before then, served at most the lag before the window.
	end := now.Add(w.For - settle(p)).Truncate(time.Second)
	since := end.Add(-w.Window)
	if !w.From.IsZero() && w.From.Before(end) {
		if w.From.Before(since) {
			since = w.From
		}
		if w.MaxWindow > 0 && end.Sub(since) > w.MaxWindow {
			cut := end.Add(-w.MaxWindow)
			rec.Unjudged = &gate.Span{From: since, To: cut}
			c.logf("warning: the last judged window ended at %s, more than %s ago: the arrivals in [%s, %s) are not judged",
				since.UTC().Format(time.RFC3339), w.MaxWindow, since.UTC().Format(time.RFC3339), cut.UTC().Format(time.RFC3339))
			since = cut
		}
	}
	current := since.Add(-p.Lag)
	if w.Stood != nil {
		// Rounded up to the second the query counts by, so no request of the step before counts.
		stood := w.Stood(st)
		if t := stood.Truncate(time.Second); t.Before(stood) {
			stood = t.Add(time.Second)
		}
		if stood.After(current) {
			current = stood
			c.logf("%s carries %d%% since %s at the earliest: its share and latency count the users' requests served from then", canary, at, current.UTC().Format(time.TimeOnly))
		}
	}
	c.seen = exposure{since: since.Add(-p.Lag), current: current, arrived: since, share: float64(at) / 100}
	c.logf("watching %s at %d%% for %s: health gate every %s, %d probes; then the metrics gate over the users' requests that reached Log Analytics in [%s, %s), served since %s",
		canary, at, w.For, HealthWatchEvery, len(p.Probes), since.UTC().Format(time.TimeOnly), end.UTC().Format(time.TimeOnly), c.seen.since.UTC().Format(time.TimeOnly))
	sr := StepRecord{From: at, To: at, Resumed: true, Weights: sharesOf(st.Weights), BakeStarted: now}
	a := c.analyse(ctx, p, o, since, end, now.Add(w.For), newProbeWindow())
	a.N = 1
	if m := a.Metrics; m != nil && m.Verdict == VerdictFail && !m.Decisive && a.Verdict == VerdictFail {
		// A watch judges one window, with no failing windows before it to count towards
		// metricsFailureLimit, and runs every few minutes for as long as a pause lasts: it rolls
		// back on a window decisive alone, and leaves the rest to the release's own bake, which
		// judges the step again when it resumes.
		a.Verdict = VerdictPass
		m.Detail += " (not decisive alone: a watch leaves it to the release's bake)"
	}
	sr.Analyses = []Analysis{a}
	if m := a.Metrics; m != nil {
		sr.Late = m.Late
	}
	sr.BakeEnded = c.clock.Now()
	sr.Verdict = a.Verdict
	rec.StepsTaken = []StepRecord{sr}
	c.logf("watch of %s at %d%%: %s", canary, at, describeAnalysis(a))
	switch a.Verdict {
	case VerdictFail:
		return c.abort(ctx, rec, canary, at, "watch at "+fmt.Sprint(at)+"%: "+failure(a))
	case VerdictError:
		rec.Outcome = OutcomeFailed
		return fmt.Errorf("watch of %s at %d%% could not judge it (%s): traffic is left as it is; fix the watch, or roll back", canary, at, failure(a))
	}
	if ctx.Err() != nil {
		return errors.Join(fmt.Errorf("watch interrupted"), ctx.Err())
	}
	rec.Outcome = OutcomeWatched
	c.logf("%s at %d%% passes the watch; traffic is left as it is", canary, at)
	return nil
}
