package rollout

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/slotless/slotless/internal/gate"
	"github.com/slotless/slotless/stack"
)

// Plan is the release plan: the stack's release config in the units the controller works in.
type Plan struct {
	// Steps are the release slot's shares in percent, ascending, ending at 100.
	Steps []int
	// MaxStep is the stack's maxStep; no step of the plan may be larger.
	MaxStep int
	// Bake is how long a step is watched unless StepBakes gives it a bake of its own
	// (bakeMinutes); Interval is the pause between a bake's analyses, and so the metrics window
	// of each.
	Bake, Interval time.Duration
	// StepBakes are the steps' own bakes, by weight (releaseSteps entries such as {"weight": 10,
	// "bake": "30s"}); nil when every step bakes Bake.
	StepBakes  map[int]time.Duration
	Thresholds Thresholds
	// WarmupRequests is the warm-up's concurrency, WarmupLatency the bound its requests must
	// answer within.
	WarmupRequests int
	WarmupLatency  time.Duration
	// AlwaysReady is the stack's alwaysReadyInstances; it decides whether a shift changes the
	// apps as well as the pool.
	AlwaysReady int
	// Lag is Azure Monitor's ingestion lag (metricsLagSeconds): a step's last analysis comes Lag
	// after its bake, for the rows still arriving, and a row that arrives later than Lag after it
	// was served counts as late.
	Lag time.Duration
	// InitialDelay is analysisInitialDelaySeconds: the requests served this long after each
	// shift are left out of the metrics, while instances start.
	InitialDelay time.Duration
	// HealthPath is the API's health operation (healthPath): its requests are the gates', not
	// users'.
	HealthPath string
	// Probes are releaseProbes; ProbeThresholds judge them.
	Probes          []stack.Probe
	ProbeThresholds stack.ProbeThresholds
}

// Thresholds are the metrics gate's limits (gate.Thresholds judges a window with them) and
// what too little traffic means for a step.
type Thresholds struct {
	gate.Thresholds
	// InconclusiveFails makes a step whose whole bake never gathered enough traffic fail.
	InconclusiveFails bool
}

// NewPlan builds the plan from a validated stack config. It refuses a plan with a step larger
// than maxStep, which stack.Parse leaves to the release so that lowering maxStep never fails
// the `pulumi up` of a rollback.
func NewPlan(c *stack.Config) (Plan, error) {
	r := c.Release
	if err := r.CheckSteps(c.MaxStep); err != nil {
		return Plan{}, fmt.Errorf("%w: %w", ErrRefused, err)
	}
	return Plan{
		Steps:     slices.Clone(r.Steps),
		MaxStep:   c.MaxStep,
		Bake:      time.Duration(r.BakeMinutes) * time.Minute,
		StepBakes: maps.Clone(r.StepBakes),
		Interval:  time.Duration(r.AnalysisIntervalSeconds) * time.Second,
		Thresholds: Thresholds{
			Thresholds: gate.Thresholds{
				MinRequests:          r.Metrics.MinRequests,
				Confidence:           r.Metrics.Confidence,
				FailureLimit:         r.Metrics.FailureLimit,
				MaxFailureRateDelta:  r.Metrics.MaxFailureRateDelta,
				MaxFailureRateRatio:  r.Metrics.MaxFailureRateRatio,
				CheckClientErrors:    r.Metrics.ClientErrorCheck,
				FailClientErrors:     r.Metrics.FailClientErrors,
				MaxP95Ratio:          r.Metrics.MaxP95Ratio,
				P95FloorMs:           float64(r.Metrics.P95FloorMs),
				SampleRatioTolerance: r.Metrics.SampleRatioTolerance,
			},
			InconclusiveFails: r.Metrics.InconclusiveFails,
		},
		Lag:             time.Duration(r.MetricsLagSeconds) * time.Second,
		InitialDelay:    time.Duration(r.AnalysisInitialDelaySeconds) * time.Second,
		HealthPath:      c.API.HealthPath,
		Probes:          slices.Clone(r.Probes),
		ProbeThresholds: r.ProbeThresholds,
		WarmupRequests:  r.WarmupRequests,
		WarmupLatency:   time.Duration(r.WarmupLatencyMs) * time.Millisecond,
		AlwaysReady:     c.AlwaysReadyInstances,
	}, nil
}

// validate rejects a plan the controller cannot walk. NewPlan's plans pass; this guards plans
// built by hand.
func (p Plan) validate() error {
	var errs []error
	if len(p.Steps) == 0 || p.Steps[len(p.Steps)-1] != 100 {
		errs = append(errs, fmt.Errorf("steps %v: want ascending steps ending at 100", p.Steps))
	}
	prev := 0
	for _, s := range p.Steps {
		if s <= prev || s > 100 {
			errs = append(errs, fmt.Errorf("steps %v: want strictly ascending steps 1..100", p.Steps))
			break
		}
		prev = s
	}
	for _, w := range slices.Sorted(maps.Keys(p.StepBakes)) {
		if !slices.Contains(p.Steps, w) {
			errs = append(errs, fmt.Errorf("a bake of its own for %d%%, which is not one of the steps %v", w, p.Steps))
		}
	}
	// The bakes in use: each step's, and Bake when a step has none of its own (or there are no
	// steps to tell).
	bakes := map[time.Duration]string{}
	for _, w := range p.Steps {
		if b, own := p.StepBakes[w]; own {
			bakes[b] = fmt.Sprintf("bake %s of the step to %d%%", b, w)
		} else {
			bakes[p.Bake] = fmt.Sprintf("bake %s", p.Bake)
		}
	}
	if len(p.Steps) == 0 {
		bakes[p.Bake] = fmt.Sprintf("bake %s", p.Bake)
	}
	for _, b := range slices.Sorted(maps.Keys(bakes)) {
		if b < 0 {
			errs = append(errs, fmt.Errorf("%s: want 0 or more", bakes[b]))
		}
		if b > 0 && (p.Interval <= 0 || p.Interval > b) {
			errs = append(errs, fmt.Errorf("analysis interval %s: want above 0 and at most the %s", p.Interval, bakes[b]))
		}
	}
	if p.WarmupRequests < 1 || p.WarmupLatency <= 0 {
		errs = append(errs, fmt.Errorf("warm-up of %d requests within %s: want at least 1 request and a positive bound", p.WarmupRequests, p.WarmupLatency))
	}
	if p.Lag < 0 {
		errs = append(errs, fmt.Errorf("metrics lag %s: want 0 or more", p.Lag))
	}
	if p.InitialDelay < 0 {
		errs = append(errs, fmt.Errorf("initial delay %s: want 0 or more", p.InitialDelay))
	}
	if p.MaxStep < 1 {
		errs = append(errs, fmt.Errorf("maxStep %d: want 1..100", p.MaxStep))
	}
	return errors.Join(errs...)
}

// checkSteps is stack.ReleaseConfig.CheckSteps for a plan.
func (p Plan) checkSteps() error {
	return stack.ReleaseConfig{Steps: p.Steps}.CheckSteps(p.MaxStep)
}

// Bake sources: where a step's bake comes from, for the messages that name what to change.
const (
	BakeFromStep    = "releaseSteps" // the step's own bake
	BakeFromDefault = "bakeMinutes"  // the plan's default
)

// BakeAt is how long a release standing at share bakes there, and where that bake comes from
// (BakeFromStep or BakeFromDefault). A share between two steps (a shift by hand, a plan changed
// mid-release) bakes as the next step above it: its canary already carries more than the step
// below would give it. A share above every step has only the default.
func (p Plan) BakeAt(share int) (time.Duration, string) {
	for _, w := range p.Steps {
		if w < share {
			continue
		}
		if b, own := p.StepBakes[w]; own {
			return b, BakeFromStep
		}
		break
	}
	return p.Bake, BakeFromDefault
}

// analysisOffsets are the times after a bake starts at which it is analysed: every interval,
// and once more at the very end when the bake is not a whole number of intervals, so a bake
// always ends with an analysis.
func (p Plan) analysisOffsets(bake time.Duration) []time.Duration {
	if bake <= 0 {
		return nil
	}
	var out []time.Duration
	for t := p.Interval; t <= bake; t += p.Interval {
		out = append(out, t)
	}
	if len(out) == 0 || out[len(out)-1] < bake {
		out = append(out, bake)
	}
	return out
}

// PlannedStep is one step of a run as planned from the deployed status.
type PlannedStep struct {
	// From and To are the release slot's share before and after the step.
	From int `json:"from"`
	To   int `json:"to"`
	// Resumed marks the step a resumed release stands on: no warm-up and no shift, only its
	// bake again, because the deployed state cannot tell an interrupted bake from a finished
	// one, and a pause (an approval) may have lasted hours with nobody watching.
	Resumed bool `json:"resumed"`
	// Changes lists what the shift changes in the stack; empty for a resumed step.
	Changes []string `json:"changes,omitempty"`
	// Bake and Analyses are how long the step is watched and how many analyses that takes;
	// BakeFrom says whether the bake is the step's own (releaseSteps) or the default
	// (bakeMinutes).
	Bake        time.Duration `json:"-"`
	BakeSeconds int64         `json:"bakeSeconds"`
	BakeFrom    string        `json:"bakeFrom,omitempty"`
	Analyses    int           `json:"analyses"`
}

// plannedBake fills in a planned step's bake: that of the step it stands on or goes to.
func (p Plan) plannedBake(s PlannedStep) PlannedStep {
	s.Bake, s.BakeFrom = p.BakeAt(s.To)
	s.BakeSeconds, s.Analyses = int64(s.Bake/time.Second), len(p.analysisOffsets(s.Bake))
	return s
}

// Schedule plans the rest of a release of slot from where the deployed status stands, up to
// and including the step that reaches until (0 means 100). A release standing on a step, or
// between two, bakes where it stands first and then takes the next step above it; it never
// starts again from 0. A release already past until has nothing to do.
func Schedule(p Plan, slot stack.Slot, from stack.Weights, until int) []PlannedStep {
	if until == 0 {
		until = 100
	}
	now := from.Of(slot)
	if now > until {
		return nil
	}
	var out []PlannedStep
	if now > 0 {
		out = append(out, p.plannedBake(PlannedStep{From: now, To: now, Resumed: true}))
	}
	for _, to := range p.Steps {
		if to <= now || to > until {
			continue
		}
		before, after := share(slot, now), share(slot, to)
		out = append(out, p.plannedBake(PlannedStep{From: now, To: to, Changes: Changes(before, after, slot.Other(), p.AlwaysReady)}))
		now = to
	}
	return out
}

// share is the weights that give slot pct percent.
func share(slot stack.Slot, pct int) stack.Weights {
	if slot == stack.Blue {
		return stack.Weights{Green: 100 - pct, Blue: pct}
	}
	return stack.Weights{Green: pct, Blue: 100 - pct}
}

// Changes lists what moving the weights from one value to another changes in the stack, for a
// release that started from origin, using the program's own rules: the pool when the weights
// differ, current-slot-name when its value at the two weights differs (it is frozen at origin
// while both slots carry traffic), and each app whose alwaysReady count differs.
func Changes(from, to stack.Weights, origin stack.Slot, alwaysReady int) []string {
	var out []string
	if from != to {
		out = append(out, "pool weights")
	}
	if a, b := slotName(from, origin), slotName(to, origin); a != b {
		out = append(out, fmt.Sprintf("current-slot-name %s → %s", a, b))
	}
	for _, s := range stack.Slots {
		if a, b := from.AlwaysReady(s, alwaysReady), to.AlwaysReady(s, alwaysReady); a != b {
			out = append(out, fmt.Sprintf("%s app alwaysReady %d → %d", s, a, b))
		}
	}
	return out
}

func slotName(w stack.Weights, origin stack.Slot) string {
	if w.SlotNameFrozen() {
		return origin.BackendID()
	}
	return w.CurrentSlotName()
}

// describeChanges renders Changes for a progress line.
func describeChanges(c []string) string {
	switch {
	case len(c) == 0:
		return "nothing"
	case len(c) == 1 && c[0] == "pool weights":
		return "pool weights only"
	}
	return strings.Join(c, " + ")
}
