package sim

import (
	"math"

	"github.com/slotless/slotless/internal/gate"
)

// Exact power: how often a test catches a canary failing at pc when the stable slot fails at ps,
// computed by summing over the binomial outcomes rather than by simulation. It sizes bakes
// ("How often the gates are wrong" in docs/performance.md) and bounds what any test could do.

// FisherPower is the chance that gate.Judge's failure-rate comparison fails a canary of nc
// requests failing at pc against a stable slot of ns requests failing at ps, at the one-sided
// level alpha with the smallest effect of t: the sum, over the stable slot's failure counts, of
// the chance that the canary's count reaches the least that fails. That least count is found
// by bisection, since both the p-value and the effect only grow with the canary's failures.
func FisherPower(nc int64, pc float64, ns int64, ps float64, alpha float64, t gate.Thresholds) float64 {
	fails := func(x, y int64) bool {
		rc, rs := float64(x)/float64(nc), float64(y)/float64(ns)
		if !(rc-rs > t.MaxFailureRateDelta+1e-9 && rc > t.MaxFailureRateRatio*rs*(1+1e-9)) {
			return false
		}
		return gate.FisherGreater(x, nc, y, ns) < alpha
	}
	var power float64
	lo, hi := binomialSpan(ns, ps)
	for y := lo; y <= hi; y++ {
		w := binomialPMF(y, ns, ps)
		if w == 0 {
			continue
		}
		if !fails(nc, y) {
			continue
		}
		// The least x that fails, in (a, b].
		a, b := int64(-1), nc
		for b-a > 1 {
			m := (a + b) / 2
			if fails(m, y) {
				b = m
			} else {
				a = m
			}
		}
		power += w * (1 - gate.BinomialAtMost(b-1, nc, pc))
	}
	return math.Min(power, 1)
}

// OraclePower is the most any test can do with n canary requests when the stable slot's rate
// p0 is known exactly (no stable slot's noise to allow for) and at most alpha of healthy
// canaries may fail it: the exact one-sided binomial test, whose critical count is the least c
// with P(X >= c) <= alpha at p0, against a canary failing at p1 (Neyman–Pearson: no test at
// that level is more powerful against it).
func OraclePower(n int64, p0, p1, alpha float64) float64 {
	c := int64(0)
	for ; c <= n && 1-gate.BinomialAtMost(c-1, n, p0) > alpha; c++ {
	}
	return 1 - gate.BinomialAtMost(c-1, n, p1)
}

// binomialSpan bounds the counts of Binomial(n, p) that carry any weight: twelve standard
// deviations and ten counts either side of the mean leave out less than 1e-12.
func binomialSpan(n int64, p float64) (int64, int64) {
	mean, sd := float64(n)*p, math.Sqrt(float64(n)*p*(1-p))
	lo := max(0, int64(mean-12*sd-10))
	hi := min(n, int64(mean+12*sd+10))
	return lo, hi
}

// binomialPMF is P(X = k) for X ~ Binomial(n, p).
func binomialPMF(k, n int64, p float64) float64 {
	switch {
	case p <= 0:
		if k == 0 {
			return 1
		}
		return 0
	case p >= 1:
		if k == n {
			return 1
		}
		return 0
	}
	l1, _ := math.Lgamma(float64(n + 1))
	l2, _ := math.Lgamma(float64(k + 1))
	l3, _ := math.Lgamma(float64(n - k + 1))
	return math.Exp(l1 - l2 - l3 + float64(k)*math.Log(p) + float64(n-k)*math.Log1p(-p))
}
