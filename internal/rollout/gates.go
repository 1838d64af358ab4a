package rollout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"time"

	"github.com/slotless/slotless/internal/gate"
	"github.com/slotless/slotless/stack"
)

// Headers APIM's policy reads to pin a request to one slot; the token header is removed before
// the backend.
const (
	headerPinSlot  = "X-Slotless-Slot"
	headerPinToken = "X-Slotless-Token"
)

// Timing of the analysis health gate. During a bake the controller runs it every
// HealthWatchEvery, not once per analysis: the first healthy answer passes, and a slot with none
// within AnalysisHealthTimeout fails at once. A slot that stops answering is therefore caught at
// most HealthWatchEvery + AnalysisHealthTimeout after it stopped (plus the metrics query when it
// stopped just before an analysis), whatever the analysis interval, and the rollback starts
// then; the two add up to the shortest analysisIntervalSeconds, 10. One failed probe alone does not roll back: an instance
// being replaced can drop one answer, and AnalysisHealthTimeout leaves room for several.
const (
	AnalysisHealthTimeout  = 8 * time.Second
	AnalysisHealthInterval = 2 * time.Second
	HealthWatchEvery       = 2 * time.Second
	// ControlHealthTimeout is how long the stable slot has to answer healthy when it is asked
	// as the control of a canary check that failed without the canary's own answer: a stable
	// slot that answers at once costs nothing, and one that carries no traffic (at the last
	// step, the old slot, which Flex may have scaled to zero) has the time of a cold start.
	ControlHealthTimeout = 30 * time.Second
)

// GateHealth is internal/gate's health gate as a HealthGate, pinned through APIM.
type GateHealth struct {
	// Start, Analysis and Stable are the gate's configs for Ready, Check and Control; Slot and
	// the pinning headers are set per call.
	Start, Analysis, Stable gate.HealthConfig
	// PinToken is the stack's pinToken.
	PinToken string
	// Progress receives the gate's lines; nil discards them.
	Progress io.Writer
}

// NewGateHealth builds both gates against the API's health URL (stack output apiUrl +
// "/health"), expecting version: the start gate with the gate's defaults (three healthy answers
// in a row within five minutes), the analysis gate quick. headers carry what else the gateway
// needs, such as the subscription key; never the function key, which has no business at the
// gateway.
func NewGateHealth(healthURL string, headers map[string]string, pinToken, version string, progress io.Writer) GateHealth {
	base := gate.HealthConfig{URL: healthURL, Headers: headers, ExpectVersion: version}
	analysis := base
	analysis.Successes, analysis.Interval, analysis.Timeout = 1, AnalysisHealthInterval, AnalysisHealthTimeout
	control := analysis
	control.ExpectVersion, control.Timeout = "", ControlHealthTimeout
	return GateHealth{Start: base, Analysis: analysis, Stable: control, PinToken: pinToken, Progress: progress}
}

// Ready runs the start gate.
func (g GateHealth) Ready(ctx context.Context, slot stack.Slot) (gate.HealthResult, error) {
	return g.run(ctx, g.Start, slot)
}

// Check runs the analysis gate.
func (g GateHealth) Check(ctx context.Context, slot stack.Slot) (gate.HealthResult, error) {
	return g.run(ctx, g.Analysis, slot)
}

// Control runs the control gate (Stable) on slot: one healthy answer from slot, whatever its
// version, within ControlHealthTimeout.
func (g GateHealth) Control(ctx context.Context, slot stack.Slot) (gate.HealthResult, error) {
	return g.run(ctx, g.Stable, slot)
}

func (g GateHealth) run(ctx context.Context, cfg gate.HealthConfig, slot stack.Slot) (gate.HealthResult, error) {
	cfg.Slot = string(slot)
	cfg.Headers = pinned(cfg.Headers, slot, g.PinToken)
	// Marked, so the metrics gate leaves the gate's own polls out of the users' figures.
	cfg.URL = gate.MarkProbe(cfg.URL)
	progress := g.Progress
	if progress == nil {
		progress = io.Discard
	}
	return gate.Health(ctx, cfg, progress)
}

// pinned returns a copy of headers that pins a request to slot.
func pinned(headers map[string]string, slot stack.Slot, token string) map[string]string {
	out := maps.Clone(headers)
	if out == nil {
		out = map[string]string{}
	}
	out[headerPinSlot] = string(slot)
	out[headerPinToken] = token
	return out
}

// GateMetrics is internal/gate's metrics query as a MetricsGate.
type GateMetrics struct {
	Client gate.LogsQuerier
	// WorkspaceID is the stack output logAnalyticsWorkspaceId.
	WorkspaceID string
	// Apps are the function app names of each slot (stack outputs greenAppName, blueAppName),
	// which Application Insights records as AppRoleName.
	Apps map[stack.Slot]string
	// Components are the Application Insights components the slots report to (stack output
	// telemetryComponentIds): each app's rows count only from its own component (gate.Query).
	// Nil, for a stack deployed before the output existed, selects by AppRoleName alone.
	Components map[stack.Slot]string
	// OwnComponents says each slot's component is its own (gate.Query's): the component alone
	// decides the slot.
	OwnComponents bool
	// HealthPath is the stack's healthPath, whose requests are never users'; Lag is
	// metricsLagSeconds, past which a row is late; FailClientErrors is metricsFailureStatus 4xx.
	HealthPath       string
	Lag              time.Duration
	FailClientErrors bool
}

// NewGateMetrics is the metrics query of plan p over the workspace and the slots' apps.
func NewGateMetrics(client gate.LogsQuerier, workspaceID string, apps map[stack.Slot]string, p Plan) GateMetrics {
	return GateMetrics{Client: client, WorkspaceID: workspaceID, Apps: apps, HealthPath: p.HealthPath, Lag: p.Lag, FailClientErrors: p.Thresholds.FailClientErrors}
}

// Figures runs one window's query, within gate.QueryTimeout.
func (g GateMetrics) Figures(ctx context.Context, canary, stable stack.Slot, w Window) (gate.SlotFigures, gate.SlotFigures, error) {
	if err := errors.Join(gate.ValidateApps(g.Apps[canary], g.Apps[stable]), gate.ValidateComponents(g.Components[canary], g.Components[stable])); err != nil {
		return gate.SlotFigures{}, gate.SlotFigures{}, fmt.Errorf("metrics gate %s against %s: %w", canary, stable, err)
	}
	healthPath := g.HealthPath
	if healthPath == "" {
		healthPath = stack.DefaultHealthPath
	}
	q := gate.Query{CanaryApp: g.Apps[canary], StableApp: g.Apps[stable], CanaryComponent: g.Components[canary], StableComponent: g.Components[stable], OwnComponents: g.OwnComponents, ArrivedFrom: w.ArrivedFrom, ArrivedTo: w.ArrivedTo, ServedFrom: w.ServedFrom, ServedTo: w.ServedTo,
		Exclude: w.Exclude, Current: w.Current, HealthPath: healthPath, Late: g.Lag, FailClientErrors: g.FailClientErrors}
	c, s, _, err := gate.QueryFigures(ctx, g.Client, g.WorkspaceID, q)
	if err != nil {
		return c, s, fmt.Errorf("metrics gate %s against %s: %w", canary, stable, err)
	}
	return c, s, nil
}
