package rollout

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/slotless/slotless/stack"
)

// The tests in this file are the canary's eyes against telemetry as Azure writes it: late, with
// a function's 500 recorded as a success, and sparse; and against failures the health endpoint
// does not show. The scene's Log Analytics is azurefake.Telemetry, which evaluates the gate's
// query over request rows, so a gate that looked only at Success, or queried a window before it
// was ingested, fails these tests.

// probeBound is the longest the probes take to fail a canary whose routes all fail:
// probeFailureLimit failed answers in a row, one round each (a health check and a probe to each
// slot, every HealthWatchEvery), and one more round for the onset to fall between two.
func probeBound(p Plan) time.Duration {
	return time.Duration(p.ProbeThresholds.FailureLimit+1) * (HealthWatchEvery + 3*probeTook)
}

// TestProbesCatchAFailingRoute: the canary's /orders starts answering 500 a minute into its
// first bake while /api/health stays green, and its users' requests fail with it. The probes
// roll it back within seconds; without them, the telemetry does, an interval and the ingestion
// lag later.
func TestProbesCatchAFailingRoute(t *testing.T) {
	script := func(s *scene, at time.Time) {
		s.app.failRoutes(stack.Blue, at)
		s.logs.failRate = 1
		s.logs.failCanaryFrom(at)
	}
	for _, tt := range []struct {
		name   string
		plan   Plan
		reason string
		limit  func(p Plan) time.Duration
	}{
		{"with probes", withProbes(testPlan()), "probes: GET /orders failed 3 times in a row on the canary", func(p Plan) time.Duration { return probeBound(p) + upTook }},
		{"without probes", testPlan(), "metrics gate: failure-rate", func(p Plan) time.Duration {
			return p.Interval + p.Lag + time.Second + probeTook + queryTook + upTook
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newScene(t)
			var onset, shiftedAt time.Time
			rec, err := runWithOnsetAfterShift(context.Background(), s, tt.plan, time.Minute, &onset, &shiftedAt, script)
			if !errors.Is(err, ErrAborted) || rec.Outcome != OutcomeRolledBack {
				t.Fatalf("got %v (%s), want rolled back", err, rec.Outcome)
			}
			if !strings.Contains(rec.Rollback.Reason, tt.reason) {
				t.Errorf("rollback reason: got %q, want %q in it", rec.Rollback.Reason, tt.reason)
			}
			failing := rec.StepsTaken[0].Analyses[len(rec.StepsTaken[0].Analyses)-1]
			if failing.Health.Verdict != VerdictPass {
				t.Errorf("health at the failing analysis: got %s, want pass (the health endpoint stays green)", failing.Health.Verdict)
			}
			took := s.traffic.rollbacks[0].Sub(onset)
			t.Logf("MEASURED failing route %s: onset to 0%%: %s", tt.name, took)
			if limit := tt.limit(tt.plan); took > limit {
				t.Errorf("onset to 0%%: got %s, want at most %s", took, limit)
			}
		})
	}
}

// TestLateTelemetryIsJudgedBeforeTheStepPasses: the canary fails in the last half minute of
// its step's bake, and those requests reach Log Analytics 2 minutes late. The step's last
// window is judged only once it has been ingested, so the release rolls back instead of pausing
// at 10% as if nothing happened. Judged at once with thin windows passing (lag 0 and
// metricsInconclusive pass, the gate as it was), the same failures are never seen.
func TestLateTelemetryIsJudgedBeforeTheStepPasses(t *testing.T) {
	for _, tt := range []struct {
		name    string
		lag     time.Duration
		outcome Outcome
	}{
		{"judged after the lag", 3 * time.Minute, OutcomeRolledBack},
		{"judged at once, thin windows passing", 0, OutcomePaused},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newScene(t)
			s.logs.lagMin, s.logs.lagMax = 2*time.Minute, 2*time.Minute+time.Second
			p := testPlan()
			p.Bake, p.Interval, p.Lag = 2*time.Minute, time.Minute, tt.lag
			p.Thresholds.InconclusiveFails = tt.lag > 0
			var onset, shiftedAt time.Time
			s.traffic.onShift = func(at time.Time) {
				if shiftedAt.IsZero() {
					shiftedAt, onset = at, at.Add(90*time.Second)
					s.logs.failCanaryFrom(onset)
				}
			}
			rec, err := s.run(context.Background(), p, Options{Until: 10})
			if rec.Outcome != tt.outcome {
				t.Fatalf("outcome: got %s (%v), want %s", rec.Outcome, err, tt.outcome)
			}
			if tt.outcome != OutcomeRolledBack {
				return
			}
			step := rec.StepsTaken[0]
			last := step.Analyses[len(step.Analyses)-1]
			if last.N != 2 || last.Verdict != VerdictFail || last.Metrics == nil || last.Metrics.Reason != "failure-rate" {
				t.Fatalf("last analysis: got %+v, want analysis 2 failing on the failure rate", last)
			}
			if bakeEnd := step.BakeStarted.Add(p.Bake); last.At.Before(bakeEnd.Add(2 * time.Minute)) {
				t.Errorf("the last window was judged %s after the bake's end, want after its late records arrived (2m)", last.At.Sub(bakeEnd))
			}
		})
	}
}

// TestSparseCanaryDoesNotPassSilently: with a handful of requests a minute, no window and not
// the whole bake has metricsMinRequests, and the default (metricsInconclusive fail) rolls the
// canary back with a message that says what to do, rather than reaching the next step unseen.
// The release's own probes are not users' requests, so they cannot make up the numbers; they
// are judged in real time whatever the telemetry says.
func TestSparseCanaryDoesNotPassSilently(t *testing.T) {
	s := newScene(t)
	s.logs.totalPerSecond = 0.2
	rec, err := s.run(context.Background(), testPlan(), Options{})
	if !errors.Is(err, ErrAborted) || rec.Outcome != OutcomeRolledBack || len(s.traffic.shifts) != 1 {
		t.Fatalf("got %v (%s, shifts %v), want rolled back in the first step", err, rec.Outcome, s.traffic.shifts)
	}
	for _, want := range []string{"nobody saw the canary at 10%", "metricsMinRequests 50", "lower metricsMinRequests", "metricsInconclusive: pass"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error: got %q, want %q in it", err, want)
		}
	}
}

// TestWatchRollsBackAPausedCanary: a release stops at --until 10 and nobody runs slotless.
// The canary starts failing a minute later; the next scheduled `slotless watch` rolls it back:
// through the probes when its routes fail, through the telemetry otherwise. A healthy canary
// is left where it stands, and with no release in progress there is nothing to watch.
func TestWatchRollsBackAPausedCanary(t *testing.T) {
	const every = 5 * time.Minute // the schedule pipelines/ ships
	w := WatchOptions{For: time.Minute, Window: every}
	for _, tt := range []struct {
		name    string
		fail    func(s *scene, at time.Time)
		outcome Outcome
		reason  string
	}{
		{"failing route", func(s *scene, at time.Time) { s.app.failRoutes(stack.Blue, at) }, OutcomeRolledBack, "probes:"},
		{"failing requests", func(s *scene, at time.Time) { s.logs.failCanaryFrom(at) }, OutcomeRolledBack, "metrics gate: failure-rate"},
		{"healthy", func(*scene, time.Time) {}, OutcomeWatched, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newScene(t)
			p := withProbes(testPlan())
			if rec, err := s.run(context.Background(), p, Options{Until: 10}); err != nil || rec.Outcome != OutcomePaused {
				t.Fatalf("release --until 10: got %v, %s; want paused", err, rec.Outcome)
			}
			onset := s.clock.Now().Add(time.Minute)
			tt.fail(s, onset)
			// Nobody is running slotless: the clock moves to the schedule's next run that can
			// see the failure in telemetry (the lag after a window's end).
			s.clock.advance(context.Background(), time.Minute+every)
			rec, err := s.controller().Watch(context.Background(), p, w)
			s.t.Logf("watch:\n%s", s.out.String())
			if rec.Outcome != tt.outcome {
				t.Fatalf("watch: got %s (%v), want %s", rec.Outcome, err, tt.outcome)
			}
			if tt.outcome == OutcomeWatched {
				if err != nil || s.traffic.weights().Blue != 10 {
					t.Errorf("got %v with blue at %d%%, want no error and blue left at 10%%", err, s.traffic.weights().Blue)
				}
				return
			}
			if !errors.Is(err, ErrAborted) || s.traffic.weights().Blue != 0 || s.traffic.name != "green-backend" {
				t.Fatalf("got %v, %s, %s; want aborted with blue at 0%%, green-backend", err, s.traffic.weights(), s.traffic.name)
			}
			if !strings.Contains(rec.Rollback.Reason, tt.reason) {
				t.Errorf("rollback reason: got %q, want %q in it", rec.Rollback.Reason, tt.reason)
			}
		})
	}

	t.Run("a watch that cannot judge leaves traffic alone", func(t *testing.T) {
		s := newScene(t)
		p := testPlan()
		if _, err := s.run(context.Background(), p, Options{Until: 10}); err != nil {
			t.Fatal(err)
		}
		s.logs.errorsToGive = 1
		rec, err := s.controller().Watch(context.Background(), p, w)
		if err == nil || errors.Is(err, ErrAborted) || rec.Outcome != OutcomeFailed || s.traffic.weights().Blue != 10 || len(s.traffic.rollbacks) != 0 {
			t.Errorf("got %v, %s, blue %d%%, %d rollbacks; want a failed watch that left blue at 10%%", err, rec.Outcome, s.traffic.weights().Blue, len(s.traffic.rollbacks))
		}
	})

	t.Run("no release in progress", func(t *testing.T) {
		s := newScene(t)
		rec, err := s.controller().Watch(context.Background(), testPlan(), w)
		if err != nil || rec.Outcome != OutcomeNothingToDo || s.app.count() != 0 {
			t.Errorf("got %v, %s, %d requests; want nothing to do and nothing sent", err, rec.Outcome, s.app.count())
		}
	})
}

// TestWorstCaseOnsetToZero measures, on the fake clock with Azure-like costs (interval 60 s,
// ingestion delay 20 s to 3 min with metricsLagSeconds 180, a 40 s traffic-only up, 200 ms per
// probe and 3 s per query), the longest time from a failure's onset to the canary carrying 0%,
// for a failing route the probes see, and for a failure during a pause, caught by a watch
// scheduled every 5 minutes. Telemetry and a dead slot are TestWorstCaseFailureToZero and
// TestWorstCaseStoppedSlotToZero.
func TestWorstCaseOnsetToZero(t *testing.T) {
	if testing.Short() {
		t.Skip("sweeps many scenes")
	}
	p := withProbes(testPlan())
	t.Run("probes", func(t *testing.T) {
		var worst time.Duration
		for off := time.Minute; off < time.Minute+p.Interval; off += 3 * time.Second {
			s := newScene(t)
			var onset, shiftedAt time.Time
			_, err := runWithOnsetAfterShift(context.Background(), s, p, off, &onset, &shiftedAt, func(s *scene, at time.Time) { s.app.failRoutes(stack.Blue, at) })
			if !errors.Is(err, ErrAborted) || len(s.traffic.rollbacks) != 1 {
				t.Fatalf("onset %s: got %v, want one rollback", off, err)
			}
			worst = max(worst, s.traffic.rollbacks[0].Sub(onset))
		}
		t.Logf("MEASURED worst case, failing route to 0%% by the probes: %s", worst)
		if limit := probeBound(p) + upTook; worst > limit {
			t.Errorf("worst case %s, want at most %s", worst, limit)
		}
	})
	t.Run("pause", func(t *testing.T) {
		const every = 5 * time.Minute
		w := WatchOptions{For: time.Minute, Window: every}
		var worst time.Duration
		for off := time.Duration(0); off < every; off += 30 * time.Second {
			s := newScene(t)
			if _, err := s.run(context.Background(), p, Options{Until: 10}); err != nil {
				t.Fatal(err)
			}
			// Watches run on the schedule's grid; the failure (telemetry only, the slow kind)
			// starts off into one of its periods.
			tick := s.clock.Now().Truncate(every).Add(every)
			onset := tick.Add(off)
			s.logs.failCanaryFrom(onset)
			for s.traffic.weights().Blue != 0 {
				s.clock.advance(context.Background(), tick.Sub(s.clock.Now()))
				_, _ = s.controller().Watch(context.Background(), p, w)
				s.out.Reset()
				tick = tick.Add(every)
				if tick.Sub(onset) > time.Hour {
					t.Fatalf("onset %s into a period: never rolled back", off)
				}
			}
			worst = max(worst, s.traffic.rollbacks[0].Sub(onset))
		}
		t.Logf("MEASURED worst case, a canary failing during a pause to 0%% by a watch every %s: %s", every, worst)
		// Enough of the failure must have arrived for a window to be decisive alone (its
		// ingestion delay, up to the lag), and the next scheduled watch must come: two periods
		// at most, then the watch itself and one up.
		if limit := 2*every + p.Lag + w.For + queryTook + upTook; worst > limit {
			t.Errorf("worst case %s, want at most %s", worst, limit)
		}
	})
}
