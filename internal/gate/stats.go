package gate

import "math"

// The metrics gate's statistics: exact tail probabilities of the hypergeometric and binomial
// distributions, in log space through math.Lgamma so that tables of tens of thousands of
// requests neither overflow nor lose the small p-values a verdict turns on. Each sum starts at
// the observed count and walks away from the distribution's mode, where every term is smaller
// than the one before, so it stops as soon as a term no longer changes the sum.

// tailEpsilon is where a sum stops: once a term is below this fraction of the sum so far, the
// ones after it (each smaller still) cannot change a double.
const tailEpsilon = 1e-17

// logChoose is log C(n, k).
func logChoose(n, k int64) float64 {
	return lgamma(n+1) - lgamma(k+1) - lgamma(n-k+1)
}

func lgamma(n int64) float64 {
	v, _ := math.Lgamma(float64(n))
	return v
}

// FisherGreater is the one-sided p-value of Fisher's exact test that the first group's rate
// (x1 of n1) is higher than the second's (x2 of n2): the probability, with both groups' totals
// and the total of failures fixed, that the first group holds x1 or more of the failures. A
// small value says the first group fails more often than chance would make it look.
//
// Conditioning on the margins makes the test exact at any count, where a normal approximation
// is wrong exactly at the few failures a thin canary window holds.
func FisherGreater(x1, n1, x2, n2 int64) float64 {
	if n1 <= 0 || n2 <= 0 || x1 < 0 || x2 < 0 || x1 > n1 || x2 > n2 {
		return 1
	}
	total, failures := n1+n2, x1+x2
	lo, hi := max(0, failures-n2), min(failures, n1)
	if failures == 0 || x1 <= lo {
		return 1
	}
	// log P(X = x) for X ~ Hypergeometric(total, failures, n1).
	logP := func(x int64) float64 {
		return logChoose(failures, x) + logChoose(total-failures, n1-x) - logChoose(total, n1)
	}
	mode := (n1 + 1) * (failures + 1) / (total + 2)
	if x1 > mode {
		// P(X >= x1): terms fall from x1 upwards. The ratio of successive terms is
		// P(x+1)/P(x) = (failures-x)(n1-x) / ((x+1)(total-failures-n1+x+1)).
		term := math.Exp(logP(x1))
		sum := term
		for x := x1; x < hi && term > sum*tailEpsilon; x++ {
			term *= float64(failures-x) * float64(n1-x) / (float64(x+1) * float64(total-failures-n1+x+1))
			sum += term
		}
		return math.Min(sum, 1)
	}
	// x1 at or below the mode: P(X >= x1) = 1 - P(X <= x1-1), whose terms fall from x1-1
	// downwards.
	x := x1 - 1
	term := math.Exp(logP(x))
	sum := term
	for ; x > lo && term > sum*tailEpsilon; x-- {
		// P(x-1)/P(x) = x(total-failures-n1+x) / ((failures-x+1)(n1-x+1)).
		term *= float64(x) * float64(total-failures-n1+x) / (float64(failures-x+1) * float64(n1-x+1))
		sum += term
	}
	return math.Max(0, 1-sum)
}

// BinomialAtMost is P(X <= k) for X ~ Binomial(n, p): how likely k or fewer successes are in n
// trials when each succeeds with probability p.
func BinomialAtMost(k, n int64, p float64) float64 {
	switch {
	case k < 0:
		return 0
	case k >= n || p <= 0:
		return 1
	case p >= 1:
		return 0
	}
	logP := func(x int64) float64 {
		return logChoose(n, x) + float64(x)*math.Log(p) + float64(n-x)*math.Log1p(-p)
	}
	mode := int64(float64(n+1) * p)
	if k < mode {
		// Terms fall from k downwards: P(x-1)/P(x) = x(1-p) / ((n-x+1)p).
		term := math.Exp(logP(k))
		sum := term
		for x := k; x > 0 && term > sum*tailEpsilon; x-- {
			term *= float64(x) * (1 - p) / (float64(n-x+1) * p)
			sum += term
		}
		return math.Min(sum, 1)
	}
	// P(X <= k) = 1 - P(X >= k+1), whose terms fall from k+1 upwards:
	// P(x+1)/P(x) = (n-x)p / ((x+1)(1-p)).
	x := k + 1
	term := math.Exp(logP(x))
	sum := term
	for ; x < n && term > sum*tailEpsilon; x++ {
		term *= float64(n-x) * p / (float64(x+1) * (1 - p))
		sum += term
	}
	return math.Max(0, 1-sum)
}

// Stratum is one 2×2 table of a stratified comparison: the first group's x1 failures of n1
// against the second's x2 of n2.
type Stratum struct{ X1, N1, X2, N2 int64 }

// FisherStratifiedGreater is the one-sided p-value of the exact conditional test that the first
// group fails more often than the second across strata with a common odds ratio of 1: with every
// stratum's margins fixed, the probability that the first group's failures add up to their
// observed total or more, the distribution of that sum being the convolution of the strata's
// hypergeometric distributions (the exact form of the Cochran–Mantel–Haenszel test; Mehta,
// Patel and Gray, JASA 1985). Pooling the strata's counts into one table instead can make two
// slots that fail alike look different when both fail more in one stratum than another
// (Simpson's paradox); conditioning on each stratum cannot.
func FisherStratifiedGreater(strata []Stratum) float64 {
	// dist[k] is the probability that the strata so far give the first group k failures above
	// their lowest possible sum, offset.
	dist, offset, observed := []float64{1}, int64(0), int64(0)
	for _, s := range strata {
		if s.N1 <= 0 || s.N2 <= 0 || s.X1+s.X2 == 0 {
			continue
		}
		total, failures := s.N1+s.N2, s.X1+s.X2
		lo, hi := max(0, failures-s.N2), min(failures, s.N1)
		// The stratum's pmf, trimmed to where it carries weight: terms fall away from the
		// mode geometrically, so the tails below tailEpsilon of the peak change no sum.
		mode := (s.N1 + 1) * (failures + 1) / (total + 2)
		mode = min(max(mode, lo), hi)
		logPeak := logChoose(failures, mode) + logChoose(total-failures, s.N1-mode) - logChoose(total, s.N1)
		pmf := map[int64]float64{mode: math.Exp(logPeak)}
		from, to := mode, mode
		for x, p := mode, pmf[mode]; x < hi; x++ {
			p *= float64(failures-x) * float64(s.N1-x) / (float64(x+1) * float64(total-failures-s.N1+x+1))
			if p < pmf[mode]*tailEpsilon {
				break
			}
			pmf[x+1], to = p, x+1
		}
		for x, p := mode, pmf[mode]; x > lo; x-- {
			p *= float64(x) * float64(total-failures-s.N1+x) / (float64(failures-x+1) * float64(s.N1-x+1))
			if p < pmf[mode]*tailEpsilon {
				break
			}
			pmf[x-1], from = p, x-1
		}
		next := make([]float64, len(dist)+int(to-from))
		for i, d := range dist {
			if d == 0 {
				continue
			}
			for x := from; x <= to; x++ {
				next[i+int(x-from)] += d * pmf[x]
			}
		}
		dist, offset, observed = next, offset+from, observed+s.X1
	}
	var p float64
	for i := len(dist) - 1; i >= 0 && offset+int64(i) >= observed; i-- {
		p += dist[i]
	}
	if observed <= offset {
		return 1
	}
	return math.Min(p, 1)
}
