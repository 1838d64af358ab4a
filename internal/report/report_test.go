package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slotless/slotless/internal/gate"
	"github.com/slotless/slotless/internal/rollout"
	"github.com/slotless/slotless/stack"
)

// synthetic is a release of blue over steps, baking each for bake with an analysis every
// interval; failAt > 0 fails that analysis (counted over the run) and rolls back.
func synthetic(steps []int, bake, interval time.Duration, failAt int) rollout.Record {
	t0 := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	now := t0
	rec := rollout.Record{
		Kind: rollout.RecordKind, SchemaVersion: rollout.RecordSchemaVersion,
		Slot: stack.Blue, Version: "1.1.0", Steps: steps, Started: t0,
		FromWeights: rollout.Shares{Green: 100}, CurrentSlotName: "green-backend",
		Thresholds: &rollout.RecordThresholds{MaxFailureRateDelta: 0.02, MaxP95Ratio: 1.5, MinRequests: 20,
			ProbeMaxFailureRateDelta: 0.3, ProbeMaxLatencyRatio: 3, WarmupLatencyMs: 2000,
			AnalysisIntervalSeconds: int64(interval / time.Second), BakeSeconds: int64(bake / time.Second)},
		Outcome: rollout.OutcomeComplete,
	}
	n, from := 0, 0
	for _, to := range steps {
		s := rollout.StepRecord{From: from, To: to, Warmup: &rollout.Warmup{ColdMs: 1800, WarmMs: 140, Rounds: 2, Requests: 16}}
		now = now.Add(2 * time.Second)
		s.ShiftStarted = now
		now = now.Add(5 * time.Second)
		s.ShiftFinished, s.BakeStarted = now, now
		s.Weights = rollout.Shares{Green: 100 - to, Blue: to}
		s.Verdict = rollout.VerdictPass
		for i := 1; time.Duration(i)*interval <= bake; i++ {
			n++
			now = now.Add(interval)
			rate := 0.01
			verdict := rollout.VerdictPass
			if n == failAt {
				rate, verdict = 0.2, rollout.VerdictFail
			}
			canary := &gate.SlotFigures{App: "func-blue", Requests: int64(to) * 12, Failed: int64(rate * float64(to) * 12), FailureRate: rate, P95Ms: 180}
			stable := &gate.SlotFigures{App: "func-green", Requests: int64(100-to) * 12, FailureRate: 0.01, P95Ms: 170}
			a := rollout.Analysis{N: i, At: now, HealthChecks: 2, Verdict: verdict,
				Health:  rollout.Check{Verdict: rollout.VerdictPass, Version: "1.1.0"},
				Metrics: &rollout.Check{Verdict: verdict, Canary: canary, Stable: stable, WindowSeconds: int64(interval / time.Second)},
				Probes: &rollout.ProbeCheck{Verdict: rollout.VerdictPass, Rounds: 3 * i,
					Canary: rollout.ProbeFigures{Probes: 10, MedianMs: 40}, Stable: rollout.ProbeFigures{Probes: 10, MedianMs: 38}}}
			if verdict == rollout.VerdictFail {
				a.Metrics.Reason, a.Metrics.Detail = "failure-rate", "failure-rate: canary failure rate 20.0% exceeds stable 1.0% by more than 2.0 points"
			}
			s.Analyses = append(s.Analyses, a)
			if verdict == rollout.VerdictFail {
				s.Verdict = verdict
				rec.StepsTaken = append(rec.StepsTaken, s)
				rec.Rollback = &rollout.RollbackRec{Reason: "analysis " + fmt.Sprint(i) + " at " + fmt.Sprint(to) + "%: metrics gate: " + a.Metrics.Detail,
					Started: now, Finished: now.Add(4 * time.Second), Weights: rollout.Shares{Green: 100}}
				rec.Outcome, rec.Finished = rollout.OutcomeRolledBack, now.Add(4*time.Second)
				rec.Error = "aborted: " + rec.Rollback.Reason + "; rolled back: blue carries 0%"
				return rec
			}
		}
		s.BakeEnded = now
		rec.StepsTaken = append(rec.StepsTaken, s)
		from = to
	}
	rec.Finished = now
	return rec
}

func encode(t testing.TB, rec rollout.Record) []byte {
	t.Helper()
	raw, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestLoadRefusesWhatIsNotARecord(t *testing.T) {
	good := encode(t, synthetic([]int{10, 100}, time.Minute, 10*time.Second, 0))
	legacy := regexp.MustCompile(`"kind":"[^"]*","schemaVersion":[0-9]+,`).ReplaceAll(good, nil)
	if bytes.Equal(legacy, good) {
		t.Fatal("the legacy record still has its kind")
	}
	for _, tt := range []struct {
		name, in, want string
	}{
		{"empty", "", "the record is empty"},
		{"blank", " \n", "the record is empty"},
		{"not JSON", "release ok\n", "not a JSON object"},
		{"an array", "[1,2]", "not a JSON object"},
		{"another tool's JSON", `{"status":"Succeeded","name":"x"}`, `it has no "kind": "slotless.release"`},
		{"a plan", `{"kind":"slotless.plan","schemaVersion":1}`, `its kind is "slotless.plan"`},
		{"newer", fmt.Sprintf(`{"kind":"slotless.release","schemaVersion":%d,"outcome":"complete","started":"2026-12-04T03:00:00Z"}`, rollout.RecordSchemaVersion+1),
			fmt.Sprintf("written by a newer slotless (record schema version %d; this slotless reads up to %d)", rollout.RecordSchemaVersion+1, rollout.RecordSchemaVersion)},
		// Version 1 records, before steps had bakes of their own, are read as they were.
		{"a record of version 1", `{"kind":"slotless.release","schemaVersion":1,"outcome":"complete","started":"2026-12-04T03:00:00Z","steps":[10,100],"thresholds":{"bakeSeconds":600}}`, ""},
		{"no outcome", `{"kind":"slotless.release","schemaVersion":1}`, "no start time or outcome"},
		{"a wrong type", `{"kind":"slotless.release","schemaVersion":1,"outcome":"complete","stepRecords":"x"}`, "a field has the wrong type"},
		{"a record", string(good), ""},
		{"a record from before kinds", string(legacy), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(strings.NewReader(tt.in))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("got %v, want the record", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrBadRecord) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an ErrBadRecord saying %q", err, tt.want)
			}
		})
	}
}

func TestHeadlineSaysHowAndWhy(t *testing.T) {
	healthy := synthetic([]int{10, 50, 100}, time.Minute, 10*time.Second, 0)
	failed := synthetic([]int{10, 50, 100}, time.Minute, 10*time.Second, 3)
	paused := synthetic([]int{10}, time.Minute, 10*time.Second, 0)
	paused.Outcome, paused.Until, paused.Steps = rollout.OutcomePaused, 10, []int{10, 50, 100}
	broken := failed
	broken.Outcome, broken.Error = rollout.OutcomeRollbackFailed, "aborted: x; rollback failed: the backend is down"
	for _, tt := range []struct {
		name string
		rec  rollout.Record
		want string
		ok   bool
	}{
		{"complete", healthy, "The release of blue 1.1.0 reached 100% in 3m21s: every one of 18 analyses passed.", true},
		{"rolled back", failed, "The release of blue 1.1.0 was rolled back to 0% after 41s, because analysis 3 at 10%: metrics gate: failure-rate: canary failure rate 20.0% exceeds stable 1.0% by more than 2.0 points.", false},
		{"paused", paused, "is paused at 10% (--until 10)", true},
		{"rollback failed", broken, "failed and so did its rollback: blue may still carry traffic", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := headline(tt.rec, newView(tt.rec).analyses)
			if !strings.Contains(got, tt.want) || ok != tt.ok {
				t.Errorf("got %q (ok %v), want %q (ok %v)", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestHTMLIsSelfContained(t *testing.T) {
	for _, tt := range []struct {
		name string
		rec  rollout.Record
		want []string
	}{
		{"healthy", synthetic([]int{10, 50, 100}, time.Minute, 10*time.Second, 0), []string{`class="ok"`, "reached 100%", "Step 3: 50% → 100%"}},
		{"rolled back", synthetic([]int{10, 50, 100}, time.Minute, 10*time.Second, 3), []string{`class="bad"`, `class="mark rollback"`, `id="rollback"`, `<circle class="v-fail"`, "<details open>"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := HTML(&b, tt.rec); err != nil {
				t.Fatal(err)
			}
			page := b.String()
			if got := strings.Count(page, `<svg id=`); got != 5 {
				t.Errorf("charts: got %d, want 5", got)
			}
			for _, w := range append(tt.want, `id="verdict"`, `class="s-threshold"`, `class="s-canary"`, `class="s-traffic"`) {
				if !strings.Contains(page, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			// Nothing is fetched or run: no script, no external reference of any kind.
			for _, bad := range []string{"<script", "src=", "href=", "url(", "@import", "https://"} {
				if strings.Contains(page, bad) {
					t.Errorf("page has %q; a report must be self-contained", bad)
				}
			}
			if got := regexp.MustCompile(`http://[^"]*`).FindAllString(page, -1); len(got) != 5 || got[0] != "http://www.w3.org/2000/svg" {
				t.Errorf("URLs: got %v, want only the SVG namespace, once per chart", got)
			}
		})
	}
}

func TestHTMLEscapesWhatTheRecordSays(t *testing.T) {
	rec := synthetic([]int{10, 100}, time.Minute, 10*time.Second, 2)
	rec.Rollback.Reason = `<script>alert(1)</script> & "quotes"`
	rec.StepsTaken[0].Analyses[1].Metrics.Detail = `<img src=x onerror=alert(1)>`
	var b bytes.Buffer
	if err := HTML(&b, rec); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<script>", "<img"} {
		if strings.Contains(b.String(), bad) {
			t.Errorf("page has %q unescaped", bad)
		}
	}
}

func TestMarkdownForSummaries(t *testing.T) {
	day := synthetic([]int{100}, 24*time.Hour, 10*time.Second, 0)
	failed := synthetic([]int{10, 50, 100}, time.Minute, 10*time.Second, 3)
	for _, tt := range []struct {
		name  string
		rec   rollout.Record
		chart Chart
		want  []string
	}{
		{"rolled back, mermaid", failed, ChartMermaid, []string{"## ❌ The release of blue 1.1.0 was rolled back", "```mermaid\nxychart-beta", "| 10% | 3 | 37s | **fail** | 20.0% of 120 |", ", 10, 0]"}},
		{"rolled back, text", failed, ChartText, []string{"blue's share of traffic over 41s", "▁", "█"}},
		{"a day", day, ChartMermaid, []string{"## ✅", "8639 passing analyses are left out of this table; the HTML report has every one."}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := Markdown(&b, tt.rec, tt.chart); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("markdown lacks %q:\n%s", w, b.String())
				}
			}
			// GitHub takes at most 1 MiB of summary per step.
			if b.Len() > 1<<20 {
				t.Errorf("markdown: got %d bytes, want at most 1 MiB", b.Len())
			}
		})
	}
}

// TestEngineRecordsReport reports the records the engine suite wrote (testdata, refreshed by
// make report-records): what the charts draw comes from real runs, not only from synthetic ones.
func TestEngineRecordsReport(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.json")
	if len(files) < 3 {
		t.Fatalf("testdata: got %v, want the engine suite's healthy, aborted and resumed records", files)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			rec, err := Load(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			var h, m bytes.Buffer
			if err := HTML(&h, rec); err != nil {
				t.Fatal(err)
			}
			if err := Markdown(&m, rec, ChartMermaid); err != nil {
				t.Fatal(err)
			}
			head, _ := headline(rec, newView(rec).analyses)
			if !strings.Contains(html.UnescapeString(h.String()), head) {
				t.Errorf("the HTML lacks the headline %q", head)
			}
		})
	}
}

// TestFactsShowEachStepsBake: the steps line says how long each step baked, from a record of a
// plan with bakes of their own, and from a version 1 record whose steps all baked the same.
func TestFactsShowEachStepsBake(t *testing.T) {
	mixed := synthetic([]int{10, 50, 100}, time.Minute, 10*time.Second, 0)
	mixed.StepBakeSeconds = []int64{30, 0, 5400}
	mixed.Planned = []rollout.PlannedStep{{From: 0, To: 10, BakeSeconds: 30}, {From: 10, To: 50}, {From: 50, To: 100, BakeSeconds: 5400}}
	// A version 1 record, as slotless wrote it before steps had bakes of their own.
	v1 := synthetic([]int{10, 50, 100}, time.Minute, 10*time.Second, 0)
	v1.SchemaVersion = 1
	old, err := Load(bytes.NewReader(encode(t, v1)))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		rec  rollout.Record
		want []string
	}{
		{"bakes of their own", mixed, []string{"10% (bake 30s) → 50% (no bake) → 100% (bake 1h30m)", "analyses every 10s over each step's bake", "Step 1: 0% → 10% (bake 30s)", "Step 2: 10% → 50% (no bake)"}},
		{"a version 1 record", old, []string{"10% (bake 1m) → 50% (bake 1m) → 100% (bake 1m)", "analyses every 10s over a 1m bake"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var h, m bytes.Buffer
			if err := HTML(&h, tt.rec); err != nil {
				t.Fatal(err)
			}
			if err := Markdown(&m, tt.rec, ChartText); err != nil {
				t.Fatal(err)
			}
			page := html.UnescapeString(h.String())
			for _, w := range tt.want {
				if !strings.Contains(page, w) {
					t.Errorf("HTML lacks %q", w)
				}
			}
			if !strings.Contains(m.String(), tt.want[0]) {
				t.Errorf("Markdown lacks %q:\n%s", tt.want[0], m.String())
			}
		})
	}
}

// TestFactsShowTheProbeThresholds: a record from schema version 3 on judges each probe route on
// its own, with a limit of failures in a row, and says so; an older one keeps its pooled line.
func TestFactsShowTheProbeThresholds(t *testing.T) {
	perRoute := synthetic([]int{10, 100}, time.Minute, 10*time.Second, 0)
	perRoute.Thresholds.ProbeFailureLimit = 3
	v2 := synthetic([]int{10, 100}, time.Minute, 10*time.Second, 0)
	v2.SchemaVersion = 2
	for _, tt := range []struct {
		name string
		rec  rollout.Record
		want string
	}{
		{"per route", perRoute, "probes per route +30.0 points, latency ×3.00, 3 failures in a row"},
		{"a version 2 record", v2, "probes +30.0 points, latency ×3.00;"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var h bytes.Buffer
			if err := HTML(&h, tt.rec); err != nil {
				t.Fatal(err)
			}
			if page := html.UnescapeString(h.String()); !strings.Contains(page, tt.want) {
				t.Errorf("HTML lacks %q", tt.want)
			}
		})
	}
}

// TestThresholdLines: the failure chart's line is the smallest effect that matters, the larger
// of its two parts in a record of schema version 3 and the delta alone before; the p95 chart's
// is the larger of the ratio and the floor.
func TestThresholdLines(t *testing.T) {
	for _, tt := range []struct {
		name             string
		thr              rollout.RecordThresholds
		failure, latency float64 // at a stable 1.0% and 170 ms
	}{
		{"version 2: the delta and the ratio alone", rollout.RecordThresholds{MaxFailureRateDelta: 0.02, MaxP95Ratio: 1.5}, 3, 255},
		{"version 3: the larger part of each", rollout.RecordThresholds{MaxFailureRateDelta: 0.002, MaxFailureRateRatio: 1.5, MaxP95Ratio: 1.5, P95FloorMs: 100, Confidence: 0.99}, 1.5, 270},
		{"version 3: the delta above the ratio", rollout.RecordThresholds{MaxFailureRateDelta: 0.01, MaxFailureRateRatio: 1.5, MaxP95Ratio: 2, P95FloorMs: 100, Confidence: 0.99}, 2, 340},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := synthetic([]int{10, 100}, time.Minute, 30*time.Second, 0)
			thr := tt.thr
			rec.Thresholds = &thr
			v := newView(rec)
			line := func(c chart) float64 {
				for _, s := range c.Series {
					if s.Class == "threshold" && len(s.Points) > 0 {
						return s.Points[0].V
					}
				}
				return -1
			}
			if got := line(v.failureChart()); math.Abs(got-tt.failure) > 1e-9 {
				t.Errorf("failure threshold: got %g%%, want %g%%", got, tt.failure)
			}
			if got := line(v.p95Chart()); math.Abs(got-tt.latency) > 1e-9 {
				t.Errorf("p95 threshold: got %g ms, want %g ms", got, tt.latency)
			}
		})
	}
}
