package report

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/slotless/slotless/internal/rollout"
)

// Chart is how the Markdown report draws its chart.
type Chart string

// The Markdown charts. GitHub renders Mermaid code blocks in Markdown, job summaries included
// (docs.github.com "Creating diagrams"; speakeasy-api/speakeasy#447 prints one to a job
// summary). Azure DevOps renders Mermaid in its wiki only (MicrosoftDocs azure-devops-docs,
// "Markdown syntax for files, widgets, and wikis"), so its summary tab gets a text chart, which
// every Markdown renderer shows.
const (
	ChartMermaid Chart = "mermaid"
	ChartText    Chart = "text"
)

// Charts are the allowed values of Chart.
var Charts = []Chart{ChartMermaid, ChartText}

// maxRows bounds the Markdown table: GitHub caps a job summary at 1 MiB, and a day of analyses
// every 10 s is 8,640 rows. Every analysis that did not pass is kept, and each step's last.
const maxRows = 200

// chartPoints is how many samples the Markdown chart takes of the traffic over the run.
const chartPoints = 48

// Markdown writes the report of rec as Markdown for a CI summary: the headline, the run's
// particulars, a chart of the release slot's share, and a table of analyses.
func Markdown(w io.Writer, rec rollout.Record, chart Chart) error {
	v := newView(rec)
	var b strings.Builder
	icon := "✅"
	if !v.ok {
		icon = "❌"
	}
	fmt.Fprintf(&b, "## %s %s\n\n", icon, mdEscape(v.headline))
	b.WriteString("| | |\n|---|---|\n")
	for _, f := range v.facts() {
		fmt.Fprintf(&b, "| %s | %s |\n", f[0], mdEscape(f[1]))
	}
	b.WriteString("\n")
	v.markdownChart(&b, chart)
	v.markdownTable(&b)
	if rec.Rollback != nil {
		fmt.Fprintf(&b, "\n**Rollback** (%s) took %s", mdEscape(rec.Rollback.Reason), rec.Rollback.Finished.Sub(rec.Rollback.Started).Round(100*time.Millisecond))
		if rec.Rollback.Error != "" {
			fmt.Fprintf(&b, " and **failed**: %s", mdEscape(rec.Rollback.Error))
		}
		b.WriteString(".\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// samples are the release slot's share at chartPoints even times over the run.
func (v view) samples() ([]int, time.Duration) {
	step := v.t1.Sub(v.t0) / (chartPoints - 1)
	out := make([]int, chartPoints)
	for i := range out {
		out[i] = v.shareAt(v.t0.Add(time.Duration(i) * step))
	}
	out[chartPoints-1] = v.shareAt(v.t1)
	return out, step
}

func (v view) markdownChart(b *strings.Builder, chart Chart) {
	shares, step := v.samples()
	slot := orDash(string(v.rec.Slot))
	if chart == ChartText {
		const bars = "▁▂▃▄▅▆▇█"
		r := []rune(bars)
		var line strings.Builder
		for _, s := range shares {
			line.WriteRune(r[min(len(r)-1, s*len(r)/101)])
		}
		fmt.Fprintf(b, "%s's share of traffic over %s (each bar %s; ▁ 0%%, █ 100%%):\n\n    %s\n\n", slot,
			v.t1.Sub(v.t0).Round(time.Second), step.Round(time.Second), line.String())
		return
	}
	minutes := v.t1.Sub(v.t0).Minutes()
	vals := make([]string, len(shares))
	for i, s := range shares {
		vals[i] = fmt.Sprint(s)
	}
	fmt.Fprintf(b, "```mermaid\nxychart-beta\n  title \"%s's share of traffic (%%)\"\n  x-axis \"minutes since the start\" 0 --> %.1f\n  y-axis \"%%\" 0 --> 100\n  line [%s]\n```\n\n",
		slot, minutes, strings.Join(vals, ", "))
}

func (v view) markdownTable(b *strings.Builder) {
	keep := make([]bool, len(v.analyses))
	kept := 0
	for i, a := range v.analyses {
		lastOfStep := i == len(v.analyses)-1 || v.analyses[i+1].Step != a.Step
		if a.Verdict != rollout.VerdictPass || lastOfStep || len(v.analyses) <= maxRows {
			keep[i] = true
			kept++
		}
	}
	if len(v.analyses) == 0 {
		b.WriteString("No analysis ran.\n")
		return
	}
	b.WriteString("| step | # | at | verdict | canary failures | stable failures | canary p95 | stable p95 | probes canary / stable | why |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	shown := 0
	for i, a := range v.analyses {
		if !keep[i] || shown >= maxRows {
			continue
		}
		shown++
		metrics := "| no window yet | | | "
		if m := a.Metrics; metricsFigures(m) {
			metrics = fmt.Sprintf("| %.1f%% of %d | %.1f%% of %d | %.0f ms | %.0f ms ", 100*m.Canary.FailureRate, m.Canary.Requests,
				100*m.Stable.FailureRate, m.Stable.Requests, m.Canary.P95Ms, m.Stable.P95Ms)
		} else if m != nil {
			metrics = fmt.Sprintf("| %s | | | ", m.Verdict)
		}
		probes := "-"
		if p := a.Probes; p != nil {
			probes = fmt.Sprintf("%.1f%% / %.1f%%", 100*p.Canary.FailureRate, 100*p.Stable.FailureRate)
		}
		verdict := a.Verdict
		if verdict != rollout.VerdictPass {
			verdict = "**" + verdict + "**"
		}
		fmt.Fprintf(b, "| %d%% | %d | %s | %s %s| %s | %s |\n", a.To, a.N, elapsed(v.t0, a.At), verdict, metrics, probes, mdEscape(cause(a.Analysis)))
	}
	if omitted := len(v.analyses) - shown; omitted > 0 {
		fmt.Fprintf(b, "\n%d passing analyses are left out of this table; the HTML report has every one.\n", omitted)
	}
}

// mdEscape keeps a text from breaking a table cell or starting Markdown or HTML markup.
var mdEscape = strings.NewReplacer("|", `\|`, "\n", " ", "<", "&lt;", ">", "&gt;", "*", `\*`, "_", `\_`, "`", "'").Replace
