// Package rollout is the release controller behind `slotless release`: it walks the release
// slot through the stack's releaseSteps, warming the slot before each shift and watching each
// step for its bake (its own from releaseSteps, else bakeMinutes) with the health and metrics
// gates every analysisIntervalSeconds, and it rolls back at the first failing analysis.
//
// Everything outside the process sits behind a small interface, so the controller is the same
// against Azure and against fakes:
//
//   - Traffic reads where the deployed stack stands and shifts or rolls back through the
//     guarded, traffic-only path; a rollback is never refused.
//   - HealthGate and MetricsGate are the gates of internal/gate (GateHealth and GateMetrics
//     adapt them).
//   - Warmer sends pinned requests to the slot's health endpoint (HTTPWarmer).
//   - Clock says what time it is and sleeps; tests pass a fake one so no test sleeps
//     through a bake.
//
// Where a release stands is read from the deployed stack on every run, never from a local file:
// the weights say which step it is on, and the frozen current-slot-name says which slot it
// started from. So a second run after a crash or an approval resumes where the first stopped,
// and never starts again from 0.
package rollout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/slotless/slotless/internal/gate"
	"github.com/slotless/slotless/stack"
)

// Errors a run wraps, so the CLI can map each to its exit code with errors.Is.
var (
	// ErrInvalid is bad input to Run: no version, an --until that is not a step, a plan that
	// cannot be walked.
	ErrInvalid = errors.New("invalid release request")
	// ErrRefused is a guard rail saying no before any traffic moved: the slot is not idle and
	// not mid-release towards itself, it does not serve the version, or a step of the plan is
	// larger than maxStep.
	ErrRefused = errors.New("release refused")
	// ErrAborted is a failing analysis (or warm-up) during the release; the release slot was
	// rolled back to 0% unless ErrRollbackFailed is wrapped too.
	ErrAborted = errors.New("release aborted")
	// ErrRollbackFailed is wrapped together with ErrAborted when the rollback itself failed,
	// so traffic may still reach the failing slot.
	ErrRollbackFailed = errors.New("rollback failed")
	// ErrUnobserved is a bake that could not observe its canary (analyses that could not run,
	// errorLimit in a row or at the end of a bake): the release stopped without moving traffic,
	// since nothing says the canary failed.
	ErrUnobserved = errors.New("the release could not observe the canary")
)

// Status is where traffic stands in the deployed stack (its outputs), not in a local file.
type Status struct {
	Weights stack.Weights
	// CurrentSlotName is the deployed current-slot-name: the live slot's backend id at 0 and
	// 100, and, while both slots carry traffic, the backend id of the slot that was live when
	// the release began.
	CurrentSlotName string
	// Source says where the status was read when it is not the deployed stack, such as a
	// dry run's stack file; empty means the deployed stack.
	Source string
	// Record is the pool's record of who set the weights and when (its description), when
	// the status was read from the live pool; it tells a setting from a later one with the
	// same weights.
	Record string
}

// Origin is the slot the current-slot-name names: the slot a release in progress started from.
// In a shared API Management service the backend ids carry a per-stack prefix, so the name is
// matched as stack.SlotOfBackendID matches it.
func (s Status) Origin() (stack.Slot, error) {
	if slot, ok := stack.SlotOfBackendID(s.CurrentSlotName); ok {
		return slot, nil
	}
	return "", fmt.Errorf("current-slot-name %q names neither %s nor %s", s.CurrentSlotName, stack.Green.BackendID(), stack.Blue.BackendID())
}

// Traffic is the deployed stack's traffic: where it stands, and the two ways to move it.
type Traffic interface {
	// Status reads the deployed weights and current-slot-name.
	Status(ctx context.Context) (Status, error)
	// Shift sets slot's share of traffic to `to` percent through the guarded, traffic-only
	// path: it changes the pool (and, at 0 and 100, current-slot-name and the apps'
	// alwaysReady) and nothing else.
	Shift(ctx context.Context, slot stack.Slot, to int) error
	// Rollback sets slot's share to 0. It is never refused by a guard rail and never waits
	// on a function host.
	Rollback(ctx context.Context, slot stack.Slot) error
}

// HealthGate is the health gate pinned to one slot, in two tempers. A "no" is a
// *gate.GateError; any other error means the gate could not run.
type HealthGate interface {
	// Ready is the start gate: patient, since a slot that was just deployed to is expected to
	// fail for a while before it answers.
	Ready(ctx context.Context, slot stack.Slot) (gate.HealthResult, error)
	// Check is the gate of one analysis: quick, since a slot that does not answer now must be
	// reported within the analysis, not after a start gate's timeout.
	Check(ctx context.Context, slot stack.Slot) (gate.HealthResult, error)
	// Control is the health gate pinned to slot, judged for health and slot whatever its
	// version, passing at the first healthy answer: whether the path through the gateway works
	// right now. An analysis asks it of the stable slot when the canary's check failed with no
	// answer of the canary's own to show for it (no answer, or the gateway's own 5xx or 401): if
	// the stable slot answers healthy through the same gateway, with the same token, the fault
	// is the canary's. A "no" is a *gate.GateError.
	Control(ctx context.Context, slot stack.Slot) (gate.HealthResult, error)
}

// MetricsGate reads the canary slot's and the stable slot's request figures over one window;
// an error means the query could not run. The controller judges the figures (gate.Judge), so
// how a window is judged is the same whatever answers the query.
type MetricsGate interface {
	Figures(ctx context.Context, canary, stable stack.Slot, w Window) (canaryFigures, stableFigures gate.SlotFigures, err error)
}

// Window is the requests one metrics query reads: those that arrived (ingestion_time()) in
// [ArrivedFrom, ArrivedTo), served (TimeGenerated) in [ServedFrom, ServedTo) outside Exclude;
// those served before Current belong to an earlier step. A zero ArrivedFrom has no lower
// bound and a zero ServedTo is ArrivedTo.
type Window struct {
	ArrivedFrom, ArrivedTo time.Time
	ServedFrom, ServedTo   time.Time
	Exclude                []gate.Span
	Current                time.Time
}

// Prober sends the stack's releaseProbes through the gateway, pinned to one slot: every probe
// once, all at once. It reports each probe's outcome, in releaseProbes order, by ctx's
// deadline: a probe with no answer by then is a failed answer, never left out. An error means
// none could be sent.
type Prober interface {
	Probe(ctx context.Context, slot stack.Slot) ([]ProbeResult, error)
}

// ProbeResult is one probe's answer from one slot.
type ProbeResult struct {
	// Probe names the probe, "GET /orders".
	Probe string `json:"probe"`
	// Status is the HTTP status, 0 when no answer came.
	Status int `json:"status"`
	// OK is whether the status was the expected one.
	OK bool  `json:"ok"`
	Ms int64 `json:"ms"`
	// Error is why no answer came, or what came instead of the expected status.
	Error string `json:"error,omitempty"`
}

// Warmer warms a slot before it takes more traffic: Flex Consumption scales an idle app to zero,
// and the first users routed to it would otherwise pay its cold start.
type Warmer interface {
	// Warmup sends rounds of concurrency pinned requests to slot's health endpoint until every
	// request of a round answers within bound.
	Warmup(ctx context.Context, slot stack.Slot, concurrency int, bound time.Duration) (WarmupResult, error)
}

// WarmupResult is what a warm-up saw.
type WarmupResult struct {
	// Cold is the slowest answer of the first round, Warm the slowest of the round that passed.
	Cold, Warm time.Duration
	// Rounds and Requests count what was sent.
	Rounds, Requests int
}

// Options is one `slotless release` invocation.
type Options struct {
	// Slot is the release slot, the one taking traffic.
	Slot stack.Slot
	// Version must be what Slot serves, before the first shift and at every analysis.
	Version string
	// Until stops the run after the step that reaches it; it must be one of the plan's steps,
	// and 0 means 100.
	Until int
	// DryRun prints the plan from the deployed status and changes nothing: no warm-up, gate,
	// shift or rollback is called.
	DryRun bool
}

// Controller runs releases. Build it with New.
type Controller struct {
	clock   Clock
	traffic Traffic
	health  HealthGate
	metrics MetricsGate
	warmer  Warmer
	prober  Prober
	// progress, when set, is told of each Progress (WithProgress); analysed of each analysis
	// (WithAnalysed), and at is the step being baked, for it.
	progress func(Progress)
	analysed func(Progress)
	at       Progress
	out      io.Writer
	start    time.Time
	// seen is what the metrics gate has judged of this run's exposure so far.
	seen exposure
}

// ProgressEvent names a moment of a release that others are told of as it happens.
type ProgressEvent string

// The moments of a release a Progress is sent at.
const (
	// ProgressStarted: the start gate passed, and the release is about to take its first step.
	ProgressStarted ProgressEvent = "started"
	// ProgressShifted: a step's shift is done and read back; its bake begins.
	ProgressShifted ProgressEvent = "shifted"
	// ProgressPassed: a step's bake passed.
	ProgressPassed ProgressEvent = "passed"
	// ProgressAnalysed: an analysis of a bake ended; only WithAnalysed's function is told.
	ProgressAnalysed ProgressEvent = "analysed"
)

// Progress is one moment of a release, for WithProgress. How a run ended is its Record,
// returned by Run.
type Progress struct {
	Event ProgressEvent
	// Record is the run so far.
	Record Record
	// Step is the step the event is about (shifted, passed), Index its number from 1 among the
	// Steps the run plans from where it started.
	Step         StepRecord
	Index, Steps int
}

// WithProgress returns c calling f at each Progress of a release. f runs on the release's own
// path, between its shifts and bakes, so it must return at once: a notification is queued there
// and sent elsewhere, never waited for.
func (c *Controller) WithProgress(f func(Progress)) *Controller {
	c.progress = f
	return c
}

// WithAnalysed returns c calling f after each analysis of a bake, with the step as it stands
// (its analyses so far), so the history can show a release in flight. Like WithProgress's, f
// must return at once. Notifications are not sent per analysis: WithProgress's function is not
// told of them.
func (c *Controller) WithAnalysed(f func(Progress)) *Controller {
	c.analysed = f
	return c
}

// tell passes p to WithProgress's function, if any.
func (c *Controller) tell(p Progress) {
	if c.progress != nil {
		c.progress(p)
	}
}

// WithProber returns c sending the plan's probes through p during each bake; without one, a
// plan with probes is refused.
func (c *Controller) WithProber(p Prober) *Controller {
	c.prober = p
	return c
}

// New returns a controller over the given dependencies; a nil clock is the system clock and a
// nil out discards progress. The others may be nil only for a dry run, which calls none of
// them but traffic.Status.
func New(clock Clock, traffic Traffic, health HealthGate, metrics MetricsGate, warmer Warmer, out io.Writer) *Controller {
	if clock == nil {
		clock = SystemClock{}
	}
	if out == nil {
		out = io.Discard
	}
	return &Controller{clock: clock, traffic: traffic, health: health, metrics: metrics, warmer: warmer, out: out}
}

// logf writes one progress line, prefixed with the time since the run started.
func (c *Controller) logf(format string, args ...any) {
	elapsed := c.clock.Now().Sub(c.start).Round(time.Second)
	fmt.Fprintf(c.out, "[%8s] %s\n", elapsed, fmt.Sprintf(format, args...))
}

// joinInts renders steps the way the config is written.
func joinInts(v []int) string {
	parts := make([]string, len(v))
	for i, n := range v {
		parts[i] = fmt.Sprint(n)
	}
	return strings.Join(parts, ", ")
}
