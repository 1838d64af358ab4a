package gate

import (
	"fmt"
	"math"
	"math/big"
	"testing"
)

// exactFisherGreater is the one-sided Fisher p-value in exact rational arithmetic: the sum of
// the hypergeometric probabilities of x1 or more failures in the first group.
func exactFisherGreater(x1, n1, x2, n2 int64) float64 {
	total, failures := n1+n2, x1+x2
	den := new(big.Int).Binomial(total, n1)
	num := new(big.Int)
	for x := x1; x <= min(failures, n1); x++ {
		if failures-x > n2 {
			continue
		}
		t := new(big.Int).Binomial(failures, x)
		t.Mul(t, new(big.Int).Binomial(total-failures, n1-x))
		num.Add(num, t)
	}
	f, _ := new(big.Rat).SetFrac(num, den).Float64()
	return f
}

// exactBinomialAtMost is P(X <= k) for Binomial(n, p) in big floats.
func exactBinomialAtMost(k, n int64, p float64) float64 {
	sum := new(big.Float).SetPrec(256)
	bp, bq := new(big.Float).SetPrec(256).SetFloat64(p), new(big.Float).SetPrec(256).SetFloat64(1-p)
	for x := int64(0); x <= k; x++ {
		t := new(big.Float).SetPrec(256).SetInt(new(big.Int).Binomial(n, x))
		for range x {
			t.Mul(t, bp)
		}
		for range n - x {
			t.Mul(t, bq)
		}
		sum.Add(sum, t)
	}
	f, _ := sum.Float64()
	return f
}

func closeTo(got, want float64) bool {
	if want == 0 {
		return got < 1e-300
	}
	return math.Abs(got-want) <= 1e-9*math.Abs(want)+1e-15
}

// TestFisherGreater: known values (Fisher's tea-tasting table, 3 of 4 against 1 of 4, one-sided
// p 17/70) and, over tables from a handful of requests to a thousand, the same p-value as exact
// rational arithmetic, whichever side of the mode the observation falls.
func TestFisherGreater(t *testing.T) {
	for _, tt := range []struct {
		x1, n1, x2, n2 int64
		want           float64
	}{
		{3, 4, 1, 4, 17.0 / 70},
		{2, 50, 0, 450, 1225.0 / 124750}, // both failures on the canary: C(50,2)/C(500,2)
		{0, 50, 5, 450, 1},
		{1, 4, 3, 4, 1 - 1.0/70},
		{0, 0, 3, 10, 1},
		{5, 5, 0, 5, 1.0 / 252},
	} {
		if got := FisherGreater(tt.x1, tt.n1, tt.x2, tt.n2); !closeTo(got, tt.want) {
			t.Errorf("FisherGreater(%d/%d vs %d/%d): got %.12g, want %.12g", tt.x1, tt.n1, tt.x2, tt.n2, got, tt.want)
		}
	}
	for _, tab := range [][4]int64{
		{2, 55, 5, 495}, {7, 60, 6, 540}, {30, 600, 54, 5400}, {12, 250, 3, 250}, {0, 100, 0, 900},
		{1, 1000, 0, 1}, {45, 45, 1, 405}, {3, 600, 5, 5400}, {15, 1000, 1, 1000}, {250, 1000, 240, 1000},
	} {
		want := exactFisherGreater(tab[0], tab[1], tab[2], tab[3])
		if got := FisherGreater(tab[0], tab[1], tab[2], tab[3]); !closeTo(got, want) {
			t.Errorf("FisherGreater(%v): got %.15g, want %.15g", tab, got, want)
		}
	}
}

// TestBinomialAtMost: the lower tail against big-float sums, below and above the mode, and at
// the edges.
func TestBinomialAtMost(t *testing.T) {
	for _, tt := range []struct {
		k, n int64
		p    float64
	}{
		{0, 10, 0.5}, {3, 10, 0.5}, {7, 10, 0.5}, {20, 600, 0.1}, {60, 600, 0.1}, {90, 600, 0.07},
		{0, 1000, 0.01}, {400, 1000, 0.3}, {5, 50, 0.1},
	} {
		want := exactBinomialAtMost(tt.k, tt.n, tt.p)
		if got := BinomialAtMost(tt.k, tt.n, tt.p); !closeTo(got, want) {
			t.Errorf("BinomialAtMost(%d, %d, %g): got %.15g, want %.15g", tt.k, tt.n, tt.p, got, want)
		}
	}
	for _, tt := range []struct {
		k, n int64
		p    float64
		want float64
	}{
		{-1, 10, 0.5, 0}, {10, 10, 0.5, 1}, {3, 10, 0, 1}, {3, 10, 1, 0},
	} {
		if got := BinomialAtMost(tt.k, tt.n, tt.p); got != tt.want {
			t.Errorf("BinomialAtMost(%d, %d, %g): got %g, want %g", tt.k, tt.n, tt.p, got, tt.want)
		}
	}
}

// BenchmarkFisherGreater: a window at 100 requests a second, and a whole step of one.
func BenchmarkFisherGreater(b *testing.B) {
	for _, tab := range [][4]int64{{30, 600, 54, 5400}, {300, 6000, 2700, 54000}} {
		b.Run(fmt.Sprint(tab), func(b *testing.B) {
			for range b.N {
				FisherGreater(tab[0], tab[1], tab[2], tab[3])
			}
		})
	}
}

// TestFisherStratifiedGreater: one stratum is Fisher's test; two are the exact convolution,
// checked against enumerating every pair of tables in rational arithmetic; and two slots that
// fail alike within each stratum are not told apart, though their pooled counts would be.
func TestFisherStratifiedGreater(t *testing.T) {
	for _, s := range []Stratum{{3, 4, 1, 4}, {2, 55, 5, 495}, {30, 600, 54, 5400}} {
		if got, want := FisherStratifiedGreater([]Stratum{s}), FisherGreater(s.X1, s.N1, s.X2, s.N2); !closeTo(got, want) {
			t.Errorf("one stratum %v: got %.12g, want Fisher's %.12g", s, got, want)
		}
	}
	// Two strata: every pair (a, b) of first-group counts whose sum reaches the observed one.
	a, b := Stratum{2, 20, 1, 30}, Stratum{3, 25, 2, 25}
	pmf := func(s Stratum, x int64) *big.Rat {
		k := s.X1 + s.X2
		num := new(big.Int).Mul(new(big.Int).Binomial(k, x), new(big.Int).Binomial(s.N1+s.N2-k, s.N1-x))
		return new(big.Rat).SetFrac(num, new(big.Int).Binomial(s.N1+s.N2, s.N1))
	}
	want := new(big.Rat)
	for x := int64(0); x <= a.X1+a.X2; x++ {
		for y := int64(0); y <= b.X1+b.X2; y++ {
			if x+y >= a.X1+b.X1 && x <= a.N1 && y <= b.N1 {
				want.Add(want, new(big.Rat).Mul(pmf(a, x), pmf(b, y)))
			}
		}
	}
	w, _ := want.Float64()
	if got := FisherStratifiedGreater([]Stratum{a, b}); !closeTo(got, w) {
		t.Errorf("two strata: got %.15g, want %.15g", got, w)
	}
	// Both slots fail 1% in the first stratum and 10% in the second, where the canary has most
	// of its requests: pooled, the canary looks five times worse; stratified, it is not.
	alike := []Stratum{{1, 100, 9, 900}, {50, 500, 50, 500}}
	if pooled := FisherGreater(51, 600, 59, 1400); pooled > 1e-3 {
		t.Fatalf("pooled: got p %g, want the paradox to show (p below 0.001)", pooled)
	}
	if got := FisherStratifiedGreater(alike); got < 0.3 {
		t.Errorf("stratified: got p %g, want no difference", got)
	}
}
