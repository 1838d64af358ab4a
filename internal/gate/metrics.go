package gate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/monitor/azquery"
)

// Defaults the CLI offers for MetricsConfig. They are not applied to zero
// fields, because zero is a meaningful threshold (a delta of 0 allows no
// extra failures at all).
const (
	DefaultWindow              = 10 * time.Minute
	DefaultMinRequests         = 50
	DefaultMaxFailureRateDelta = 0.02
	DefaultMaxP95Ratio         = 1.5
	// DefaultLag is how long the gate waits for Azure Monitor to finish ingesting a window:
	// "Log data ingestion time in Azure Monitor" documents a typical latency of 20 seconds to
	// 3 minutes, so a window is judged once the last of its 3 minutes have passed.
	DefaultLag = 3 * time.Minute
)

// rateEpsilon absorbs float rounding, so a delta exactly at the threshold
// (3% vs 1% with a 2-point allowance) passes as the operator would expect.
const rateEpsilon = 1e-9

// LogsQuerier is the part of *azquery.LogsClient the metrics gate needs, so
// tests and other callers can supply their own.
type LogsQuerier interface {
	QueryWorkspace(ctx context.Context, workspaceID string, body azquery.Body, options *azquery.LogsClientQueryWorkspaceOptions) (azquery.LogsClientQueryWorkspaceResponse, error)
}

// The real client must keep satisfying the interface.
var _ LogsQuerier = (*azquery.LogsClient)(nil)

// MetricsConfig says which apps to compare, over what window, and how much
// worse the canary may be than the stable slot.
type MetricsConfig struct {
	// WorkspaceID is the Log Analytics workspace (customer) ID, a GUID, that
	// the workspace-based Application Insights component writes to.
	WorkspaceID string
	// CanaryApp and StableApp are the function app names, which Application
	// Insights records as AppRoleName.
	CanaryApp, StableApp string
	// Window is how long a stretch of requests is judged.
	Window time.Duration
	// End is where the window ends (exclusive); zero means now minus Lag, the newest window
	// Azure Monitor has finished ingesting. A caller that walks contiguous windows sets it, so
	// every request is judged exactly once.
	End time.Time
	// Lag is how long after a request Azure Monitor is taken to have ingested it; used only
	// when End is zero.
	Lag time.Duration
	// FailClientErrors counts every 4xx as a failure too; by default a failure is a request
	// with Success == false, a 5xx ResultCode or a 429.
	FailClientErrors bool
	// MinRequests is the fewest requests either app needs in the window for
	// a comparison to mean anything.
	MinRequests int
	// MaxFailureRateDelta is how far the canary's failure rate (0..1) may
	// exceed the stable slot's.
	MaxFailureRateDelta float64
	// MaxP95Ratio is the largest allowed canary p95 / stable p95.
	MaxP95Ratio float64
	// InconclusiveBlocks makes too little traffic a failed gate instead of
	// a pass with a warning.
	InconclusiveBlocks bool
}

// Verdict is the outcome of a metrics comparison.
type Verdict string

// Verdicts of the metrics gate.
const (
	VerdictPass         Verdict = "pass"
	VerdictFail         Verdict = "fail"
	VerdictInconclusive Verdict = "inconclusive"
)

// SlotFigures are one app's request figures over the window.
type SlotFigures struct {
	App      string
	Requests int64
	Failed   int64
	// FailureRate is Failed/Requests, 0..1; 0 when there were no requests.
	FailureRate float64
	// P95Ms is the 95th percentile of DurationMs.
	P95Ms float64
}

// MetricsResult is what the metrics gate measured and concluded.
type MetricsResult struct {
	Verdict Verdict
	Canary  SlotFigures
	Stable  SlotFigures
	// Reasons explain the verdict, one sentence each.
	Reasons []string
	// Query and Timespan are what was sent, so an operator can rerun it in
	// the portal.
	Query    string
	Timespan azquery.TimeInterval
}

// Metrics queries the last cfg.Window of AppRequests for both apps and
// compares the canary with the stable slot. It returns a *GateError when the
// canary is worse than the thresholds allow, or when traffic was too thin and
// cfg.InconclusiveBlocks is set; other errors mean the gate could not run.
func Metrics(ctx context.Context, client LogsQuerier, cfg MetricsConfig, progress io.Writer) (MetricsResult, error) {
	if err := cfg.validate(); err != nil {
		return MetricsResult{}, fmt.Errorf("metrics gate config: %w", err)
	}
	if progress == nil {
		progress = io.Discard
	}
	// Whole seconds, as the request's timespan carries them, so the query and the timespan
	// bound the same requests.
	end := cfg.End.UTC().Truncate(time.Second)
	if cfg.End.IsZero() {
		end = time.Now().UTC().Add(-cfg.Lag).Truncate(time.Second)
	}
	start := end.Add(-cfg.Window)
	res := MetricsResult{
		Query:    BuildQuery(cfg.CanaryApp, cfg.StableApp, start, end, cfg.FailClientErrors),
		Timespan: azquery.NewTimeInterval(start, end),
	}
	fmt.Fprintf(progress, "metrics gate: AppRequests in workspace %s over %s (%s)\n", cfg.WorkspaceID, cfg.Window, res.Timespan)

	resp, err := client.QueryWorkspace(ctx, cfg.WorkspaceID, azquery.Body{Query: &res.Query, Timespan: &res.Timespan}, nil)
	if err != nil {
		return res, fmt.Errorf("query workspace %s: %w", cfg.WorkspaceID, err)
	}
	if resp.Error != nil {
		// A partial result could drop one app's rows and make a bad canary
		// look like one without traffic, so it is not used at all.
		return res, fmt.Errorf("query workspace %s: partial result: %w", cfg.WorkspaceID, resp.Error)
	}
	figures, err := parseFigures(resp.Results)
	if err != nil {
		return res, fmt.Errorf("read query result: %w", err)
	}
	res.Canary = pick(figures, cfg.CanaryApp)
	res.Stable = pick(figures, cfg.StableApp)
	gateErr := judgeMetrics(cfg, &res)
	printFigures(progress, res)
	if gateErr != nil {
		return res, gateErr
	}
	return res, nil
}

// HealthOperation is the function behind /api/health (functionapp/health). Application
// Insights records each function invocation as a request whose operation name is the
// function's name (learn.microsoft.com/azure/azure-functions/analyze-telemetry-data).
const HealthOperation = "health"

// BuildQuery returns the KQL the metrics gate runs over the requests generated in [start, end).
// The time filter repeats the request's timespan so the query means the same when pasted into
// the portal; it is absolute, not ago(), so a window judged after Azure Monitor's ingestion lag
// covers exactly the requests it names, and windows that follow one another never overlap.
// App names are validated by the caller, since they are spliced in.
//
// A failure is Success == false, or a 5xx or 429 ResultCode (with failClientErrors, any status
// from 400): the Functions host records an HTTP invocation whose function returned an error
// status as Success == true unless it threw (Azure/azure-functions-host#6511), so Success alone
// passes a canary that answers 500.
//
// The gates' own health probes are left out: a release checks the canary's health every few
// seconds, and those quick, healthy answers would dilute the users' failures and latency on a
// canary with little traffic.
func BuildQuery(canaryApp, stableApp string, start, end time.Time, failClientErrors bool) string {
	failed := "Success == false or Status >= 500 or Status == 429"
	if failClientErrors {
		failed = "Success == false or Status >= 400"
	}
	return fmt.Sprintf(`AppRequests
| where TimeGenerated >= datetime(%s) and TimeGenerated < datetime(%s)
| where AppRoleName in~ (%q, %q)
| where OperationName != %q
| extend Status = toint(ResultCode)
| summarize Requests = count(), Failed = countif(%s), P95DurationMs = percentile(DurationMs, 95) by AppRoleName
| extend FailureRate = todouble(Failed) / todouble(Requests)
| project AppRoleName, Requests, Failed, FailureRate, P95DurationMs`,
		start.UTC().Format(time.RFC3339Nano), end.UTC().Format(time.RFC3339Nano), canaryApp, stableApp, HealthOperation, failed)
}

// validate rejects configs that cannot give a meaningful comparison, and app
// names that could change the meaning of the KQL they are spliced into.
func (cfg MetricsConfig) validate() error {
	var errs []error
	if strings.TrimSpace(cfg.WorkspaceID) == "" {
		errs = append(errs, errors.New("workspace ID: empty"))
	}
	for _, a := range []struct{ name, value string }{{"canary app", cfg.CanaryApp}, {"stable app", cfg.StableApp}} {
		if !validAppName(a.value) {
			errs = append(errs, fmt.Errorf("%s %q: want a function app name (letters, digits and '-', at most 60)", a.name, a.value))
		}
	}
	if cfg.CanaryApp != "" && strings.EqualFold(cfg.CanaryApp, cfg.StableApp) {
		errs = append(errs, fmt.Errorf("canary and stable app are both %q", cfg.CanaryApp))
	}
	if cfg.Window <= 0 {
		errs = append(errs, fmt.Errorf("window: %s, want a positive duration", cfg.Window))
	}
	if cfg.Lag < 0 {
		errs = append(errs, fmt.Errorf("lag: %s, want 0 or more", cfg.Lag))
	}
	if cfg.MinRequests < 1 {
		errs = append(errs, fmt.Errorf("min requests: %d, want at least 1", cfg.MinRequests))
	}
	if cfg.MaxFailureRateDelta < 0 || cfg.MaxFailureRateDelta > 1 || math.IsNaN(cfg.MaxFailureRateDelta) {
		errs = append(errs, fmt.Errorf("max failure rate delta: %g, want 0 to 1", cfg.MaxFailureRateDelta))
	}
	if !(cfg.MaxP95Ratio > 0) || math.IsInf(cfg.MaxP95Ratio, 0) {
		errs = append(errs, fmt.Errorf("max p95 ratio: %g, want a positive number", cfg.MaxP95Ratio))
	}
	return errors.Join(errs...)
}

// validAppName matches Azure's rule for site names, which is also what keeps
// them inert inside a KQL string literal.
func validAppName(s string) bool {
	if s == "" || len(s) > 60 || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// parseFigures reads the summarised rows by column name, so a reordered
// projection does not silently swap figures.
func parseFigures(r azquery.Results) ([]SlotFigures, error) {
	if len(r.Tables) == 0 || r.Tables[0] == nil {
		return nil, errors.New("no table in the answer")
	}
	t := r.Tables[0]
	col := map[string]int{}
	for i, c := range t.Columns {
		if c != nil && c.Name != nil {
			col[*c.Name] = i
		}
	}
	for _, name := range []string{"AppRoleName", "Requests", "Failed", "P95DurationMs"} {
		if _, ok := col[name]; !ok {
			return nil, fmt.Errorf("column %s missing from the answer", name)
		}
	}
	var out []SlotFigures
	for n, row := range t.Rows {
		get := func(name string) any {
			if i := col[name]; i < len(row) {
				return row[i]
			}
			return nil
		}
		app, _ := get("AppRoleName").(string)
		var f SlotFigures
		var err error
		f.App = app
		if f.Requests, err = toInt(get("Requests")); err != nil {
			return nil, fmt.Errorf("row %d Requests: %w", n, err)
		}
		if f.Failed, err = toInt(get("Failed")); err != nil {
			return nil, fmt.Errorf("row %d Failed: %w", n, err)
		}
		if f.P95Ms, err = toFloat(get("P95DurationMs")); err != nil {
			return nil, fmt.Errorf("row %d P95DurationMs: %w", n, err)
		}
		if f.Requests > 0 {
			f.FailureRate = float64(f.Failed) / float64(f.Requests)
		}
		out = append(out, f)
	}
	return out, nil
}

// pick returns app's figures, or zeros when it had no requests (KQL's
// summarize emits no row for it then). Role names are matched without regard
// to case, as the query's in~ does.
func pick(figs []SlotFigures, app string) SlotFigures {
	for _, f := range figs {
		if strings.EqualFold(f.App, app) {
			f.App = app
			return f
		}
	}
	return SlotFigures{App: app}
}

// judgeMetrics sets the verdict and reasons and returns the gate error, if
// the verdict blocks.
func judgeMetrics(cfg MetricsConfig, res *MetricsResult) *GateError {
	c, s := res.Canary, res.Stable
	var thin []string
	if c.Requests < int64(cfg.MinRequests) {
		thin = append(thin, fmt.Sprintf("canary %s had %d requests, want at least %d", c.App, c.Requests, cfg.MinRequests))
	}
	// A thin baseline makes any ratio noise, so it is inconclusive too.
	if s.Requests < int64(cfg.MinRequests) {
		thin = append(thin, fmt.Sprintf("stable %s had %d requests, want at least %d", s.App, s.Requests, cfg.MinRequests))
	}
	if len(thin) > 0 {
		res.Verdict, res.Reasons = VerdictInconclusive, thin
		if cfg.InconclusiveBlocks {
			return &GateError{Reason: ReasonInconclusive, Detail: strings.Join(thin, "; ") + " in " + cfg.Window.String()}
		}
		return nil
	}

	delta := c.FailureRate - s.FailureRate
	rateMsg := fmt.Sprintf("canary failure rate %.2f%% vs stable %.2f%%: %+.2f points, allowed %+.2f", 100*c.FailureRate, 100*s.FailureRate, 100*delta, 100*cfg.MaxFailureRateDelta)
	ratio := math.Inf(1)
	if s.P95Ms > 0 {
		ratio = c.P95Ms / s.P95Ms
	} else if c.P95Ms == 0 {
		ratio = 1
	}
	p95Msg := fmt.Sprintf("canary p95 %.1f ms vs stable %.1f ms: ratio %.2f, allowed %.2f", c.P95Ms, s.P95Ms, ratio, cfg.MaxP95Ratio)

	var first Reason
	var breaches []string
	if delta > cfg.MaxFailureRateDelta+rateEpsilon {
		first = ReasonFailureRate
		breaches = append(breaches, rateMsg)
	}
	if c.P95Ms > cfg.MaxP95Ratio*s.P95Ms*(1+rateEpsilon) {
		if first == "" {
			first = ReasonLatency
		}
		breaches = append(breaches, p95Msg)
	}
	if len(breaches) > 0 {
		res.Verdict, res.Reasons = VerdictFail, breaches
		return &GateError{Reason: first, Detail: strings.Join(breaches, "; ")}
	}
	res.Verdict, res.Reasons = VerdictPass, []string{rateMsg, p95Msg}
	return nil
}

// printFigures writes the side-by-side table the pipeline log shows: names
// left-aligned, figures right-aligned so they can be compared at a glance.
func printFigures(w io.Writer, res MetricsResult) {
	width := max(len("app"), len(res.Canary.App), len(res.Stable.App))
	fmt.Fprintf(w, "%-6s  %-*s  %9s  %7s  %12s  %9s\n", "role", width, "app", "requests", "failed", "failure rate", "p95 ms")
	for _, r := range []struct {
		role string
		f    SlotFigures
	}{{"canary", res.Canary}, {"stable", res.Stable}} {
		fmt.Fprintf(w, "%-6s  %-*s  %9d  %7d  %11.2f%%  %9.1f\n", r.role, width, r.f.App, r.f.Requests, r.f.Failed, 100*r.f.FailureRate, r.f.P95Ms)
	}
	fmt.Fprintf(w, "verdict: %s: %s\n", res.Verdict, strings.Join(res.Reasons, "; "))
}

// toInt accepts the shapes a long column takes in JSON.
func toInt(v any) (int64, error) {
	switch x := v.(type) {
	case nil:
		return 0, nil
	case float64:
		if x != math.Trunc(x) || math.IsNaN(x) {
			return 0, fmt.Errorf("%v is not a whole number", x)
		}
		return int64(x), nil
	case json.Number:
		return x.Int64()
	case string:
		return strconv.ParseInt(x, 10, 64)
	default:
		return 0, fmt.Errorf("unexpected %T", v)
	}
}

// toFloat accepts the shapes a real column takes in JSON; Log Analytics
// writes NaN and infinities as strings, and an empty percentile as null.
func toFloat(v any) (float64, error) {
	var f float64
	switch x := v.(type) {
	case nil:
		return 0, nil
	case float64:
		f = x
	case json.Number:
		var err error
		if f, err = x.Float64(); err != nil {
			return 0, err
		}
	case string:
		var err error
		if f, err = strconv.ParseFloat(x, 64); err != nil {
			return 0, err
		}
	default:
		return 0, fmt.Errorf("unexpected %T", v)
	}
	if math.IsNaN(f) {
		return 0, nil
	}
	return f, nil
}
