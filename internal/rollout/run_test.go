package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slotless/slotless/internal/gate"
	"github.com/slotless/slotless/stack"
)

func TestHealthyReleaseReachesHundred(t *testing.T) {
	s := newScene(t)
	p := testPlan()
	rec, err := s.run(context.Background(), p, Options{})
	if err != nil {
		t.Fatalf("got error %v, want none", err)
	}
	if rec.Outcome != OutcomeComplete {
		t.Errorf("outcome: got %s, want %s", rec.Outcome, OutcomeComplete)
	}
	if got := s.traffic.weights(); got != (stack.Weights{Green: 0, Blue: 100}) {
		t.Errorf("traffic: got %s, want blue 100%%", got)
	}
	if s.traffic.name != "blue-backend" {
		t.Errorf("current-slot-name: got %s, want blue-backend", s.traffic.name)
	}
	if !slices.Equal(s.traffic.shifts, []int{10, 50, 100}) {
		t.Errorf("shifts: got %v, want [10 50 100]", s.traffic.shifts)
	}
	if len(rec.StepsTaken) != 3 {
		t.Fatalf("steps: got %d, want 3", len(rec.StepsTaken))
	}
	for _, st := range rec.StepsTaken {
		if st.Verdict != VerdictPass || len(st.Analyses) != 10 {
			t.Errorf("step %d%%: got %s with %d analyses, want pass with 10", st.To, st.Verdict, len(st.Analyses))
		}
		if st.Warmup == nil || st.Warmup.Rounds < 1 {
			t.Errorf("step %d%%: got warm-up %+v, want one before the shift", st.To, st.Warmup)
		}
		if got := st.BakeEnded.Sub(st.BakeStarted); got < p.Bake {
			t.Errorf("step %d%%: baked %s, want at least %s", st.To, got, p.Bake)
		}
		for i := 1; i < len(st.Analyses); i++ {
			// Analyses keep to the interval's grid: their own time does not push the next one.
			// The last comes the lag after the bake, for the rows still arriving.
			want := p.Interval
			if i == len(st.Analyses)-1 {
				want += p.Lag + gate.Settle
			}
			if gap := st.Analyses[i].At.Sub(st.Analyses[i-1].At); gap != want {
				t.Errorf("step %d%%: analyses %d and %d are %s apart, want %s", st.To, i, i+1, gap, want)
			}
		}
	}
	// The metrics windows follow one another by the time rows arrived, from the first shift's
	// initial delay on, so every request is judged exactly once however late it arrived; each
	// ends the settle before it is queried; within a step each is one interval but the last,
	// which takes the lag too. The step to 100% reads the stable slot's baseline first.
	qs := s.logs.log()
	var windows []loggedQuery
	baselines := 0
	for _, q := range qs {
		if q.arrivedFrom.IsZero() {
			baselines++
			continue
		}
		windows = append(windows, q)
	}
	first := rec.StepsTaken[0].ShiftFinished.Add(p.InitialDelay).Truncate(time.Second)
	for i, q := range windows {
		if i == 0 && !q.arrivedFrom.Equal(first) {
			t.Errorf("metrics window 1 starts at %s, want the first shift's end plus the initial delay, %s", q.arrivedFrom.Sub(epoch), first.Sub(epoch))
		}
		if i > 0 && !q.arrivedFrom.Equal(windows[i-1].arrivedTo) {
			t.Errorf("metrics window %d starts at %s, want where window %d ended, %s", i+1, q.arrivedFrom.Sub(epoch), i, windows[i-1].arrivedTo.Sub(epoch))
		}
		if q.at.Before(q.arrivedTo.Add(gate.Settle)) {
			t.Errorf("metrics window %d ending %s was queried at %s, want at least %s after its end", i+1, q.arrivedTo.Sub(epoch), q.at.Sub(epoch), gate.Settle)
		}
		// The first window of a later step also reads what arrived while the step before
		// ended and the shift ran: the late rows of the step before are judged there.
		spansAShift := false
		for _, st := range rec.StepsTaken[1:] {
			spansAShift = spansAShift || q.arrivedFrom.Before(st.ShiftStarted) && q.arrivedTo.After(st.ShiftStarted)
		}
		if d := q.window - p.Interval; !spansAShift && (d < -time.Second || d > time.Second) && (d < p.Lag+gate.Settle-time.Second || d > p.Lag+gate.Settle+time.Second) {
			t.Errorf("metrics window %d: %s, want the interval %s, or with the lag for a step's last", i+1, q.window, p.Interval)
		}
	}
	// The run's first analysis comes before anything served after the shift and its initial
	// delay can have arrived: it queries nothing.
	if len(windows) != 29 || baselines != 1 {
		t.Errorf("metrics queries: got %d windows and %d baselines, want 29 and 1", len(windows), baselines)
	}
	// At 100% the stable slot has no traffic: the canary is compared with its baseline.
	last := rec.StepsTaken[2].Analyses[9]
	if last.Metrics == nil || last.Metrics.Verdict != VerdictPass || !strings.Contains(last.Metrics.Detail, "baseline") || rec.StepsTaken[2].Baseline == nil {
		t.Errorf("last analysis at 100%%: got %+v, want a pass against the baseline", last.Metrics)
	}
	if took := rec.Finished.Sub(rec.Started); took < 3*p.Bake {
		t.Errorf("release took %s of fake time, want at least three bakes", took)
	}
}

// TestFailingCanaryIsRolledBackWithinOneInterval starts the canary failing one minute into the
// bake of its first step, in each of the ways it can fail, and checks that the rollback follows
// the first analysis that sees it.
func TestFailingCanaryIsRolledBackWithinOneInterval(t *testing.T) {
	tests := []struct {
		name   string
		script func(s *scene, at time.Time)
		reason string
		lagged bool // seen through telemetry, so after the ingestion lag
	}{
		// The canary's failures are 500s its function returned, which the Functions host
		// records with Success == true: only a gate that counts status codes sees them.
		{"failure rate", func(s *scene, at time.Time) { s.logs.failCanaryFrom(at) }, "failure-rate", true},
		{"health endpoint down", func(s *scene, at time.Time) { s.app.down(stack.Blue, at) }, "unhealthy", false},
		{"slot deployed over", func(s *scene, at time.Time) { s.app.deploy(stack.Blue, at, "1.2.0-rc") }, "wrong-version", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScene(t)
			p := testPlan()
			// The bake of step 10% starts once the warm-up and the shift are done, so the
			// failure is scripted from the moment the shift applied.
			var onset, shiftedAt time.Time
			rec, err := runWithOnsetAfterShift(context.Background(), s, p, time.Minute, &onset, &shiftedAt, tt.script)
			if !errors.Is(err, ErrAborted) || errors.Is(err, ErrRollbackFailed) {
				t.Fatalf("got error %v, want ErrAborted alone", err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %q does not name %s", err, tt.reason)
			}
			if rec.Outcome != OutcomeRolledBack || rec.Rollback == nil {
				t.Fatalf("outcome: got %s, rollback %+v; want rolled-back", rec.Outcome, rec.Rollback)
			}
			if got := s.traffic.weights(); got.Blue != 0 || s.traffic.name != "green-backend" {
				t.Errorf("after rollback: got %s, %s; want blue 0%%, green-backend", got, s.traffic.name)
			}
			if !slices.Equal(s.traffic.shifts, []int{10}) {
				t.Errorf("shifts: got %v, want [10] and no further", s.traffic.shifts)
			}
			step := rec.StepsTaken[0]
			failing := step.Analyses[len(step.Analyses)-1]
			if failing.Verdict != VerdictFail {
				t.Fatalf("last analysis: got %s, want fail", failing.Verdict)
			}
			for _, a := range step.Analyses[:len(step.Analyses)-1] {
				if a.Verdict != VerdictPass {
					t.Errorf("analysis %d before the failure: got %s, want pass", a.N, a.Verdict)
				}
			}
			// The first failing probe is the first analysis after the onset, and the rollback
			// starts as soon as it has its verdict.
			lag := time.Duration(0)
			if tt.lagged {
				lag = p.Lag
			}
			if failing.At.Before(onset) || failing.At.Sub(onset) > p.Interval+lag {
				t.Errorf("first failing analysis at %s, onset %s: want within one interval (%s) and the lag (%s) after it", failing.At.Sub(epoch), onset.Sub(epoch), p.Interval, lag)
			}
			if got := rec.Rollback.Started.Sub(failing.At); got > p.Interval {
				t.Errorf("rollback started %s after the first failing probe, want at most one interval (%s)", got, p.Interval)
			}
			toZero := s.traffic.rollbacks[0].Sub(onset)
			if limit := p.Interval + lag + AnalysisHealthTimeout + queryTook + upTook; toZero > limit {
				t.Errorf("canary failing to traffic 0: %s, want at most %s (interval + lag + one analysis + one up)", toZero, limit)
			}
			t.Logf("canary failing (%s) to traffic 0: %s", tt.name, toZero)
		})
	}
}

// runWithOnsetAfterShift runs a release in which the canary starts failing `after` into the
// bake of the first step: the scene's shift is wrapped so the script knows when the bake began.
func runWithOnsetAfterShift(ctx context.Context, s *scene, p Plan, after time.Duration, onset, shiftedAt *time.Time, script func(*scene, time.Time)) (Record, error) {
	s.traffic.onShift = func(at time.Time) {
		if shiftedAt.IsZero() {
			*shiftedAt = at
			*onset = at.Add(after)
			script(s, *onset)
		}
	}
	return s.run(ctx, p, Options{})
}

// TestWorstCaseFailureToZero sweeps the moment the canary starts failing, second by second,
// across one analysis interval of the first bake, and reports the longest time from the first
// failing request to the canary's traffic being 0. The scripted costs are a 40 s traffic-only
// up, 200 ms per health probe, 3 s per Log Analytics query, and an ingestion delay spread
// between 20 s and 3 min.
//
// The bound: windows are read by arrival, so the failing requests are judged as soon as enough
// of them have arrived, at the latest in the first analysis after their ingestion delay (at
// most 3 min) and the settle; with a fifth of the canary's requests failing that window is
// decisive alone, so the analysis's own time and one up follow.
func TestWorstCaseFailureToZero(t *testing.T) {
	p := testPlan()
	var worst time.Duration
	var worstAt time.Duration
	for off := time.Minute; off < time.Minute+p.Interval; off += time.Second {
		s := newScene(t)
		var onset, shiftedAt time.Time
		_, err := runWithOnsetAfterShift(context.Background(), s, p, off, &onset, &shiftedAt, func(s *scene, at time.Time) { s.logs.failCanaryFrom(at) })
		if !errors.Is(err, ErrAborted) || len(s.traffic.rollbacks) != 1 {
			t.Fatalf("onset %s into the bake: got %v with %d rollbacks, want one rollback", off, err, len(s.traffic.rollbacks))
		}
		if d := s.traffic.rollbacks[0].Sub(onset); d > worst {
			worst, worstAt = d, off
		}
	}
	ingestion := newScene(t).logs.lagMax
	// Windows end on whole seconds, as the query API's timespan does: up to one more second.
	if limit := p.Interval + ingestion + gate.Settle + time.Second + probeTook + queryTook + upTook; worst > limit {
		t.Errorf("worst case %s, want at most %s: one interval, the ingestion delay (%s), the settle, one analysis and one up", worst, limit, ingestion)
	}
	t.Logf("MEASURED worst case, canary failing to traffic 0: %s (onset %s into the bake; interval %s, analysis %s, up %s)", worst, worstAt, p.Interval, probeTook+queryTook, upTook)
}

// timedHealth is the analysis health gate on the fake clock: its "no" to a slot that never
// answers healthy takes the gate's whole timeout, as gate.Health's does in real time.
type timedHealth struct {
	GateHealth
	clock   *fakeClock
	timeout time.Duration
}

func (h timedHealth) Check(ctx context.Context, slot stack.Slot) (gate.HealthResult, error) {
	t0 := h.clock.Now()
	res, err := h.GateHealth.Check(ctx, slot)
	if rest := t0.Add(h.timeout).Sub(h.clock.Now()); err != nil && rest > 0 {
		h.clock.advance(context.Background(), rest)
	}
	return res, err
}

func (h timedHealth) CheckTimeout() time.Duration { return h.timeout }

// TestWorstCaseStoppedSlotToZero sweeps the moment the canary stops answering healthy, second by
// second, across one analysis interval of the first bake, and reports the longest time from the
// slot going down to its traffic being 0. The health gate runs every HealthWatchEvery during a
// bake, so that time is the gap between two checks (at most HealthWatchEvery, or the metrics
// query that follows an analysis), the gate's timeout and one up, whatever the interval; and
// it is within one interval and one up.
func TestWorstCaseStoppedSlotToZero(t *testing.T) {
	p := testPlan()
	var worst, worstAt time.Duration
	for off := time.Minute; off < time.Minute+p.Interval; off += time.Second {
		s := newScene(t)
		s.analysisHealth = timedHealth{GateHealth: s.health, clock: s.clock, timeout: AnalysisHealthTimeout}
		var onset, shiftedAt time.Time
		rec, err := runWithOnsetAfterShift(context.Background(), s, p, off, &onset, &shiftedAt, func(s *scene, at time.Time) { s.app.down(stack.Blue, at) })
		if !errors.Is(err, ErrAborted) || len(s.traffic.rollbacks) != 1 {
			t.Fatalf("down %s after the shift: got %v with %d rollbacks, want one rollback", off, err, len(s.traffic.rollbacks))
		}
		if got := rec.Rollback.Reason; !strings.Contains(got, "health gate") {
			t.Fatalf("down %s after the shift: rollback reason %q, want the health gate's", off, got)
		}
		if d := s.traffic.rollbacks[0].Sub(onset); d > worst {
			worst, worstAt = d, off
		}
	}
	gap := max(HealthWatchEvery, queryTook) + probeTook
	if limit := gap + AnalysisHealthTimeout + upTook; worst > limit {
		t.Errorf("worst case %s (down %s after the shift), want at most %s: a gap between health checks (%s), the gate's timeout (%s) and one up", worst, worstAt, limit, gap, AnalysisHealthTimeout)
	}
	if limit := p.Interval + upTook; worst > limit {
		t.Errorf("worst case %s (down %s after the shift), want at most %s: one interval and one up", worst, worstAt, limit)
	}
	t.Logf("worst case, canary stopped answering to traffic 0: %s (down %s after the shift; interval %s, up %s)", worst, worstAt, p.Interval, upTook)
}

// TestCrashMidStepResumesAtThatStep kills a run during a step, then starts a new one against
// the same deployed stack, as a pipeline retry or a laptop would.
func TestCrashMidStepResumesAtThatStep(t *testing.T) {
	tests := []struct {
		name  string
		crash time.Duration // after the shift to 50% began
	}{
		{"during the bake", 4 * time.Minute},
		{"during the shift, which applied", upTook / 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScene(t)
			p := testPlan()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			s.traffic.onShiftStart = func(at time.Time, to int) {
				if to == 50 {
					s.clock.at(at.Add(tt.crash), cancel)
				}
			}
			rec, err := s.run(ctx, p, Options{})
			if !errors.Is(err, context.Canceled) || errors.Is(err, ErrAborted) {
				t.Fatalf("first run: got %v, want an interruption, not an abort", err)
			}
			if rec.Outcome != OutcomeInterrupted {
				t.Errorf("first run outcome: got %s, want interrupted", rec.Outcome)
			}
			if got := s.traffic.weights(); got.Blue != 50 || s.traffic.name != "green-backend" {
				t.Fatalf("after the crash: got %s, %s; want blue 50%%, current-slot-name frozen at green-backend", got, s.traffic.name)
			}
			if len(s.traffic.rollbacks) != 0 {
				t.Errorf("a crash rolled back %d times, want traffic left for the next run", len(s.traffic.rollbacks))
			}

			s.traffic.onShiftStart = nil
			rec, err = s.run(context.Background(), p, Options{})
			if err != nil {
				t.Fatalf("second run: got %v, want none", err)
			}
			if !slices.Equal(s.traffic.shifts, []int{10, 50, 100}) {
				t.Errorf("shifts over both runs: got %v, want [10 50 100]: the second run must not start again at 10", s.traffic.shifts)
			}
			if first := rec.StepsTaken[0]; !first.Resumed || first.To != 50 || len(first.Analyses) != 10 || first.Warmup != nil {
				t.Errorf("second run's first step: got %+v, want 50%% resumed: its bake again, no warm-up, no shift", first)
			}
			if len(rec.StepsTaken) != 2 || rec.StepsTaken[1].To != 100 || rec.Outcome != OutcomeComplete {
				t.Errorf("second run: got %d steps, outcome %s; want the resumed 50%% then 100%%, complete", len(rec.StepsTaken), rec.Outcome)
			}
		})
	}
}

func TestUntilStopsAfterTheStepThatReachesIt(t *testing.T) {
	s := newScene(t)
	p := testPlan()
	rec, err := s.run(context.Background(), p, Options{Until: 50})
	if err != nil {
		t.Fatalf("got %v, want none", err)
	}
	if rec.Outcome != OutcomePaused || !slices.Equal(s.traffic.shifts, []int{10, 50}) || s.traffic.weights().Blue != 50 {
		t.Fatalf("got outcome %s, shifts %v, traffic %s; want paused at 50 after [10 50]", rec.Outcome, s.traffic.shifts, s.traffic.weights())
	}
	if st := rec.StepsTaken[1]; st.To != 50 || len(st.Analyses) != 10 || st.Verdict != VerdictPass {
		t.Errorf("step 50%%: got %+v, want a full bake that passed", st)
	}

	// A rerun of the same stage after an approval: it bakes 50% again and stops.
	rec, err = s.run(context.Background(), p, Options{Until: 50})
	if err != nil || rec.Outcome != OutcomePaused || len(rec.StepsTaken) != 1 || !rec.StepsTaken[0].Resumed || len(s.traffic.shifts) != 2 {
		t.Errorf("rerun with --until 50: got %v, %s, %d steps, shifts %v; want one resumed bake and no shift", err, rec.Outcome, len(rec.StepsTaken), s.traffic.shifts)
	}
	// An earlier stage run again changes nothing.
	rec, err = s.run(context.Background(), p, Options{Until: 10})
	if err != nil || rec.Outcome != OutcomeNothingToDo || len(rec.StepsTaken) != 0 {
		t.Errorf("rerun with --until 10: got %v, %s, %d steps; want nothing to do", err, rec.Outcome, len(rec.StepsTaken))
	}
	// The next stage takes it to GA.
	rec, err = s.run(context.Background(), p, Options{Until: 100})
	if err != nil || rec.Outcome != OutcomeComplete || !slices.Equal(s.traffic.shifts, []int{10, 50, 100}) {
		t.Errorf("--until 100: got %v, %s, shifts %v; want complete after [10 50 100]", err, rec.Outcome, s.traffic.shifts)
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	tests := []struct {
		name        string
		blue        int
		name_       string
		alwaysReady int
		noBake      bool
		want        []string
	}{
		{"fresh release", 0, "green-backend", 0, false, []string{
			"release plan (dry run: nothing is changed): blue 1.1.0, releaseSteps 10, 50, 100, until 100%",
			"step 1: 0% → 10%: changes pool weights only; bake 10m0s (10 analyses, every 1m0s)",
			"step 2: 10% → 50%: changes pool weights only;",
			"step 3: 50% → 100%: changes pool weights + current-slot-name green-backend → blue-backend;",
			"roll blue back to 0% at once, never blocked (from 100% that changes pool weights + current-slot-name blue-backend → green-backend)",
		}},
		{"with always-ready instances", 0, "green-backend", 2, false, []string{
			"step 1: 0% → 10%: changes pool weights + blue app alwaysReady 0 → 2;",
			"step 2: 10% → 50%: changes pool weights only;",
			"step 3: 50% → 100%: changes pool weights + current-slot-name green-backend → blue-backend + green app alwaysReady 2 → 0;",
		}},
		{"resumed", 50, "green-backend", 0, false, []string{
			"step 1: stands at 50%: bake 10m0s again (10 analyses), no shift",
			"step 2: 50% → 100%: changes pool weights + current-slot-name green-backend → blue-backend;",
		}},
		{"without bakes", 50, "green-backend", 0, true, []string{
			"step 1: stands at 50%: no bake (bakeMinutes 0), no shift",
			"step 2: 50% → 100%: changes pool weights + current-slot-name green-backend → blue-backend; no bake (bakeMinutes 0)",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScene(t)
			s.traffic.w, s.traffic.name = share(stack.Blue, tt.blue), tt.name_
			p := testPlan()
			p.AlwaysReady = tt.alwaysReady
			if tt.noBake {
				p.Bake = 0
			}
			var out strings.Builder
			// Only Status is given: a dry run needs nothing else.
			rec, err := New(s.clock, s.traffic, nil, nil, nil, &out).Run(context.Background(), p, Options{Slot: stack.Blue, Version: "1.1.0", DryRun: true})
			if err != nil {
				t.Fatalf("got %v, want none", err)
			}
			if rec.Outcome != OutcomeDryRun || len(s.traffic.shifts) != 0 || len(s.traffic.rollbacks) != 0 || s.app.count() != 0 || len(s.logs.log()) != 0 {
				t.Errorf("got outcome %s, shifts %v, rollbacks %d, %d health requests, %d queries; want a dry run that touched nothing",
					rec.Outcome, s.traffic.shifts, len(s.traffic.rollbacks), s.app.count(), len(s.logs.log()))
			}
			if len(rec.Planned) == 0 || rec.Planned[len(rec.Planned)-1].To != 100 {
				t.Errorf("planned: got %+v, want the steps up to 100", rec.Planned)
			}
			if got := s.clock.Now(); !got.Equal(epoch) {
				t.Errorf("a dry run took %s of fake time, want none", got.Sub(epoch))
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output\n%s\nwant it to contain %q", out.String(), w)
				}
			}
		})
	}
}

func TestRefusals(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(s *scene, p *Plan, o *Options)
		want    error
		message string
	}{
		{"wrong version", func(s *scene, _ *Plan, _ *Options) { s.app.deploy(stack.Blue, epoch, "1.0.9") }, ErrRefused, `wrong-version`},
		{"slot down", func(s *scene, _ *Plan, _ *Options) { s.app.down(stack.Blue, epoch) }, ErrRefused, "does not pass the health gate serving 1.1.0: unhealthy"},
		{"the other slot's release in progress", func(s *scene, _ *Plan, _ *Options) {
			s.traffic.w, s.traffic.name = stack.Weights{Green: 40, Blue: 60}, "blue-backend"
		}, ErrRefused, "a release of green is in progress"},
		{"idle but half-applied", func(s *scene, _ *Plan, _ *Options) { s.traffic.name = "blue-backend" }, ErrRefused, "blue is idle but current-slot-name is blue-backend"},
		{"unknown current-slot-name", func(s *scene, _ *Plan, _ *Options) { s.traffic.name = "" }, ErrRefused, `current-slot-name "" names neither green-backend nor blue-backend`},
		{"step above maxStep", func(_ *scene, p *Plan, _ *Options) { p.MaxStep = 40 }, ErrRefused, "releaseSteps: the step from 50 to 100 is 50 points, more than maxStep 40"},
		{"resumed with another version", func(s *scene, _ *Plan, _ *Options) {
			s.traffic.w = stack.Weights{Green: 50, Blue: 50}
			s.app.deploy(stack.Blue, epoch, "1.1.1")
		}, ErrRefused, "blue still carries 50%: roll it back if the slot is at fault"},
		{"until not a step", func(_ *scene, _ *Plan, o *Options) { o.Until = 30 }, ErrInvalid, "until: 30 is not a step, want one of releaseSteps 10, 50, 100"},
		{"no version", func(_ *scene, _ *Plan, o *Options) { o.Version = " " }, ErrInvalid, "version: required"},
		{"no slot", func(_ *scene, _ *Plan, o *Options) { o.Slot = "red" }, ErrInvalid, `slot: "red" is not a slot`},
		{"plan not ending at 100", func(_ *scene, p *Plan, _ *Options) { p.Steps = []int{10, 50} }, ErrInvalid, "want ascending steps ending at 100"},
		{"interval above the bake", func(_ *scene, p *Plan, _ *Options) { p.Interval = time.Hour }, ErrInvalid, "analysis interval 1h0m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScene(t)
			p := testPlan()
			o := Options{Slot: stack.Blue, Version: "1.1.0"}
			tt.setup(s, &p, &o)
			before := s.traffic.weights()
			rec, err := New(s.clock, s.traffic, s.health, s.metrics, s.warmer, &s.out).Run(context.Background(), p, o)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("got %q, want it to contain %q", err, tt.message)
			}
			if errors.Is(err, ErrAborted) {
				t.Errorf("got %v, want a refusal, not an abort", err)
			}
			wantOutcome := OutcomeRefused
			if errors.Is(err, ErrInvalid) {
				wantOutcome = OutcomeInvalid
			}
			if rec.Outcome != wantOutcome || len(s.traffic.shifts) != 0 || len(s.traffic.rollbacks) != 0 || s.traffic.weights() != before {
				t.Errorf("got outcome %s, shifts %v, rollbacks %d; want a refusal that moved nothing", rec.Outcome, s.traffic.shifts, len(s.traffic.rollbacks))
			}
		})
	}
}

// TestResumedReleaseOfAFailingSlotRollsBack: a resumed release whose slot is down is a failing
// analysis, not a refusal that would leave its traffic on it.
func TestResumedReleaseOfAFailingSlotRollsBack(t *testing.T) {
	s := newScene(t)
	s.traffic.w = stack.Weights{Green: 50, Blue: 50}
	s.app.down(stack.Blue, epoch)
	rec, err := s.run(context.Background(), testPlan(), Options{})
	if !errors.Is(err, ErrAborted) || errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "unhealthy") {
		t.Fatalf("got %v, want an abort naming the unhealthy slot", err)
	}
	if rec.Outcome != OutcomeRolledBack || s.traffic.weights().Blue != 0 || len(s.traffic.shifts) != 0 {
		t.Errorf("got %s, blue %d%%, shifts %v; want rolled back with no shift", rec.Outcome, s.traffic.weights().Blue, s.traffic.shifts)
	}
}

// TestCancelDuringTheRollbackDoesNotCutItShort: Ctrl-C, or a cancelled pipeline, arriving while
// the rollback runs must not leave traffic on the failing slot.
func TestCancelDuringTheRollbackDoesNotCutItShort(t *testing.T) {
	s := newScene(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var onset, shiftedAt time.Time
	s.traffic.onRollbackStart = func(at time.Time) { s.clock.at(at.Add(upTook/4), cancel) }
	rec, err := runWithOnsetAfterShift(ctx, s, testPlan(), time.Minute, &onset, &shiftedAt, func(s *scene, at time.Time) { s.logs.failCanaryFrom(at) })
	if ctx.Err() == nil {
		t.Fatal("the scene did not cancel during the rollback")
	}
	if !errors.Is(err, ErrAborted) || rec.Outcome != OutcomeRolledBack {
		t.Fatalf("got %v, %s; want the failing analysis acted on", err, rec.Outcome)
	}
	if got := s.traffic.weights(); got.Blue != 0 || len(s.traffic.rollbacks) != 1 {
		t.Errorf("got %s after %d rollbacks, want blue at 0%% after one", got, len(s.traffic.rollbacks))
	}
}

func TestRollbackFailureReportsBoth(t *testing.T) {
	s := newScene(t)
	s.traffic.rollbackErr = errors.New("pulumi up: [409] Another update is currently in progress")
	var onset, shiftedAt time.Time
	rec, err := runWithOnsetAfterShift(context.Background(), s, testPlan(), time.Minute, &onset, &shiftedAt, func(s *scene, at time.Time) { s.logs.failCanaryFrom(at) })
	if !errors.Is(err, ErrAborted) || !errors.Is(err, ErrRollbackFailed) {
		t.Fatalf("got %v, want ErrAborted and ErrRollbackFailed", err)
	}
	for _, w := range []string{"failure-rate", "Another update is currently in progress", "slotless rollback --slot blue"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
	if rec.Outcome != OutcomeRollbackFailed || rec.Rollback == nil || rec.Rollback.Error == "" {
		t.Errorf("got outcome %s, rollback %+v; want rollback-failed with its error", rec.Outcome, rec.Rollback)
	}
}

func TestShiftFailureIsNotAnAbort(t *testing.T) {
	s := newScene(t)
	blocked := errors.New("blocked by a guard rail: the preview changes more than traffic")
	s.traffic.shiftErr = blocked
	rec, err := s.run(context.Background(), testPlan(), Options{})
	if !errors.Is(err, blocked) || errors.Is(err, ErrAborted) {
		t.Fatalf("got %v, want the shift's own error and no abort", err)
	}
	if rec.Outcome != OutcomeFailed || len(s.traffic.rollbacks) != 0 {
		t.Errorf("got outcome %s and %d rollbacks, want failed with none", rec.Outcome, len(s.traffic.rollbacks))
	}
}

func TestAnalysesThatCannotRun(t *testing.T) {
	t.Run("one blip is tolerated", func(t *testing.T) {
		s := newScene(t)
		s.logs.errorsToGive = 1
		rec, err := s.run(context.Background(), testPlan(), Options{Until: 10})
		if err != nil || rec.Outcome != OutcomePaused {
			t.Fatalf("got %v, %s; want paused at 10", err, rec.Outcome)
		}
		// The first analysis comes before anything can have arrived: the second queries first.
		if got := rec.StepsTaken[0].Analyses[1].Verdict; got != VerdictError {
			t.Errorf("first analysis that queried: got %s, want error", got)
		}
	})
	// Nothing says the canary failed: the release stops where it stands, and says so.
	t.Run("two in a row stop the release without moving traffic", func(t *testing.T) {
		s := newScene(t)
		s.logs.errorsToGive = 2
		rec, err := s.run(context.Background(), testPlan(), Options{})
		if !errors.Is(err, ErrUnobserved) || errors.Is(err, ErrAborted) || !strings.Contains(err.Error(), "could not run (2 in a row)") {
			t.Fatalf("got %v, want a stop after two analyses that could not run", err)
		}
		if rec.Outcome != OutcomeFailed || rec.Rollback != nil || s.traffic.weights().Blue != 10 || len(s.traffic.rollbacks) != 0 {
			t.Errorf("got %s with blue at %d%% and %d rollbacks, want failed with blue left at 10%%", rec.Outcome, s.traffic.weights().Blue, len(s.traffic.rollbacks))
		}
		if got := rec.StepsTaken[0].Verdict; got != VerdictError {
			t.Errorf("step verdict: got %s, want error: the step was not seen, not failed", got)
		}
	})
}

func TestInconclusivePolicy(t *testing.T) {
	tests := []struct {
		name     string
		fails    bool
		until    int
		wantErr  bool
		analyses int
	}{
		{"pass lets thin traffic through", false, 10, false, 10},
		{"fail (the default) blocks at the end of a bake, not before", true, 10, true, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScene(t)
			s.logs.totalPerSecond = 0.1 // 6 requests a minute: always under metricsMinRequests
			p := testPlan()
			p.Thresholds.InconclusiveFails = tt.fails
			rec, err := s.run(context.Background(), p, Options{Until: tt.until})
			if (err != nil) != tt.wantErr {
				t.Fatalf("got %v, want error %v", err, tt.wantErr)
			}
			if got := len(rec.StepsTaken[0].Analyses); got != tt.analyses {
				t.Errorf("analyses at 10%%: got %d, want %d", got, tt.analyses)
			}
			// The step's running total is judged at its last analysis: 60 requests over 10
			// minutes are still too few for 50 from each slot.
			last := rec.StepsTaken[0].Analyses[tt.analyses-1]
			if last.Step == nil || last.Step.WindowSeconds < int64(p.Bake/time.Second)-1 {
				t.Errorf("last analysis: got whole-step check %+v, want the whole bake judged", last.Step)
			}
			if tt.wantErr {
				for _, want := range []string{"nobody saw the canary at 10%", "bake longer (bakeMinutes), lower metricsMinRequests", "metricsInconclusive: pass"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("got %v, want it to say %q", err, want)
					}
				}
				if rec.Outcome != OutcomeRolledBack {
					t.Errorf("outcome: got %s, want rolled back", rec.Outcome)
				}
			}
		})
	}

	// At 100% the comparison has no baseline, so even with fail a resumed GA bake passes.
	s := newScene(t)
	s.traffic.w, s.traffic.name = stack.Weights{Blue: 100}, "blue-backend"
	s.logs.totalPerSecond = 0.1
	p := testPlan()
	p.Thresholds.InconclusiveFails = true
	rec, err := s.run(context.Background(), p, Options{})
	if err != nil || rec.Outcome != OutcomeComplete {
		t.Errorf("GA bake with thin traffic: got %v, %s; want complete", err, rec.Outcome)
	}
}

func TestWarmupFailure(t *testing.T) {
	t.Run("before any traffic: abort, nothing to roll back", func(t *testing.T) {
		s := newScene(t)
		w := &countingWarmer{err: errors.New("no round of 10 requests all answered within 1s")}
		s.warmer = w
		rec, err := s.run(context.Background(), testPlan(), Options{})
		if !errors.Is(err, ErrAborted) || rec.Outcome != OutcomeAborted || len(s.traffic.shifts) != 0 || len(s.traffic.rollbacks) != 0 {
			t.Errorf("got %v, %s, shifts %v, %d rollbacks; want an abort that moved nothing", err, rec.Outcome, s.traffic.shifts, len(s.traffic.rollbacks))
		}
	})
	t.Run("with traffic: roll back", func(t *testing.T) {
		s := newScene(t)
		s.traffic.w = stack.Weights{Green: 90, Blue: 10}
		s.warmer = &countingWarmer{err: errors.New("no round of 10 requests all answered within 1s")}
		rec, err := s.run(context.Background(), testPlan(), Options{})
		if !errors.Is(err, ErrAborted) || rec.Outcome != OutcomeRolledBack || s.traffic.weights().Blue != 0 {
			t.Errorf("got %v, %s, blue %d%%; want rolled back", err, rec.Outcome, s.traffic.weights().Blue)
		}
	})
}

func TestReleaseOfGreen(t *testing.T) {
	s := newScene(t)
	s.traffic.w, s.traffic.name = stack.Weights{Blue: 100}, "blue-backend"
	s.app.deploy(stack.Green, epoch, "1.2.0")
	s.health.Start.ExpectVersion, s.health.Analysis.ExpectVersion = "1.2.0", "1.2.0"
	rec, err := s.run(context.Background(), testPlan(), Options{Slot: stack.Green, Version: "1.2.0", Until: 50})
	if err != nil || rec.Outcome != OutcomePaused {
		t.Fatalf("got %v, %s; want paused at 50", err, rec.Outcome)
	}
	if got := s.traffic.weights(); got != (stack.Weights{Green: 50, Blue: 50}) || s.traffic.name != "blue-backend" {
		t.Errorf("got %s, %s; want 50/50 with current-slot-name frozen at blue-backend", got, s.traffic.name)
	}
}

func TestRecordJSON(t *testing.T) {
	s := newScene(t)
	rec, err := s.run(context.Background(), testPlan(), Options{Until: 10})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"slot", "version", "steps", "from", "currentSlotName", "started", "finished", "outcome", "planned", "start", "stepRecords"} {
		if _, ok := got[k]; !ok {
			t.Errorf("record has no %q: %s", k, b)
		}
	}
	steps := got["stepRecords"].([]any)
	step := steps[0].(map[string]any)
	for _, k := range []string{"from", "to", "warmup", "shiftStarted", "shiftFinished", "weights", "bakeStarted", "bakeEnded", "analyses", "verdict"} {
		if _, ok := step[k]; !ok {
			t.Errorf("step record has no %q", k)
		}
	}
	// The first analysis comes before anything can have arrived; the second judges a window.
	a := step["analyses"].([]any)[1].(map[string]any)
	m := a["metrics"].(map[string]any)
	for _, k := range []string{"verdict", "windowSeconds", "canary", "stable"} {
		if _, ok := m[k]; !ok {
			t.Errorf("metrics check has no %q: %v", k, m)
		}
	}
	if fmt.Sprint(step["weights"]) != "map[blue:10 green:90]" {
		t.Errorf("step weights: got %v, want green 90 blue 10", step["weights"])
	}
}

// TestTrafficMovedBehindTheRelease: a pulumi up from a stale checkout puts the pool back to 0
// in the middle of the first bake. The next analysis's read of the traffic notices, and the
// release stops there: no further step, no rollback of a move it did not make, and never
// "complete".
func TestTrafficMovedBehindTheRelease(t *testing.T) {
	s := newScene(t)
	p := testPlan()
	var onset, shiftedAt time.Time
	rec, err := runWithOnsetAfterShift(context.Background(), s, p, 3*p.Interval/2, &onset, &shiftedAt, func(s *scene, at time.Time) {
		s.clock.at(at, func() {
			s.traffic.mu.Lock()
			s.traffic.apply(stack.Weights{Green: 100})
			s.traffic.mu.Unlock()
		})
	})
	if !errors.Is(err, ErrTrafficMoved) {
		t.Fatalf("got %v, want ErrTrafficMoved", err)
	}
	if !strings.Contains(err.Error(), "gives it 0%") || !strings.Contains(err.Error(), "stale checkout") {
		t.Errorf("error %q does not say where traffic is and what may have moved it", err)
	}
	if rec.Outcome == OutcomeComplete || len(s.traffic.rollbacks) != 0 || !slices.Equal(s.traffic.shifts, []int{10}) {
		t.Errorf("got outcome %s, rollbacks %d, shifts %v; want no completion, no rollback, the one shift", rec.Outcome, len(s.traffic.rollbacks), s.traffic.shifts)
	}
	step := rec.StepsTaken[0]
	if n := len(step.Analyses); n != 2 {
		t.Errorf("analyses before the release noticed: got %d, want 2 (the move came between the first and the second)", n)
	}
}

// TestEachStepBakesItsOwn walks a plan whose steps bake differently: 10% three minutes of its
// own, 50% none, 100% the default ten. Each step is watched for its own bake, with as many
// analyses, and the record and the dry run say each step's bake.
func TestEachStepBakesItsOwn(t *testing.T) {
	tests := []struct {
		name   string
		dryRun bool
	}{{"run", false}, {"dry run", true}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScene(t)
			p := testPlan()
			p.StepBakes = map[int]time.Duration{10: 3 * time.Minute, 50: 0}
			var out strings.Builder
			var rec Record
			var err error
			if tt.dryRun {
				rec, err = New(s.clock, s.traffic, nil, nil, nil, &out).Run(context.Background(), p, Options{Slot: stack.Blue, Version: "1.1.0", DryRun: true})
			} else {
				s.metrics = NewGateMetrics(s.metrics.Client, s.metrics.WorkspaceID, apps, p)
				c := s.controller()
				c.out = &out
				rec, err = c.Run(context.Background(), p, Options{Slot: stack.Blue, Version: "1.1.0"})
			}
			if err != nil {
				t.Fatalf("got %v, want none\n%s", err, out.String())
			}
			wantBakes := []time.Duration{3 * time.Minute, 0, 10 * time.Minute}
			if got := rec.StepBakes(); !slices.Equal(got, wantBakes) {
				t.Errorf("record step bakes: got %v, want %v", got, wantBakes)
			}
			if !slices.Equal(rec.StepBakeSeconds, []int64{180, 0, 600}) {
				t.Errorf("record stepBakeSeconds: got %v, want [180 0 600]", rec.StepBakeSeconds)
			}
			var planned []string
			for _, ps := range rec.Planned {
				planned = append(planned, fmt.Sprintf("%d:%ds/%d/%s", ps.To, ps.BakeSeconds, ps.Analyses, ps.BakeFrom))
			}
			if want := []string{"10:180s/3/releaseSteps", "50:0s/0/releaseSteps", "100:600s/10/bakeMinutes"}; !slices.Equal(planned, want) {
				t.Errorf("planned: got %v, want %v", planned, want)
			}
			for _, w := range []string{
				"step 1: 0% → 10%: changes pool weights only; bake 3m0s (3 analyses, every 1m0s)",
				"step 2: 10% → 50%: changes pool weights only; no bake (its bake in releaseSteps is 0s)",
				"step 3: 50% → 100%: changes pool weights + current-slot-name green-backend → blue-backend; bake 10m0s (10 analyses, every 1m0s)",
			} {
				if !strings.Contains(out.String(), w) {
					t.Errorf("plan\n%s\nwant it to contain %q", out.String(), w)
				}
			}
			if tt.dryRun {
				return
			}
			if rec.Outcome != OutcomeComplete || len(rec.StepsTaken) != 3 {
				t.Fatalf("got %s with %d steps, want complete in 3", rec.Outcome, len(rec.StepsTaken))
			}
			for i, st := range rec.StepsTaken {
				if n := len(p.analysisOffsets(wantBakes[i])); len(st.Analyses) != n || st.Verdict != VerdictPass {
					t.Errorf("step %d%%: got %s with %d analyses, want pass with %d", st.To, st.Verdict, len(st.Analyses), n)
				}
				if got := st.BakeEnded.Sub(st.BakeStarted); got < wantBakes[i] {
					t.Errorf("step %d%%: baked %s, want at least %s", st.To, got, wantBakes[i])
				}
			}
			if got := len(s.logs.log()); got != 13 {
				t.Errorf("metrics queries: got %d, want 13 (2 at 10%%, as the first analysis comes before anything can have arrived; none at 50%%; the baseline and 10 at 100%%)", got)
			}
			if !strings.Contains(out.String(), "no bake (its bake in releaseSteps is 0s): 50% passes unwatched") {
				t.Errorf("progress\n%s\nwant it to say 50%% passes unwatched for its own bake of 0s", out.String())
			}
			raw, err := json.Marshal(rec)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(raw), `"stepBakeSeconds":[180,0,600]`) || !strings.Contains(string(raw), `"schemaVersion":3`) {
				t.Errorf("record JSON: got %s, want stepBakeSeconds [180,0,600] and schemaVersion 3", raw)
			}
		})
	}
}

// TestRecordStepBakes reads each step's bake from records of both schema versions: a version 1
// record has one bake for every step, its thresholds' bakeSeconds.
func TestRecordStepBakes(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want []time.Duration
	}{
		{"version 2", `{"schemaVersion":2,"steps":[10,50,100],"stepBakeSeconds":[30,0,600],"thresholds":{"bakeSeconds":600}}`, []time.Duration{30 * time.Second, 0, 10 * time.Minute}},
		{"version 1", `{"schemaVersion":1,"steps":[10,50,100],"thresholds":{"bakeSeconds":600}}`, []time.Duration{10 * time.Minute, 10 * time.Minute, 10 * time.Minute}},
		{"a watch", `{"schemaVersion":2,"thresholds":{"bakeSeconds":600}}`, nil},
		{"bakes that do not match the steps", `{"schemaVersion":2,"steps":[10,100],"stepBakeSeconds":[30],"thresholds":{"bakeSeconds":600}}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec Record
			if err := json.Unmarshal([]byte(tt.raw), &rec); err != nil {
				t.Fatal(err)
			}
			if got := rec.StepBakes(); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
