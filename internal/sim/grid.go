package sim

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/slotless/slotless/internal/gate"
	"github.com/slotless/slotless/internal/rollout"
)

// The error-rate grid: releases of the default plan (10 → 50 → 100, 10-minute bakes) in every
// combination of the users' traffic, the stable slot's failure rate and what is wrong with the
// canary, each release through the real controller (Run). docs/performance.md ("How often the
// gates are wrong") publishes its table; `make bench` runs it.

// Traffic are the users' requests a second of the grid, both slots together; StableRates the
// stable slot's failure rates.
var (
	Traffic     = []float64{0.5, 1, 10, 100}
	StableRates = []float64{0.001, 0.01, 0.05}
)

// Model is what is wrong with the canary: its users' failure rate given the stable slot's, and
// whether one of its probe routes fails.
type Model struct {
	Name   string
	Canary func(stable float64) float64
	// FailingRoute makes the first of the release's probe routes fail every answer on the
	// canary.
	FailingRoute bool
	// Healthy marks the model whose every rollback is a false one.
	Healthy bool
}

// Models are the grid's canaries. One failing route of five: a fifth of the users' requests
// (those of that route) fail on the canary, the rest as often as on the stable slot, and every
// probe of that route fails.
var Models = []Model{
	{Name: "healthy", Canary: func(s float64) float64 { return s }, Healthy: true},
	{Name: "2×", Canary: func(s float64) float64 { return 2 * s }},
	{Name: "5×", Canary: func(s float64) float64 { return 5 * s }},
	{Name: "+10 points", Canary: func(s float64) float64 { return s + 0.10 }},
	{Name: "1 route of 5", Canary: func(s float64) float64 { return 0.2 + 0.8*s }, FailingRoute: true},
}

// Every release of the grid sends GridRoutes probe routes, each answer of either slot failing
// by chance at GridProbeBlip (the rate at which the probes alone rolled back no healthy release
// of 2,000: docs/releases.md, "What the probes and the health gate blame").
const (
	GridRoutes    = 5
	GridProbeBlip = 0.001
)

// GridCell is one cell of the grid.
type GridCell struct {
	RPS, Stable float64
	Model       Model
}

// Cell is the simulation's conditions for c.
func (c GridCell) Cell() Cell {
	cell := Cell{RPS: c.RPS, StableFailure: c.Stable, CanaryFailure: c.Model.Canary(c.Stable), Routes: GridRoutes, ProbeBlip: GridProbeBlip}
	if c.Model.FailingRoute {
		cell.FailingRoute = 1
	}
	return cell
}

// Cells is the whole grid, traffic first, then the stable slot's rate, then the canary.
func Cells() []GridCell { return CellsAt(Traffic) }

// CellsAt is the grid at other traffic: every stable rate and canary at each of traffic.
func CellsAt(traffic []float64) []GridCell {
	var out []GridCell
	for _, rps := range traffic {
		for _, s := range StableRates {
			for _, m := range Models {
				out = append(out, GridCell{rps, s, m})
			}
		}
	}
	return out
}

// Tally is what many releases of one cell came to.
type Tally struct {
	Cell GridCell
	// Releases ran; RolledBack were rolled back on a verdict (for a healthy canary, false
	// rollbacks); Inconclusive were stopped for too little data, never a verdict against the
	// canary, and counted apart.
	Releases, RolledBack, Inconclusive int
	// Before50 and BeforeGA count verdict rollbacks at 10% and below 100%; ByProbes those the
	// probes made.
	Before50, BeforeGA, ByProbes int
	// SlowestProbe is the longest time from the first shift to a rollback by the probes.
	SlowestProbe time.Duration
	// Requests sums the canary's judged requests of each step over the Steps releases that
	// judged it to its end.
	Requests [3]int64
	Steps    [3]int
	toZero   []time.Duration
}

// Add counts one release.
func (t *Tally) Add(r Result) {
	t.Releases++
	for i := range t.Requests {
		if r.Requests[i] > 0 {
			t.Requests[i] += r.Requests[i]
			t.Steps[i]++
		}
	}
	if !r.RolledBack {
		return
	}
	if r.Inconclusive {
		t.Inconclusive++
		return
	}
	t.RolledBack++
	if r.At < 50 {
		t.Before50++
	}
	if r.At < 100 {
		t.BeforeGA++
	}
	if r.ByProbes {
		t.ByProbes++
		t.SlowestProbe = max(t.SlowestProbe, r.Caught)
	}
	t.toZero = append(t.toZero, r.TimeToZero)
}

// MedianToZero is the median over all the cell's releases of the time from the first shift to
// 0% by a verdict rollback, a release not rolled back on a verdict counting as never: false
// when at least half were not.
func (t *Tally) MedianToZero() (time.Duration, bool) {
	if 2*len(t.toZero) <= t.Releases {
		return 0, false
	}
	s := slices.Clone(t.toZero)
	slices.Sort(s)
	return s[t.Releases/2], true
}

// MeanRequests is the canary's mean judged requests in step i (0 the 10% step), over the
// releases that judged it to its end; 0 when none did.
func (t *Tally) MeanRequests(i int) float64 {
	if t.Steps[i] == 0 {
		return 0
	}
	return float64(t.Requests[i]) / float64(t.Steps[i])
}

// Grid is how a grid's cells are run.
type Grid struct {
	// Releases run in each cell (seeds 0 to Releases-1), Healthy in a cell of a healthy
	// canary, whose false rollbacks need the most; Workers at once.
	Releases, Healthy, Workers int
	// Plan replaces the stack's default plan (PlanWith); nil keeps it.
	Plan *rollout.Plan
	// Progress, when not nil, is called after each cell.
	Progress func(Tally)
}

// Run runs every cell and tallies it. The seeds make it repeatable: the same cells, plan and
// counts give the same tallies, whatever the number of workers.
func (g Grid) Run(cells []GridCell) []Tally {
	workers := max(g.Workers, 1)
	out := make([]Tally, len(cells))
	for i, c := range cells {
		releases := g.Releases
		if c.Model.Healthy {
			releases = g.Healthy
		}
		cell := c.Cell()
		cell.Plan = g.Plan
		results := make([]Result, releases)
		seeds := make(chan int)
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for s := range seeds {
					results[s] = Run(cell, uint64(s))
				}
			})
		}
		for s := range releases {
			seeds <- s
		}
		close(seeds)
		wg.Wait()
		out[i].Cell = c
		for _, r := range results {
			out[i].Add(r)
		}
		if g.Progress != nil {
			g.Progress(out[i])
		}
	}
	return out
}

// Confidence is the one-sided level of the bounds the grid publishes.
const Confidence = 0.95

// UpperBound is the exact (Clopper–Pearson) one-sided upper confidence bound on a rate of which
// k events in n trials were seen: the largest rate under which k or fewer events would still
// happen 1 - conf of the time.
func UpperBound(k, n int, conf float64) float64 {
	if n <= 0 || k >= n {
		return 1
	}
	return bisect(float64(k)/float64(n), 1, func(p float64) bool { return gate.BinomialAtMost(int64(k), int64(n), p) > 1-conf })
}

// LowerBound is the exact one-sided lower confidence bound: the smallest rate under which k or
// more events would still happen 1 - conf of the time.
func LowerBound(k, n int, conf float64) float64 {
	if n <= 0 || k <= 0 {
		return 0
	}
	// P(X >= k) = 1 - P(X <= k-1) grows with p; below the bound it is at most 1 - conf.
	lo := bisect(0, float64(k)/float64(n), func(p float64) bool { return 1-gate.BinomialAtMost(int64(k-1), int64(n), p) <= 1-conf })
	return lo
}

// bisect finds where below turns from true to false on [lo, hi].
func bisect(lo, hi float64, below func(float64) bool) float64 {
	for range 60 {
		mid := (lo + hi) / 2
		if below(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

// Goals of the grid (issue "Verdicts a team can trust"): what the table is checked against.
const (
	// GoalFalseRollbacks is the most healthy releases in a hundred that may be rolled back on
	// a verdict, in every cell.
	GoalFalseRollbacks = 0.01
	// GoalCaught is the least share of bad canaries caught where a detection goal applies.
	GoalCaught = 0.99
	// PlusTenRequests is the least canary requests in the 10% step from which a canary failing
	// +10 points must be caught before 50%; FiveTimesRequests the least per step from which one
	// failing 5× must be caught before GA.
	PlusTenRequests   = 200
	FiveTimesRequests = 500
	// ProbeWithin is how soon after the shift one failing route of five must be caught.
	ProbeWithin = 30 * time.Second
)

// Goal is one goal's verdict over the grid.
type Goal struct {
	Name string
	Met  bool
	// Detail gives the numbers: the worst cell, and where the goal does not apply.
	Detail string
}

// Goals checks the grid's tallies against the goals. requests are the canary's mean judged
// requests in the 10% and 50% steps at each traffic, from the healthy cells.
func Goals(ts []Tally) []Goal {
	perStep := map[float64]float64{}
	for _, t := range ts {
		if t.Cell.Model.Healthy && t.Steps[0] > 0 {
			perStep[t.Cell.RPS] = max(perStep[t.Cell.RPS], t.MeanRequests(0))
		}
	}
	var goals []Goal

	g := Goal{Name: fmt.Sprintf("false rollbacks of a healthy canary at most %s per release in every cell (%d%% upper bound)", pct(GoalFalseRollbacks), int(100*Confidence)), Met: true}
	var worst Tally
	worstUB := -1.0
	for _, t := range ts {
		if !t.Cell.Model.Healthy {
			continue
		}
		if ub := UpperBound(t.RolledBack, t.Releases, Confidence); ub > worstUB {
			worst, worstUB = t, ub
		}
		if UpperBound(t.RolledBack, t.Releases, Confidence) > GoalFalseRollbacks {
			g.Met = false
		}
	}
	g.Detail = fmt.Sprintf("worst cell %s: %d of %d, %s (≤ %s)", worst.Cell.label(), worst.RolledBack, worst.Releases, pct(rate(worst.RolledBack, worst.Releases)), pct(worstUB))
	goals = append(goals, g)

	detect := func(name string, model string, least float64, count func(Tally) int) Goal {
		g := Goal{Name: name, Met: true}
		var applies, not []string
		worstLB, worstCell := 2.0, ""
		for _, t := range ts {
			if t.Cell.Model.Name != model {
				continue
			}
			if perStep[t.Cell.RPS] < least {
				not = append(not, t.Cell.label())
				continue
			}
			k := count(t)
			lb := LowerBound(k, t.Releases, Confidence)
			applies = append(applies, t.Cell.label())
			if rate(k, t.Releases) < GoalCaught {
				g.Met = false
			}
			if lb < worstLB {
				worstLB, worstCell = lb, fmt.Sprintf("%s: %d of %d, %s (≥ %s)", t.Cell.label(), k, t.Releases, pct(rate(k, t.Releases)), pct(lb))
			}
		}
		g.Detail = fmt.Sprintf("applies to %d cells, worst %s; below %.0f canary requests in the 10%% step, not promised: %d cells", len(applies), worstCell, least, len(not))
		if len(applies) == 0 {
			g.Detail = "applies to no cell of the grid"
		}
		return g
	}
	goals = append(goals, detect(fmt.Sprintf("+10 points caught before 50%% in at least %s of runs wherever the 10%% step judges at least %d canary requests", pct(GoalCaught), PlusTenRequests),
		"+10 points", PlusTenRequests, func(t Tally) int { return t.Before50 }))
	goals = append(goals, detect(fmt.Sprintf("5× caught before GA in at least %s of runs wherever every step judges at least %d canary requests", pct(GoalCaught), FiveTimesRequests),
		"5×", FiveTimesRequests, func(t Tally) int { return t.BeforeGA }))

	g = Goal{Name: fmt.Sprintf("one failing route of five caught by the probes within %s of the shift, at any traffic", ProbeWithin), Met: true}
	var slowest time.Duration
	for _, t := range ts {
		if !t.Cell.Model.FailingRoute {
			continue
		}
		slowest = max(slowest, t.SlowestProbe)
		if t.ByProbes < t.Releases || t.SlowestProbe > ProbeWithin {
			g.Met = false
		}
	}
	g.Detail = fmt.Sprintf("slowest %s after the shift (a 500 from the shift on; a hung route: see the probe model)", slowest.Round(100*time.Millisecond))
	goals = append(goals, g)
	return goals
}

func rate(k, n int) float64 { return float64(k) / float64(max(n, 1)) }

// label names a cell in prose.
func (c GridCell) label() string {
	return fmt.Sprintf("%g/s, stable %s, %s", c.RPS, pct(c.Stable), c.Model.Name)
}

// pct renders a share as a percentage with the precision its size needs.
func pct(x float64) string {
	v := 100 * x
	switch {
	case v == 0:
		return "0%"
	case v == 100:
		return "100%"
	case v < 1 || v > 99:
		s := strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
		return s + "%"
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.1f", v), "0"), ".") + "%"
}

// TableHeader is the grid table's header row.
const TableHeader = "| traffic | stable fails | canary | false rollbacks (95% upper bound) | inconclusive | caught before 50% | caught before GA (95% lower bound) | caught by the probes | median time to 0% |"

// Markdown is the grid's table: one row per cell, in Cells order, then the canary's judged
// requests per step at each traffic, then the goals.
func Markdown(ts []Tally, releases, healthy int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d releases a cell (seeds 0 to %d), %d a cell of a healthy canary.\n\n", releases, releases-1, healthy)
	b.WriteString(TableHeader + "\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	for _, t := range ts {
		b.WriteString(Row(t) + "\n")
	}
	b.WriteString("\nThe canary's users' requests a step judged (mean over the healthy releases):\n\n")
	b.WriteString("| traffic | 10% step | 50% step | 100% step |\n|---|---|---|---|\n")
	for _, rps := range Traffic {
		var sum [3]int64
		var n [3]int
		for _, t := range ts {
			if t.Cell.RPS == rps && t.Cell.Model.Healthy {
				for i := range sum {
					sum[i] += t.Requests[i]
					n[i] += t.Steps[i]
				}
			}
		}
		fmt.Fprintf(&b, "| %s |", traffic(rps))
		for i := range sum {
			if n[i] == 0 {
				b.WriteString(" – |")
				continue
			}
			fmt.Fprintf(&b, " %.0f |", float64(sum[i])/float64(n[i]))
		}
		b.WriteString("\n")
	}
	b.WriteString("\nGoals:\n\n")
	for _, g := range Goals(ts) {
		met := "**met**"
		if !g.Met {
			met = "**not met**"
		}
		fmt.Fprintf(&b, "- %s: %s; %s.\n", g.Name, met, g.Detail)
	}
	return b.String()
}

// RowKey is the first three cells of a cell's row, which say which cell it is.
func RowKey(c GridCell) string {
	return fmt.Sprintf("| %s | %s | %s |", traffic(c.RPS), pct(c.Stable), c.Model.Name)
}

func traffic(rps float64) string { return fmt.Sprintf("%g/s", rps) }

// Row is one cell's row of the table.
func Row(t Tally) string {
	dash := "–"
	falseRB, before50, beforeGA, probes, median := dash, dash, dash, dash, dash
	n := t.Releases
	if t.Cell.Model.Healthy {
		falseRB = fmt.Sprintf("%s (≤ %s)", pct(rate(t.RolledBack, n)), pct(UpperBound(t.RolledBack, n, Confidence)))
	} else {
		before50 = pct(rate(t.Before50, n))
		beforeGA = fmt.Sprintf("%s (≥ %s)", pct(rate(t.BeforeGA, n)), pct(LowerBound(t.BeforeGA, n, Confidence)))
		probes = pct(rate(t.ByProbes, n))
		median = "never"
		if m, ok := t.MedianToZero(); ok {
			median = m.Round(time.Second).String()
		}
	}
	return fmt.Sprintf("%s %s | %s | %s | %s | %s | %s |", RowKey(t.Cell), falseRB, pct(rate(t.Inconclusive, n)), before50, beforeGA, probes, median)
}
