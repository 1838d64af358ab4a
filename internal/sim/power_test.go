package sim

import (
	"math"
	"testing"

	"github.com/slotless/slotless/internal/gate"
)

// rejectRate is the exact chance that reject fails a window of nc canary requests failing at pc
// against ns stable requests failing at ps: the sum over both binomial counts.
func rejectRate(nc int64, pc float64, ns int64, ps float64, reject func(x, y int64) bool) float64 {
	var sum float64
	ylo, yhi := binomialSpan(ns, ps)
	xlo, xhi := binomialSpan(nc, pc)
	for y := ylo; y <= yhi; y++ {
		wy := binomialPMF(y, ns, ps)
		for x := xlo; x <= xhi; x++ {
			if reject(x, y) {
				sum += wy * binomialPMF(x, nc, pc)
			}
		}
	}
	return sum
}

// zOneSided is the 99th percentile of the standard normal: the one-sided 1% level.
const zOneSided = 2.3263478740408408

// Three ways to compare a canary window with the stable slot's at a one-sided 1% level, the
// candidates docs/releases.md ("How the metrics gate decides") weighs.
var windowTests = map[string]func(nc, ns int64) func(x, y int64) bool{
	// Fisher's exact test, as gate.Judge runs it.
	"fisher": func(nc, ns int64) func(x, y int64) bool {
		return func(x, y int64) bool { return gate.FisherGreater(x, nc, y, ns) < 0.01 }
	},
	// The normal approximation: the pooled two-proportion z-test.
	"normal": func(nc, ns int64) func(x, y int64) bool {
		return func(x, y int64) bool {
			p := float64(x+y) / float64(nc+ns)
			se := math.Sqrt(p * (1 - p) * (1/float64(nc) + 1/float64(ns)))
			return se > 0 && (float64(x)/float64(nc)-float64(y)/float64(ns))/se > zOneSided
		}
	},
	// A Wilson-bound comparison: the canary's 99% lower bound above the stable slot's 99%
	// upper bound.
	"wilson": func(nc, ns int64) func(x, y int64) bool {
		return func(x, y int64) bool {
			lo, _ := wilsonBounds(x, nc, zOneSided)
			_, hi := wilsonBounds(y, ns, zOneSided)
			return lo > hi
		}
	},
}

// wilsonBounds is the Wilson score interval of x in n at z.
func wilsonBounds(x, n int64, z float64) (lo, hi float64) {
	p, nn := float64(x)/float64(n), float64(n)
	mid := p + z*z/(2*nn)
	half := z * math.Sqrt(p*(1-p)/nn+z*z/(4*nn*nn))
	return (mid - half) / (1 + z*z/nn), (mid + half) / (1 + z*z/nn)
}

// TestWhyFishersTest: the reasons the metrics gate compares rates with Fisher's exact test, in
// windows the gate sees (a thin canary at 10% of the traffic), computed exactly. The normal
// approximation fails healthy windows more often than its 1% level says, up to nearly three
// times as often at a few expected failures; a Wilson-bound comparison stays far below its
// level and pays for it in bad canaries missed; Fisher's exact test stays below its level and
// catches more than the Wilson comparison. The figures are docs/releases.md's table.
func TestWhyFishersTest(t *testing.T) {
	for _, tt := range []struct {
		name          string
		nc, ns        int64
		base, bad     float64
		normalSizeMin float64
	}{
		{"55 canary requests, 1% base, canary 5%", 55, 495, 0.01, 0.05, 0.02},
		{"200 canary requests, 5% base, canary 15%", 200, 1800, 0.05, 0.15, 0.012},
		{"600 canary requests, 0.1% base, canary 0.5%", 600, 5400, 0.001, 0.005, 0.02},
	} {
		t.Run(tt.name, func(t *testing.T) {
			size, power := map[string]float64{}, map[string]float64{}
			for name, test := range windowTests {
				size[name] = rejectRate(tt.nc, tt.base, tt.ns, tt.base, test(tt.nc, tt.ns))
				power[name] = rejectRate(tt.nc, tt.bad, tt.ns, tt.base, test(tt.nc, tt.ns))
			}
			t.Logf("healthy windows failed: fisher %.2f%%, normal %.2f%%, wilson %.2f%%; bad canaries caught: fisher %.1f%%, normal %.1f%%, wilson %.1f%%",
				100*size["fisher"], 100*size["normal"], 100*size["wilson"], 100*power["fisher"], 100*power["normal"], 100*power["wilson"])
			if size["fisher"] > 0.01 {
				t.Errorf("Fisher's test fails %.3f%% of healthy windows, above its 1%% level", 100*size["fisher"])
			}
			if size["normal"] < tt.normalSizeMin {
				t.Errorf("the normal approximation fails %.3f%% of healthy windows, want at least %.1f%%: the reason not to use it", 100*size["normal"], 100*tt.normalSizeMin)
			}
			if !(size["wilson"] < size["fisher"] && power["wilson"] < power["fisher"]) {
				t.Errorf("the Wilson comparison: %.3f%% healthy failed, %.1f%% caught; Fisher %.3f%%, %.1f%%: want it below Fisher in both", 100*size["wilson"], 100*power["wilson"], 100*size["fisher"], 100*power["fisher"])
			}
		})
	}
}

// TestFisherPower: FisherPower against the definition (every pair of counts, each judged by
// gate.FisherGreater and the smallest effect), a healthy canary's power below the level, and
// OraclePower against its closed form where the critical count is known.
func TestFisherPower(t *testing.T) {
	th := gate.DefaultThresholds()
	for _, tt := range []struct {
		nc, ns    int64
		pc, ps, a float64
	}{
		{60, 540, 0.05, 0.01, 0.01},
		{200, 1800, 0.15, 0.05, 0.0025},
		{300, 300, 0.02, 0.02, 0.01},
	} {
		want := rejectRate(tt.nc, tt.pc, tt.ns, tt.ps, func(x, y int64) bool {
			rc, rs := float64(x)/float64(tt.nc), float64(y)/float64(tt.ns)
			return rc-rs > th.MaxFailureRateDelta+1e-9 && rc > th.MaxFailureRateRatio*rs*(1+1e-9) && gate.FisherGreater(x, tt.nc, y, tt.ns) < tt.a
		})
		got := FisherPower(tt.nc, tt.pc, tt.ns, tt.ps, tt.a, th)
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("FisherPower(%d, %g, %d, %g, %g) = %.12f, the sum over every pair gives %.12f", tt.nc, tt.pc, tt.ns, tt.ps, tt.a, got, want)
		}
		if tt.pc == tt.ps && got > tt.a {
			t.Errorf("a healthy canary fails %.4f%% of the time, above the level %g", 100*got, tt.a)
		}
	}
	// With p0 = 0 any failure is beyond chance: the critical count is 1, and the power is the
	// chance of at least one failure.
	if got, want := OraclePower(100, 0, 0.01, 0.01), 1-math.Pow(0.99, 100); math.Abs(got-want) > 1e-12 {
		t.Errorf("OraclePower(100, 0, 0.01) = %g, want %g", got, want)
	}
	// At p1 = p0 the oracle fails a healthy canary at most alpha of the time.
	if got := OraclePower(4000, 0.001, 0.001, 0.01); got > 0.01 {
		t.Errorf("OraclePower at p1 = p0: %g, want at most 0.01", got)
	}
}
