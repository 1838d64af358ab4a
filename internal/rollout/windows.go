package rollout

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/slotless/slotless/internal/gate"
)

// This file is the metrics gate's side of a bake: which requests each analysis reads, how a
// window is judged, what a thin or failing window does to the step, and the step's running
// total. The window's verdict is gate.Judge's; the rest, the accumulation and the failure limit,
// is metricsTally's, pure so that a simulation drives the same code as a release.

// settle is how long before an analysis its arrival window ends: gate.Settle, or the lag when
// that is shorter (a workspace whose rows are readable within the lag needs no more).
func settle(p Plan) time.Duration { return min(gate.Settle, p.Lag) }

// exposure is what a run's metrics windows read: the users' requests served since the first
// shift of the run (its initial delay after it), less each later shift and the delay after it,
// chosen by when they reached Log Analytics. Every window starts where the last judged one
// ended, so every request is judged once, in the window in which it arrived, however late.
type exposure struct {
	// since is the first instant served that counts, exclude the stretches left out.
	since   time.Time
	exclude []gate.Span
	// current is where the current step's requests start; those served before it arrived late.
	current time.Time
	// arrived is where the next window starts, by arrival.
	arrived time.Time
	// share is the canary's pool weight in the current step (0..1), 0 at 100%, when there is no
	// stable traffic to share with.
	share float64
	// baseline stands in for the stable slot at 100%: its figures from before the last shift.
	baseline *gate.SlotFigures
	// steps are the users' figures of this run's steps below 100% that passed, canary and
	// stable: the strata of a step's end.
	steps [][2]gate.SlotFigures
	// warned is set once the health-path warning was given.
	warned bool
}

// begin starts a step's exposure as its bake starts: after a shift, the requests served from
// the shift's start to its end plus the initial delay are left out, as the new weights settle
// and new instances start.
func (e *exposure) begin(p Plan, sr *StepRecord, bakeStart time.Time) {
	floor := bakeStart
	if !sr.Resumed && !sr.ShiftFinished.IsZero() {
		floor = sr.ShiftFinished.Add(p.InitialDelay)
	}
	floor = floor.Truncate(time.Second)
	if e.since.IsZero() || e.since.After(bakeStart) {
		// The run's first step: nothing before it is this run's.
		*e = exposure{since: floor, arrived: floor, warned: e.warned}
	} else if !sr.ShiftStarted.IsZero() {
		e.exclude = append(e.exclude, gate.Span{From: sr.ShiftStarted.Truncate(time.Second), To: floor})
	}
	e.current, e.baseline = floor, nil
	e.share = float64(sr.To) / 100
	if sr.To >= 100 {
		e.share = 0
	}
}

// window is the query of the rows that arrived in [from, to).
func (e *exposure) window(from, to time.Time) Window {
	return Window{ArrivedFrom: from, ArrivedTo: to, ServedFrom: e.since, Exclude: e.exclude, Current: e.current}
}

// checkMetrics reads the users' requests that arrived in [start, end) and judges them (the
// stable slot's stand-in at 100% is its baseline). Too little traffic is VerdictInconclusive
// here; what it means is the bake's call (tallyMetrics).
func (c *Controller) checkMetrics(ctx context.Context, p Plan, o Options, start, end time.Time) Check {
	if !end.After(start) {
		// Right after a shift and its initial delay nothing can have arrived yet.
		return Check{Verdict: VerdictInconclusive, WindowStart: start, WindowEnd: start,
			Detail: fmt.Sprintf("nothing to read yet: the step's requests count from %s, and those served since then reach Log Analytics later", start.UTC().Format(time.TimeOnly))}
	}
	t0 := c.clock.Now()
	canary, stable, err := c.metrics.Figures(ctx, o.Slot, o.Slot.Other(), c.seen.window(start, end))
	window := max(end.Sub(start), 0)
	chk := Check{WindowSeconds: int64(window.Round(time.Second) / time.Second), WindowStart: start, WindowEnd: end, Ms: c.clock.Now().Sub(t0).Milliseconds()}
	if err != nil {
		chk.Verdict, chk.Detail = VerdictError, err.Error()
		return chk
	}
	if !c.seen.warned {
		for _, w := range gate.Warnings(canary, stable, p.HealthPath) {
			c.seen.warned = true
			c.logf("warning: %s", w)
		}
	}
	chk.Late = canary.Late + stable.Late
	against := ""
	if b := c.seen.baseline; b != nil {
		// At 100% nothing is left to compare with but the stable slot's own figures from
		// before the shift.
		stable, against = *b, "against the stable slot's baseline from before the shift: "
	}
	chk.Canary, chk.Stable = &canary, &stable
	judge(&chk, gate.Judge(canary, stable, p.Thresholds.Thresholds, c.seen.share), against)
	return chk
}

// judge writes a judgement into a check.
func judge(chk *Check, j gate.Judgement, prefix string) {
	chk.Decisive = j.Decisive
	switch j.Verdict {
	case gate.VerdictFail:
		chk.Verdict, chk.Reason, chk.Detail = VerdictFail, string(j.Reason), prefix+string(j.Reason)+": "+strings.Join(j.Failing, "; ")
	case gate.VerdictInconclusive:
		chk.Verdict, chk.Detail = VerdictInconclusive, prefix+strings.Join(j.Reasons, "; ")
	default:
		chk.Verdict, chk.Detail = VerdictPass, prefix+strings.Join(j.Reasons, "; ")
	}
}

// BaselineSpan is the least stretch before the shift to 100% whose stable requests make the
// baseline: every window at 100% is compared with the same baseline, so its own noise weighs on
// all of them at once; 30 minutes takes in the whole of a default release's earlier steps.
const BaselineSpan = 30 * time.Minute

// measureBaseline reads the stable slot's figures from before the shift to 100%, over as long
// as the step bakes and at least BaselineSpan: what the canary at 100% is compared with. A baseline that cannot be read
// leaves the step's windows inconclusive, which never blocks at 100%.
func (c *Controller) measureBaseline(ctx context.Context, p Plan, o Options, step PlannedStep, sr *StepRecord) {
	ref := sr.ShiftStarted
	if ref.IsZero() {
		ref = sr.BakeStarted
	}
	ref = ref.Truncate(time.Second)
	from := ref.Add(-max(step.Bake, BaselineSpan))
	t0 := c.clock.Now()
	w := Window{ArrivedTo: c.clock.Now().Add(-settle(p)).Truncate(time.Second), ServedFrom: from, ServedTo: ref, Current: from}
	canary, stable, err := c.metrics.Figures(ctx, o.Slot, o.Slot.Other(), w)
	chk := Check{WindowSeconds: int64(ref.Sub(from) / time.Second), WindowStart: from, WindowEnd: ref, Ms: c.clock.Now().Sub(t0).Milliseconds(), Canary: &canary, Stable: &stable}
	sr.Baseline = &chk
	if err != nil {
		chk.Verdict, chk.Detail, chk.Canary, chk.Stable = VerdictError, err.Error(), nil, nil
		c.logf("warning: the stable slot's baseline could not be read (%v): at 100%% the metrics gate has nothing to compare with, and only the health gate and the probes watch", err)
		c.seen.baseline = &gate.SlotFigures{App: stable.App}
		return
	}
	chk.Verdict = VerdictPass
	chk.Detail = fmt.Sprintf("the stable slot served %d users' requests in the %s before the shift, %.2f%% failed, p95 %.0f ms", stable.Requests, ref.Sub(from), 100*stable.FailureRate, stable.P95Ms)
	c.logf("baseline for 100%%: %s", chk.Detail)
	c.seen.baseline = &stable
}

// EndAlphaFactor sets the level a step's end is judged at: a quarter of a window's alpha
// (0.0025 at metricsConfidence 0.99). A default release has three step ends, so together they
// cannot spend more than 0.75% of a healthy canary's chances of a false rollback, within the 1%
// goal (docs/releases.md, "How the metrics gate decides"), while a canary too thin to fail any
// window alone is still judged on all the step has seen.
const EndAlphaFactor = 0.25

// metricsTally is a step's metrics windows so far: the judged ones summed, and the failing
// ones in a row.
type metricsTally struct {
	canary, stable gate.SlotFigures
	judged         int
	inARow         int
}

// take folds one window's check into the tally and says what the analysis's verdict becomes:
//   - a thin window is not judged: its rows are read again by the next, wider window, unless it
//     is the step's last, whose rows go into the running total;
//   - a failing window fails the analysis when it is decisive alone or the failureLimit-th in
//     a row; otherwise it is held, and the analysis passes;
//   - the running total of judged windows is judged at the decisive level (as sure as
//     failureLimit windows in a row), every time it grows.
//
// It returns whether the window was judged (so the next one starts after it), the analysis's
// verdict, and the running total's check, nil when it was not judged this time.
func (t *metricsTally) take(m *Check, th Thresholds, baseline *gate.SlotFigures, done [][2]gate.SlotFigures, final bool) (judged bool, verdict string, total *Check) {
	verdict = m.Verdict
	if m.Verdict == VerdictInconclusive {
		verdict = VerdictPass
	}
	judged = m.Verdict == VerdictPass || m.Verdict == VerdictFail || (final && m.Verdict == VerdictInconclusive)
	if !judged {
		if m.Verdict == VerdictInconclusive {
			m.Detail += "; carried into the next window"
		}
		return false, verdict, nil
	}
	if m.Canary != nil && m.Stable != nil {
		t.canary, t.stable = t.canary.Add(*m.Canary), t.stable.Add(*m.Stable)
		if baseline != nil {
			t.stable = *baseline
		}
	}
	t.judged++
	switch m.Verdict {
	case VerdictFail:
		t.inARow++
		m.InARow = t.inARow
		if !m.Decisive && t.inARow < th.FailureLimit {
			verdict = VerdictPass
			m.Detail += fmt.Sprintf(" (failing window %d in a row of metricsFailureLimit %d)", t.inARow, th.FailureLimit)
		}
	case VerdictPass:
		t.inARow = 0
	}
	if verdict == VerdictFail {
		return true, verdict, nil
	}
	// The running total, as sure as failureLimit windows in a row together. A p95 does not
	// add up, so the total judges rates only; the share is the step's already
	// (gate.SlotFigures.Settled), judged with each window.
	c, s := t.canary, t.stable
	c.P95Ms, s.P95Ms = 0, 0
	chk := &Check{Canary: &c, Stable: &s}
	strict := th.Thresholds
	strict.Confidence, strict.FailureLimit = 1-th.DecisiveAlpha(), 1
	j := gate.Judge(c, s, strict, 0)
	prefix := fmt.Sprintf("the step's %d judged windows together: ", t.judged)
	if final && j.Verdict != gate.VerdictInconclusive {
		// The step's end: all of it at the end level, and below 100% the run's steps so far
		// with it, each its own stratum, for the power a small step alone lacks.
		end := EndAlphaFactor * th.Alpha()
		if baseline != nil {
			strict.Confidence = 1 - end
			j = gate.Judge(c, s, strict, 0)
		} else {
			j = gate.JudgeSteps(append(slices.Clone(done), [2]gate.SlotFigures{t.canary, t.stable}), th.Thresholds, end)
			prefix = fmt.Sprintf("the release's %d steps so far, at the step's end: ", len(done)+1)
		}
	}
	judge(chk, j, prefix)
	if chk.Verdict == VerdictFail {
		return true, VerdictFail, chk
	}
	return true, verdict, chk
}

// tallyMetrics applies an analysis's metrics window to the step (metricsTally.take), moves the
// arrival cursor past a judged window, and at the step's last analysis judges the step as a
// whole: a step below 100% that never gathered enough traffic fails with what to do, unless
// metricsInconclusive is pass.
func (c *Controller) tallyMetrics(p Plan, step PlannedStep, sr *StepRecord, t *metricsTally, a *Analysis, end time.Time, final bool) {
	m := a.Metrics
	if m == nil || m.Verdict == VerdictError {
		// The health gate or the probes spoke first, or the query failed: nothing was judged,
		// and the next window reaches back over this one.
		return
	}
	judged, verdict, total := t.take(m, p.Thresholds, c.seen.baseline, c.seen.steps, final)
	if judged {
		c.seen.arrived = end
		sr.Late += m.Late
	}
	if a.Verdict == VerdictPass || a.Verdict == VerdictFail {
		a.Verdict = verdict
	}
	if total != nil && (total.Verdict == VerdictFail || final) {
		total.WindowStart, total.WindowEnd = sr.BakeStarted, end
		total.WindowSeconds = int64(end.Sub(sr.BakeStarted).Round(time.Second) / time.Second)
		a.Step = total
	}
	if final && a.Verdict == VerdictPass && total != nil && total.Verdict == VerdictPass && sr.To < 100 {
		c.seen.steps = append(c.seen.steps, [2]gate.SlotFigures{t.canary, t.stable})
	}
	if !final || a.Verdict != VerdictPass || total == nil || total.Verdict != VerdictInconclusive || sr.To >= 100 {
		return
	}
	if !p.Thresholds.InconclusiveFails {
		total.Detail += "; passed unseen, as metricsInconclusive is pass"
		return
	}
	a.Verdict = VerdictFail
	total.Verdict, total.Reason = VerdictFail, string(gate.ReasonInconclusive)
	longer := "bakeMinutes"
	if step.BakeFrom == BakeFromStep {
		longer = "the step's bake in releaseSteps"
	}
	total.Detail = fmt.Sprintf("nobody saw the canary at %d%%: its whole bake of %s never had metricsMinRequests %d users' requests from each slot (%s); bake longer (%s), lower metricsMinRequests, or set metricsInconclusive: pass to accept an unseen canary (the release's own probes and health checks are not users' requests)",
		sr.To, step.Bake, p.Thresholds.MinRequests, total.Detail, longer)
}
