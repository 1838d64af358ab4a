//go:build e2e

package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slotless/slotless/internal/rollout"
)

// The canary's eyes, through the real engine: telemetry that arrives after the bake it belongs
// to, a canary too quiet to judge, a route that fails behind a green health endpoint, and a
// canary that fails while the release waits for an approval with nobody running it.

// TestLateTelemetryIsJudged: every request reaches Log Analytics 15 to 20 s after it was served,
// longer than what is left of the step's bake when the canary starts failing. The bake at 10% is
// 30 s with an analysis every 15 s; the canary starts failing 17 s into it by the requests' own
// time (20% of its requests answering 500, recorded as successes), so only the step's last window
// holds the failure, and none of its records has arrived when the bake is over. The step is not
// passed: the release waits for that window to be ingested (metricsLagSeconds 25), judges it, and
// rolls back. The onset is set from the release's own word that the bake began, so wherever the
// bake starts the failure is in its last window.
func TestLateTelemetryIsJudged(t *testing.T) {
	parallel(t, 90*time.Second)
	const (
		bake              = 30 * time.Second
		onsetAfter        = 17 * time.Second
		delayMin, delayMx = 15 * time.Second, 20 * time.Second
	)
	u, svc := releaseUser(t, "analysisIntervalSeconds 15", "metricsLagSeconds 25", `releaseSteps [{"weight": 10, "bake": "30s"}, 50, 100]`)
	svc.mu.Lock()
	svc.delayMin, svc.delayMax = delayMin, delayMx
	svc.mu.Unlock()
	record := filepath.Join(t.TempDir(), "release.json")
	cmd, out := u.start(svc.release("--until 10", record))
	// The line is written once the bake has begun, so the onset is at least onsetAfter into it:
	// past the first window's end (15 s), and later only by as long as the test takes to read
	// the line; up to 10 s later the failure still fills enough of the last window to fail it.
	u.waitFor(out, "] bake 30s at 10%: 2 analyses")
	onset := time.Now().Add(onsetAfter)
	svc.failCanaryFrom(onset)
	err := cmd.Wait()
	t.Log(out.String())
	if code := exitCode(err); code != 4 {
		t.Fatalf("exit: got %d, want 4 (rolled back)", code)
	}
	rec := readRecord(t, record)
	if rec.Outcome != rollout.OutcomeRolledBack || len(rec.StepsTaken) != 1 {
		t.Fatalf("record: got %s with %d steps, want rolled back in the first", rec.Outcome, len(rec.StepsTaken))
	}
	step := rec.StepsTaken[0]
	last := step.Analyses[len(step.Analyses)-1]
	if step.Verdict != rollout.VerdictFail || last.N != 2 || last.Metrics == nil || last.Metrics.Reason != "failure-rate" {
		t.Fatalf("step: got %s, last analysis %+v; want the second window failing on the failure rate", step.Verdict, last)
	}
	// What makes this scenario about lag: the failure's first records arrived after the bake was
	// over, so a release that judged at the bake's end would have passed the step.
	if bakeEnd, arrived := step.BakeStarted.Add(bake), onset.Add(delayMin); !arrived.After(bakeEnd) {
		t.Errorf("the failure's records arrived %s, before the bake ended %s: nothing here needed the lag", arrived.Format(time.TimeOnly), bakeEnd.Format(time.TimeOnly))
	}
	if last.At.Before(onset.Add(delayMin)) {
		t.Errorf("the failing window was judged %s after the onset, before its records arrived (%s)", last.At.Sub(onset), delayMin)
	}
	t.Logf("MEASURED telemetry %s to %s late: bake started %s, onset %s into it, judged %s after the onset, rolled back at %s",
		delayMin, delayMx, step.BakeStarted.Format(time.TimeOnly), onset.Sub(step.BakeStarted).Round(time.Second), last.At.Sub(onset).Round(time.Second), rec.Rollback.Finished.Sub(onset).Round(time.Second))
}

// TestSparseCanaryIsNotPassedSilently: with 2 requests a second in all and no probes, a 10%
// canary gets about 4 requests in its 20 s bake, under metricsMinRequests 50 in every window and
// in its whole bake. With the defaults the release does not go on to the next step: it rolls the
// canary back and says what to do.
func TestSparseCanaryIsNotPassedSilently(t *testing.T) {
	parallel(t, 55*time.Second)
	u, svc := releaseUser(t, "analysisIntervalSeconds 10", `releaseSteps [{"weight": 10, "bake": "20s"}, 50, 100]`)
	u.sh("pulumi config rm releaseProbes")
	svc.mu.Lock()
	svc.perSecond = 2
	svc.mu.Unlock()
	record := filepath.Join(t.TempDir(), "release.json")
	out, err := u.trySh(svc.release("", record))
	t.Log(out)
	if code := exitCode(err); code != 4 {
		t.Fatalf("exit: got %d, want 4 (rolled back)", code)
	}
	rec := readRecord(t, record)
	if len(rec.StepsTaken) != 1 || rec.Outcome != rollout.OutcomeRolledBack {
		t.Fatalf("record: got %s after %d steps, want rolled back in the first", rec.Outcome, len(rec.StepsTaken))
	}
	for _, want := range []string{"nobody saw the canary at 10%", "lower metricsMinRequests", "metricsInconclusive: pass"} {
		if !strings.Contains(rec.Rollback.Reason, want) {
			t.Errorf("reason: got %q, want %q in it", rec.Rollback.Reason, want)
		}
	}
	if w := u.weights(); w.Blue != 0 {
		t.Errorf("pool: got %s, want blue 0", w)
	}
}

// TestProbesCatchAFailingRoute: the dev stack's releaseProbes (GET /orders, GET /orders/1)
// run through the gateway during the bake. The canary's routes start answering 500 while its
// health endpoint stays green; the probes roll it back within seconds, long before the next
// metrics window closes.
func TestProbesCatchAFailingRoute(t *testing.T) {
	parallel(t, 50*time.Second)
	u, svc := releaseUser(t, "bakeMinutes 2", "analysisIntervalSeconds 60")
	record := filepath.Join(t.TempDir(), "release.json")
	cmd, out := u.start(svc.release("--until 10", record))
	if _, ok := u.untilBlueIs(10, 3*time.Minute); !ok {
		_ = cmd.Process.Kill()
		t.Fatalf("blue never reached 10%%\n%s", out)
	}
	time.Sleep(10 * time.Second)
	onset := svc.failRoutes()
	zero, ok := u.untilBlueIs(0, 3*time.Minute)
	err := cmd.Wait()
	t.Log(out.String())
	if !ok {
		t.Fatal("blue never went back to 0")
	}
	if code := exitCode(err); code != 4 {
		t.Errorf("exit: got %d, want 4", code)
	}
	rec := readRecord(t, record)
	if rec.Rollback == nil || !strings.Contains(rec.Rollback.Reason, "probes: GET /orders failed 3 times in a row on the canary") {
		t.Fatalf("record: got rollback %+v, want one for the probes", rec.Rollback)
	}
	failing := rec.StepsTaken[0].Analyses[len(rec.StepsTaken[0].Analyses)-1]
	if failing.Health.Verdict != rollout.VerdictPass || failing.Metrics != nil {
		t.Errorf("failing analysis: got health %s, metrics %+v; want health green and no metrics window yet", failing.Health.Verdict, failing.Metrics)
	}
	took := zero.Sub(onset)
	shift := rec.Rollback.Finished.Sub(rec.Rollback.Started)
	t.Logf("MEASURED failing route to 0%% by the probes: %s (the rollback's up %s)", took.Round(100*time.Millisecond), shift.Round(100*time.Millisecond))
	// Three failed answers in a row of a route (probeFailureLimit) while the stable slot's pass;
	// one round every 2 s, one more for the onset, and a second for the cloud's poll.
	if limit := 4*(rollout.HealthWatchEvery+time.Second) + shift + time.Second; took > limit {
		t.Errorf("failing route to 0%%: got %s, want at most %s", took, limit)
	}
}

// TestWatchRollsBackAPausedCanary: a release stops at --until 10 for an approval, and its
// process exits. A scheduled `slotless watch` run at once finds the canary healthy and leaves
// it: its window was served mostly before the pause, at 0%, but the canary's share counts only
// from the end of the stack's last update; then the canary starts failing (20% of its requests answering 500, its health green, its probes'
// routes fine), and the next scheduled watch rolls it back, with nobody running a release.
func TestWatchRollsBackAPausedCanary(t *testing.T) {
	parallel(t, 65*time.Second)
	u, svc := releaseUser(t, "bakeMinutes 0")
	u.sh(svc.release("--until 10", filepath.Join(t.TempDir(), "release.json")))
	if w := u.weights(); w.Blue != 10 {
		t.Fatalf("pool after --until 10: got %s, want blue 10", w)
	}
	// A watch started at s judges the whole seconds of [s+for-lag-window, s+for-lag): a watch
	// started settle after a moment judges only what came after it.
	const watchFor, window, lag = 6 * time.Second, 10 * time.Second, 5 * time.Second // lag: quickLag
	const settle = window - watchFor + lag + time.Second
	args := fmt.Sprintf("--for %s --window %s", watchFor, window)
	healthy := filepath.Join(t.TempDir(), "healthy.json")
	out, err := u.trySh(svc.watch(args, healthy))
	t.Log(out)
	if code := exitCode(err); code != 0 || readRecord(t, healthy).Outcome != rollout.OutcomeWatched || u.weights().Blue != 10 {
		t.Fatalf("watch of a healthy canary: exit %d, blue %d; want 0 and blue left at 10", code, u.weights().Blue)
	}

	onset := svc.failCanary()
	time.Sleep(settle) // the schedule's next run, the failure in a whole window
	failing := filepath.Join(t.TempDir(), "failing.json")
	out, err = u.trySh(svc.watch(args, failing))
	t.Log(out)
	if code := exitCode(err); code != 4 {
		t.Fatalf("watch of a failing canary: exit %d, want 4", code)
	}
	rec := readRecord(t, failing)
	if rec.Outcome != rollout.OutcomeRolledBack || !strings.Contains(rec.Rollback.Reason, "metrics gate: failure-rate") {
		t.Fatalf("record: got %s, rollback %+v; want rolled back on the failure rate", rec.Outcome, rec.Rollback)
	}
	if w := u.weights(); w.Blue != 0 || u.currentSlotName() != "green-backend" {
		t.Errorf("after the watch: got %s, %s; want blue 0, green-backend", w, u.currentSlotName())
	}
	t.Logf("MEASURED a failure during a pause, to 0%% by a watch %s later: %s", settle, rec.Rollback.Finished.Sub(onset).Round(time.Second))
}
