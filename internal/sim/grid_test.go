package sim

import (
	"bufio"
	"flag"
	"math"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	gridReleases = flag.Int("grid.releases", 0, "releases per cell of TestGrid's full grid; 0 skips it")
	gridHealthy  = flag.Int("grid.healthy", 0, "releases per healthy cell, whose false rollbacks need the most; 0 is -grid.releases")
	gridSizing   = flag.Int("grid.sizing", 0, "releases per rung of the bake sizing after the grid; 0 skips it")
	gridOut      = flag.String("grid.out", "", "file TestGrid writes the grid's Markdown tables to")
	gridWorkers  = flag.Int("grid.workers", runtime.GOMAXPROCS(0), "releases TestGrid runs at once")
	gridMatch    = flag.String("grid.match", "", "regular expression: TestGrid runs only the cells whose row key (\"| 10/s | 1% | healthy |\") it matches")
	gridTraffic  = flag.String("grid.traffic", "", "requests a second of the grid's rows, comma-separated, instead of 0.5,1,10,100")
	gridSet      = flag.String("grid.set", "", "stack config keys to set instead of their defaults, key=value, comma-separated: metricsConfidence=0.98")
)

// TestGrid runs the whole error-rate grid (-grid.releases releases a cell, -grid.healthy a
// healthy cell), then the bake sizing (-grid.sizing releases a rung), and writes the tables
// docs/performance.md publishes to -grid.out. -grid.match, -grid.traffic and -grid.set run a
// part of it, at other traffic, or with other settings:
//
//	go test -count=1 -timeout 3h -run 'TestGrid$' ./internal/sim/ -grid.releases 2000 -grid.healthy 5000 -grid.sizing 1000 -grid.out grid.md
func TestGrid(t *testing.T) {
	if *gridReleases == 0 {
		t.Skip("the full grid runs with -grid.releases N (make bench)")
	}
	cells := Cells()
	if *gridTraffic != "" {
		var traffic []float64
		for _, f := range strings.Split(*gridTraffic, ",") {
			rps, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if err != nil || rps <= 0 {
				t.Fatalf("-grid.traffic: %q is not a positive number of requests a second", f)
			}
			traffic = append(traffic, rps)
		}
		cells = CellsAt(traffic)
	}
	grid := Grid{Releases: *gridReleases, Healthy: *gridHealthy, Workers: *gridWorkers}
	if grid.Healthy == 0 {
		grid.Healthy = grid.Releases
	}
	if *gridSet != "" {
		set := map[string]string{}
		for _, kv := range strings.Split(*gridSet, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				t.Fatalf("-grid.set: %q is not key=value", kv)
			}
			set[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
		p, err := PlanWith(set)
		if err != nil {
			t.Fatalf("-grid.set %s: %v", *gridSet, err)
		}
		grid.Plan = &p
		t.Logf("the plan's stack config sets %s", *gridSet)
	}
	if *gridMatch != "" {
		re := regexp.MustCompile(*gridMatch)
		cells = slices.DeleteFunc(cells, func(c GridCell) bool { return !re.MatchString(RowKey(c)) })
	}
	start := time.Now()
	grid.Progress = func(tl Tally) { t.Logf("%s %s", Row(tl), time.Since(start).Round(time.Second)) }
	ts := grid.Run(cells)
	md := Markdown(ts, grid.Releases, grid.Healthy)
	t.Logf("the grid took %s", time.Since(start).Round(time.Second))
	if *gridSizing > 0 {
		sizingStart := time.Now()
		perRPS, later := Calibration(ts)
		sz := Size(perRPS, later, Grid{Releases: *gridSizing, Workers: *gridWorkers, Plan: grid.Plan}, func(s Sized) {
			t.Logf("%s %s", SizingRow(s), time.Since(start).Round(time.Second))
		})
		md += "\n" + SizingNote(perRPS, later, *gridSizing) + "\n\n" + SizingMarkdown(sz)
		t.Logf("the sizing took %s", time.Since(sizingStart).Round(time.Second))
	}
	t.Logf("all took %s\n%s", time.Since(start).Round(time.Second), md)
	if *gridOut != "" {
		if err := os.WriteFile(*gridOut, []byte(md), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestGridTableInTheDocs runs the grid with a few releases a cell (the whole generator, about a
// second) and checks that docs/performance.md's table has the shape it gives: the same header,
// one row per cell in the same order, each with as many columns, and the goals the generator
// checks. So the published table cannot lose or reorder a cell, or a column, without this test
// failing; its figures come from make bench.
func TestGridTableInTheDocs(t *testing.T) {
	ts := Grid{Releases: 2, Healthy: 2, Workers: 1}.Run(Cells())
	want := tableRows(t, strings.NewReader(Markdown(ts, 2, 2)), TableHeader)
	f, err := os.Open("../../docs/performance.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := tableRows(t, f, TableHeader)
	if len(got) != len(want) {
		t.Fatalf("docs/performance.md's grid table has %d rows, the generator gives %d (rerun make bench and paste its table)", len(got), len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], RowKey(ts[i].Cell)) || strings.Count(got[i], "|") != strings.Count(want[i], "|") {
			t.Errorf("row %d: docs have %q, the generator gives %q", i+1, got[i], want[i])
		}
	}
	sizing := tableRows(t, strings.NewReader(SizingMarkdown(nil)), SizingHeader)
	if len(sizing) != 0 {
		t.Errorf("an empty sizing has rows: %q", sizing)
	}
	f.Seek(0, 0)
	if rows := tableRows(t, f, SizingHeader); len(rows) != len(SizingGoals)*len(StableRates) {
		t.Errorf("docs/performance.md's sizing table has %d rows, want one per goal and stable rate, %d", len(rows), len(SizingGoals)*len(StableRates))
	}
}

// tableRows are the rows after header's line and its separator, up to the first line that is
// not a row; it fails t when header is not there.
func tableRows(t *testing.T, r interface{ Read([]byte) (int, error) }, header string) []string {
	t.Helper()
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if sc.Text() != header {
			continue
		}
		sc.Scan()
		var rows []string
		for sc.Scan() && strings.HasPrefix(sc.Text(), "|") {
			rows = append(rows, sc.Text())
		}
		return rows
	}
	t.Fatalf("no table headed %q", header)
	return nil
}

// TestBounds: the exact bounds against their closed forms at the ends, and against their
// definition between.
func TestBounds(t *testing.T) {
	for _, tt := range []struct {
		k, n       int
		upper, low float64
	}{
		// No event in n: the upper bound solves (1-u)^n = 0.05.
		{0, 2000, 1 - math.Pow(0.05, 1.0/2000), 0},
		{0, 100, 1 - math.Pow(0.05, 1.0/100), 0},
		// Every trial: the lower bound solves l^n = 0.05.
		{2000, 2000, 1, math.Pow(0.05, 1.0/2000)},
	} {
		if u := UpperBound(tt.k, tt.n, 0.95); math.Abs(u-tt.upper) > 1e-9 {
			t.Errorf("UpperBound(%d, %d) = %g, want %g", tt.k, tt.n, u, tt.upper)
		}
		if l := LowerBound(tt.k, tt.n, 0.95); math.Abs(l-tt.low) > 1e-9 {
			t.Errorf("LowerBound(%d, %d) = %g, want %g", tt.k, tt.n, l, tt.low)
		}
	}
	for _, tt := range []struct{ k, n int }{{3, 1000}, {11, 2000}, {990, 1000}, {50, 100}} {
		u, l := UpperBound(tt.k, tt.n, 0.95), LowerBound(tt.k, tt.n, 0.95)
		if !(l < float64(tt.k)/float64(tt.n) && float64(tt.k)/float64(tt.n) < u) {
			t.Errorf("%d of %d: bounds %g, %g do not hold the rate", tt.k, tt.n, l, u)
		}
		// At the bound, k or fewer (k or more) events happen exactly 5% of the time.
		if p := binomialCDF(tt.k, tt.n, u); math.Abs(p-0.05) > 1e-6 {
			t.Errorf("%d of %d: P(X <= k) at the upper bound %g is %g, want 0.05", tt.k, tt.n, u, p)
		}
		if p := 1 - binomialCDF(tt.k-1, tt.n, l); math.Abs(p-0.05) > 1e-6 {
			t.Errorf("%d of %d: P(X >= k) at the lower bound %g is %g, want 0.05", tt.k, tt.n, l, p)
		}
	}
}

// binomialCDF sums the pmf term by term: the definition the bounds are checked against.
func binomialCDF(k, n int, p float64) float64 {
	var s float64
	for x := 0; x <= k; x++ {
		s += binomialPMF(int64(x), int64(n), p)
	}
	return s
}

// TestGoals: the goals' verdicts on tallies made up to sit on either side of each goal.
func TestGoals(t *testing.T) {
	healthy, plusTen, fiveTimes, route := Models[0], Models[3], Models[2], Models[4]
	tally := func(rps float64, m Model, n, rolledBack, before50, beforeGA, byProbes int, slowest time.Duration, perStep int64) Tally {
		tl := Tally{Cell: GridCell{RPS: rps, Stable: 0.01, Model: m}, Releases: n, RolledBack: rolledBack, Before50: before50, BeforeGA: beforeGA, ByProbes: byProbes, SlowestProbe: slowest}
		tl.Requests[0], tl.Steps[0] = perStep*int64(n), n
		return tl
	}
	base := []Tally{
		tally(1, healthy, 2000, 0, 0, 0, 0, 0, 65),
		tally(10, healthy, 2000, 10, 0, 0, 0, 0, 650),
		tally(1, plusTen, 2000, 1500, 1000, 1500, 0, 0, 0),
		tally(10, plusTen, 2000, 2000, 1990, 2000, 0, 0, 0),
		tally(1, fiveTimes, 2000, 100, 0, 100, 0, 0, 0),
		tally(10, fiveTimes, 2000, 2000, 0, 1995, 0, 0, 0),
		tally(1, route, 2000, 2000, 2000, 2000, 2000, 5*time.Second, 0),
	}
	met := func(ts []Tally) []bool {
		var out []bool
		for _, g := range Goals(ts) {
			out = append(out, g.Met)
		}
		return out
	}
	if got := met(base); !slices.Equal(got, []bool{true, true, true, true}) {
		t.Errorf("every goal just met: got %v", got)
	}
	for i, tt := range []struct {
		name string
		cell int
		with Tally
	}{
		{"14 false rollbacks in 2000: 0.7%, but the upper bound is above 1%", 1, tally(10, healthy, 2000, 14, 0, 0, 0, 0, 650)},
		{"+10 points: 1979 of 2000 caught before 50%", 3, tally(10, plusTen, 2000, 2000, 1979, 2000, 0, 0, 0)},
		{"5×: 1979 of 2000 caught before GA", 5, tally(10, fiveTimes, 2000, 2000, 0, 1979, 0, 0, 0)},
		{"the route caught 31 s after the shift", 6, tally(1, route, 2000, 2000, 2000, 2000, 2000, 31*time.Second, 0)},
	} {
		ts := slices.Clone(base)
		ts[tt.cell] = tt.with
		want := []bool{true, true, true, true}
		want[i] = false
		if got := met(ts); !slices.Equal(got, want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, want)
		}
	}
}
