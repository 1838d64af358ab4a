package rollout

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/slotless/slotless/stack"
)

// The tests in this file are the health gate during a bake blaming the canary only for what it
// did: its own answer (X-Slot, or its health body's slot), or no answer while the stable slot
// answers through the same gateway. The runner's network, the gateway's own 401, 429 and 5xx,
// and answers of the other slot are errors: two analyses in a row of nothing but errors stop
// the release without moving traffic. They run in synctest bubbles (bubble_test.go), so the
// gates keep their production timings, 8 s checks and 30 s controls included, on a fake clock.

// script is a failure that starts at an instant of the bubble's clock.
type script func(a *bubbleApp, at time.Time)

// gatewayAnswers answers every request from at on as API Management itself would, whichever
// slot it is pinned to: status with the gateway's JSON, and no X-Slot.
func gatewayAnswers(status int, message string) script {
	return func(a *bubbleApp, at time.Time) {
		a.intercept = func(w http.ResponseWriter, _ *http.Request, _ stack.Slot, now time.Time) bool {
			if now.Before(at) {
				return false
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"statusCode":%d,"message":%q}`, status, message)
			return true
		}
	}
}

// unreachable cuts every connection from at for d (0: for good) before any answer: the runner
// cannot reach the gateway.
func unreachable(d time.Duration) script {
	return func(a *bubbleApp, at time.Time) {
		a.intercept = func(w http.ResponseWriter, _ *http.Request, _ stack.Slot, now time.Time) bool {
			if now.Before(at) || (d > 0 && !now.Before(at.Add(d))) {
				return false
			}
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				conn.Close()
			}
			return true
		}
	}
}

// canaryAnswers makes the gateway answer every request pinned to blue with status and no
// X-Slot, as API Management does for a backend that is down; the stable slot answers.
func canaryAnswers(status int) script {
	return func(a *bubbleApp, at time.Time) {
		a.intercept = func(w http.ResponseWriter, _ *http.Request, slot stack.Slot, now time.Time) bool {
			if slot != stack.Blue || now.Before(at) {
				return false
			}
			w.WriteHeader(status)
			return true
		}
	}
}

// canaryHangs makes the canary's health endpoint never answer: each request ends when the
// gate gives up on it.
func canaryHangs(a *bubbleApp, at time.Time) {
	a.intercept = func(_ http.ResponseWriter, r *http.Request, slot stack.Slot, now time.Time) bool {
		if slot != stack.Blue || now.Before(at) || r.URL.Path != "/api/health" {
			return false
		}
		<-r.Context().Done()
		return true
	}
}

// canaryUnhealthy makes the canary answer its health requests 503 itself: its X-Slot and
// its health body, with a failing check.
func canaryUnhealthy(a *bubbleApp, at time.Time) {
	a.intercept = func(w http.ResponseWriter, r *http.Request, slot stack.Slot, now time.Time) bool {
		if slot != stack.Blue || now.Before(at) || r.URL.Path != "/api/health" {
			return false
		}
		w.Header().Set("X-Slot", string(slot))
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, `{"status":"unhealthy","slot":%q,"version":"1.1.0","checks":{"orders-db":{"status":"fail","error":"connection refused"}}}`, slot)
		return true
	}
}

func rotatedPinToken(a *bubbleApp, at time.Time) {
	a.rotated, a.newToken = at, "pin-token-rotated-fedcba9876"
}

func TestHealthBlamesOnlyWhatTheSlotDid(t *testing.T) {
	const onset = 10 * time.Second
	tests := []struct {
		name   string
		script script
		// rolledBack: the canary is at fault; else unobserved, and blip: the bake goes on.
		rolledBack, blip bool
		want             string
	}{
		{"a rotated pin token", rotatedPinToken, false, false,
			"green answered (X-Slot or body slot \"green\"), so pinning is not in effect"},
		{"the gateway refuses the subscription key", gatewayAnswers(http.StatusUnauthorized, "Access denied due to invalid subscription key."), false, false,
			"HTTP 401 Unauthorized), so the fault is on the way to the slots"},
		{"the gateway's quota", gatewayAnswers(http.StatusTooManyRequests, "Rate limit is exceeded."), false, false,
			"the gateway's quota, not the canary"},
		{"the gateway unreachable", unreachable(0), false, false,
			"green did not answer healthy either (unreachable"},
		{"the gateway unreachable for 20 s: a blip", unreachable(20 * time.Second), false, true, ""},
		{"the canary's host down: the gateway's 502 for it alone", canaryAnswers(http.StatusBadGateway), true, false,
			"HTTP 502 Bad Gateway; it failed before too, and green, asked in between through the same gateway, answered healthy, so the fault is the canary's"},
		{"the canary's health endpoint hangs", canaryHangs, true, false,
			"timeout of 8s; it failed before too, and green, asked in between through the same gateway, answered healthy"},
		{"the canary answers unhealthy itself", canaryUnhealthy, true, false,
			`HTTP 503, status "unhealthy", failing checks: orders-db (connection refused)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := newBubble(t)
				defer b.close()
				p := withProbes(testPlan())
				p.Bake, p.Interval, p.Lag = 3*time.Minute, 30*time.Second, 30*time.Second
				b.traffic.onShift = func(at time.Time, _ int) {
					b.app.mu.Lock()
					defer b.app.mu.Unlock()
					tt.script(b.app, at.Add(onset))
				}
				rec, err := b.run(p, Options{Until: 10})
				switch {
				case tt.rolledBack:
					if !errors.Is(err, ErrAborted) || rec.Outcome != OutcomeRolledBack || !strings.Contains(rec.Rollback.Reason, "health gate: ") {
						t.Fatalf("got %v (%s), want rolled back by the health gate", err, rec.Outcome)
					}
					if !strings.Contains(rec.Rollback.Reason, tt.want) {
						t.Errorf("rollback reason: got %q, want %q in it", rec.Rollback.Reason, tt.want)
					}
					return
				case tt.blip:
					if err != nil || rec.Outcome != OutcomePaused || len(b.traffic.rollbacks) != 0 {
						t.Fatalf("got %v (%s, %d rollbacks), want paused at 10%% with none", err, rec.Outcome, len(b.traffic.rollbacks))
					}
					return
				}
				if !errors.Is(err, ErrUnobserved) || errors.Is(err, ErrAborted) || rec.Outcome != OutcomeFailed || rec.Rollback != nil || len(b.traffic.rollbacks) != 0 {
					t.Fatalf("got %v (%s, rollback %+v), want a release that stopped without a rollback", err, rec.Outcome, rec.Rollback)
				}
				if st, _ := b.traffic.Status(t.Context()); st.Weights.Blue != 10 {
					t.Errorf("traffic: got %s, want blue left at 10%%", st.Weights)
				}
				if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "traffic was not moved: blue still carries 10%") {
					t.Errorf("error: got %q, want %q and where traffic stands in it", err, tt.want)
				}
				step := rec.StepsTaken[0]
				last := step.Analyses[len(step.Analyses)-1]
				if step.Verdict != VerdictError || last.Verdict != VerdictError || last.HealthErrors != last.HealthChecks {
					t.Errorf("step %s, last analysis %s with %d of %d health checks errored; want both errors, every check errored", step.Verdict, last.Verdict, last.HealthErrors, last.HealthChecks)
				}
				// The release stops at its second analysis of nothing but errors (errorLimit), the
				// first after the onset being partly healthy.
				if n := len(step.Analyses); n != 3 {
					t.Errorf("analyses: got %d, want 3 (one partly seen, then errorLimit %d of errors)", n, errorLimit)
				}
			})
		})
	}
}

// TestWatchBlamesOnlyWhatTheSlotDid: `slotless watch` judges with the release's own analysis.
// A paused canary behind a gateway the runner cannot reach is not rolled back (the watch
// cannot judge, exit 1, traffic left as it is), while one whose host is down is.
func TestWatchBlamesOnlyWhatTheSlotDid(t *testing.T) {
	w := WatchOptions{For: time.Minute, Window: 5 * time.Minute}
	for _, tt := range []struct {
		name    string
		script  script
		outcome Outcome
	}{
		{"the gateway unreachable", unreachable(0), OutcomeFailed},
		{"the canary's host down", canaryAnswers(http.StatusBadGateway), OutcomeRolledBack},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := newBubble(t)
				defer b.close()
				p := withProbes(testPlan())
				if rec, err := b.run(p, Options{Until: 10}); err != nil || rec.Outcome != OutcomePaused {
					t.Fatalf("release --until 10: got %v, %s; want paused", err, rec.Outcome)
				}
				b.app.mu.Lock()
				tt.script(b.app, time.Now())
				b.app.mu.Unlock()
				time.Sleep(w.Window)
				rec, err := b.controller(p).Watch(t.Context(), p, w)
				t.Logf("watch:\n%s", b.out.String())
				if rec.Outcome != tt.outcome {
					t.Fatalf("watch: got %s (%v), want %s", rec.Outcome, err, tt.outcome)
				}
				st, _ := b.traffic.Status(t.Context())
				if tt.outcome == OutcomeFailed && (errors.Is(err, ErrAborted) || st.Weights.Blue != 10 || !strings.Contains(err.Error(), "could not judge it")) {
					t.Errorf("got %v with blue at %d%%, want a watch that could not judge and left blue at 10%%", err, st.Weights.Blue)
				}
			})
		})
	}
}

// TestADeadCanaryAtGAIsRolledBack: a pure blue/green release ([100]) whose canary's host dies
// once it carries all traffic (the gateway answers 503 for it, without the app's headers),
// while the old slot, carrying nothing, takes a 12 s cold start to answer its first request.
// The control waits for the stable slot's first healthy answer up to ControlHealthTimeout, so
// the cold old slot proves the path works and the dead canary is rolled back, rather than
// left at 100% by a release that could not tell it from the path. It runs in a synctest
// bubble, with the production gates' timings.
func TestADeadCanaryAtGAIsRolledBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBubble(t)
		defer b.close()
		p := testPlan()
		p.Steps, p.MaxStep = []int{100}, 100
		var shifted time.Time
		b.traffic.onShift = func(at time.Time, _ int) { shifted = at }
		cold := true
		b.app.intercept = func(w http.ResponseWriter, r *http.Request, slot stack.Slot, now time.Time) bool {
			switch {
			case shifted.IsZero() || now.Before(shifted) || r.URL.Path != "/api/health":
				return false
			case slot == stack.Blue:
				w.WriteHeader(http.StatusServiceUnavailable)
				return true
			case cold:
				// The old slot's first request after it lost its traffic starts an instance.
				cold = false
				time.Sleep(12 * time.Second)
			}
			return false
		}
		rec, err := b.run(p, Options{})
		if !errors.Is(err, ErrAborted) || rec.Outcome != OutcomeRolledBack {
			t.Fatalf("got %v (%s), want the dead canary rolled back from 100%%", err, rec.Outcome)
		}
		if want := "HTTP 503 Service Unavailable; it failed before too, and green, asked in between through the same gateway, answered healthy, so the fault is the canary's"; !strings.Contains(rec.Rollback.Reason, want) {
			t.Errorf("rollback reason: got %q, want %q in it", rec.Rollback.Reason, want)
		}
		if took := rec.Rollback.Started.Sub(shifted); took > AnalysisHealthTimeout+ControlHealthTimeout {
			t.Errorf("the rollback started %s after the shift, want within the check and its control (%s)", took, AnalysisHealthTimeout+ControlHealthTimeout)
		}
	})
}
