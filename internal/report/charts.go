package report

import (
	"fmt"
	"time"

	"github.com/slotless/slotless/internal/rollout"
)

// charts are the report's charts, top to bottom, all over the same time axis.
func (v view) charts() []chart {
	return []chart{v.trafficChart(), v.failureChart(), v.p95Chart(), v.probeChart(), v.warmupChart()}
}

func (v view) base(id, title, unit string) chart {
	return chart{ID: id, Title: title, Unit: unit, t0: v.t0, t1: v.t1, Marks: v.marks}
}

// dots marks every analysis's verdict at the value pick gives it; an analysis pick has no value
// for is not drawn.
func (v view) dots(pick func(analysis) (float64, bool)) []dot {
	var out []dot
	for _, a := range v.analyses {
		if y, ok := pick(a); ok {
			title := fmt.Sprintf("analysis %d of the step to %d%% at %s: %s", a.N, a.To, elapsed(v.t0, a.At), a.Verdict)
			if c := cause(a.Analysis); c != "" && a.Verdict != rollout.VerdictPass {
				title += " (" + c + ")"
			}
			out = append(out, dot{At: a.At, V: y, Verdict: a.Verdict, Title: title})
		}
	}
	return out
}

func (v view) trafficChart() chart {
	c := v.base("traffic", fmt.Sprintf("%s's share of traffic, with each analysis's verdict", orDash(string(v.rec.Slot))), "%")
	c.YMax = 100
	s := series{Name: "share", Class: "traffic", Step: true}
	for _, p := range v.traffic {
		s.Points = append(s.Points, xy{p.At, float64(p.Share)})
	}
	c.Series = []series{s}
	c.Dots = v.dots(func(a analysis) (float64, bool) { return float64(v.shareAt(a.At)), true })
	return c
}

// shareAt is the release slot's share at t.
func (v view) shareAt(t time.Time) int {
	share := 0
	for _, p := range v.traffic {
		if p.At.After(t) {
			break
		}
		share = p.Share
	}
	return share
}

// comparison is the canary's and the stable slot's value at each analysis that has one, and
// the limit the canary was held to; top is the largest value drawn.
func (v view) comparison(value func(analysis) (canary, stable float64, ok bool), limit func(stable float64) (float64, bool)) (out []series, top float64) {
	canary := series{Name: "canary", Class: "canary"}
	stable := series{Name: "stable", Class: "stable"}
	thr := series{Name: "threshold", Class: "threshold"}
	for _, a := range v.analyses {
		c, s, ok := value(a)
		if !ok {
			continue
		}
		canary.Points = append(canary.Points, xy{a.At, c})
		stable.Points = append(stable.Points, xy{a.At, s})
		top = max(top, c, s)
		if l, ok := limit(s); ok {
			thr.Points = append(thr.Points, xy{a.At, l})
			top = max(top, l)
		}
	}
	if len(canary.Points) == 0 {
		return nil, 0
	}
	// The canary is drawn last, on top of the stable slot where they agree.
	out = []series{stable, canary}
	if len(thr.Points) > 0 {
		out = append(out, thr)
	}
	return out, top
}

func metricsFigures(m *rollout.Check) bool { return m != nil && m.Canary != nil && m.Stable != nil }

func (v view) failureChart() chart {
	c := v.base("failures", "Failure rate per metrics window (AppRequests), canary against stable", "%")
	var top float64
	c.Series, top = v.comparison(func(a analysis) (float64, float64, bool) {
		m := a.Metrics
		if !metricsFigures(m) {
			return 0, 0, false
		}
		return 100 * m.Canary.FailureRate, 100 * m.Stable.FailureRate, true
	}, func(stable float64) (float64, bool) {
		// The smallest effect that matters: both parts (schema version 3), or the delta alone.
		return max(stable+100*v.thr.MaxFailureRateDelta, stable*v.thr.MaxFailureRateRatio), v.rec.Thresholds != nil
	})
	c.YMax = niceMax(top*1.1, 5)
	c.Empty = "no metrics window was judged"
	c.Dots = v.dots(func(a analysis) (float64, bool) {
		if !metricsFigures(a.Metrics) {
			return 0, false
		}
		return 100 * a.Metrics.Canary.FailureRate, true
	})
	return c
}

func (v view) p95Chart() chart {
	c := v.base("p95", "p95 latency per metrics window, canary against stable", "ms")
	var top float64
	c.Series, top = v.comparison(func(a analysis) (float64, float64, bool) {
		m := a.Metrics
		if !metricsFigures(m) || m.Canary.Requests == 0 {
			return 0, 0, false
		}
		return m.Canary.P95Ms, m.Stable.P95Ms, true
	}, func(stable float64) (float64, bool) {
		// A p95 fails above both the ratio and the floor (schema version 3; 0 before).
		return max(stable*v.thr.MaxP95Ratio, stable+v.thr.P95FloorMs), v.rec.Thresholds != nil && stable > 0
	})
	c.YMax = niceMax(top*1.1, 10)
	c.Empty = "no metrics window had requests"
	return c
}

func (v view) probeChart() chart {
	c := v.base("probes", "Probe failure rate (releaseProbes), canary against stable", "%")
	probed := func(a analysis) bool { return a.Probes != nil && a.Probes.Canary.Probes > 0 }
	var top float64
	c.Series, top = v.comparison(func(a analysis) (float64, float64, bool) {
		if !probed(a) {
			return 0, 0, false
		}
		return 100 * a.Probes.Canary.FailureRate, 100 * a.Probes.Stable.FailureRate, true
	}, func(stable float64) (float64, bool) {
		return stable + 100*v.thr.ProbeMaxFailureRateDelta, v.rec.Thresholds != nil
	})
	c.Dots = v.dots(func(a analysis) (float64, bool) {
		if !probed(a) {
			return 0, false
		}
		return 100 * a.Probes.Canary.FailureRate, true
	})
	c.YMax = niceMax(top*1.1, 5)
	c.Empty = "no probes: the stack sets no releaseProbes"
	return c
}

func (v view) warmupChart() chart {
	c := v.base("warmup", "Warm-up before each shift: slowest answer of its rounds", "ms")
	cold := series{Name: "first round", Class: "cold"}
	warm := series{Name: "last round", Class: "warm"}
	bound := series{Name: "bound", Class: "threshold"}
	top := 0.0
	for _, s := range v.rec.StepsTaken {
		if s.Warmup == nil {
			continue
		}
		at := s.ShiftStarted
		if at.IsZero() {
			at = v.t1
		}
		cold.Points = append(cold.Points, xy{at, float64(s.Warmup.ColdMs)})
		warm.Points = append(warm.Points, xy{at, float64(s.Warmup.WarmMs)})
		verdict := rollout.VerdictPass
		if s.Warmup.Error != "" {
			verdict = rollout.VerdictFail
		}
		c.Dots = append(c.Dots, dot{At: at, V: float64(s.Warmup.WarmMs), Verdict: verdict,
			Title: fmt.Sprintf("warm-up before %d%%: %d rounds, first %d ms, last %d ms %s", s.To, s.Warmup.Rounds, s.Warmup.ColdMs, s.Warmup.WarmMs, s.Warmup.Error)})
		top = max(top, float64(s.Warmup.ColdMs), float64(s.Warmup.WarmMs))
	}
	if len(cold.Points) > 0 {
		c.Series = []series{cold, warm}
		if b := v.thr.WarmupLatencyMs; b > 0 {
			bound.Points = []xy{{v.t0, float64(b)}, {v.t1, float64(b)}}
			c.Series = append(c.Series, bound)
			top = max(top, float64(b))
		}
	}
	c.YMax = niceMax(top*1.1, 10)
	c.Empty = "no warm-up: no step shifted traffic"
	return c
}
