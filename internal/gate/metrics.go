package gate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/monitor/azquery"
)

// Defaults the CLI and the stack offer for the metrics gate. They are not applied to zero
// fields, because zero is a meaningful threshold (a delta of 0 allows no extra failures at
// all). docs/releases.md ("How the metrics gate decides") gives the numbers behind each.
const (
	DefaultWindow      = 10 * time.Minute
	DefaultMinRequests = 50
	// DefaultConfidence is each window's one-sided confidence: a window fails a comparison
	// when chance alone would give the canary that many more failures less than 1% of the time.
	DefaultConfidence = 0.99
	// DefaultFailureLimit is how many failing windows in a row roll a canary back. One window
	// whose evidence is as strong as that many failing windows together (a p-value below
	// (1 - confidence) to the power of the limit) rolls it back on its own.
	DefaultFailureLimit = 2
	// DefaultMaxFailureRateDelta and DefaultMaxFailureRateRatio are the smallest effect that
	// matters: a canary fails only when its failure rate exceeds the stable slot's by more than
	// the delta (0.2 points) and more than the ratio (1.5 times) at once.
	DefaultMaxFailureRateDelta = 0.002
	DefaultMaxFailureRateRatio = 1.5
	DefaultMaxP95Ratio         = 1.5
	// DefaultP95FloorMs: a canary p95 at most this many milliseconds above the stable slot's
	// never fails, whatever the ratio, so a fast API's cold starts are not a regression.
	DefaultP95FloorMs = 100
	// DefaultSampleRatioTolerance is how far below its pool weight the canary's share of the
	// users' requests may fall, as a fraction of the weight, before the shortfall counts: APIM
	// balances a weighted pool approximately, per gateway instance.
	DefaultSampleRatioTolerance = 0.3
	// DefaultLag is Azure Monitor's typical ingestion latency, 20 seconds to 3 minutes ("Log
	// data ingestion time in Azure Monitor"): a request that arrives later is counted as late.
	DefaultLag = 3 * time.Minute
	// Settle is how long before a query its arrival window ends: ingestion_time() is
	// "approximate" and measured by the service's clock, not the runner's ("ingestion_time()",
	// KQL reference), so rows stamped in the last moments may not be readable yet. They are
	// judged by the next window, which starts where this one ended.
	Settle = 30 * time.Second
	// QueryTimeout bounds one query, token included; the service is asked to give up a little
	// sooner (the Prefer: wait header), so it answers with an error rather than the client
	// cutting it off.
	QueryTimeout = 60 * time.Second
)

// rateEpsilon absorbs float rounding, so a delta exactly at the threshold passes as the
// operator would expect.
const rateEpsilon = 1e-9

// LogsQuerier is the part of *azquery.LogsClient the metrics gate needs, so tests and other
// callers can supply their own.
type LogsQuerier interface {
	QueryWorkspace(ctx context.Context, workspaceID string, body azquery.Body, options *azquery.LogsClientQueryWorkspaceOptions) (azquery.LogsClientQueryWorkspaceResponse, error)
}

// The real client must keep satisfying the interface.
var _ LogsQuerier = (*azquery.LogsClient)(nil)

// Thresholds are how the gate judges a window: how much data it needs, how sure it must be,
// and how large a difference matters.
type Thresholds struct {
	// MinRequests is the fewest users' requests each app needs in a window for the failure
	// rates and latencies to be compared.
	MinRequests int
	// Confidence is the one-sided confidence (0.5..1) at which a window's difference counts.
	Confidence float64
	// FailureLimit is the number of failing windows in a row that fail a release; a window
	// as sure as that many together is decisive on its own.
	FailureLimit int
	// MaxFailureRateDelta (0..1) and MaxFailureRateRatio (1 or more) are the smallest effect
	// that matters: a canary fails only when its rate exceeds the stable slot's by more than
	// both.
	MaxFailureRateDelta float64
	MaxFailureRateRatio float64
	// CheckClientErrors compares the canary's 4xx (other than 429) with the stable slot's, with
	// the same test and the same smallest effect.
	CheckClientErrors bool
	// FailClientErrors counts every 4xx as a failure as well; the 4xx comparison is then moot.
	FailClientErrors bool
	// MaxP95Ratio and P95FloorMs: the canary's p95 fails when it is above the stable slot's
	// times the ratio and more than the floor above it.
	MaxP95Ratio float64
	P95FloorMs  float64
	// SampleRatioTolerance (0..1): the canary's share of the users' requests fails when it is
	// surely below (1 - tolerance) times its pool weight.
	SampleRatioTolerance float64
}

// DefaultThresholds are the stack's defaults.
func DefaultThresholds() Thresholds {
	return Thresholds{
		MinRequests: DefaultMinRequests, Confidence: DefaultConfidence, FailureLimit: DefaultFailureLimit,
		MaxFailureRateDelta: DefaultMaxFailureRateDelta, MaxFailureRateRatio: DefaultMaxFailureRateRatio,
		CheckClientErrors: true, MaxP95Ratio: DefaultMaxP95Ratio, P95FloorMs: DefaultP95FloorMs,
		SampleRatioTolerance: DefaultSampleRatioTolerance,
	}
}

// Alpha is the chance a window's comparison is allowed to fail a healthy canary.
func (t Thresholds) Alpha() float64 { return 1 - t.Confidence }

// DecisiveAlpha is the p-value below which one window is decisive: as strong as FailureLimit
// failing windows in a row would be together.
func (t Thresholds) DecisiveAlpha() float64 {
	return math.Pow(t.Alpha(), float64(max(t.FailureLimit, 1)))
}

func (t Thresholds) validate() error {
	var errs []error
	if t.MinRequests < 1 {
		errs = append(errs, fmt.Errorf("min requests: %d, want at least 1", t.MinRequests))
	}
	if !(t.Confidence >= 0.5 && t.Confidence < 1) {
		errs = append(errs, fmt.Errorf("confidence: %g, want 0.5 to below 1", t.Confidence))
	}
	if t.FailureLimit < 1 {
		errs = append(errs, fmt.Errorf("failure limit: %d, want at least 1", t.FailureLimit))
	}
	if !(t.MaxFailureRateDelta >= 0 && t.MaxFailureRateDelta <= 1) {
		errs = append(errs, fmt.Errorf("max failure rate delta: %g, want 0 to 1", t.MaxFailureRateDelta))
	}
	if !(t.MaxFailureRateRatio >= 1) || math.IsInf(t.MaxFailureRateRatio, 0) {
		errs = append(errs, fmt.Errorf("max failure rate ratio: %g, want 1 or more", t.MaxFailureRateRatio))
	}
	if !(t.MaxP95Ratio > 0) || math.IsInf(t.MaxP95Ratio, 0) {
		errs = append(errs, fmt.Errorf("max p95 ratio: %g, want a positive number", t.MaxP95Ratio))
	}
	if !(t.P95FloorMs >= 0) || math.IsInf(t.P95FloorMs, 0) {
		errs = append(errs, fmt.Errorf("p95 floor: %g ms, want 0 or more", t.P95FloorMs))
	}
	if !(t.SampleRatioTolerance >= 0 && t.SampleRatioTolerance <= 1) {
		errs = append(errs, fmt.Errorf("sample ratio tolerance: %g, want 0 to 1", t.SampleRatioTolerance))
	}
	return errors.Join(errs...)
}

// Span is the stretch of time [From, To).
type Span struct{ From, To time.Time }

// Query says which requests one window of the gate holds. Rows are chosen by when they became
// readable (ingestion_time()), not by when they were served, so a window judged at once holds
// every row that had arrived, however late, and the next window takes up the rest: no row is
// judged twice, and none is lost for arriving after a fixed lag.
type Query struct {
	CanaryApp, StableApp string
	// CanaryComponent and StableComponent are the Application Insights components the slots
	// report to (stack output telemetryComponentIds): each app's rows count only from its own
	// component, selected by _ResourceId, which ingestion sets from the resource the data was
	// sent to, so the canary cannot write rows that count as the stable slot's. Both empty (a
	// stack deployed before the output existed) select by AppRoleName alone.
	CanaryComponent, StableComponent string
	// OwnComponents says each of the two (different) components holds one slot's telemetry
	// only, as the stack's component per slot does (telemetryComponents "slot" for both): a
	// row then counts for the slot whose component it is in, whatever its AppRoleName, so two
	// slots whose telemetry carries one role name (cloud_RoleName, OTEL_SERVICE_NAME set alike)
	// are still told apart. Without it a row must also carry its slot's app name, since a
	// component another app reports to (a team's) holds other apps' rows too.
	OwnComponents bool
	// ArrivedFrom and ArrivedTo bound ingestion_time(); a zero ArrivedFrom has no lower bound.
	ArrivedFrom, ArrivedTo time.Time
	// ServedFrom and ServedTo bound TimeGenerated, the time each request started; a zero
	// ServedTo is ArrivedTo, since nothing arrives before it was served.
	ServedFrom, ServedTo time.Time
	// Exclude are stretches of TimeGenerated left out: each shift, and the initial delay after
	// it, when both slots' figures are those of instances still starting.
	Exclude []Span
	// Current is where the current step's requests start: the ones served before it are
	// counted for failures, but not for the canary's share of the traffic or the latency,
	// which belong to the step's weights. Zero is ServedFrom.
	Current time.Time
	// SettledTo ends the stretch, from Current, whose users' requests are counted for the
	// canary's share whenever they arrived (the Settled figures): those served at least the
	// lag before ArrivedTo have nearly all arrived, so their split between the apps is the
	// pool's, where the rows of one arrival window come in batches, one app's at a time. Zero
	// is ArrivedTo less Late.
	SettledTo time.Time
	// HealthPath is the API's health operation (stack config healthPath): requests whose URL
	// path ends with it are the gates' and monitors', never users'.
	HealthPath string
	// Late is how long after it was served a row may arrive before it counts as late: the
	// rows a window by TimeGenerated, queried Late after it closed, would have lost.
	Late time.Duration
	// FailClientErrors counts every 4xx as a failure.
	FailClientErrors bool
}

// Timespan is the query API's timespan for q, which the service applies to TimeGenerated on
// top of the query's own filters.
func (q Query) Timespan() azquery.TimeInterval {
	end := q.ServedTo
	if end.IsZero() || q.ArrivedTo.After(end) {
		end = q.ArrivedTo
	}
	return azquery.NewTimeInterval(q.ServedFrom.UTC().Truncate(time.Second), end.UTC().Truncate(time.Second).Add(time.Second))
}

// Kinds of rows the query tells apart, in its Kind column.
const (
	kindUser    = "user"    // a user's request of the current step
	kindEarlier = "earlier" // a user's request served before the current step, arrived late
	kindProbe   = "probe"   // a request marked slotless-probe=1
	kindHealth  = "health"  // a request to the health path
	kindOutside = "outside" // a user's request that arrived before the window: counted only in Settled
)

// BuildQuery returns the KQL of one window.
//
//   - Rows are chosen by ingestion_time(), "the time the record was ingested and ready for
//     query" (KQL reference), within TimeGenerated bounds: a row that arrived late is judged by
//     the window in which it arrived, and counted in Late. The rows that arrived before the
//     window are read too, as kind "outside", for the Settled share alone.
//   - Only HTTP requests count: the Functions host records every invocation as a request, a
//     queue or timer trigger's without a URL and with result code 0 (azure-functions-host#7023,
//     azure-webjobs-sdk#1236).
//   - Each record stands for ItemCount requests when Application Insights samples, so requests
//     are sum(ItemCount) and the p95 is weighted by it; Rows is the records themselves, the
//     observations the tests count.
//   - A failure is Success == false, or a 5xx or 429 ResultCode (with FailClientErrors, any
//     status from 400): the Functions host records an HTTP invocation whose function returned
//     an error status as Success == true unless it threw (Azure/azure-functions-host#6511).
//   - Each app's rows are taken from its own component when the components are known: the
//     AppRoleName is whatever the app's telemetry says (cloud_RoleName, OTEL_SERVICE_NAME), but
//     _ResourceId is set at ingestion from the component the data was sent to (Azure Monitor,
//     "Standard columns in Azure Monitor Logs": _ResourceId), which the other slot's identity
//     may not publish to. With OwnComponents the component alone decides the slot.
//   - The release's own requests are set apart: those to the health path, whatever the
//     function is called, and those whose URL carries slotless-probe=1.
//
// App names and component ids are validated by the caller (ValidateApps, ValidateComponents),
// since they are spliced in.
func BuildQuery(q Query) string {
	failed := "Success == false or Status >= 500 or Status == 429"
	if q.FailClientErrors {
		failed = "Success == false or Status >= 400"
	}
	servedTo := q.ServedTo
	if servedTo.IsZero() {
		servedTo = q.ArrivedTo
	}
	current := q.Current
	if current.IsZero() || current.Before(q.ServedFrom) {
		current = q.ServedFrom
	}
	settledTo := q.SettledTo
	if settledTo.IsZero() {
		settledTo = q.ArrivedTo.Add(-q.Late)
	}
	inWindow := "true"
	if !q.ArrivedFrom.IsZero() {
		inWindow = fmt.Sprintf("ingestion_time() >= datetime(%s)", kqlTime(q.ArrivedFrom))
	}
	var b strings.Builder
	b.WriteString("AppRequests\n")
	fmt.Fprintf(&b, "| where TimeGenerated >= datetime(%s) and TimeGenerated < datetime(%s)\n", kqlTime(q.ServedFrom), kqlTime(servedTo))
	fmt.Fprintf(&b, "| where ingestion_time() < datetime(%s)\n", kqlTime(q.ArrivedTo))
	for _, x := range q.Exclude {
		fmt.Fprintf(&b, "| where not(TimeGenerated >= datetime(%s) and TimeGenerated < datetime(%s))\n", kqlTime(x.From), kqlTime(x.To))
	}
	canaryComponent, stableComponent := strings.ToLower(q.CanaryComponent), strings.ToLower(q.StableComponent)
	switch {
	case q.OwnComponents && canaryComponent != "" && stableComponent != "" && canaryComponent != stableComponent:
		// Each row becomes its component's slot's, under that slot's app name.
		fmt.Fprintf(&b, "| where _ResourceId in~ (%q, %q)\n", canaryComponent, stableComponent)
		fmt.Fprintf(&b, "| extend AppRoleName = case(_ResourceId =~ %q, %q, %q)\n", canaryComponent, q.CanaryApp, q.StableApp)
	case canaryComponent != "" && stableComponent != "":
		// _ResourceId is lower case in Log Analytics; =~ compares without regard to case.
		fmt.Fprintf(&b, "| where (AppRoleName =~ %q and _ResourceId =~ %q) or (AppRoleName =~ %q and _ResourceId =~ %q)\n",
			q.CanaryApp, canaryComponent, q.StableApp, stableComponent)
	default:
		fmt.Fprintf(&b, "| where AppRoleName in~ (%q, %q)\n", q.CanaryApp, q.StableApp)
	}
	b.WriteString("| where isnotempty(Url)\n")
	fmt.Fprintf(&b, "| extend Status = toint(ResultCode), Own = tostring(parse_url(Url).Path) endswith %q or tostring(parse_url(Url)[\"Query Parameters\"][%q]) == %q, Delay = ingestion_time() - TimeGenerated, InWindow = %s\n",
		q.HealthPath, ProbeMarker, ProbeValue, inWindow)
	fmt.Fprintf(&b, "| extend Settled = not(Own) and TimeGenerated >= datetime(%s) and TimeGenerated < datetime(%s)\n", kqlTime(current), kqlTime(settledTo))
	fmt.Fprintf(&b, "| extend Kind = case(not(InWindow), %q, Own and tostring(parse_url(Url).Path) endswith %q, %q, Own, %q, TimeGenerated < datetime(%s), %q, %q)\n", kindOutside, q.HealthPath, kindHealth, kindProbe, kqlTime(current), kindEarlier, kindUser)
	fmt.Fprintf(&b, "| summarize Rows = count(), Requests = sum(ItemCount), Failed = sumif(ItemCount, %s), ClientErrors = sumif(ItemCount, Status >= 400 and Status < 500 and Status != 429), Late = sumif(ItemCount, Delay > %ds), P95DurationMs = percentilew(DurationMs, ItemCount, 95), SettledRows = countif(Settled), Settled = sumif(ItemCount, Settled) by AppRoleName, Kind",
		failed, int64(q.Late/time.Second))
	return b.String()
}

func kqlTime(t time.Time) string { return t.UTC().Truncate(time.Second).Format(time.RFC3339) }

// Verdict is the outcome of a metrics comparison.
type Verdict string

// Verdicts of the metrics gate.
const (
	VerdictPass         Verdict = "pass"
	VerdictFail         Verdict = "fail"
	VerdictInconclusive Verdict = "inconclusive"
)

// SlotFigures are one app's request figures over a window. The users' figures leave out the
// release's own requests (Probes, Health).
type SlotFigures struct {
	App string
	// Requests, Failed and ClientErrors count the users' requests (sum of ItemCount), late
	// ones from an earlier step included.
	Requests int64
	Failed   int64
	// FailureRate is Failed/Requests, 0..1; 0 when there were no requests.
	FailureRate     float64
	ClientErrors    int64   `json:"ClientErrors,omitempty"`
	ClientErrorRate float64 `json:"ClientErrorRate,omitempty"`
	// P95Ms is the 95th percentile of DurationMs, weighted by ItemCount, over the current
	// step's users' requests.
	P95Ms float64
	// Rows are the records behind Requests: with sampling, fewer than the requests.
	Rows int64 `json:"Rows,omitempty"`
	// Current is the window's users' requests served in the current step, whose p95 P95Ms is.
	Current int64 `json:"Current,omitempty"`
	// Settled and SettledRows are the users' requests (and records) of the current step served
	// long enough ago that nearly all have arrived, whichever window they arrived in: the
	// app's share of the traffic.
	Settled     int64 `json:"Settled,omitempty"`
	SettledRows int64 `json:"SettledRows,omitempty"`
	// Late counts the users' requests that arrived more than the lag after they were served.
	Late int64 `json:"Late,omitempty"`
	// Probes and Health count the release's own requests: marked probes, health requests.
	Probes int64 `json:"Probes,omitempty"`
	Health int64 `json:"Health,omitempty"`
}

// Add is f and g together: counts add up; the p95 cannot, so it is the larger of the two, an
// upper bound that is never used for a verdict.
func (f SlotFigures) Add(g SlotFigures) SlotFigures {
	out := SlotFigures{App: f.App, Requests: f.Requests + g.Requests, Failed: f.Failed + g.Failed, ClientErrors: f.ClientErrors + g.ClientErrors,
		P95Ms: max(f.P95Ms, g.P95Ms), Rows: f.Rows + g.Rows, Current: f.Current + g.Current, Settled: f.Settled + g.Settled, SettledRows: f.SettledRows + g.SettledRows,
		Late: f.Late + g.Late, Probes: f.Probes + g.Probes, Health: f.Health + g.Health}
	if out.App == "" {
		out.App = g.App
	}
	out.rates()
	return out
}

func (f *SlotFigures) rates() {
	f.FailureRate, f.ClientErrorRate = 0, 0
	if f.Requests > 0 {
		f.FailureRate = float64(f.Failed) / float64(f.Requests)
		f.ClientErrorRate = float64(f.ClientErrors) / float64(f.Requests)
	}
}

// observations are the records behind n requests: the tests count independent observations,
// and a sampled record is one, whatever its ItemCount.
func (f SlotFigures) observations() int64 {
	if f.Rows > 0 && f.Rows < f.Requests {
		return f.Rows
	}
	return f.Requests
}

// Reasons a metrics gate fails with.
const (
	// ReasonFailureRate means the canary fails more often than the stable slot, surely and by
	// more than the smallest effect that matters.
	ReasonFailureRate Reason = "failure-rate"
	// ReasonClientErrors is the same for 4xx answers other than 429: a changed route or
	// contract (404, 405, 400, 415).
	ReasonClientErrors Reason = "client-errors"
	// ReasonLatency means the canary's p95 duration exceeds the allowed multiple of the stable
	// slot's, and the floor above it.
	ReasonLatency Reason = "p95-latency"
	// ReasonSampleRatio means the canary's share of the users' requests is surely below its
	// pool weight: requests lost before the app could record them.
	ReasonSampleRatio Reason = "sample-ratio"
	// ReasonInconclusive means there was too little traffic to compare and the gate was told
	// to block in that case.
	ReasonInconclusive Reason = "inconclusive"
)

// Judgement is the verdict of one window.
type Judgement struct {
	Verdict Verdict
	// Reason is the first failing check's.
	Reason Reason
	// Decisive marks a failing window whose evidence alone is as strong as FailureLimit
	// failing windows in a row.
	Decisive bool
	// Reasons say what each check saw, one sentence each; Failing are those of the checks
	// that failed.
	Reasons []string
	Failing []string
}

// Judge is the verdict of one window: the canary's figures against the stable slot's (at 100%,
// against the stable slot's baseline from before the shift). share is the canary's pool weight
// (0..1) while the window's current requests were served; 0 skips the share check, as at 100%.
// It is a pure function, so a simulation can drive it as a release does.
//
// Each rate is compared with Fisher's exact test, one-sided, at the thresholds' confidence, and
// fails only when the difference is also at least the smallest effect that matters. The share
// is compared with a one-sided binomial test of the canary's part of both apps' requests
// against (1 - tolerance) times its weight. The p95 has no test: it fails when it is above both
// the ratio and the floor.
func Judge(c, s SlotFigures, t Thresholds, share float64) Judgement {
	var j Judgement
	alpha, decisive := t.Alpha(), t.DecisiveAlpha()
	var fails []Reason
	fail := func(r Reason, p float64, msg string) {
		fails = append(fails, r)
		j.Reasons = append(j.Reasons, msg)
		j.Failing = append(j.Failing, msg)
		if p < decisive {
			j.Decisive = true
		}
	}

	thin := thinness(c, s, t.MinRequests)
	if thin == nil {
		compare := func(r Reason, what string, xc, xs int64, rc, rs float64) {
			nc, ns := c.observations(), s.observations()
			p := 1.0
			matters := rc-rs > t.MaxFailureRateDelta+rateEpsilon && rc > t.MaxFailureRateRatio*rs*(1+rateEpsilon)
			if matters {
				p = FisherGreater(int64(math.Round(rc*float64(nc))), nc, int64(math.Round(rs*float64(ns))), ns)
			}
			ratio := "∞"
			switch {
			case rs > 0:
				ratio = fmt.Sprintf("%.2f", rc/rs)
			case rc == 0:
				ratio = "1.00"
			}
			msg := fmt.Sprintf("canary %s %.2f%% (%d of %d) vs stable %.2f%% (%d of %d): %+.2f points, ×%s; one-sided Fisher p %s, fails below %.3g with at least %+.2f points and ×%.2f",
				what, 100*rc, xc, c.Requests, 100*rs, xs, s.Requests, 100*(rc-rs), ratio, pValue(p), alpha, 100*t.MaxFailureRateDelta, t.MaxFailureRateRatio)
			if matters && p < alpha {
				fail(r, p, msg)
			} else {
				j.Reasons = append(j.Reasons, msg)
			}
		}
		compare(ReasonFailureRate, "failure rate", c.Failed, s.Failed, c.FailureRate, s.FailureRate)
		if t.CheckClientErrors && !t.FailClientErrors {
			compare(ReasonClientErrors, "4xx rate", c.ClientErrors, s.ClientErrors, c.ClientErrorRate, s.ClientErrorRate)
		}
		if c.Current > 0 && s.Current > 0 {
			ratio := math.Inf(1)
			if s.P95Ms > 0 {
				ratio = c.P95Ms / s.P95Ms
			} else if c.P95Ms == 0 {
				ratio = 1
			}
			msg := fmt.Sprintf("canary p95 %.1f ms vs stable %.1f ms: ratio %.2f, allowed %.2f or up to %.0f ms more", c.P95Ms, s.P95Ms, ratio, t.MaxP95Ratio, t.P95FloorMs)
			if c.P95Ms > t.MaxP95Ratio*s.P95Ms*(1+rateEpsilon) && c.P95Ms-s.P95Ms > t.P95FloorMs+rateEpsilon {
				// A p95 has no test to be sure by, so it is never decisive alone.
				fail(ReasonLatency, 1, msg)
			} else {
				j.Reasons = append(j.Reasons, msg)
			}
		}
	}
	// The share, whenever the canary should have had enough settled requests to judge. It is
	// the step's so far, not the window's, so it is judged at the decisive level: it would
	// otherwise be tested again at every window.
	if share > 0 && share < 1 {
		total := c.Settled + s.Settled
		if expected := float64(total) * share; expected >= float64(t.MinRequests) {
			floor := (1 - t.SampleRatioTolerance) * share
			got := float64(c.Settled) / float64(total)
			n := c.SettledRows + s.SettledRows
			if n <= 0 || n > total {
				n = total
			}
			k := int64(math.Round(got * float64(n)))
			p := 1.0
			if got < floor {
				p = BinomialAtMost(k, n, floor)
			}
			msg := fmt.Sprintf("canary share %.2f%% of the step's %d settled users' requests, pool weight %.0f%%, allowed down to %.2f%%: one-sided p %s",
				100*got, total, 100*share, 100*floor, pValue(p))
			if p < decisive {
				fail(ReasonSampleRatio, p, msg+fmt.Sprintf(" (below %.3g): requests lost before the canary recorded them (crashes, gateway timeouts, its app's authentication refusing the gateway)", decisive))
			} else {
				j.Reasons = append(j.Reasons, msg)
			}
		}
	}

	switch {
	case len(fails) > 0:
		j.Verdict, j.Reason = VerdictFail, fails[0]
		if t.FailureLimit <= 1 {
			j.Decisive = true
		}
	case thin != nil:
		j.Verdict = VerdictInconclusive
		j.Reasons = append(thin, j.Reasons...)
	default:
		j.Verdict = VerdictPass
	}
	return j
}

// JudgeSteps compares the canary's failure and 4xx rates with the stable slot's over several
// steps of a release at once, at the one-sided level alpha: each step is a stratum of an exact
// stratified test (FisherStratifiedGreater), since the two slots' shares of the traffic differ
// from step to step and a failure rate that moves with time would otherwise look like a
// difference between them. The effect is the canary's rate against the stable slot's
// standardized to the canary's mix of steps. It is a pure function, as Judge is.
func JudgeSteps(steps [][2]SlotFigures, t Thresholds, alpha float64) Judgement {
	var j Judgement
	var c, s SlotFigures
	for _, st := range steps {
		c, s = c.Add(st[0]), s.Add(st[1])
	}
	if thin := thinness(c, s, t.MinRequests); thin != nil {
		j.Verdict, j.Reasons = VerdictInconclusive, thin
		return j
	}
	var fails []Reason
	compare := func(r Reason, what string, failed func(SlotFigures) int64) {
		var strata []Stratum
		var xc, nc, expected float64
		for _, st := range steps {
			sc, ss := st[0], st[1]
			oc, os := sc.observations(), ss.observations()
			if sc.Requests == 0 || ss.Requests == 0 {
				continue
			}
			rc, rs := float64(failed(sc))/float64(sc.Requests), float64(failed(ss))/float64(ss.Requests)
			strata = append(strata, Stratum{X1: int64(math.Round(rc * float64(oc))), N1: oc, X2: int64(math.Round(rs * float64(os))), N2: os})
			xc += float64(failed(sc))
			nc += float64(sc.Requests)
			expected += float64(sc.Requests) * rs
		}
		if nc == 0 {
			return
		}
		rc, rs := xc/nc, expected/nc
		p := 1.0
		matters := rc-rs > t.MaxFailureRateDelta+rateEpsilon && rc > t.MaxFailureRateRatio*rs*(1+rateEpsilon)
		if matters {
			p = FisherStratifiedGreater(strata)
		}
		msg := fmt.Sprintf("over %d steps, canary %s %.2f%% of %d vs stable %.2f%% at the canary's mix of steps: %+.2f points; one-sided stratified Fisher p %s, fails below %.3g with at least %+.2f points and ×%.2f",
			len(strata), what, 100*rc, int64(nc), 100*rs, 100*(rc-rs), pValue(p), alpha, 100*t.MaxFailureRateDelta, t.MaxFailureRateRatio)
		j.Reasons = append(j.Reasons, msg)
		if matters && p < alpha {
			fails = append(fails, r)
			j.Failing = append(j.Failing, msg)
		}
	}
	compare(ReasonFailureRate, "failure rate", func(f SlotFigures) int64 { return f.Failed })
	if t.CheckClientErrors && !t.FailClientErrors {
		compare(ReasonClientErrors, "4xx rate", func(f SlotFigures) int64 { return f.ClientErrors })
	}
	if len(fails) > 0 {
		j.Verdict, j.Reason, j.Decisive = VerdictFail, fails[0], true
		return j
	}
	j.Verdict = VerdictPass
	return j
}

// thinness says why the rates cannot be compared yet, nil when they can.
func thinness(c, s SlotFigures, minRequests int) []string {
	var thin []string
	if c.Requests < int64(minRequests) {
		thin = append(thin, fmt.Sprintf("canary %s had %d users' requests, want at least %d", c.App, c.Requests, minRequests))
	}
	// A thin baseline makes any comparison noise, so it is inconclusive too.
	if s.Requests < int64(minRequests) {
		thin = append(thin, fmt.Sprintf("stable %s had %d users' requests, want at least %d", s.App, s.Requests, minRequests))
	}
	return thin
}

// pValue renders a p-value for people: three significant digits, small ones in e-notation.
func pValue(p float64) string {
	if p >= 0.001 {
		return strconv.FormatFloat(p, 'g', 3, 64)
	}
	return strconv.FormatFloat(p, 'e', 1, 64)
}

// QueryFigures runs q in the workspace and returns both apps' figures; an error means the gate
// could not run. A partial result is an error: it could drop one app's rows and make a bad
// canary look like one without traffic.
func QueryFigures(ctx context.Context, client LogsQuerier, workspaceID string, q Query) (canary, stable SlotFigures, kql string, err error) {
	kql = BuildQuery(q)
	ts := q.Timespan()
	wait := int((QueryTimeout - 10*time.Second) / time.Second)
	ctx, cancel := context.WithTimeout(ctx, QueryTimeout)
	defer cancel()
	resp, err := client.QueryWorkspace(ctx, workspaceID, azquery.Body{Query: &kql, Timespan: &ts}, &azquery.LogsClientQueryWorkspaceOptions{Options: &azquery.LogsQueryOptions{Wait: &wait}})
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
			return canary, stable, kql, fmt.Errorf("query workspace %s: no answer within %s: %w", workspaceID, QueryTimeout, err)
		}
		return canary, stable, kql, fmt.Errorf("query workspace %s: %w", workspaceID, err)
	}
	if resp.Error != nil {
		return canary, stable, kql, fmt.Errorf("query workspace %s: partial result: %w", workspaceID, resp.Error)
	}
	figures, err := parseFigures(resp.Results)
	if err != nil {
		return canary, stable, kql, fmt.Errorf("read query result: %w", err)
	}
	return pick(figures, q.CanaryApp), pick(figures, q.StableApp), kql, nil
}

// MetricsConfig is one run of the gate on its own (slotless gate metrics): which apps to
// compare, over what window, and how.
type MetricsConfig struct {
	// WorkspaceID is the Log Analytics workspace (customer) ID, a GUID, that the
	// workspace-based Application Insights component writes to.
	WorkspaceID string
	// CanaryApp and StableApp are the function app names, which Application Insights records
	// as AppRoleName.
	CanaryApp, StableApp string
	// CanaryComponent and StableComponent are the components the apps report to (Query's);
	// both empty selects by AppRoleName alone.
	CanaryComponent, StableComponent string
	// Window is how long a stretch of arrivals is judged: the rows that reached Log Analytics
	// in the Window before the query (less Settle).
	Window time.Duration
	// Lag is how long after it was served a row may arrive and still count (and, past it,
	// counts as late).
	Lag time.Duration
	// HealthPath is the API's health operation's path; its requests are not users'.
	HealthPath string
	// Share is the canary's pool weight (0..1) during the window, for the share check; 0 skips
	// it.
	Share      float64
	Thresholds Thresholds
	// InconclusiveBlocks makes too little traffic a failed gate instead of a pass with a
	// warning.
	InconclusiveBlocks bool
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// MetricsResult is what the metrics gate measured and concluded.
type MetricsResult struct {
	Verdict Verdict
	Canary  SlotFigures
	Stable  SlotFigures
	// Reasons explain the verdict, one sentence each.
	Reasons []string
	// Warnings are what the operator should look at whatever the verdict.
	Warnings []string
	// Query and Timespan are what was sent, so an operator can rerun it in the portal.
	Query    string
	Timespan azquery.TimeInterval
}

// Metrics queries one window of AppRequests for both apps and judges it as a release judges a
// window. It returns a *GateError when the canary fails, or when traffic was too thin and
// cfg.InconclusiveBlocks is set; other errors mean the gate could not run.
func Metrics(ctx context.Context, client LogsQuerier, cfg MetricsConfig, progress io.Writer) (MetricsResult, error) {
	if err := cfg.validate(); err != nil {
		return MetricsResult{}, fmt.Errorf("metrics gate config: %w", err)
	}
	if progress == nil {
		progress = io.Discard
	}
	now := time.Now
	if cfg.Now != nil {
		now = cfg.Now
	}
	end := now().UTC().Add(-Settle).Truncate(time.Second)
	start := end.Add(-cfg.Window)
	q := Query{CanaryApp: cfg.CanaryApp, StableApp: cfg.StableApp, CanaryComponent: cfg.CanaryComponent, StableComponent: cfg.StableComponent, ArrivedFrom: start, ArrivedTo: end,
		ServedFrom: start.Add(-cfg.Lag), HealthPath: cfg.HealthPath, Late: cfg.Lag, FailClientErrors: cfg.Thresholds.FailClientErrors}
	res := MetricsResult{Timespan: q.Timespan()}
	fmt.Fprintf(progress, "metrics gate: AppRequests in workspace %s that arrived in the %s to %s, served since %s\n", cfg.WorkspaceID, cfg.Window, end.Format(time.RFC3339), q.ServedFrom.Format(time.RFC3339))
	var err error
	res.Canary, res.Stable, res.Query, err = QueryFigures(ctx, client, cfg.WorkspaceID, q)
	if err != nil {
		return res, err
	}
	j := Judge(res.Canary, res.Stable, cfg.Thresholds, cfg.Share)
	res.Verdict, res.Reasons = j.Verdict, j.Reasons
	res.Warnings = Warnings(res.Canary, res.Stable, cfg.HealthPath)
	printFigures(progress, res)
	switch {
	case j.Verdict == VerdictFail:
		return res, &GateError{Reason: j.Reason, Detail: strings.Join(j.Failing, "; ")}
	case j.Verdict == VerdictInconclusive && cfg.InconclusiveBlocks:
		return res, &GateError{Reason: ReasonInconclusive, Detail: strings.Join(j.Reasons, "; ") + " in " + cfg.Window.String()}
	}
	return res, nil
}

// Warnings are what the figures say about the gate itself: no health request at all means the
// health path is not what the app records (a renamed route, another routePrefix), so the
// release's own requests may be counted as users'.
func Warnings(c, s SlotFigures, healthPath string) []string {
	if c.Health+s.Health == 0 && c.Requests+s.Requests > 0 {
		return []string{fmt.Sprintf("no request to the health path %s was recorded by either app: if the app records its health endpoint under another path, the release's health checks are being counted as users' requests; check healthPath", healthPath)}
	}
	return nil
}

// validate rejects configs that cannot give a meaningful comparison, and app names that could
// change the meaning of the KQL they are spliced into.
func (cfg MetricsConfig) validate() error {
	var errs []error
	if strings.TrimSpace(cfg.WorkspaceID) == "" {
		errs = append(errs, errors.New("workspace ID: empty"))
	}
	errs = append(errs, ValidateApps(cfg.CanaryApp, cfg.StableApp), ValidateComponents(cfg.CanaryComponent, cfg.StableComponent))
	if cfg.Window <= 0 {
		errs = append(errs, fmt.Errorf("window: %s, want a positive duration", cfg.Window))
	}
	if cfg.Lag < 0 {
		errs = append(errs, fmt.Errorf("lag: %s, want 0 or more", cfg.Lag))
	}
	if !validHealthPath(cfg.HealthPath) {
		errs = append(errs, fmt.Errorf("health path %q: want '/' then letters, digits, '-', '_' and '.', in segments separated by '/'", cfg.HealthPath))
	}
	if !(cfg.Share >= 0 && cfg.Share < 1) {
		errs = append(errs, fmt.Errorf("share: %g, want 0 (no share check) to below 1", cfg.Share))
	}
	errs = append(errs, cfg.Thresholds.validate())
	return errors.Join(errs...)
}

// ValidateApps checks the two app names the query splices in.
func ValidateApps(canary, stable string) error {
	var errs []error
	for _, a := range []struct{ name, value string }{{"canary app", canary}, {"stable app", stable}} {
		if !validAppName(a.value) {
			errs = append(errs, fmt.Errorf("%s %q: want a function app name (letters, digits and '-', at most 60)", a.name, a.value))
		}
	}
	if canary != "" && strings.EqualFold(canary, stable) {
		errs = append(errs, fmt.Errorf("canary and stable app are both %q", canary))
	}
	return errors.Join(errs...)
}

// componentID is an Application Insights component's ARM id; its characters are also what
// keeps it inert inside a KQL string literal.
var componentID = regexp.MustCompile(`(?i)^/subscriptions/[0-9a-f-]{36}/resourceGroups/[-\w.()]{1,90}/providers/Microsoft\.Insights/components/[-\w.()]{1,260}$`)

// ValidateComponents checks the two component ids the query splices in: both empty (select by
// AppRoleName alone) or both a component's ARM id.
func ValidateComponents(canary, stable string) error {
	if canary == "" && stable == "" {
		return nil
	}
	var errs []error
	for _, c := range []struct{ name, value string }{{"canary component", canary}, {"stable component", stable}} {
		if !componentID.MatchString(c.value) {
			errs = append(errs, fmt.Errorf("%s %q: want an Application Insights component's resource id, /subscriptions/<subscription id>/resourceGroups/<group>/providers/Microsoft.Insights/components/<name>", c.name, c.value))
		}
	}
	return errors.Join(errs...)
}

// validAppName matches Azure's rule for site names, which is also what keeps them inert inside
// a KQL string literal.
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

// validHealthPath is the stack's rule for healthPath, which also keeps it inert in a KQL string
// literal.
func validHealthPath(s string) bool {
	if len(s) < 2 || s[0] != '/' || s[len(s)-1] == '/' || strings.Contains(s, "//") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '/') {
			return false
		}
	}
	return true
}

// figureRow is one row of the answer: one app's rows of one kind.
type figureRow struct {
	app, kind                                                        string
	rows, requests, failed, clientErrors, late, settled, settledRows int64
	p95                                                              float64
}

// parseFigures reads the summarised rows by column name, so a reordered projection does not
// silently swap figures, and folds each app's kinds into its figures.
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
	for _, name := range []string{"AppRoleName", "Kind", "Rows", "Requests", "Failed", "ClientErrors", "Late", "P95DurationMs", "Settled", "SettledRows"} {
		if _, ok := col[name]; !ok {
			return nil, fmt.Errorf("column %s missing from the answer", name)
		}
	}
	var rows []figureRow
	for n, row := range t.Rows {
		get := func(name string) any {
			if i := col[name]; i < len(row) {
				return row[i]
			}
			return nil
		}
		var f figureRow
		f.app, _ = get("AppRoleName").(string)
		f.kind, _ = get("Kind").(string)
		for _, c := range []struct {
			name string
			to   *int64
		}{{"Rows", &f.rows}, {"Requests", &f.requests}, {"Failed", &f.failed}, {"ClientErrors", &f.clientErrors}, {"Late", &f.late}, {"Settled", &f.settled}, {"SettledRows", &f.settledRows}} {
			v, err := toInt(get(c.name))
			if err != nil {
				return nil, fmt.Errorf("row %d %s: %w", n, c.name, err)
			}
			*c.to = v
		}
		var err error
		if f.p95, err = toFloat(get("P95DurationMs")); err != nil {
			return nil, fmt.Errorf("row %d P95DurationMs: %w", n, err)
		}
		rows = append(rows, f)
	}
	byApp := map[string]*SlotFigures{}
	var order []string
	for _, f := range rows {
		key := strings.ToLower(f.app)
		s := byApp[key]
		if s == nil {
			s = &SlotFigures{App: f.app}
			byApp[key] = s
			order = append(order, key)
		}
		switch f.kind {
		case kindUser, kindEarlier:
			s.Requests += f.requests
			s.Failed += f.failed
			s.ClientErrors += f.clientErrors
			s.Rows += f.rows
			s.Late += f.late
			s.Settled += f.settled
			s.SettledRows += f.settledRows
			if f.kind == kindUser {
				s.Current, s.P95Ms = f.requests, f.p95
			}
		case kindOutside:
			s.Settled += f.settled
			s.SettledRows += f.settledRows
		case kindProbe:
			s.Probes += f.requests
		case kindHealth:
			s.Health += f.requests
		default:
			return nil, fmt.Errorf("row of kind %q: want user, earlier, outside, probe or health", f.kind)
		}
	}
	out := make([]SlotFigures, 0, len(order))
	for _, k := range order {
		s := byApp[k]
		s.rates()
		out = append(out, *s)
	}
	return out, nil
}

// pick returns app's figures, or zeros when it had no requests (KQL's summarize emits no row for
// it then). Role names are matched without regard to case, as the query's in~ does.
func pick(figs []SlotFigures, app string) SlotFigures {
	for _, f := range figs {
		if strings.EqualFold(f.App, app) {
			f.App = app
			return f
		}
	}
	return SlotFigures{App: app}
}

// printFigures writes the side-by-side table the pipeline log shows: names left-aligned,
// figures right-aligned so they can be compared at a glance.
func printFigures(w io.Writer, res MetricsResult) {
	width := max(len("app"), len(res.Canary.App), len(res.Stable.App))
	fmt.Fprintf(w, "%-6s  %-*s  %9s  %7s  %12s  %6s  %9s  %6s  %6s\n", "role", width, "app", "requests", "failed", "failure rate", "4xx", "p95 ms", "probes", "late")
	for _, r := range []struct {
		role string
		f    SlotFigures
	}{{"canary", res.Canary}, {"stable", res.Stable}} {
		fmt.Fprintf(w, "%-6s  %-*s  %9d  %7d  %11.2f%%  %6d  %9.1f  %6d  %6d\n", r.role, width, r.f.App, r.f.Requests, r.f.Failed, 100*r.f.FailureRate, r.f.ClientErrors, r.f.P95Ms, r.f.Probes+r.f.Health, r.f.Late)
	}
	for _, warning := range res.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warning)
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

// toFloat accepts the shapes a real column takes in JSON; Log Analytics writes NaN and
// infinities as strings, and an empty percentile as null.
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
