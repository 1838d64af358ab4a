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
