package rollout

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slotless/slotless/e2e/azurefake"
	"github.com/slotless/slotless/stack"
)

// The scenarios in this file are the metrics gate's verdicts at realistic traffic: a canary
// that fails in ways a fixed delta over fixed windows does not see, and a healthy one that such
// a delta rolls back. Each runs the real controller, gates and azquery client against
// azurefake.Telemetry, which evaluates the gate's KQL over rows as Application Insights writes
// them.

// TestFailingCanariesAreRolledBack: canaries that fail in ways a fixed 2-point delta over
// windows that are dropped when thin does not see, each rolled back in its first step:
//   - thin, then failing: one window of 55 requests passes, then 45 a window, every one
//     failing, each window too thin to judge on its own;
//   - a 404 regression: a changed route answers 404 to a fifth of the canary's users;
//   - lost requests: 60% of the canary's requests never reach it (the gateway answers 502),
//     so its telemetry shows only a missing share of the traffic;
//   - slow failures: the failing requests hang until a timeout, so their rows arrive minutes
//     late, past metricsLagSeconds;
//   - diluted: the gates' own probes and health requests, and a queue trigger's invocations,
//     outnumber the canary's users ten to one and would dilute their failures.
func TestFailingCanariesAreRolledBack(t *testing.T) {
	for _, tt := range []struct {
		name   string
		script func(s *scene, shifted time.Time)
		reason string
		// check looks further into the record.
		check func(t *testing.T, rec Record)
	}{
		{"thin, then failing", func(s *scene, shifted time.Time) {
			// 55 canary requests in the first minute, 45 in each after, all failing.
			onset := shifted.Add(time.Minute)
			s.logs.users.Rate = func(at time.Time) float64 {
				if at.Before(onset) {
					return 550.0 / 60
				}
				return 450.0 / 60
			}
			s.logs.failRate = 1
			s.logs.failCanaryFrom(onset)
		}, "failure-rate", func(t *testing.T, rec Record) {
			// The failing window is two windows' worth of thin ones, carried over.
			failing := rec.StepsTaken[0].Analyses[len(rec.StepsTaken[0].Analyses)-1]
			if m := failing.Metrics; m == nil || m.WindowSeconds <= 60 || m.Canary.Requests < 50 {
				t.Errorf("failing window: got %+v, want more than one interval's 45 requests", m)
			}
		}},
		{"a 404 regression", func(s *scene, shifted time.Time) {
			s.logs.users.Status = func(slot string, _ time.Time) int {
				if slot == string(stack.Blue) {
					return 404
				}
				return 0
			}
			s.logs.failRate = 0.2
			s.logs.failCanaryFrom(shifted)
		}, "client-errors", nil},
		{"lost requests", func(s *scene, shifted time.Time) {
			s.logs.users.Lost = func(slot string, at time.Time) float64 {
				if slot == string(stack.Blue) && !at.Before(shifted) {
					return 0.6
				}
				return 0
			}
		}, "sample-ratio", nil},
		{"slow failures arrive past the lag", func(s *scene, shifted time.Time) {
			s.logs.lagMin, s.logs.lagMax = 20*time.Second, time.Minute
			s.logs.users.FailureDelay = 4 * time.Minute
			s.logs.failCanaryFrom(shifted.Add(time.Minute))
		}, "failure-rate", func(t *testing.T, rec Record) {
			// Judged when they arrived, and counted as late.
			step := rec.StepsTaken[0]
			failing := step.Analyses[len(step.Analyses)-1]
			if failing.Metrics == nil || failing.Metrics.Late == 0 || step.Late < failing.Metrics.Late {
				t.Errorf("late rows: got %d in the failing window and %d in the step, want the failing window's counted in both", failing.Metrics.Late, step.Late)
			}
		}},
		{"diluted by probes, health requests and a queue trigger", func(s *scene, shifted time.Time) {
			s.logs.totalPerSecond = 10
			s.logs.failCanaryFrom(shifted)
			s.logs.extra = gatesAndQueue(apps[stack.Blue], 10, 2, 5)
		}, "failure-rate", func(t *testing.T, rec Record) {
			failing := rec.StepsTaken[0].Analyses[len(rec.StepsTaken[0].Analyses)-1]
			if c := failing.Metrics.Canary; c.Probes == 0 || c.Health == 0 || c.Requests*5 > c.Probes {
				t.Errorf("canary figures: got %+v, want the probes and health requests apart from the users'", c)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newScene(t)
			s.traffic.onShift = onFirstShift(func(at time.Time) { tt.script(s, at) })
			rec, err := s.run(context.Background(), testPlan(), Options{Until: 10})
			if !errors.Is(err, ErrAborted) || rec.Outcome != OutcomeRolledBack {
				t.Fatalf("got %v (%s), want rolled back at 10%%", err, rec.Outcome)
			}
			if !strings.Contains(rec.Rollback.Reason, tt.reason) {
				t.Errorf("rollback reason: got %q, want %q in it", rec.Rollback.Reason, tt.reason)
			}
			if tt.check != nil {
				tt.check(t, rec)
			}
		})
	}
}

// TestHealthyCanaryAtOnePercentIsNotRolledBack: both slots fail 1% of requests, thrown at
// random (a seeded source), and the canary gets about 55 requests a minute at 10%. A fixed
// 2-point delta fails a window whenever two of those 55 fail, about one window in ten, so most
// such releases would be rolled back within their ten windows; none of these may be.
func TestHealthyCanaryAtOnePercentIsNotRolledBack(t *testing.T) {
	const releases = 8
	rolledBack := 0
	for seed := range uint64(releases) {
		s := newScene(t)
		s.logs.totalPerSecond = 550.0 / 60
		s.logs.users.BaseFailures = 0.01
		s.logs.users.Rand = rand.New(rand.NewPCG(seed, 30))
		rec, err := s.run(context.Background(), testPlan(), Options{Until: 10})
		switch {
		case rec.Outcome == OutcomeRolledBack:
			rolledBack++
			t.Logf("seed %d: rolled back: %s", seed, rec.Rollback.Reason)
		case err != nil || rec.Outcome != OutcomePaused:
			t.Errorf("seed %d: got %v (%s), want paused at 10%%", seed, err, rec.Outcome)
		}
	}
	if rolledBack > 0 {
		t.Errorf("%d of %d healthy releases rolled back, want none", rolledBack, releases)
	}
}

// onFirstShift runs fn once, as the first shift applies.
func onFirstShift(fn func(at time.Time)) func(at time.Time) {
	var once sync.Once
	return func(at time.Time) { once.Do(func() { fn(at) }) }
}

// gatesAndQueue is what else an app records every second besides its users' requests: probes
// of its routes, marked as the prober marks them (slotless-probe=1); health requests, here to a
// function named Health; and a queue trigger's invocations, which the Functions host records as
// requests without a URL and with result code 0 (azure-functions-host#7023,
// azure-webjobs-sdk#1236). All of them succeed, quickly.
func gatesAndQueue(app string, probes, health, queue int) func(at time.Time) []azurefake.Row {
	host := "https://" + app + ".azurewebsites.net"
	return func(at time.Time) []azurefake.Row {
		row := func(op, url string, code, n int) azurefake.Row {
			return azurefake.Row{App: app, Operation: op, Url: url, Generated: at, Ingested: at.Add(30 * time.Second),
				ResultCode: code, Success: true, DurationMs: 3, Count: n, ItemCount: 1}
		}
		return []azurefake.Row{
			row("orders", host+"/api/orders?slotless-probe=1", 200, probes),
			row("Health", host+"/api/health", 200, health),
			row("ProcessOrder", "", 0, queue),
		}
	}
}
