// Package sim runs releases through the real release controller (internal/rollout) against
// synthetic traffic on a fake clock, so that the gates' error rates can be measured: how often a
// healthy canary is rolled back, how often a bad one is caught, and how fast.
//
// Everything the controller decides is the production code: the plan from the stack's defaults,
// the bake loop, the metrics windows, their accumulation and failure limit, gate.Judge, and the
// probes' rounds and route verdicts (JudgeRoute). What is synthetic is what lies outside the
// process: the users (Poisson arrivals split by the pool's weights as they stand each second,
// binomial failures), Log Analytics (each second's rows of each slot become readable after an
// ingestion delay drawn for them; a query takes QueryTook), the deployed stack (a shift or a
// rollback takes a fixed time), a health gate that always passes after HealthTook, and a prober
// whose routes answer after RouteTook, each answer failing by chance at the cell's blip rate,
// and one route failing every answer on the canary when the cell says so. Latency is not
// modelled: both slots answer in the same time, so the p95 check never fires.
package sim

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/slotless/slotless/internal/gate"
	"github.com/slotless/slotless/internal/rollout"
	"github.com/slotless/slotless/stack"
)

// Cell is one set of conditions a release runs in.
type Cell struct {
	// RPS is the users' requests a second, both slots together.
	RPS float64
	// StableFailure is the share of the stable slot's requests that fail, CanaryFailure the
	// canary's.
	StableFailure, CanaryFailure float64
	// CanaryLost is the share of the canary's requests lost before its app records them.
	CanaryLost float64
	// DelayMin and DelayMax bound the ingestion delay, drawn uniformly for each second's rows
	// of each slot; zero gives Azure's typical 20 s to 3 min.
	DelayMin, DelayMax time.Duration
	// ShiftTook is how long a shift or a rollback takes; zero is 40 s, a traffic-only up
	// against ARM.
	ShiftTook time.Duration
	// Routes is how many releaseProbes the release sends (GET /orders/1 … /orders/Routes),
	// every round to both slots; zero sends none. FailingRoute (1-based, 0 none) is a route
	// that answers 500 to every probe of the canary; ProbeBlip is the chance that any one
	// probe answer of either slot fails by chance (an instance being replaced).
	Routes, FailingRoute int
	ProbeBlip            float64
	// Plan is the release plan; a zero plan is the stack's defaults.
	Plan *rollout.Plan
}

// Costs of what lies outside the process, in fake time: Azure-like figures, the same as the
// probe model's (internal/rollout/bubble_test.go): a health answer, a probe route's answer,
// one Log Analytics query.
const (
	HealthTook = 50 * time.Millisecond
	RouteTook  = 80 * time.Millisecond
	QueryTook  = 3 * time.Second
)

// Result is how one release ended.
type Result struct {
	Outcome rollout.Outcome
	// RolledBack is true when the canary was rolled back; Inconclusive when that was for too
	// little data (never a verdict against the canary).
	RolledBack, Inconclusive bool
	// At is the canary's share when it was rolled back, or where the release ended.
	At int
	// Reason is the rollback's; ByProbes is set when the probes failed the canary.
	Reason   string
	ByProbes bool
	// Caught is from the end of the first shift to the start of the rollback (the failing
	// analysis's verdict), TimeToZero to its end.
	Caught, TimeToZero time.Duration
	// Requests are the canary's users' requests each step judged, in order of the steps
	// taken, for the steps that reached their last analysis (0 for one cut short).
	Requests [4]int64
	// Took is the release's fake time.
	Took time.Duration
}

// DefaultPlan is the plan of a stack with every release key at its default.
func DefaultPlan() rollout.Plan {
	p, err := PlanWith(nil)
	if err != nil {
		panic(err)
	}
	return p
}

// PlanWith is the plan of a stack whose config sets the keys of set ("metricsConfidence":
// "0.98") and leaves every other release key at its default, parsed as a stack's own config
// is, so a simulation of another setting is refused as the stack would refuse it.
func PlanWith(set map[string]string) (rollout.Plan, error) {
	c, err := stack.Parse(func(k string) (string, bool) {
		if v, ok := set[k]; ok {
			return v, true
		}
		v, ok := map[string]string{"azure-native:location": "westeurope", "publisherEmail": "ops@example.com"}[k]
		return v, ok
	})
	if err != nil {
		return rollout.Plan{}, err
	}
	return rollout.NewPlan(c)
}

// epoch is when every simulated release starts.
var epoch = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// Run releases blue from 0 to 100 in cell, with the random source seeded by seed: the same cell
// and seed give the same release.
func Run(cell Cell, seed uint64) Result {
	p := DefaultPlan()
	if cell.Plan != nil {
		p = *cell.Plan
	}
	if cell.DelayMin == 0 && cell.DelayMax == 0 {
		cell.DelayMin, cell.DelayMax = 20*time.Second, 3*time.Minute
	}
	if cell.ShiftTook == 0 {
		cell.ShiftTook = 40 * time.Second
	}
	w := &world{cell: cell, lag: p.Lag, rng: rand.New(rand.NewPCG(seed, 0x5107)), now: epoch, weights: []weightsAt{{epoch, 0}}}
	c := rollout.New(w, w, health{w}, w, warmer{}, io.Discard)
	if cell.Routes > 0 {
		p.Probes = nil
		for i := range cell.Routes {
			pr := stack.Probe{Method: "GET", Path: fmt.Sprintf("/orders/%d", i+1), ExpectStatus: http.StatusOK}
			p.Probes = append(p.Probes, pr)
			w.routes = append(w.routes, pr.Method+" "+pr.Path)
		}
		// Each slot's answers draw from a source of their own: the prober asks both slots at
		// once, and the same seed must give the same release whichever answers first.
		w.probeRNG = map[stack.Slot]*rand.Rand{
			stack.Blue:  rand.New(rand.NewPCG(seed, 0xb10e)),
			stack.Green: rand.New(rand.NewPCG(seed, 0x6ee4)),
		}
		c.WithProber(w)
	}
	rec, _ := c.Run(context.Background(), p, rollout.Options{Slot: stack.Blue, Version: "1.1.0"})
	res := Result{Outcome: rec.Outcome, Took: rec.Finished.Sub(rec.Started)}
	if len(rec.StepsTaken) > 0 {
		res.At = rec.StepsTaken[len(rec.StepsTaken)-1].To
	}
	for i, sr := range rec.StepsTaken {
		if n := len(sr.Analyses); i < len(res.Requests) && n > 0 {
			if st := sr.Analyses[n-1].Step; st != nil && st.Canary != nil {
				res.Requests[i] = st.Canary.Requests
			}
		}
	}
	if rb := rec.Rollback; rb != nil {
		res.RolledBack, res.Reason = true, rb.Reason
		res.Inconclusive = strings.Contains(rb.Reason, "nobody saw the canary")
		res.ByProbes = strings.Contains(rb.Reason, "failed: probes: ")
		if len(rec.StepsTaken) > 0 {
			res.Caught = rb.Started.Sub(rec.StepsTaken[0].ShiftFinished)
			res.TimeToZero = rb.Finished.Sub(rec.StepsTaken[0].ShiftFinished)
		}
	}
	return res
}

// weightsAt is the canary's share from an instant on.
type weightsAt struct {
	from  time.Time
	share int
}

// bucket is one second's recorded requests of one slot, readable from arrived on.
type bucket struct {
	served, arrived time.Time
	canary          bool
	n, failed       int64
}

// world is the clock, the deployed stack, the users and Log Analytics of one release.
type world struct {
	mu      sync.Mutex
	cell    Cell
	lag     time.Duration
	rng     *rand.Rand
	now     time.Time
	weights []weightsAt
	// buckets are the users' requests of every second up to generated, in order.
	buckets   []bucket
	generated time.Time
	// probeRNG draws each slot's probe answers; routes name the probes as results do.
	probeRNG map[stack.Slot]*rand.Rand
	routes   []string
}

// Now is the fake clock.
func (w *world) Now() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.now
}

// Sleep moves the fake clock.
func (w *world) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w.mu.Lock()
	if d > 0 {
		w.now = w.now.Add(d)
	}
	w.mu.Unlock()
	return nil
}

func (w *world) share() int { return w.weights[len(w.weights)-1].share }

// Status is the deployed weights; green is where a release of blue starts from.
func (w *world) Status(context.Context) (rollout.Status, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.share()
	weights := stack.Weights{Green: 100 - s, Blue: s}
	name := stack.Green.BackendID()
	if s == 100 {
		name = stack.Blue.BackendID()
	}
	return rollout.Status{Weights: weights, CurrentSlotName: name}, nil
}

// Shift applies the new share once the update has taken ShiftTook.
func (w *world) Shift(_ context.Context, _ stack.Slot, to int) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.now = w.now.Add(w.cell.ShiftTook)
	w.weights = append(w.weights, weightsAt{w.now, to})
	return nil
}

// Rollback puts the canary at 0 once the update has taken ShiftTook.
func (w *world) Rollback(context.Context, stack.Slot) error {
	return w.Shift(context.Background(), stack.Blue, 0)
}

// shareAt is the canary's share at an instant.
func (w *world) shareAt(t time.Time) int {
	s := 0
	for _, x := range w.weights {
		if x.from.After(t) {
			break
		}
		s = x.share
	}
	return s
}

// generate writes the users' requests of every whole second up to now.
func (w *world) generate() {
	if w.generated.IsZero() {
		w.generated = epoch
	}
	for ; !w.generated.Add(time.Second).After(w.now); w.generated = w.generated.Add(time.Second) {
		t := w.generated
		s := float64(w.shareAt(t)) / 100
		for _, canary := range []bool{false, true} {
			mean, rate := w.cell.RPS*(1-s), w.cell.StableFailure
			if canary {
				mean, rate = w.cell.RPS*s, w.cell.CanaryFailure
			}
			if mean <= 0 {
				continue
			}
			n := poisson(w.rng, mean)
			if canary {
				n -= binomial(w.rng, n, w.cell.CanaryLost)
			}
			if n == 0 {
				continue
			}
			delay := w.cell.DelayMin + time.Duration(w.rng.Float64()*float64(w.cell.DelayMax-w.cell.DelayMin))
			w.buckets = append(w.buckets, bucket{served: t, arrived: t.Add(delay), canary: canary, n: n, failed: binomial(w.rng, n, rate)})
		}
	}
}

// Figures answers a metrics window as the gate's query over Log Analytics would.
func (w *world) Figures(_ context.Context, canarySlot, stableSlot stack.Slot, win rollout.Window) (gate.SlotFigures, gate.SlotFigures, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.generate()
	servedTo := win.ServedTo
	if servedTo.IsZero() {
		servedTo = win.ArrivedTo
	}
	settledTo := win.ArrivedTo.Add(-w.lag)
	c, s := gate.SlotFigures{App: string(canarySlot)}, gate.SlotFigures{App: string(stableSlot)}
	for _, b := range w.buckets {
		if b.served.Before(win.ServedFrom) || !b.served.Before(servedTo) || b.arrived.After(w.now) || !b.arrived.Before(win.ArrivedTo) || excluded(b.served, win.Exclude) {
			continue
		}
		f := &s
		if b.canary {
			f = &c
		}
		// The step's users' requests served the lag before the window's end, whenever they
		// arrived: the share.
		if !b.served.Before(win.Current) && b.served.Before(settledTo) {
			f.Settled += b.n
			f.SettledRows += b.n
		}
		if !win.ArrivedFrom.IsZero() && b.arrived.Before(win.ArrivedFrom) {
			continue
		}
		f.Requests += b.n
		f.Rows += b.n
		f.Failed += b.failed
		if !b.served.Before(win.Current) {
			f.Current += b.n
		}
		if b.arrived.Sub(b.served) > w.lag {
			f.Late += b.n
		}
	}
	for _, f := range []*gate.SlotFigures{&c, &s} {
		if f.Requests > 0 {
			f.FailureRate = float64(f.Failed) / float64(f.Requests)
			f.P95Ms = 100
			// The release's health checks reach both apps.
			f.Health = 1
		}
	}
	// The query's answer is what had arrived when it started; it comes QueryTook later.
	w.now = w.now.Add(QueryTook)
	return c, s, nil
}

// Probe answers one round of the release's probes from slot: every route 200 after RouteTook,
// but for a blip (ProbeBlip) and, on the canary, the failing route's 500. The rounds of both
// slots run at once, so only the canary's call moves the clock: a round takes RouteTook.
func (w *world) Probe(_ context.Context, slot stack.Slot) ([]rollout.ProbeResult, error) {
	rng := w.probeRNG[slot]
	out := make([]rollout.ProbeResult, w.cell.Routes)
	for i := range out {
		r := rollout.ProbeResult{Probe: w.routes[i], Status: http.StatusOK, OK: true, Ms: RouteTook.Milliseconds()}
		if rng.Float64() < w.cell.ProbeBlip || slot == stack.Blue && i+1 == w.cell.FailingRoute {
			r.Status, r.OK, r.Error = http.StatusInternalServerError, false, "answered 500, want 200"
		}
		out[i] = r
	}
	if slot == stack.Blue {
		w.mu.Lock()
		w.now = w.now.Add(RouteTook)
		w.mu.Unlock()
	}
	return out, nil
}

func excluded(t time.Time, spans []gate.Span) bool {
	for _, x := range spans {
		if !t.Before(x.From) && t.Before(x.To) {
			return true
		}
	}
	return false
}

// health is a health gate that always passes with the release's version, after HealthTook.
type health struct{ w *world }

func (h health) answer() (gate.HealthResult, error) {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	h.w.now = h.w.now.Add(HealthTook)
	return gate.HealthResult{Version: "1.1.0", Attempts: 1}, nil
}

func (h health) Ready(context.Context, stack.Slot) (gate.HealthResult, error)   { return h.answer() }
func (h health) Check(context.Context, stack.Slot) (gate.HealthResult, error)   { return h.answer() }
func (h health) Control(context.Context, stack.Slot) (gate.HealthResult, error) { return h.answer() }

// warmer warms at once.
type warmer struct{}

func (warmer) Warmup(context.Context, stack.Slot, int, time.Duration) (rollout.WarmupResult, error) {
	return rollout.WarmupResult{Rounds: 1, Requests: 1}, nil
}

// poisson draws a Poisson count: Knuth's method for small means, a rounded normal above 30.
func poisson(r *rand.Rand, mean float64) int64 {
	if mean >= 30 {
		return max(0, int64(math.Round(mean+math.Sqrt(mean)*r.NormFloat64())))
	}
	limit, k, p := math.Exp(-mean), int64(0), 1.0
	for {
		p *= r.Float64()
		if p <= limit {
			return k
		}
		k++
	}
}

// binomial draws successes of n trials of probability p: one by one for small n, a rounded
// normal where n·p·(1-p) is large enough for it, and a Poisson where p is small.
func binomial(r *rand.Rand, n int64, p float64) int64 {
	switch {
	case n <= 0 || p <= 0:
		return 0
	case p >= 1:
		return n
	case n <= 64:
		var k int64
		for range n {
			if r.Float64() < p {
				k++
			}
		}
		return k
	case float64(n)*p*(1-p) >= 30:
		return min(n, max(0, int64(math.Round(float64(n)*p+math.Sqrt(float64(n)*p*(1-p))*r.NormFloat64()))))
	case p < 0.1:
		return min(n, poisson(r, float64(n)*p))
	}
	var k int64
	for range n {
		if r.Float64() < p {
			k++
		}
	}
	return k
}
