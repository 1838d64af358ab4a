package rollout

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/slotless/slotless/internal/gate"
	"github.com/slotless/slotless/stack"
)

// errorLimit is how many analyses in a row may fail to run (a query error, not a "no") before
// the bake counts as unobserved and the release aborts: one is a blip, two leave a canary
// carrying traffic with nobody watching.
const errorLimit = 2

// Run walks the release described by o through plan p, from where the deployed stack stands.
//
// It refuses to start (ErrRefused) unless o.Slot is idle, or mid-release towards itself, and
// passes the health gate serving o.Version. Then, for each remaining step up to o.Until, it warms
// the slot, shifts, and bakes: the health and metrics gates run every p.Interval for the step's bake. The
// first failing analysis aborts the release and rolls the slot back at once (ErrAborted; with
// ErrRollbackFailed too if the rollback fails). A cancelled ctx stops the run where it is without
// moving traffic, so the next run resumes. The Record is returned in every case.
func (c *Controller) Run(ctx context.Context, p Plan, o Options) (Record, error) {
	c.start = c.clock.Now()
	rec := newRecord(p, c.start)
	rec.Slot, rec.Version, rec.Steps, rec.Until = o.Slot, o.Version, slices.Clone(p.Steps), o.Until
	for _, w := range p.Steps {
		bake, _ := p.BakeAt(w)
		rec.StepBakeSeconds = append(rec.StepBakeSeconds, int64(bake/time.Second))
	}
	err := c.run(ctx, p, o, &rec)
	rec.Finished = c.clock.Now()
	if err != nil {
		rec.Error = err.Error()
		if rec.Outcome == "" {
			rec.Outcome = OutcomeFailed
		}
	}
	if !o.DryRun {
		rec.WriteSummary(c.out)
	}
	return rec, err
}

func (c *Controller) run(ctx context.Context, p Plan, o Options, rec *Record) error {
	if err := checkOptions(p, o); err != nil {
		rec.Outcome = OutcomeInvalid
		return err
	}
	if err := p.checkSteps(); err != nil {
		rec.Outcome = OutcomeRefused
		return fmt.Errorf("%w: %w", ErrRefused, err)
	}
	if c.traffic == nil {
		rec.Outcome = OutcomeInvalid
		return fmt.Errorf("%w: no traffic source to read the deployed stack from", ErrInvalid)
	}

	st, err := c.traffic.Status(ctx)
	if err != nil {
		return fmt.Errorf("read the deployed traffic: %w", err)
	}
	rec.From, rec.FromWeights, rec.CurrentSlotName = st.Weights, sharesOf(st.Weights), st.CurrentSlotName
	source := "deployed"
	if st.Source != "" {
		source = st.Source
	}
	c.logf("%s: %s, current-slot-name %s", source, st.Weights, orDash(st.CurrentSlotName))
	if err := checkStatus(st, o.Slot); err != nil {
		rec.Outcome = OutcomeRefused
		return err
	}
	steps := Schedule(p, o.Slot, st.Weights, o.Until)
	rec.Planned = steps
	c.printPlan(p, o, st, steps)
	if o.DryRun {
		rec.Outcome = OutcomeDryRun
		return nil
	}
	if len(steps) == 0 {
		c.logf("%s already carries %d%%, past --until %d: nothing to do", o.Slot, st.Weights.Of(o.Slot), o.Until)
		rec.Outcome = OutcomeNothingToDo
		return nil
	}
	if c.health == nil || c.metrics == nil || c.warmer == nil {
		rec.Outcome = OutcomeInvalid
		return fmt.Errorf("%w: a release needs the health gate, the metrics gate and the warmer", ErrInvalid)
	}

	// The start gate: the pinned health gate, patient, with the version.
	current := st.Weights.Of(o.Slot)
	chk, err := c.checkHealth(ctx, o, c.health.Ready)
	rec.Start = &chk
	if err := interrupted(ctx, rec, o.Slot, current); err != nil {
		return err
	}
	if err != nil || chk.Verdict != VerdictPass {
		// A resumed release whose slot is at fault is a failing analysis like any other. A
		// wrong version, a wrong slot or no answer at all more likely means a wrong --version
		// or a runner that cannot reach the API, and rolling back a healthy canary for that
		// would be a release lost to a typo: refuse, and leave the traffic.
		if current > 0 && slotAtFault(chk.Reason) {
			return c.abort(ctx, rec, o.Slot, current, fmt.Sprintf("the start gate of the release standing at %d%%: %s", current, chk.Detail))
		}
		rec.Outcome = OutcomeRefused
		err := fmt.Errorf("%w: %s does not pass the health gate serving %s: %s", ErrRefused, o.Slot, o.Version, chk.Detail)
		if current > 0 {
			err = fmt.Errorf("%w; %s still carries %d%%: roll it back if the slot is at fault", err, o.Slot, current)
		}
		return err
	}
	c.logf("health gate: %s serves %s", o.Slot, o.Version)
	c.tell(Progress{Event: ProgressStarted, Record: *rec, Steps: len(steps)})

	for i, s := range steps {
		sr := StepRecord{From: s.From, To: s.To, Resumed: s.Resumed, Changes: s.Changes}
		if s.Resumed {
			c.logf("step %d/%d: %s stands at %d%%: bake it again before going on", i+1, len(steps), o.Slot, s.To)
		} else {
			c.logf("step %d/%d: %s %d%% → %d%% (changes %s)", i+1, len(steps), o.Slot, s.From, s.To, describeChanges(s.Changes))
			if err := c.warm(ctx, p, o, &sr); err != nil {
				rec.StepsTaken = append(rec.StepsTaken, sr)
				if ierr := interrupted(ctx, rec, o.Slot, current); ierr != nil {
					return ierr
				}
				return c.abort(ctx, rec, o.Slot, current, fmt.Sprintf("warm-up before %d%%: %v", s.To, err))
			}
			sr.ShiftStarted = c.clock.Now()
			err := c.traffic.Shift(ctx, o.Slot, s.To)
			sr.ShiftFinished = c.clock.Now()
			if err != nil {
				sr.Verdict = VerdictError
				rec.StepsTaken = append(rec.StepsTaken, sr)
				if ierr := interrupted(ctx, rec, o.Slot, current); ierr != nil {
					return fmt.Errorf("during the shift to %d%%, which may or may not have applied: %w", s.To, ierr)
				}
				// A shift that did not go through says nothing about the slot, so this is not
				// an abort: traffic stays on the last step that baked clean, and the next run
				// resumes from whatever the stack shows.
				return fmt.Errorf("shift %s to %d%%: %w; traffic was not rolled back: run the release again to resume, or roll back", o.Slot, s.To, err)
			}
			after, err := c.traffic.Status(ctx)
			if err != nil {
				rec.StepsTaken = append(rec.StepsTaken, sr)
				return fmt.Errorf("read the deployed traffic after the shift to %d%%: %w", s.To, err)
			}
			sr.Weights = sharesOf(after.Weights)
			current = after.Weights.Of(o.Slot)
			if current != s.To {
				rec.StepsTaken = append(rec.StepsTaken, sr)
				where := "the deployed stack"
				if after.Source != "" {
					where = after.Source
				}
				return fmt.Errorf("%w: after the shift to %d%% %s gives %s %d%% (%s): something else changed the traffic", ErrTrafficMoved, s.To, where, o.Slot, current, after.Weights)
			}
			c.logf("shifted in %s: %s", sr.ShiftFinished.Sub(sr.ShiftStarted).Round(time.Second), after.Weights)
			c.tell(Progress{Event: ProgressShifted, Record: *rec, Step: sr, Index: i + 1, Steps: len(steps)})
		}
		if s.Resumed {
			sr.Weights = sharesOf(st.Weights)
		}

		c.at = Progress{Event: ProgressAnalysed, Record: *rec, Index: i + 1, Steps: len(steps)}
		reason, err := c.bake(ctx, p, o, s, &sr)
		rec.StepsTaken = append(rec.StepsTaken, sr)
		if reason != "" {
			return c.abort(ctx, rec, o.Slot, current, reason)
		}
		if ierr := interrupted(ctx, rec, o.Slot, current); ierr != nil {
			return ierr
		}
		if err != nil {
			return err
		}
		c.tell(Progress{Event: ProgressPassed, Record: *rec, Step: sr, Index: i + 1, Steps: len(steps)})
	}

	last := steps[len(steps)-1].To
	if err := c.checkTraffic(ctx, o, last); err != nil {
		return err
	}
	if last == 100 {
		rec.Outcome = OutcomeComplete
		c.logf("release complete: %s carries 100%% with %s", o.Slot, o.Version)
	} else {
		rec.Outcome = OutcomePaused
		c.logf("stopped at %d%% as asked (--until %d); run again without --until, or with a later step, to go on", last, o.Until)
	}
	return nil
}

// checkOptions rejects input the CLI should have caught.
func checkOptions(p Plan, o Options) error {
	var problems []string
	if _, err := stack.ParseSlot(string(o.Slot)); err != nil {
		problems = append(problems, fmt.Sprintf("slot: %v", err))
	}
	if strings.TrimSpace(o.Version) == "" {
		problems = append(problems, "version: required, the version the release slot must serve")
	}
	if o.Until != 0 && !slices.Contains(p.Steps, o.Until) {
		problems = append(problems, fmt.Sprintf("until: %d is not a step, want one of releaseSteps %s", o.Until, joinInts(p.Steps)))
	}
	if err := p.validate(); err != nil {
		problems = append(problems, fmt.Sprintf("plan: %v", err))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(problems, "; "))
	}
	return nil
}

// checkStatus is the start guard on the deployed state: slot must be idle with the other slot
// live, or be mid-release (or at 100) in a release that started from the other slot.
func checkStatus(st Status, slot stack.Slot) error {
	origin, err := st.Origin()
	if err != nil {
		return fmt.Errorf("%w: %v; the deployed stack is not in a state a release can start from", ErrRefused, err)
	}
	w := st.Weights.Of(slot)
	switch {
	case w == 0 && origin != slot.Other():
		return fmt.Errorf("%w: %s is idle but current-slot-name is %s; the stack is half-applied: run pulumi up first", ErrRefused, slot, st.CurrentSlotName)
	case w > 0 && w < 100 && origin == slot:
		return fmt.Errorf("%w: a release of %s is in progress (%s, started from %s, current-slot-name %s); finish or roll it back first", ErrRefused, slot.Other(), st.Weights, slot, st.CurrentSlotName)
	case w == 100 && origin != slot:
		return fmt.Errorf("%w: %s carries all traffic but current-slot-name is %s; the stack is half-applied: run pulumi up first", ErrRefused, slot, st.CurrentSlotName)
	}
	return nil
}

// slotAtFault reports whether a health gate's reason blames the slot itself.
func slotAtFault(reason string) bool {
	return reason == string(gate.ReasonUnhealthy) || reason == string(gate.ReasonTimeout)
}

// interrupted turns a cancelled run into its record and error. Traffic is left where it is: a
// cancelled pipeline is not a failing canary, and the next run resumes from the deployed state.
func interrupted(ctx context.Context, rec *Record, slot stack.Slot, at int) error {
	if ctx.Err() == nil {
		return nil
	}
	rec.Outcome = OutcomeInterrupted
	return fmt.Errorf("release interrupted with %s at %d%%: %w; traffic is left as it is, and a new run resumes from what the stack shows", slot, at, ctx.Err())
}

// warm runs the warm-up before a shift.
func (c *Controller) warm(ctx context.Context, p Plan, o Options, sr *StepRecord) error {
	res, err := c.warmer.Warmup(ctx, o.Slot, p.WarmupRequests, p.WarmupLatency)
	sr.Warmup = &Warmup{ColdMs: res.Cold.Milliseconds(), WarmMs: res.Warm.Milliseconds(), Rounds: res.Rounds, Requests: res.Requests}
	if err != nil {
		sr.Warmup.Error = err.Error()
		sr.Verdict = VerdictFail
		c.logf("warm-up of %s failed: %v", o.Slot, err)
		return err
	}
	c.logf("warm-up: %s of %d pinned requests; cold %s, warm %s (bound %s)", plural(res.Rounds, "round"), p.WarmupRequests, res.Cold.Round(time.Millisecond), res.Warm.Round(time.Millisecond), p.WarmupLatency)
	return nil
}

// bake watches one step for its planned bake. It returns the reason to abort, or an error when
// ctx ends.
//
// The health gate and the probes watch the slot all along; every p.Interval an analysis also
// judges the users' requests that reached Log Analytics since the last judged window (see
// windows.go): a window too thin to judge is carried into the next, a failing one counts
// towards metricsFailureLimit unless it is decisive alone, and the step's running total of
// judged windows is checked each time. The last analysis comes p.Lag (and the settle) after the
// bake's end, for the rows still arriving, and judges what is left with the running total: a
// step passes only on data that was judged.
func (c *Controller) bake(ctx context.Context, p Plan, o Options, step PlannedStep, sr *StepRecord) (string, error) {
	start := c.clock.Now()
	sr.BakeStarted = start
	offsets := p.analysisOffsets(step.Bake)
	if len(offsets) == 0 {
		c.logf("no bake (%s): %d%% passes unwatched", noBake(step), sr.To)
		sr.Verdict = VerdictPass
		sr.BakeEnded = start
		return "", nil
	}
	c.seen.begin(p, sr, start)
	lag := ""
	if p.Lag > 0 {
		lag = fmt.Sprintf(", the last %s after the bake for the rows still arriving (metricsLagSeconds)", p.Lag+settle(p))
	}
	c.logf("bake %s at %d%%: %s, one every %s%s", step.Bake, sr.To, analyses(len(offsets)), p.Interval, lag)
	if sr.To == 100 {
		c.measureBaseline(ctx, p, o, step, sr)
	}
	probes := newProbeWindow()
	var tally metricsTally
	errorsInARow := 0
	for n, off := range offsets {
		final := n == len(offsets)-1
		due := start.Add(off)
		if final {
			// The last window holds every row that arrived within the lag after the bake.
			due = start.Add(step.Bake + p.Lag + settle(p))
		}
		end := due.Add(-settle(p)).Truncate(time.Second)
		if end.Before(c.seen.arrived) {
			end = c.seen.arrived
		}
		a := c.analyse(ctx, p, o, c.seen.arrived, end, due, probes)
		a.N = n + 1
		c.tallyMetrics(p, step, sr, &tally, &a, end, final)
		sr.Analyses = append(sr.Analyses, a)
		// A "no" in hand is acted on even if the run was cancelled meanwhile: leaving traffic
		// on a slot known to fail is worse than a rollback nobody waited for.
		if ctx.Err() != nil && a.Verdict != VerdictFail {
			return "", ctx.Err()
		}
		c.logf("analysis %d/%d at %d%%: %s", a.N, len(offsets), sr.To, describeAnalysis(a))
		if c.analysed != nil {
			at := c.at
			at.Step = *sr
			c.analysed(at)
		}
		switch a.Verdict {
		case VerdictFail:
			sr.Verdict = VerdictFail
			sr.BakeEnded = c.clock.Now()
			return fmt.Sprintf("analysis %d at %d%% failed: %s", a.N, sr.To, failure(a)), nil
		case VerdictError:
			errorsInARow++
			if errorsInARow >= errorLimit || final {
				sr.Verdict = VerdictError
				sr.BakeEnded = c.clock.Now()
				return "", c.unobserved(o, sr.To, fmt.Sprintf("analysis %d at %d%% could not run (%s), so the step cannot be passed: %s", a.N, sr.To, errorCount(errorsInARow, final), failure(a)))
			}
		default:
			errorsInARow = 0
		}
		if err := c.checkTraffic(ctx, o, sr.To); err != nil {
			sr.Verdict = VerdictError
			sr.BakeEnded = c.clock.Now()
			return "", err
		}
	}
	sr.Verdict = VerdictPass
	sr.BakeEnded = c.clock.Now()
	c.logf("bake at %d%% passed", sr.To)
	return "", nil
}

// ErrTrafficMoved is returned when the traffic is found somewhere the release did not put
// it: a pulumi up from a stale checkout, a portal edit, another tool. The release stops
// there, neither going on nor rolling back, since it no longer knows what it would undo.
var ErrTrafficMoved = errors.New("traffic moved behind the release's back")

// checkTraffic reads where traffic stands (the live pool, when the traffic reads it) and
// fails when the release slot's share is not the step's.
func (c *Controller) checkTraffic(ctx context.Context, o Options, want int) error {
	st, err := c.traffic.Status(ctx)
	if err != nil {
		c.logf("warning: could not read where traffic stands (%v)", err)
		return nil
	}
	if got := st.Weights.Of(o.Slot); got != want {
		where := "the deployed stack"
		if st.Source != "" {
			where = st.Source
		}
		return fmt.Errorf("%w: the release put %s at %d%%, but %s now gives it %d%% (%s); the release stops here without moving traffic: find out who moved it (a pulumi up from a stale checkout, the portal), then run the release again to resume from there, or roll back", ErrTrafficMoved, o.Slot, want, where, got, st.Weights)
	}
	return nil
}

func errorCount(n int, final bool) string {
	if final && n < errorLimit {
		return "the last of the bake"
	}
	return fmt.Sprintf("%d in a row", n)
}

// analyse watches the slot until the analysis is due, then runs the health gate once more and
// the metrics gate over the requests generated in [since, end). The health gate runs every
// HealthWatchEvery in between, and the probes with it, so a slot that stops answering or whose
// routes fail is caught within seconds rather than at the next analysis; a failing check ends
// the analysis early and skips the metrics query, since the verdict is already in and a
// rollback is waiting on it.
//
// A health check blames the canary only for what it did (checkCanary): one that could not
// observe it (the runner's network, the gateway's own 401 or 429) is an error, and the watch
// goes on. An analysis whose every health check errored is an error too, whatever the metrics
// said, unless they failed the canary: the bake's errorLimit then decides, as for a metrics
// query that could not run.
//
// Windows that follow one another judge every request once, at full strength: a canary that
// starts failing just after one window fills the whole of the next. A longer, overlapping window
// would dilute a new failure with the minutes before it, and the rollback could then come
// intervals later.
func (c *Controller) analyse(ctx context.Context, p Plan, o Options, since, end, due time.Time, probes *probeWindow) Analysis {
	var a Analysis
	for first := true; ; first = false {
		// The first check follows the previous analysis at once, so the metrics query does
		// not widen the gap between two checks.
		if !first {
			if err := c.clock.Sleep(ctx, min(HealthWatchEvery, due.Sub(c.clock.Now()))); err != nil {
				a.Verdict = VerdictPass
				return a
			}
		}
		a.At = c.clock.Now()
		a.HealthChecks++
		a.Health = c.checkCanary(ctx, o)
		if ctx.Err() != nil {
			a.Verdict = a.Health.Verdict
			return a
		}
		switch a.Health.Verdict {
		case VerdictFail:
			a.Verdict = VerdictFail
			return a
		case VerdictError:
			a.HealthErrors++
		}
		if len(p.Probes) > 0 {
			pc := c.probe(ctx, p, o, probes)
			a.Probes = &pc
			if pc.Verdict == VerdictFail {
				a.Verdict = VerdictFail
				return a
			}
		}
		if !c.clock.Now().Before(due) {
			break
		}
	}
	m := c.checkMetrics(ctx, p, o, since, end)
	a.Metrics = &m
	a.Verdict = m.Verdict
	if m.Verdict == VerdictInconclusive {
		a.Verdict = VerdictPass
	}
	if a.Verdict != VerdictFail && a.HealthErrors == a.HealthChecks {
		a.Verdict = VerdictError
	}
	return a
}

// checkCanary runs the analysis health gate on the canary and blames it only for what its own
// answer shows:
//
//   - an answer the canary proves it gave (its X-Slot header or its health body's slot) that is
//     unhealthy or of another version fails it;
//   - an answer another slot gave (pinning not in effect: a rotated pinToken, a policy
//     changed) says nothing about the canary: an error;
//   - a 429 is the gateway's quota, never the canary's doing: an error;
//   - anything else without the canary's proof (no answer, a timeout, the gateway's own 5xx,
//     401 or 403) is put to the control: the stable slot is asked at once, through the same
//     gateway with the same token (HealthGate.Control). When it does not answer healthy, the
//     release cannot see either slot: an error. When it does, the canary is asked again at
//     once, so its fault stands on both sides of the stable slot's healthy answer and not on
//     an outage of the path that ended in between: failing again, it fails; healthy again, the
//     check passes, the earlier failure having been the path's.
func (c *Controller) checkCanary(ctx context.Context, o Options) Check {
	stable := o.Slot.Other()
	var first *Check
	for {
		chk, err := c.checkHealth(ctx, o, c.health.Check)
		var ge *gate.GateError
		if chk.Verdict == VerdictPass && first != nil {
			chk.Detail = fmt.Sprintf("a blip of the path, not the canary's: it first failed (%s), then %s and the canary answered healthy", first.Detail, stable)
		}
		if chk.Verdict != VerdictFail || !errors.As(err, &ge) || ctx.Err() != nil {
			// A pass, an error, or a healthy answer of the canary's own with another version.
			return chk
		}
		switch {
		case ge.From == string(o.Slot):
			return chk
		case ge.From != "":
			chk.Verdict = VerdictError
			chk.Detail = fmt.Sprintf("not the canary's answer: %s answered (X-Slot or body slot %q), so pinning is not in effect (has pinToken been changed? is SLOTLESS_PIN_TOKEN the stack's?): %s", ge.From, ge.From, ge.Error())
			return chk
		case ge.HTTPStatus == http.StatusTooManyRequests:
			chk.Verdict = VerdictError
			chk.Detail = "the gateway's quota, not the canary: " + ge.Error()
			return chk
		case first != nil:
			chk.Detail = fmt.Sprintf("%s; it failed before too, and %s, asked in between through the same gateway, answered healthy, so the fault is the canary's", chk.Detail, stable)
			return chk
		}
		_, cerr := c.health.Control(ctx, stable)
		var sge *gate.GateError
		switch {
		case cerr == nil:
			first = &chk
			continue
		case errors.As(cerr, &sge):
			chk.Verdict = VerdictError
			chk.Detail = fmt.Sprintf("could not observe the canary: %s; %s did not answer healthy either (%s), so the fault is on the way to the slots (the runner's network, the gateway, a key), not the canary's", ge.Error(), stable, sge.Error())
		default:
			chk.Verdict = VerdictError
			chk.Detail = fmt.Sprintf("could not observe the canary: %s; and %s could not be asked (%v), so the release cannot tell the canary from its own path to it", ge.Error(), stable, cerr)
		}
		return chk
	}
}

// checkHealth runs one of the health gates and checks the version it reports.
func (c *Controller) checkHealth(ctx context.Context, o Options, gateFn func(context.Context, stack.Slot) (gate.HealthResult, error)) (Check, error) {
	t0 := c.clock.Now()
	res, err := gateFn(ctx, o.Slot)
	chk := Check{Version: res.Version, Attempts: res.Attempts, Ms: c.clock.Now().Sub(t0).Milliseconds()}
	var ge *gate.GateError
	switch {
	case errors.As(err, &ge):
		chk.Verdict, chk.Reason, chk.Detail = VerdictFail, string(ge.Reason), ge.Error()
	case err != nil:
		chk.Verdict, chk.Detail = VerdictError, err.Error()
	case o.Version != "" && res.Version != o.Version:
		// The gate may have been built without the version; the controller checks it anyway,
		// because a slot that changes version under traffic is being deployed over.
		chk.Verdict, chk.Reason = VerdictFail, string(gate.ReasonWrongVersion)
		chk.Detail = fmt.Sprintf("%s: %s serves %q, want %q", gate.ReasonWrongVersion, o.Slot, res.Version, o.Version)
	default:
		chk.Verdict = VerdictPass
	}
	return chk, err
}

// abort rolls the slot back after a failing analysis. The rollback runs on a context that
// outlives a cancellation, because stopping it half-way would leave traffic on a slot known to
// fail; the Traffic implementation bounds how long it may take.
func (c *Controller) abort(ctx context.Context, rec *Record, slot stack.Slot, at int, reason string) error {
	if at == 0 {
		rec.Outcome = OutcomeAborted
		c.logf("aborting: %s; %s carries no traffic, so there is nothing to roll back", reason, slot)
		return fmt.Errorf("%w: %s; %s carries no traffic, nothing was rolled back", ErrAborted, reason, slot)
	}
	c.logf("aborting: %s", reason)
	c.logf("rolling back: %s %d%% → 0%% (never blocked)", slot, at)
	rb := &RollbackRec{Reason: reason, Started: c.clock.Now()}
	rec.Rollback = rb
	err := c.traffic.Rollback(context.WithoutCancel(ctx), slot)
	rb.Finished = c.clock.Now()
	if err != nil {
		rb.Error = err.Error()
		rec.Outcome = OutcomeRollbackFailed
		c.logf("ROLLBACK FAILED: %v", err)
		byHand := "blueWeight 0"
		if slot == stack.Green {
			byHand = "blueWeight 100"
		}
		return fmt.Errorf("%w: %s; %w: %w; traffic may still reach %s: roll back by hand (slotless rollback --slot %s, or %s and pulumi up)", ErrAborted, reason, ErrRollbackFailed, err, slot, slot, byHand)
	}
	rec.Outcome = OutcomeRolledBack
	if st, err := c.traffic.Status(context.WithoutCancel(ctx)); err == nil {
		rb.Weights = sharesOf(st.Weights)
		c.logf("rolled back in %s: %s", rb.Finished.Sub(rb.Started).Round(time.Second), st.Weights)
	} else {
		c.logf("rolled back in %s (the weights could not be read back: %v)", rb.Finished.Sub(rb.Started).Round(time.Second), err)
	}
	return fmt.Errorf("%w: %s; rolled back: %s carries 0%%", ErrAborted, reason, slot)
}

// unobserved stops a release whose bake could not observe its canary: analyses that could
// not run errorLimit times in a row (the health gate could not reach the canary, the metrics
// query failed), or at the end of a bake. Nothing says the canary failed, so nothing is rolled
// back: a rollback would lose a release to a rotated token or a runner's network, and the
// rollback path is what such a runner may not reach either. Traffic stays where the last step
// that baked clean put it, the scheduled watch keeps judging it (its metrics gate as well as
// its health gate), and the next run resumes from the deployed weights and bakes this step
// again.
func (c *Controller) unobserved(o Options, at int, why string) error {
	c.logf("stopping: the release could not observe %s at %d%%: %s", o.Slot, at, why)
	c.logf("traffic is left as it is: nothing says %s failed", o.Slot)
	return fmt.Errorf("%w: %s; traffic was not moved: %s still carries %d%%. Fix what kept the release from seeing it (the pinning token, the subscription key, the runner's network, Log Analytics access) and run the release again to resume (it bakes this step again), or roll back with slotless rollback --slot %s",
		ErrUnobserved, why, o.Slot, at, o.Slot)
}

// failure is the one-line cause of a failing or errored analysis.
func failure(a Analysis) string {
	switch {
	case a.Health.Verdict == VerdictFail:
		return "health gate: " + a.Health.Detail
	case a.Probes != nil && a.Probes.Verdict != VerdictPass:
		return "probes: " + a.Probes.Detail
	case a.Step != nil && a.Step.Verdict != VerdictPass && a.Step.Verdict != VerdictInconclusive:
		return "metrics gate over the whole step: " + a.Step.Detail
	case a.Metrics != nil && a.Metrics.Verdict != VerdictPass && a.Metrics.Verdict != VerdictInconclusive:
		return "metrics gate: " + a.Metrics.Detail
	case a.HealthChecks > 0 && a.HealthErrors == a.HealthChecks:
		return fmt.Sprintf("health gate: none of its %s could observe the canary; the last: %s", plural(a.HealthChecks, "check"), a.Health.Detail)
	case a.Health.Verdict != VerdictPass:
		return "health gate: " + a.Health.Detail
	case a.Metrics != nil:
		return "metrics gate: " + a.Metrics.Detail
	}
	return a.Verdict
}

// describeAnalysis is the progress line of one analysis.
func describeAnalysis(a Analysis) string {
	h := a.Health
	line := a.Verdict + "; health " + h.Verdict
	switch {
	case h.Verdict == VerdictFail || a.Metrics == nil && a.Probes == nil && h.Verdict != VerdictPass:
		return line + fmt.Sprintf(" at check %d: %s", a.HealthChecks, h.Detail)
	case a.HealthErrors > 0:
		line += fmt.Sprintf(" (%s, %d of them could not observe the canary", plural(a.HealthChecks, "check"), a.HealthErrors)
		if h.Verdict != VerdictPass {
			line += "; the last: " + h.Detail
		}
		line += ")"
	default:
		line += fmt.Sprintf(" (%s; %s, the last in %s)", h.Version, plural(a.HealthChecks, "check"), ms(h.Ms))
	}
	if pc := a.Probes; pc != nil {
		line += "; probes " + pc.Verdict + ": " + pc.Detail
		if pc.Verdict == VerdictFail {
			return line
		}
	}
	if m := a.Metrics; m != nil {
		line += fmt.Sprintf("; metrics %s over %s", m.Verdict, time.Duration(m.WindowSeconds)*time.Second)
		if !m.WindowStart.IsZero() {
			line += fmt.Sprintf(" [%s, %s)", m.WindowStart.UTC().Format(time.TimeOnly), m.WindowEnd.UTC().Format(time.TimeOnly))
		}
		if m.Canary != nil && m.Stable != nil {
			line += fmt.Sprintf(": canary %d requests, %.2f%% failed, p95 %.0f ms; stable %d requests, %.2f%% failed, p95 %.0f ms",
				m.Canary.Requests, 100*m.Canary.FailureRate, m.Canary.P95Ms, m.Stable.Requests, 100*m.Stable.FailureRate, m.Stable.P95Ms)
		}
		if m.Verdict != VerdictPass && m.Detail != "" {
			line += ": " + m.Detail
		}
	}
	if st := a.Step; st != nil {
		line += fmt.Sprintf("; the whole step over %s: %s", time.Duration(st.WindowSeconds)*time.Second, st.Verdict)
		if st.Detail != "" {
			line += ": " + st.Detail
		}
	}
	return line
}

// printPlan writes the plan the run is about to walk; a dry run stops after it.
func (c *Controller) printPlan(p Plan, o Options, st Status, steps []PlannedStep) {
	head := "release plan"
	if o.DryRun {
		head += " (dry run: nothing is changed)"
	}
	until := o.Until
	if until == 0 {
		until = 100
	}
	c.logf("%s: %s %s, releaseSteps %s, until %d%%", head, o.Slot, o.Version, joinInts(p.Steps), until)
	c.logf("  before the first shift: the pinned health gate on %s must pass serving %s", o.Slot, o.Version)
	c.logf("  before each shift: warm %s with %d concurrent pinned requests to its health endpoint until all answer within %s", o.Slot, p.WarmupRequests, p.WarmupLatency)
	inconclusive := "passes (metricsInconclusive pass)"
	if p.Thresholds.InconclusiveFails {
		inconclusive = "fails a step below 100% whose whole bake never had enough"
	}
	failed := "Success false, 5xx or 429"
	if p.Thresholds.FailClientErrors {
		failed = "Success false or any status from 400"
	}
	c.logf("  during each bake: health gate (slot %s, version %s) every %s, failing at once when it has no healthy answer for %s and the fault is the slot's (its own answer, or the stable slot answering through the same gateway)", o.Slot, o.Version, HealthWatchEvery, AnalysisHealthTimeout)
	if len(p.Probes) > 0 {
		names := make([]string, len(p.Probes))
		for i, pr := range p.Probes {
			names[i] = pr.Method + " " + pr.Path
		}
		c.logf("  with it the probes %s, pinned to each slot at once within %s, each route judged on its own: %d failures in a row on the canary while the stable slot's same route passes, or over its last %d answers a failure rate more than %+.0f points over stable or a median latency more than %.2f× stable", strings.Join(names, ", "), ProbeRoundDeadline, p.ProbeThresholds.FailureLimit, ProbeWindow, 100*p.ProbeThresholds.MaxFailureRateDelta, p.ProbeThresholds.MaxLatencyRatio)
	}
	th := p.Thresholds
	checks := "failure rate (" + failed + ")"
	if th.CheckClientErrors && !th.FailClientErrors {
		checks += ", 4xx rate"
	}
	c.logf("  at each analysis the metrics gate over the users' requests that reached Log Analytics since the last judged window (not those served in the first %s after a shift, nor the release's own probes and health checks): %s against stable, failing at %.4g%% confidence (Fisher's exact test) when worse by more than %+.2f points and ×%.2f; p95 at most %.2f× stable or %.0f ms above it; the canary's share of the requests at least %.0f%% of its pool weight",
		p.InitialDelay, checks, 100*th.Confidence, 100*th.MaxFailureRateDelta, th.MaxFailureRateRatio, th.MaxP95Ratio, th.P95FloorMs, 100*(1-th.SampleRatioTolerance))
	c.logf("    a window with fewer than %d users' requests from a slot is carried into the next; %d failing windows in a row roll back, or one as sure as that many together, or the step's running total at that level; the step's last analysis comes %s after its bake, for the rows still arriving; at 100%% the canary is compared with the stable slot's baseline from before the shift; too little traffic %s",
		th.MinRequests, th.FailureLimit, p.Lag+settle(p), inconclusive)
	for i, s := range steps {
		if s.Resumed {
			if s.Bake == 0 {
				c.logf("  step %d: stands at %d%%: no bake (%s), no shift", i+1, s.To, noBake(s))
				continue
			}
			c.logf("  step %d: stands at %d%%: bake %s again (%s), no shift", i+1, s.To, s.Bake, analyses(s.Analyses))
			continue
		}
		if s.Bake == 0 {
			c.logf("  step %d: %d%% → %d%%: changes %s; no bake (%s)", i+1, s.From, s.To, describeChanges(s.Changes), noBake(s))
			continue
		}
		c.logf("  step %d: %d%% → %d%%: changes %s; bake %s (%s, every %s)", i+1, s.From, s.To, describeChanges(s.Changes), s.Bake, analyses(s.Analyses), p.Interval)
	}
	if len(steps) == 0 {
		c.logf("  no steps: %s already carries %d%%, past %d%%", o.Slot, st.Weights.Of(o.Slot), until)
		return
	}
	// What a rollback from the furthest step would change, so the blast radius of the way back
	// is reviewed with the way forward.
	last := steps[len(steps)-1].To
	rb := Changes(share(o.Slot, last), share(o.Slot, 0), o.Slot.Other(), p.AlwaysReady)
	c.logf("  on a failing analysis: roll %s back to 0%% at once, never blocked (from %d%% that changes %s)", o.Slot, last, describeChanges(rb))
}

// noBake says why a step has no bake: bakeMinutes 0, or a bake of 0 of its own.
func noBake(s PlannedStep) string {
	if s.BakeFrom == BakeFromStep {
		return "its bake in releaseSteps is 0s"
	}
	return "bakeMinutes 0"
}

// analyses counts analyses in words: "1 analysis", "10 analyses".
func analyses(n int) string {
	if n == 1 {
		return "1 analysis"
	}
	return fmt.Sprintf("%d analyses", n)
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
