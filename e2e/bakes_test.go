//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slotless/slotless/internal/rollout"
	"github.com/slotless/slotless/stack"
)

// TestReleaseReachesGA: a healthy release walks 10 → 50 → 100, each step baking for its own
// bake from releaseSteps (20 s, 10 s, 10 s: two analyses, one, one), each analysis with the
// health gate and the metrics gate's figures (a thin window carried into the next), and changes the pool and, at 100,
// current-slot-name: nothing else. (With the watcher, its settings go once too, after the first
// step's traffic: TestSlotlessShiftTouchesOnlyTraffic.)
func TestReleaseReachesGA(t *testing.T) {
	parallel(t, 90*time.Second)
	u, svc := releaseUser(t, "analysisIntervalSeconds 10",
		`releaseSteps [{"weight": 10, "bake": "20s"}, {"weight": 50, "bake": "10s"}, {"weight": 100, "bake": "10s"}]`)
	record := filepath.Join(t.TempDir(), "release.json")
	before := len(u.calls())
	out := u.sh(svc.release("", record))
	t.Log(out)

	if w := u.weights(); w.Blue != 100 {
		t.Fatalf("pool: got %s, want blue 100", w)
	}
	if got := u.currentSlotName(); got != "blue-backend" {
		t.Errorf("current-slot-name: got %q, want blue-backend", got)
	}
	want := []string{"update pool", "update pool", "update current-slot-name", "update pool"}
	if got := u.writes(u.calls()[before:]); !slices.Equal(got, want) {
		t.Errorf("cloud writes: got %v, want %v", got, want)
	}
	raw, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), svc.pinToken) || strings.Contains(out, svc.pinToken) {
		t.Error("the pin token is in the release's output or its --json record")
	}
	rec := readRecord(t, record)
	keepRecord(t, record, "healthy")
	if rec.Outcome != rollout.OutcomeComplete || len(rec.StepsTaken) != 3 {
		t.Fatalf("record: got %s with %d steps, want complete in 3", rec.Outcome, len(rec.StepsTaken))
	}
	if !slices.Equal(rec.StepBakeSeconds, []int64{20, 10, 10}) {
		t.Errorf("record: got step bakes %v s, want [20 10 10]", rec.StepBakeSeconds)
	}
	for i, s := range rec.StepsTaken {
		to, analyses, bake := []int{10, 50, 100}[i], []int{2, 1, 1}[i], time.Duration(rec.StepBakeSeconds[i])*time.Second
		if s.To != to || s.Verdict != rollout.VerdictPass || len(s.Analyses) != analyses || s.Warmup == nil {
			t.Errorf("step %d: got →%d %s with %d analyses (warm-up %v), want →%d passed with %d after a warm-up", i+1, s.To, s.Verdict, len(s.Analyses), s.Warmup != nil, to, analyses)
		}
		if baked := s.BakeEnded.Sub(s.BakeStarted); baked < bake {
			t.Errorf("step %d: baked %s, want at least its own %s", i+1, baked, bake)
		}
		// A window too thin to judge is carried into the next, so only the step's last analysis
		// must have judged enough of the canary's requests.
		for j, a := range s.Analyses {
			last := j == len(s.Analyses)-1
			if a.Health.Version != "1.1.0" || a.Metrics == nil || a.Metrics.Canary == nil || last && a.Metrics.Canary.Requests < 50 {
				t.Errorf("step %d analysis %d: got health %+v metrics %+v, want version 1.1.0 and the canary's figures (at least 50 requests by the last)", i+1, a.N, a.Health, a.Metrics)
			}
		}
	}
	for _, want := range []string{
		"step 1: 0% → 10%: changes pool weights only; bake 20s (2 analyses, every 10s)",
		"step 2: 10% → 50%: changes pool weights only; bake 10s (1 analysis, every 10s)",
		"] step 1/3: blue 0% → 10% (changes pool weights only)", "] bake 20s at 10%: 2 analyses", "] analysis 2/2 at 10%: pass; health pass (1.1.0",
		"] analysis 1/1 at 50%: pass; health pass (1.1.0", "] release complete: blue carries 100% with 1.1.0", "summary: release of blue 1.1.0: complete",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("progress: got no %q", want)
		}
	}
	outs, err := u.stack("dev").PlainOutputs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, ws := range svc.workspaces() {
		if ws != outs[stack.OutWorkspaceID] {
			t.Errorf("Log Analytics was asked about workspace %s, want the stack's %v", ws, outs[stack.OutWorkspaceID])
		}
	}
}
