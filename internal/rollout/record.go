package rollout

import (
	"fmt"
	"io"
	"time"

	"github.com/slotless/slotless/internal/gate"
	"github.com/slotless/slotless/stack"
)

// Outcome is how a run ended.
type Outcome string

// Outcomes of a run.
const (
	OutcomeComplete       Outcome = "complete"        // the step at 100 baked clean
	OutcomePaused         Outcome = "paused"          // stopped after the step that reached --until
	OutcomeNothingToDo    Outcome = "nothing-to-do"   // the release already stands past --until
	OutcomeDryRun         Outcome = "dry-run"         // printed the plan, changed nothing
	OutcomeInvalid        Outcome = "invalid"         // bad options or plan; nothing was read or moved
	OutcomeRefused        Outcome = "refused"         // a guard rail said no before anything moved
	OutcomeRolledBack     Outcome = "rolled-back"     // an analysis failed and the slot is back at 0%
	OutcomeAborted        Outcome = "aborted"         // an analysis failed while the slot had no traffic
	OutcomeRollbackFailed Outcome = "rollback-failed" // an analysis failed and so did the rollback
	OutcomeInterrupted    Outcome = "interrupted"     // cancelled; traffic stays where it is, a new run resumes
	OutcomeFailed         Outcome = "failed"          // something other than the slot failed, e.g. a shift
	OutcomeWatched        Outcome = "watched"         // a watch judged the standing canary and left it
)

// Verdicts of one analysis or check.
const (
	VerdictPass         = "pass"
	VerdictFail         = "fail"
	VerdictInconclusive = "inconclusive"
	// VerdictError is a check that could not run: it says nothing about the slot.
	VerdictError = "error"
)

// RecordKind names a slotless run record, so a reader can tell one from any other JSON.
const RecordKind = "slotless.release"

// RecordSchemaVersion is the version of the record's shape this slotless writes and reads. It
// goes up when a field changes meaning or goes away; added fields keep it.
//
// Version 2: steps may have bakes of their own. thresholds.bakeSeconds, every step's bake in
// version 1, is the bake of a step without its own (bakeMinutes), and stepBakeSeconds has each
// step's. A version 1 record is read as one whose every step baked thresholds.bakeSeconds.
//
// Version 3: a metrics window holds the rows that arrived in it (windowStart and windowEnd
// bound ingestion_time(), no longer TimeGenerated); thresholds.maxFailureRateDelta is the
// absolute part of the smallest effect that matters, judged with a one-sided test at
// thresholds.confidence (in version 2 and before, the whole rule); a check's canary and stable
// figures are the users' requests only. Older records read as before: their windows by the time
// served, their thresholds without the new fields.
const RecordSchemaVersion = 3

// Record is everything a run did, for --json and slotless report.
type Record struct {
	// Kind is RecordKind and SchemaVersion RecordSchemaVersion; a record without them predates
	// both.
	Kind          string `json:"kind"`
	SchemaVersion int    `json:"schemaVersion"`
	// Command is the command that made a record that is not a release's nor a watch's: shift,
	// promote or rollback, which move traffic once and judge nothing of their own.
	Command string     `json:"command,omitempty"`
	Slot    stack.Slot `json:"slot"`
	Version string     `json:"version"`
	Steps   []int      `json:"steps"`
	// StepBakeSeconds is the bake of each of Steps, in order: the step's own (releaseSteps) or
	// the default. Records before schema version 2 have none; use StepBakes to read either.
	StepBakeSeconds []int64 `json:"stepBakeSeconds,omitempty"`
	Until           int     `json:"until"`
	// From is the deployed traffic when the run started.
	From            stack.Weights `json:"-"`
	FromWeights     Shares        `json:"from"`
	CurrentSlotName string        `json:"currentSlotName"`
	Started         time.Time     `json:"started"`
	Finished        time.Time     `json:"finished"`
	Outcome         Outcome       `json:"outcome"`
	Error           string        `json:"error,omitempty"`
	// Planned is the plan of the run from where it started, as a dry run prints it.
	Planned []PlannedStep `json:"planned"`
	// Thresholds are the limits the run judged by, so a report can draw them.
	Thresholds *RecordThresholds `json:"thresholds,omitempty"`
	// Start is the health gate that let the release start.
	Start      *Check       `json:"start,omitempty"`
	StepsTaken []StepRecord `json:"stepRecords"`
	Rollback   *RollbackRec `json:"rollback,omitempty"`
	// Unjudged is a stretch of arrivals no metrics window judged: a watcher whose runs stopped
	// for longer than its longest window judges the gap's end and names the rest here.
	Unjudged *gate.Span `json:"unjudged,omitempty"`
	// Notifications are the messages the stack's notify targets were sent about the run, and how
	// each ended; never a target's URL, which is a secret.
	Notifications []Notification `json:"notifications,omitempty"`
}

// Notification is one message to one notify target and how its delivery ended.
type Notification struct {
	// Target is the target's index in notify, Kind its format (slack, teams, json).
	Target int    `json:"target"`
	Kind   string `json:"kind"`
	// Event is what the message told (release.started, release.rolledBack, ...).
	Event string `json:"event"`
	// Outcome is sent, failed (an answer that retrying cannot change), gave-up (retries or the
	// message's time ran out) or not-sent; Attempts counts the requests made.
	Outcome  string `json:"outcome"`
	Attempts int    `json:"attempts"`
	// Detail says why a message was not delivered: the status or the error, never the URL.
	Detail string `json:"detail,omitempty"`
}

// RecordThresholds are a plan's limits as a record keeps them.
type RecordThresholds struct {
	// MaxFailureRateDelta and MaxFailureRateRatio are the smallest effect that matters (before
	// schema version 3, the delta alone was the rule); MaxP95Ratio and P95FloorMs bound the
	// canary's p95; MinRequests is the traffic a window needs to be judged.
	MaxFailureRateDelta float64 `json:"maxFailureRateDelta"`
	MaxFailureRateRatio float64 `json:"maxFailureRateRatio,omitempty"`
	MaxP95Ratio         float64 `json:"maxP95Ratio"`
	P95FloorMs          float64 `json:"p95FloorMs,omitempty"`
	MinRequests         int     `json:"minRequests"`
	// Confidence is each window's one-sided confidence and FailureLimit the failing windows in
	// a row that fail a step; ClientErrorCheck compares 4xx rates; SampleRatioTolerance bounds
	// the canary's missing share; InitialDelaySeconds and LagSeconds are
	// analysisInitialDelaySeconds and metricsLagSeconds. All from schema version 3.
	Confidence           float64 `json:"confidence,omitempty"`
	FailureLimit         int     `json:"failureLimit,omitempty"`
	ClientErrorCheck     bool    `json:"clientErrorCheck,omitempty"`
	SampleRatioTolerance float64 `json:"sampleRatioTolerance,omitempty"`
	InitialDelaySeconds  int64   `json:"initialDelaySeconds,omitempty"`
	LagSeconds           int64   `json:"lagSeconds,omitempty"`
	// ProbeMaxFailureRateDelta and ProbeMaxLatencyRatio judge each probe route the same way;
	// ProbeFailureLimit is how many failures in a row of one route on the canary, while the
	// stable slot's passes, fail it at once (schema version 3 on; 0 before).
	ProbeMaxFailureRateDelta float64 `json:"probeMaxFailureRateDelta"`
	ProbeMaxLatencyRatio     float64 `json:"probeMaxLatencyRatio"`
	ProbeFailureLimit        int     `json:"probeFailureLimit,omitempty"`
	// WarmupLatencyMs is the bound every warm-up request must answer within.
	WarmupLatencyMs int64 `json:"warmupLatencyMs"`
	// AnalysisIntervalSeconds and BakeSeconds are the plan's cadence: BakeSeconds is the bake of
	// a step without its own (bakeMinutes), and until schema version 2 the bake of every step.
	AnalysisIntervalSeconds int64 `json:"analysisIntervalSeconds"`
	BakeSeconds             int64 `json:"bakeSeconds"`
}

// StepBakes is the bake of each of r.Steps: StepBakeSeconds, or in a record that predates it
// (schema version 1 and before) the one bake of every step, its thresholds' BakeSeconds. Nil
// when the record says neither.
func (r Record) StepBakes() []time.Duration {
	var out []time.Duration
	switch {
	case len(r.StepBakeSeconds) == len(r.Steps) && len(r.Steps) > 0:
		for _, s := range r.StepBakeSeconds {
			out = append(out, time.Duration(s)*time.Second)
		}
	case r.Thresholds != nil && len(r.StepBakeSeconds) == 0:
		for range r.Steps {
			out = append(out, time.Duration(r.Thresholds.BakeSeconds)*time.Second)
		}
	}
	return out
}

// newRecord starts the record of a run of plan p.
func newRecord(p Plan, started time.Time) Record {
	return Record{
		Kind: RecordKind, SchemaVersion: RecordSchemaVersion, Started: started,
		Thresholds: &RecordThresholds{
			MaxFailureRateDelta:      p.Thresholds.MaxFailureRateDelta,
			MaxFailureRateRatio:      p.Thresholds.MaxFailureRateRatio,
			MaxP95Ratio:              p.Thresholds.MaxP95Ratio,
			P95FloorMs:               p.Thresholds.P95FloorMs,
			MinRequests:              p.Thresholds.MinRequests,
			Confidence:               p.Thresholds.Confidence,
			FailureLimit:             p.Thresholds.FailureLimit,
			ClientErrorCheck:         p.Thresholds.CheckClientErrors && !p.Thresholds.FailClientErrors,
			SampleRatioTolerance:     p.Thresholds.SampleRatioTolerance,
			InitialDelaySeconds:      int64(p.InitialDelay / time.Second),
			LagSeconds:               int64(p.Lag / time.Second),
			ProbeMaxFailureRateDelta: p.ProbeThresholds.MaxFailureRateDelta,
			ProbeMaxLatencyRatio:     p.ProbeThresholds.MaxLatencyRatio,
			ProbeFailureLimit:        p.ProbeThresholds.FailureLimit,
			WarmupLatencyMs:          p.WarmupLatency.Milliseconds(),
			AnalysisIntervalSeconds:  int64(p.Interval / time.Second),
			BakeSeconds:              int64(p.Bake / time.Second),
		},
	}
}

// Shares is a weights pair as JSON.
type Shares struct {
	Green int `json:"green"`
	Blue  int `json:"blue"`
}

func sharesOf(w stack.Weights) Shares { return Shares{Green: w.Green, Blue: w.Blue} }

// StepRecord is one step: its warm-up, its shift and its bake.
type StepRecord struct {
	From    int      `json:"from"`
	To      int      `json:"to"`
	Resumed bool     `json:"resumed"`
	Changes []string `json:"changes,omitempty"`
	Warmup  *Warmup  `json:"warmup,omitempty"`
	// ShiftStarted and ShiftFinished bracket the shift; zero for a resumed step.
	ShiftStarted  time.Time `json:"shiftStarted,omitzero"`
	ShiftFinished time.Time `json:"shiftFinished,omitzero"`
	// Weights are the deployed weights read back after the shift.
	Weights     Shares     `json:"weights"`
	BakeStarted time.Time  `json:"bakeStarted,omitzero"`
	BakeEnded   time.Time  `json:"bakeEnded,omitzero"`
	Analyses    []Analysis `json:"analyses"`
	Verdict     string     `json:"verdict"`
	// Late counts the users' requests judged in the step's windows that arrived more than
	// metricsLagSeconds after they were served: a window by the time served, queried the lag
	// after it closed, would have lost them.
	Late int64 `json:"late,omitempty"`
	// Baseline is the stable slot's figures from before the shift to 100%, which that step's
	// windows are compared with.
	Baseline *Check `json:"baseline,omitempty"`
}

// Warmup is a warm-up as recorded.
type Warmup struct {
	ColdMs   int64  `json:"coldMs"`
	WarmMs   int64  `json:"warmMs"`
	Rounds   int    `json:"rounds"`
	Requests int    `json:"requests"`
	Error    string `json:"error,omitempty"`
}

// Analysis is one run of the gates during a bake.
type Analysis struct {
	N int `json:"n"`
	// At is when the analysis's last health check started: the failing one, or the one at
	// the analysis, which the metrics gate follows.
	At time.Time `json:"at"`
	// HealthChecks counts the health gate's runs since the previous analysis; Health is the
	// last of them. HealthErrors counts those that could not observe the canary (verdict
	// "error": no answer of the canary's own to judge, and no proof that the gateway path
	// works); when every check of an analysis did, the analysis is an error.
	HealthChecks int    `json:"healthChecks"`
	HealthErrors int    `json:"healthErrors,omitempty"`
	Health       Check  `json:"health"`
	Metrics      *Check `json:"metrics,omitempty"`
	// Probes is the probes' standing when the analysis ended.
	Probes *ProbeCheck `json:"probes,omitempty"`
	// Step is the step's running total of judged windows: at its last analysis, and at any
	// analysis where the total failed.
	Step    *Check `json:"step,omitempty"`
	Verdict string `json:"verdict"`
}

// ProbeCheck is the probes' verdict: each route's last ProbeWindow answers from the canary
// against the same route's from the stable slot.
type ProbeCheck struct {
	Verdict string `json:"verdict"`
	Detail  string `json:"detail,omitempty"`
	// Rounds counts the probe rounds of the step so far.
	Rounds int `json:"rounds"`
	// Canary and Stable are the figures of the route the verdict rests on: the first failing
	// route, else the one closest to failing.
	Canary ProbeFigures `json:"canary"`
	Stable ProbeFigures `json:"stable"`
	// Routes are every route's verdict, in releaseProbes order.
	Routes []RouteCheck `json:"routes,omitempty"`
}

// RouteCheck is the verdict on one route of releaseProbes (JudgeRoute).
type RouteCheck struct {
	// Probe names the route, "GET /orders".
	Probe   string `json:"probe"`
	Verdict string `json:"verdict"`
	Detail  string `json:"detail,omitempty"`
	// InARow is how many of the canary's newest answers of the route failed in a row.
	InARow int          `json:"inARow"`
	Canary ProbeFigures `json:"canary"`
	Stable ProbeFigures `json:"stable"`
}

// ProbeFigures are one slot's recent probe answers.
type ProbeFigures struct {
	Probes      int     `json:"probes"`
	Failed      int     `json:"failed"`
	FailureRate float64 `json:"failureRate"`
	MedianMs    int64   `json:"medianMs"`
	// LastFailure is the newest failed answer, if any.
	LastFailure *ProbeResult `json:"lastFailure,omitempty"`
}

// Check is one gate's answer.
type Check struct {
	Verdict string `json:"verdict"`
	// Reason is the gate's machine-readable reason for a "no" (gate.Reason).
	Reason string `json:"reason,omitempty"`
	Detail string `json:"detail,omitempty"`
	// Version and Attempts are the health gate's; Canary, Stable and WindowSeconds the
	// metrics gate's.
	Version       string `json:"version,omitempty"`
	Attempts      int    `json:"attempts,omitempty"`
	WindowSeconds int64  `json:"windowSeconds,omitempty"`
	// WindowStart and WindowEnd bound the requests the metrics gate judged, by the time they
	// arrived (ingestion_time()); before schema version 3, by the time they were served.
	WindowStart time.Time         `json:"windowStart,omitzero"`
	WindowEnd   time.Time         `json:"windowEnd,omitzero"`
	Canary      *gate.SlotFigures `json:"canary,omitempty"`
	Stable      *gate.SlotFigures `json:"stable,omitempty"`
	// Decisive marks a failing window sure enough to fail alone; InARow is how many failing
	// windows in a row it makes; Late counts its requests that arrived more than
	// metricsLagSeconds after they were served.
	Decisive bool  `json:"decisive,omitempty"`
	InARow   int   `json:"inARow,omitempty"`
	Late     int64 `json:"late,omitempty"`
	// Ms is how long the check took.
	Ms int64 `json:"ms"`
}

// RollbackRec is the rollback of an aborted release.
type RollbackRec struct {
	Reason   string    `json:"reason"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Weights  Shares    `json:"weights"`
	Error    string    `json:"error,omitempty"`
}

// WriteSummary writes the closing lines of a run for people.
func (r Record) WriteSummary(w io.Writer) {
	took := r.Finished.Sub(r.Started).Round(time.Second)
	fmt.Fprintf(w, "summary: release of %s %s: %s after %s\n", r.Slot, r.Version, r.Outcome, took)
	for _, s := range r.StepsTaken {
		what := fmt.Sprintf("%d%% → %d%%", s.From, s.To)
		if s.Resumed {
			what = fmt.Sprintf("%d%% (resumed: bake again)", s.To)
		}
		line := fmt.Sprintf("  %-28s %-12s %d analyses", what, s.Verdict, len(s.Analyses))
		if s.Warmup != nil {
			line += fmt.Sprintf(", warm-up cold %s warm %s", ms(s.Warmup.ColdMs), ms(s.Warmup.WarmMs))
		}
		fmt.Fprintln(w, line)
	}
	if rb := r.Rollback; rb != nil {
		fmt.Fprintf(w, "  rollback (%s) took %s", rb.Reason, rb.Finished.Sub(rb.Started).Round(time.Second))
		if rb.Error != "" {
			fmt.Fprintf(w, " and FAILED: %s", rb.Error)
		}
		fmt.Fprintln(w)
	}
	if r.Error != "" {
		fmt.Fprintf(w, "  error: %s\n", r.Error)
	}
}

func ms(n int64) time.Duration { return time.Duration(n) * time.Millisecond }
