package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/slotless/slotless/internal/rollout"
)

//go:embed report.html.tmpl
var pageSource string

// page is the HTML report's template. It fetches nothing and runs no script: a CI artifact opens
// offline, and a browser's strictest content security policy shows it whole.
var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"pct": func(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) },
	"ms":  func(f float64) string { return fmt.Sprintf("%.0f ms", f) },
}).Parse(pageSource))

// pageData is what the template shows.
type pageData struct {
	Title, Headline, Outcome string
	OK                       bool
	Facts                    [][2]string
	Charts                   []template.HTML
	Steps                    []stepRows
	Rollback                 *rollout.RollbackRec
	RollbackTook             string
	Error                    string
}

// stepRows is one step's analyses as table rows.
type stepRows struct {
	Title   string
	Verdict string
	// Open shows the rows unfolded: a step with an analysis that did not pass.
	Open bool
	Rows []row
}

// row is one analysis in the table.
type row struct {
	N                          int
	At, Verdict, Health, Cause string
	Metrics                    *rollout.Check
	Probes                     *rollout.ProbeCheck
}

// HTML writes the report of rec as one self-contained HTML page.
func HTML(w io.Writer, rec rollout.Record) error {
	v := newView(rec)
	d := pageData{
		Title:    fmt.Sprintf("slotless: %s %s %s", orDash(string(rec.Slot)), orDash(rec.Version), rec.Outcome),
		Headline: v.headline, OK: v.ok, Outcome: string(rec.Outcome), Error: rec.Error,
		Facts: v.facts(),
	}
	var b strings.Builder
	for _, c := range v.charts() {
		b.Reset()
		c.svg(&b)
		// svg escapes every text it writes, so the markup is trusted as is.
		d.Charts = append(d.Charts, template.HTML(b.String()))
	}
	for i, s := range rec.StepsTaken {
		sr := stepRows{Title: stepTitle(i+1, s, plannedBake(rec, i, s)), Verdict: orDash(s.Verdict)}
		for _, a := range s.Analyses {
			sr.Open = sr.Open || a.Verdict != rollout.VerdictPass
			sr.Rows = append(sr.Rows, row{
				N: a.N, At: elapsed(v.t0, a.At), Verdict: a.Verdict, Health: orDash(a.Health.Verdict),
				Cause: cause(a), Metrics: a.Metrics, Probes: a.Probes,
			})
		}
		d.Steps = append(d.Steps, sr)
	}
	if rb := rec.Rollback; rb != nil {
		d.Rollback = rb
		d.RollbackTook = rb.Finished.Sub(rb.Started).Round(100 * time.Millisecond).String()
	}
	return page.Execute(w, d)
}

// facts are the run's particulars, shown under the headline.
func (v view) facts() [][2]string {
	r := v.rec
	f := [][2]string{
		{"slot", orDash(string(r.Slot))},
		{"version", orDash(r.Version)},
		{"outcome", orDash(string(r.Outcome))},
		{"started", r.Started.UTC().Format(time.RFC3339)},
		{"took", r.Finished.Sub(r.Started).Round(time.Second).String()},
		{"traffic at start", fmt.Sprintf("green %d%%, blue %d%%", r.FromWeights.Green, r.FromWeights.Blue)},
		{"steps", stepsText(r.Steps, r.StepBakes(), r.Until)},
		{"analyses", fmt.Sprint(len(v.analyses))},
	}
	if t := r.Thresholds; t != nil {
		cadence := fmt.Sprintf("analyses every %ds over a %s bake", t.AnalysisIntervalSeconds, bakeText(time.Duration(t.BakeSeconds)*time.Second))
		if bakes := r.StepBakes(); len(bakes) > 0 && slices.ContainsFunc(bakes, func(b time.Duration) bool { return b != bakes[0] }) {
			// The steps bake differently: each step's bake is in the steps line.
			cadence = fmt.Sprintf("analyses every %ds over each step's bake", t.AnalysisIntervalSeconds)
		}
		probes := fmt.Sprintf("probes +%.1f points, latency ×%.2f", 100*t.ProbeMaxFailureRateDelta, t.ProbeMaxLatencyRatio)
		if t.ProbeFailureLimit > 0 {
			// Schema version 3 on: each route on its own, and its failures in a row.
			probes = fmt.Sprintf("probes per route +%.1f points, latency ×%.2f, %d failures in a row", 100*t.ProbeMaxFailureRateDelta, t.ProbeMaxLatencyRatio, t.ProbeFailureLimit)
		}
		metrics := fmt.Sprintf("failure rate +%.1f points, p95 ×%.2f, at least %d requests a window", 100*t.MaxFailureRateDelta, t.MaxP95Ratio, t.MinRequests)
		if t.Confidence > 0 {
			// Schema version 3 on: a one-sided test, and the smallest effect that matters.
			metrics = fmt.Sprintf("failure rate worse at %.4g%% confidence by more than +%.2f points and ×%.2f, %d failing windows in a row; p95 ×%.2f and +%.0f ms; at least %d users' requests a window",
				100*t.Confidence, 100*t.MaxFailureRateDelta, t.MaxFailureRateRatio, t.FailureLimit, t.MaxP95Ratio, t.P95FloorMs, t.MinRequests)
		}
		f = append(f, [2]string{"thresholds", fmt.Sprintf("%s; %s; warm-up within %d ms; %s",
			metrics, probes, t.WarmupLatencyMs, cadence)})
	}
	return f
}

// stepsText is the plan's steps with each one's bake, when the record says it: "10% (bake 30s)
// → 50% (bake 10m) → 100% (no bake)".
func stepsText(steps []int, bakes []time.Duration, until int) string {
	var b strings.Builder
	for i, s := range steps {
		if i > 0 {
			b.WriteString(" → ")
		}
		fmt.Fprintf(&b, "%d%%", s)
		if i < len(bakes) {
			if bakes[i] == 0 {
				b.WriteString(" (no bake)")
			} else {
				fmt.Fprintf(&b, " (bake %s)", bakeText(bakes[i]))
			}
		}
	}
	if until > 0 {
		fmt.Fprintf(&b, " (--until %d)", until)
	}
	return b.String()
}

// bakeText writes a bake as people write it: 10m, 1h30m, 45s, not 10m0s.
func bakeText(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func stepTitle(n int, s rollout.StepRecord, bake string) string {
	if s.Resumed {
		return fmt.Sprintf("Step %d: %d%%, resumed and baked again%s", n, s.To, bake)
	}
	return fmt.Sprintf("Step %d: %d%% → %d%%%s", n, s.From, s.To, bake)
}

// plannedBake is the bake the run planned for its i-th step, as " (bake 30s)" or " (no bake)";
// empty when the record has no plan for it (a watch).
func plannedBake(rec rollout.Record, i int, s rollout.StepRecord) string {
	if i >= len(rec.Planned) || rec.Planned[i].To != s.To || rec.Planned[i].Resumed != s.Resumed {
		return ""
	}
	if b := rec.Planned[i].BakeSeconds; b > 0 {
		return " (bake " + bakeText(time.Duration(b)*time.Second) + ")"
	}
	return " (no bake)"
}
