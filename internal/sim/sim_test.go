package sim

import (
	"flag"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slotless/slotless/internal/rollout"
)

// releases is how many releases each benchmark cell runs.
var releases = flag.Int("sim.releases", 200, "releases per cell of BenchmarkVerdicts")

// TestRun: single releases whose outcome is not in doubt, and the same seed giving the same
// release.
func TestRun(t *testing.T) {
	for _, tt := range []struct {
		name         string
		cell         Cell
		rolledBack   bool
		inconclusive bool
		at           int
		reason       string
	}{
		{"healthy at 10 requests a second", Cell{RPS: 10, StableFailure: 0.01, CanaryFailure: 0.01}, false, false, 100, ""},
		{"+10 points at 10 requests a second: caught at 10%", Cell{RPS: 10, StableFailure: 0.01, CanaryFailure: 0.11}, true, false, 10, "failure-rate"},
		{"half its requests lost: caught at 10%", Cell{RPS: 10, StableFailure: 0.01, CanaryFailure: 0.01, CanaryLost: 0.5}, true, false, 10, "sample-ratio"},
		{"a request every ten seconds: too little to judge", Cell{RPS: 0.1, StableFailure: 0.01, CanaryFailure: 0.01}, true, true, 10, "nobody saw the canary"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := Run(tt.cell, 3)
			if r.RolledBack != tt.rolledBack || r.Inconclusive != tt.inconclusive || r.At != tt.at || !strings.Contains(r.Reason, tt.reason) {
				t.Errorf("got %+v, want rolled back %v (inconclusive %v) at %d%% for %q", r, tt.rolledBack, tt.inconclusive, tt.at, tt.reason)
			}
			if tt.rolledBack && (r.TimeToZero <= 0 || r.Outcome != rollout.OutcomeRolledBack) {
				t.Errorf("got %+v, want a rollback with its time to 0%%", r)
			}
			if again := Run(tt.cell, 3); again != r {
				t.Errorf("the same seed: got %+v, then %+v", r, again)
			}
		})
	}
}

// Tally is what many releases of one cell came to.
type Tally struct {
	Releases, RolledBack, Inconclusive int
	// Before50 and Before100 count rollbacks at 10% and below 100%.
	Before50, Before100 int
	times               []time.Duration
}

// Add counts one release.
func (t *Tally) Add(r Result) {
	t.Releases++
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
		t.Before100++
	}
	t.times = append(t.times, r.TimeToZero)
}

// Median is the median time to 0% of the rollbacks that were verdicts.
func (t *Tally) Median() time.Duration {
	if len(t.times) == 0 {
		return 0
	}
	s := slices.Clone(t.times)
	slices.Sort(s)
	return s[len(s)/2]
}

func pct(n, of int) float64 { return 100 * float64(n) / float64(max(of, 1)) }

// BenchmarkVerdicts runs -sim.releases releases in each of a few cells at the default plan
// (10 → 50 → 100, 10-minute bakes) and reports, per cell: the share rolled back on a verdict
// (for a healthy canary, false rollbacks), the share stopped for too little data, the share
// caught before 50% and before 100%, and the median time from the first shift to 0%.
//
//	go test -run XXX -bench BenchmarkVerdicts -benchtime 1x ./internal/sim/ -sim.releases 2000
func BenchmarkVerdicts(b *testing.B) {
	type model struct {
		name   string
		canary func(stable float64) float64
	}
	healthy := model{"healthy", func(s float64) float64 { return s }}
	fiveTimes := model{"5x", func(s float64) float64 { return 5 * s }}
	plusTen := model{"+10pt", func(s float64) float64 { return s + 0.10 }}
	type cell struct {
		rps, stable float64
		m           model
	}
	var cells []cell
	// Every traffic and base rate of the grid for a healthy canary: the false rollbacks.
	for _, rps := range []float64{0.5, 1, 10, 100} {
		for _, stable := range []float64{0.001, 0.01, 0.05} {
			cells = append(cells, cell{rps, stable, healthy})
		}
	}
	// The detection goals where they bind: 5× at 500 and more requests a step, +10 points at
	// 200 in the 10% step (3.34 requests a second) and at 10 a second.
	cells = append(cells, cell{10, 0.001, fiveTimes}, cell{10, 0.01, fiveTimes}, cell{10, 0.05, fiveTimes}, cell{100, 0.001, fiveTimes},
		cell{3.34, 0.05, plusTen}, cell{3.34, 0.01, plusTen}, cell{3.34, 0.001, plusTen}, cell{10, 0.05, plusTen})
	for _, c := range cells {
		b.Run(fmt.Sprintf("rps=%g/stable=%g%%/%s", c.rps, 100*c.stable, c.m.name), func(b *testing.B) {
			for range b.N {
				var t Tally
				for seed := range uint64(*releases) {
					t.Add(Run(Cell{RPS: c.rps, StableFailure: c.stable, CanaryFailure: c.m.canary(c.stable)}, seed))
				}
				b.ReportMetric(pct(t.RolledBack, t.Releases), "%rolled-back")
				b.ReportMetric(pct(t.Inconclusive, t.Releases), "%inconclusive")
				b.ReportMetric(pct(t.Before50, t.Releases), "%before-50")
				b.ReportMetric(pct(t.Before100, t.Releases), "%before-100")
				b.ReportMetric(t.Median().Seconds(), "s-median-to-0")
			}
		})
	}
}
