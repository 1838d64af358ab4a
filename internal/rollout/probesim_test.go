package rollout

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/slotless/slotless/stack"
)

// The probe model of the error-rate grid: how long one failing route of a stack's
// releaseProbes stays in front of users, run through the real controller, gates and prober
// on a synctest bubble's fake clock (see bubble_test.go). Probes are the release's own
// requests, sent every round whatever the users do, so the time does not depend on the
// users' traffic: the grid's every traffic cell gets the same figure.

// probeSim is one failing route's scenario.
type probeSim struct {
	// Routes is how many routes releaseProbes has (GET /orders/1 … /orders/Routes), and
	// Failing the one (1-based) that fails on the canary from Onset after the first shift
	// applied; the others, and every route of the stable slot, answer 200.
	Routes, Failing int
	Onset           time.Duration
	// Hang makes the failing route never answer instead of answering 500.
	Hang bool
	// Plan is the release's plan; its zero value is the stack's default plan.
	Plan *Plan
}

// probeSimResult is what one run measured, from the onset.
type probeSimResult struct {
	// Caught is the onset to the rollback's start (the failing analysis's verdict), Zero the
	// onset to the canary carrying 0%, SinceShift the first shift's end to the rollback's start.
	Caught, Zero, SinceShift time.Duration
	// Reason is the rollback's reason.
	Reason string
}

// simulateFailingRoute runs one release of blue to --until 10 in its own bubble, the route
// failing as sim says, and measures when it is rolled back. It fails t when the release is
// not rolled back by the probes.
func simulateFailingRoute(t *testing.T, sim probeSim) probeSimResult {
	t.Helper()
	var res probeSimResult
	synctest.Test(t, func(t *testing.T) {
		b := newBubble(t)
		defer b.close()
		p := testPlan()
		if sim.Plan != nil {
			p = *sim.Plan
		}
		p.Probes = nil
		for i := range sim.Routes {
			p.Probes = append(p.Probes, stack.Probe{Method: "GET", Path: fmt.Sprintf("/orders/%d", i+1), ExpectStatus: http.StatusOK})
		}
		failing := fmt.Sprintf("/api/orders/%d", sim.Failing)
		var shifted, onset time.Time
		b.traffic.onShift = func(at time.Time, _ int) {
			if shifted.IsZero() {
				shifted, onset = at, at.Add(sim.Onset)
			}
		}
		b.app.route = func(slot stack.Slot, path string, now time.Time) (routeAnswer, bool) {
			if slot != stack.Blue || path != failing || onset.IsZero() || now.Before(onset) {
				return routeAnswer{}, false
			}
			return routeAnswer{status: http.StatusInternalServerError, took: bubbleRoute, hang: sim.Hang}, true
		}
		rec, err := b.controller(p).Run(t.Context(), p, Options{Slot: stack.Blue, Version: "1.1.0", Until: 10})
		if !errors.Is(err, ErrAborted) || rec.Rollback == nil || !strings.Contains(rec.Rollback.Reason, "probes: ") || len(b.traffic.rollbacks) != 1 {
			t.Fatalf("onset %s: got %v (%s), want a rollback by the probes\n%s", sim.Onset, err, rec.Outcome, b.out.String())
		}
		res = probeSimResult{
			Caught: rec.Rollback.Started.Sub(onset), Zero: b.traffic.rollbacks[0].Sub(onset),
			SinceShift: rec.Rollback.Started.Sub(shifted), Reason: rec.Rollback.Reason,
		}
	})
	return res
}

// TestOneFailingRouteOfFiveIsCaughtWithin30s is the grid's probe goal: one failing route of
// five is caught within 30 s of the shift, at any traffic. It measures, with the default plan
// (interval 60 s, lag 180 s) and Azure-like costs (a 40 s up, 50 ms health answers, 80 ms
// routes, 3 s queries), the route failing from the shift on, answering 500 or hanging, and
// then the onset swept half a second at a time over the first rounds of the bake and over the
// first analysis's metrics query (its interval and lag after the bake's start), the two places
// where the worst moment can be: a round's phase, and a query between two rounds.
func TestOneFailingRouteOfFiveIsCaughtWithin30s(t *testing.T) {
	p := testPlan()
	limit := p.ProbeThresholds.FailureLimit
	for _, hang := range []bool{false, true} {
		kind, round := "answering 500", bubbleHealth+bubbleRoute+HealthWatchEvery
		if hang {
			kind, round = "hanging", bubbleHealth+ProbeRoundDeadline+HealthWatchEvery
		}
		t.Run(kind, func(t *testing.T) {
			fromShift := simulateFailingRoute(t, probeSim{Routes: 5, Failing: 3, Hang: hang})
			t.Logf("MEASURED one route of five %s from the shift on: caught %s after the shift, 0%% %s after it", kind, fromShift.SinceShift, fromShift.Zero)
			if fromShift.SinceShift > 30*time.Second {
				t.Errorf("caught %s after the shift, want within 30 s", fromShift.SinceShift)
			}
			var worst probeSimResult
			var worstAt time.Duration
			due := p.Interval + p.Lag
			for _, span := range [][2]time.Duration{{0, 2 * round}, {due - 2*round, due + round}} {
				for off := span[0]; off < span[1]; off += 500 * time.Millisecond {
					r := simulateFailingRoute(t, probeSim{Routes: 5, Failing: 3, Hang: hang, Onset: off})
					if r.Caught > worst.Caught {
						worst, worstAt = r, off
					}
				}
			}
			t.Logf("MEASURED one route of five %s, onset swept: worst caught %s after the onset (at %s into the bake), 0%% %s after it", kind, worst.Caught, worstAt, worst.Zero)
			// The failures in a row, one round each, one more for the onset to fall just after a
			// round was sent, and at most one metrics query between two rounds.
			if bound := time.Duration(limit+1)*round + bubbleQueryTook; worst.Caught > bound {
				t.Errorf("worst caught %s after the onset, want at most %s: %d rounds of %s and one query", worst.Caught, bound, limit+1, round)
			}
		})
	}
}

// probeFalseRollbacks is the share of healthy releases the probes alone roll back: every
// route of both slots fails each answer independently with probability q (an instance being
// replaced, a blip of the platform), the same on both, over steps steps of rounds rounds each
// (a fresh window per step, as each bake has), judged by the release's own probeWindow and
// JudgeRoute with th. rng is seeded by the caller, so a grid cell is repeatable.
func probeFalseRollbacks(rng *rand.Rand, q float64, releases, steps, rounds, routes int, th stack.ProbeThresholds) float64 {
	names := make([]string, routes)
	for i := range names {
		names[i] = fmt.Sprintf("GET /orders/%d", i+1)
	}
	rolledBack := 0
	for range releases {
		failed := false
		for s := 0; s < steps && !failed; s++ {
			w := newProbeWindow()
			for r := 0; r < rounds && !failed; r++ {
				for _, slot := range []stack.Slot{stack.Blue, stack.Green} {
					rs := make([]ProbeResult, routes)
					for i := range rs {
						rs[i] = ProbeResult{Probe: names[i], OK: rng.Float64() >= q, Ms: 40}
					}
					w.add(slot, rs)
				}
				failed = w.judge(th, stack.Blue).Verdict == VerdictFail
			}
		}
		if failed {
			rolledBack++
		}
	}
	return float64(rolledBack) / float64(releases)
}

// TestProbesLeaveAHealthyCanaryAlone: with routes that blip at 0.1% of answers on both
// slots, the probes of the default plan (three steps baking 10 minutes plus the 3-minute lag,
// a round about every 2.1 s: 367 rounds a step, five routes) roll back no healthy release of
// a sample of them. At that rate a rollback needs three failures in a row of one route (about
// 1e-9 a round) or four of its last ten (about 2e-10): about 5e-6 a release. Measured with
// larger samples (2,000 releases a rate), the share is 0 at 0.1%, 0 of 500 at 0.3%, about 1%
// at 1% (0.2% with probeFailureLimit 4) and 80% at 5%, where four failures in ten happen by
// chance: a route that fails that often on the stable slot is no probe of the canary.
func TestProbesLeaveAHealthyCanaryAlone(t *testing.T) {
	th := testPlan().ProbeThresholds
	if got := probeFalseRollbacks(rand.New(rand.NewPCG(30, 1)), 0.001, 20, 3, 367, 5, th); got != 0 {
		t.Errorf("healthy releases rolled back by the probes at 0.1%% blips: %.1f%%, want none", 100*got)
	}
}
