package sim

import (
	"fmt"
	"strings"
)

// Sizing your bakes: how many canary requests the 10% step must judge for each detection goal
// to be met, at each of the grid's stable failure rates. The release's own rules are measured
// by simulation on a ladder of traffic; what no test could do on fewer is computed exactly
// (OraclePower), with the whole of a release's false-rollback budget spent on one test that
// knows the stable slot's rate.

// SizingLadder are the canary requests in the 10% step the sizing tries, in order.
var SizingLadder = []int{100, 150, 200, 250, 300, 400, 500, 750, 1000, 1500, 2000, 3000, 5000}

// SizingGoal is a detection goal to size for.
type SizingGoal struct {
	Name  string
	Model Model
	// BeforeGA counts catches below 100%; otherwise catches at 10% only.
	BeforeGA bool
}

// SizingGoals are the grid's two detection goals.
var SizingGoals = []SizingGoal{
	{Name: "+10 points, caught before 50%", Model: Models[3]},
	{Name: "5×, caught before GA", Model: Models[2], BeforeGA: true},
}

// Sized is one goal's sizing at one stable rate.
type Sized struct {
	Goal   SizingGoal
	Stable float64
	// Requests is the least rung of SizingLadder at which the release caught at least
	// GoalCaught of Releases bad canaries; 0 when none did. Caught is how many it caught there.
	Requests, Caught, Releases int
	// Tried are the rungs run, with what each caught.
	Tried [][2]int
	// Oracle is the least canary requests before the goal's deadline with which a test that
	// knew the stable rate, at the release's whole budget GoalFalseRollbacks, would catch
	// GoalCaught; OracleStep the 10% step's share of it.
	Oracle, OracleStep int
}

// Size runs the sizing: perRPS is the canary's judged requests in the 10% step for each request
// a second of traffic, and later the judged requests of the later steps below 100% for each of
// the 10% step's (both from healthy releases: Calibration); grid.Releases are run per rung,
// with grid's plan and workers.
func Size(perRPS, later float64, grid Grid, progress func(Sized)) []Sized {
	releases := grid.Releases
	grid.Healthy, grid.Progress = releases, nil
	var out []Sized
	for _, g := range SizingGoals {
		for _, s := range StableRates {
			sz := Sized{Goal: g, Stable: s, Releases: releases}
			for _, r := range SizingLadder {
				cell := GridCell{RPS: float64(r) / perRPS, Stable: s, Model: g.Model}
				t := grid.Run([]GridCell{cell})[0]
				caught := t.Before50
				if g.BeforeGA {
					caught = t.BeforeGA
				}
				sz.Tried = append(sz.Tried, [2]int{r, caught})
				if rate(caught, releases) >= GoalCaught {
					sz.Requests, sz.Caught = r, caught
					break
				}
			}
			p1 := g.Model.Canary(s)
			for n := 1; n < 1_000_000; n++ {
				total := n
				if g.BeforeGA {
					total = int(float64(n) * (1 + later))
				}
				if OraclePower(int64(total), s, p1, GoalFalseRollbacks) >= GoalCaught {
					sz.Oracle, sz.OracleStep = total, n
					break
				}
			}
			if progress != nil {
				progress(sz)
			}
			out = append(out, sz)
		}
	}
	return out
}

// SizingHeader is the sizing table's header row.
const SizingHeader = "| goal | stable fails | canary requests the 10% step needs (the release's rules, simulated) | no test can on fewer than |"

// SizingMarkdown is the sizing table.
func SizingMarkdown(sz []Sized) string {
	var b strings.Builder
	b.WriteString(SizingHeader + "\n|---|---|---|---|\n")
	for _, s := range sz {
		b.WriteString(SizingRow(s) + "\n")
	}
	return b.String()
}

// SizingRow is one goal's row at one stable rate.
func SizingRow(s Sized) string {
	need := fmt.Sprintf("more than %d", SizingLadder[len(SizingLadder)-1])
	if s.Requests > 0 {
		need = fmt.Sprintf("%d (caught %d of %d, ≥ %s)", s.Requests, s.Caught, s.Releases, pct(LowerBound(s.Caught, s.Releases, Confidence)))
	}
	var tried []string
	for _, t := range s.Tried {
		if t[0] != s.Requests {
			tried = append(tried, fmt.Sprintf("%d: %s", t[0], pct(rate(t[1], s.Releases))))
		}
	}
	if len(tried) > 0 {
		need += "; fewer: " + strings.Join(tried, ", ")
	}
	oracle := fmt.Sprintf("%d", s.OracleStep)
	if s.Goal.BeforeGA {
		oracle = fmt.Sprintf("%d (%d before GA)", s.OracleStep, s.Oracle)
	}
	return fmt.Sprintf("| %s | %s | %s | %s |", s.Goal.Name, pct(s.Stable), need, oracle)
}

// Calibration is what the sizing needs from the grid's healthy releases at the highest
// traffic: the canary's judged requests in the 10% step per request a second, and the judged
// requests of the steps after it below 100% per request of the 10% step's.
func Calibration(ts []Tally) (perRPS, later float64) {
	var best Tally
	for _, t := range ts {
		if t.Cell.Model.Healthy && t.Steps[0] > 0 && t.Cell.RPS > best.Cell.RPS {
			best = t
		}
	}
	if best.Steps[0] == 0 {
		return 65, 5.2
	}
	return best.MeanRequests(0) / best.Cell.RPS, best.MeanRequests(1) / best.MeanRequests(0)
}

// SizingNote says how the sizing table was made.
func SizingNote(perRPS, later float64, releases int) string {
	return fmt.Sprintf("Sizing: %d releases a rung, the traffic set so that the 10%% step judges the rung's canary requests on average (%.1f a step for each request a second; the 50%% step judges %.2f times as many). The least rung that caught at least %s, and what no test could do on fewer: the exact one-sided binomial test that knows the stable slot's rate, at the whole %s of a release's false-rollback budget.",
		releases, perRPS, later, pct(GoalCaught), pct(GoalFalseRollbacks))
}
