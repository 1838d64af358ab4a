package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/slotless/slotless/internal/apiurl"
	"github.com/slotless/slotless/internal/gate"
	"github.com/slotless/slotless/stack"
)

// Environment the gate command reads. Secrets come from the environment, not
// flags, so they stay out of process listings and pipeline logs.
const (
	envAPIURL          = "SLOTLESS_API_URL"
	envPinToken        = "SLOTLESS_PIN_TOKEN"
	envSubscriptionKey = "SLOTLESS_SUBSCRIPTION_KEY"
	envFunctionKey     = "SLOTLESS_FUNCTION_KEY"
)

// Headers the health gate sends; APIM's policy and the Functions host read them.
const (
	headerPinSlot         = "X-Slotless-Slot"
	headerPinToken        = "X-Slotless-Token"
	headerSubscriptionKey = "Ocp-Apim-Subscription-Key"
	headerFunctionKey     = "x-functions-key"
)

// metricsQueryTimeout bounds the metrics gate, token acquisition included, so
// a stuck credential chain fails the pipeline step instead of hanging it.
const metricsQueryTimeout = 2 * time.Minute

func newGateCmd(d deps) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "gate",
		Short: "The release gates of one slot: health and metrics",
		Long: `A gate decides whether a release may take its next step. health polls a slot's
health operation, pinned to the slot through API Management; metrics compares the canary
slot's requests with the stable slot's in Application Insights. A gate that says no
prints "gate failed: <reason>: ..." and exits 1.`,
		Example: `  slotless gate health --slot blue --expect-version 1.1.0
  slotless gate metrics --slot blue --canary-app app-blue --stable-app app-green --workspace-id <id>`,
		Args: cobra.ArbitraryArgs,
		RunE: needSubcommand,
	}
	cmd.AddCommand(newGateHealthCmd(d), newGateMetricsCmd(d))
	return cmd
}

// healthOptions are the flags of gate health.
type healthOptions struct {
	slot, version, url, apiURL, healthPath          string
	successes                                       int
	interval, timeout, reqTimeout, unreachableAfter time.Duration
}

func newGateHealthCmd(d deps) *cobra.Command {
	var o healthOptions
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Poll a slot's health operation until it answers healthy enough times in a row",
		Long: `Health polls the slot's health operation until --successes healthy answers in a row come
from the right slot (and --expect-version, when given), or --timeout passes. Through API
Management (--api-url, or SLOTLESS_API_URL) each request goes to --health-path under the API,
pinned to the slot with the X-Slotless-Slot header and the token in SLOTLESS_PIN_TOKEN, and
API Management sends it to the app under its route prefix (stack config routePrefix); --url
polls one address directly, without pinning: the app's own /<routePrefix>/health, /api/health
unless host.json says otherwise. --timeout bounds the whole gate and each request within it.

It fails with the reason of the last failure: wrong-version, wrong-slot, unhealthy,
timeout, or unreachable. No HTTP answer at all (connection refused, unknown host, TLS
failure) is retried only for --unreachable-after, since a gateway always answers and an
address nothing listens on for that long is a wrong address; then the gate fails as
unreachable without waiting out --timeout.`,
		Example: `  SLOTLESS_PIN_TOKEN=... slotless gate health --slot blue --expect-version 1.1.0 \
    --api-url "$(pulumi stack output apiUrl)"
  SLOTLESS_FUNCTION_KEY=... slotless gate health --slot green \
    --url https://green-app5e6f7a8b.azurewebsites.net/api/health`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := o.config(d.getenv)
			if err != nil {
				return err
			}
			_, err = d.healthGate(cmd.Context(), cfg, cmd.OutOrStdout())
			return gateResult("health", err)
		},
	}
	f := cmd.Flags()
	slotFlag(cmd, &o.slot, "the slot that must answer: green or blue (required)")
	f.StringVar(&o.version, "expect-version", "", "the version that must answer (any when empty)")
	f.StringVar(&o.url, "url", "", "full health URL, e.g. a function app's /<routePrefix>/health; no slot pinning")
	f.StringVar(&o.apiURL, "api-url", "", "APIM API URL (stack output apiUrl); default $"+envAPIURL)
	f.StringVar(&o.healthPath, "health-path", stack.DefaultHealthPath, "the health operation's path under --api-url (stack output healthPath)")
	f.IntVar(&o.successes, "successes", gate.DefaultSuccesses, "healthy answers in a row that pass the gate")
	f.DurationVar(&o.interval, "interval", gate.DefaultInterval, "pause between polls")
	f.DurationVar(&o.timeout, "timeout", gate.DefaultTimeout, "give up after this long; also bounds each request")
	f.DurationVar(&o.reqTimeout, "request-timeout", gate.DefaultRequestTimeout, "limit for each poll, cut to --timeout when longer")
	f.DurationVar(&o.unreachableAfter, "unreachable-after", gate.DefaultUnreachableAfter, "fail as unreachable after this long without any HTTP answer")
	return cmd
}

// config validates the flags and environment into a health gate config.
func (o healthOptions) config(getenv func(string) string) (gate.HealthConfig, error) {
	slot, err := parseSlotFlag(o.slot)
	if err != nil {
		return gate.HealthConfig{}, err
	}
	if o.successes < 1 {
		return gate.HealthConfig{}, usagef("--successes: %d, want at least 1", o.successes)
	}
	for _, d := range []struct {
		name  string
		value time.Duration
	}{{"--interval", o.interval}, {"--timeout", o.timeout}, {"--request-timeout", o.reqTimeout}, {"--unreachable-after", o.unreachableAfter}} {
		if d.value <= 0 {
			return gate.HealthConfig{}, usagef("%s: %s, want a positive duration", d.name, d.value)
		}
	}
	target, err := newHealthTarget(o.url, o.apiURL, o.healthPath, getenv)
	if err != nil {
		return gate.HealthConfig{}, err
	}
	if target == nil {
		return gate.HealthConfig{}, usagef("gate health: give --url, or --api-url or %s", envAPIURL)
	}
	cfg := target.config(slot)
	cfg.ExpectVersion, cfg.Successes = o.version, o.successes
	cfg.Interval, cfg.Timeout, cfg.RequestTimeout, cfg.UnreachableAfter = o.interval, o.timeout, o.reqTimeout, o.unreachableAfter
	return cfg, nil
}

// healthTarget is where a health gate sends its requests, and with which headers. gate health,
// shift and promote build it the same way, so the secrets each sends agree.
type healthTarget struct {
	url     string
	headers map[string]string
	// pinned is true through API Management: each request names its slot.
	pinned bool
}

// newHealthTarget validates --url and --api-url (or SLOTLESS_API_URL). It returns nil, and no
// error, when neither is given.
//
// The function key goes only to a direct --url: through API Management the gateway adds its
// own key on the way to the backend, and a key sent to the gateway would sit in its request
// logs for nothing. The pinning token goes only to the gateway, the only place that reads it.
func newHealthTarget(rawURL, apiURL, healthPath string, getenv func(string) string) (*healthTarget, error) {
	t := &healthTarget{headers: map[string]string{}}
	if key := getenv(envSubscriptionKey); key != "" {
		t.headers[headerSubscriptionKey] = key
	}
	if rawURL != "" {
		if apiURL != "" {
			return nil, usageError{"--url and --api-url: give one, not both"}
		}
		// The URL may carry ?code=, so it is never echoed back.
		if !absoluteHTTP(rawURL) {
			return nil, usageError{"--url: want an absolute http or https URL"}
		}
		if err := apiurl.Check("--url", rawURL, "the function key"); err != nil {
			return nil, usageError{err.Error()}
		}
		t.url = rawURL
		if key := getenv(envFunctionKey); key != "" {
			t.headers[headerFunctionKey] = key
		}
		return t, nil
	}
	base, source := apiurl.Resolve(apiURL, getenv(envAPIURL), "")
	if base == "" {
		return nil, nil
	}
	if err := apiurl.CheckAPI(source, base); err != nil {
		return nil, usageError{err.Error()}
	}
	token := getenv(envPinToken)
	if token == "" {
		return nil, usagef("a health gate through APIM pins each request to its slot and needs the pinning token (stack config pinToken) in %s", envPinToken)
	}
	if !strings.HasPrefix(healthPath, "/") {
		return nil, usagef("--health-path: %q does not start with /", healthPath)
	}
	// Marked, so the metrics gate leaves slotless's own requests out of the users' figures.
	t.url = gate.MarkProbe(strings.TrimSuffix(base, "/") + healthPath)
	t.headers[headerPinToken] = token
	t.pinned = true
	return t, nil
}

// config is the gate's config for one slot, with the other fields at their defaults.
func (t *healthTarget) config(slot stack.Slot) gate.HealthConfig {
	h := make(map[string]string, len(t.headers)+1)
	for k, v := range t.headers {
		h[k] = v
	}
	if t.pinned {
		h[headerPinSlot] = string(slot)
	}
	return gate.HealthConfig{URL: t.url, Headers: h, Slot: string(slot)}
}

// gateResult gives a gate's "no" the fixed "gate failed: <reason>:" prefix
// pipelines match on, and keeps other errors distinguishable from it.
func gateResult(name string, err error) error {
	if err == nil {
		return nil
	}
	var ge *gate.GateError
	if errors.As(err, &ge) {
		return fmt.Errorf("gate failed: %w", err)
	}
	return fmt.Errorf("gate %s: %w", name, err)
}

// metricsOptions are the flags of gate metrics.
type metricsOptions struct {
	slot, canaryApp, stableApp, workspace, inconclusive, failureStatus, healthPath string
	canaryComponent, stableComponent                                               string
	window, lag                                                                    time.Duration
	minRequests, weight                                                            int
	confidence, maxDelta, maxRatio, maxFailureRatio, p95Floor, tolerance           float64
	clientErrors                                                                   bool
}

func newGateMetricsCmd(d deps) *cobra.Command {
	var o metricsOptions
	cmd := &cobra.Command{
		Use:   "metrics",
		Short: "Compare the canary slot's requests with the stable slot's in Application Insights",
		Long: `Metrics judges one window of the users' requests of both slots' apps as a release judges
each of its windows: the requests that reached the Log Analytics workspace Application
Insights writes to in the --window before the query (served at most --lag before the window),
read with the query API and the Azure credentials release picks (the Azure Pipelines service
connection or the GitHub job's OIDC token, else az login, environment or a managed identity).
Only HTTP requests count, each sampled record as the requests it stands for; requests to
--health-path and requests marked slotless-probe=1 are the release's own, not users'.

It fails when the canary's failure rate (Success == false, or a 5xx or 429 status: the
Functions host records an error status as a success unless the function threw) or its 4xx rate
is higher than the stable slot's at --confidence (Fisher's exact test, one-sided) and by more
than both --max-failure-rate-delta and --max-failure-rate-ratio; when its p95 is above both
--max-p95-ratio times and --p95-floor-ms more than the stable slot's; or, with --weight, when
its share of the requests is surely below (1 - --sample-ratio-tolerance) times its weight.
Fewer than --min-requests on either side is inconclusive, which blocks only with
--inconclusive fail.

With --canary-component and --stable-component (stack output telemetryComponentIds), each
app's requests count only from the Application Insights component it reports to, selected by
_ResourceId, which ingestion sets and the app cannot: a canary cannot write requests that count
as the stable slot's. Without them the apps are told apart by AppRoleName alone.`,
		Example: `  slotless gate metrics --slot blue --window 10m --weight 10 \
    --canary-app "$(pulumi stack output blueAppName)" \
    --stable-app "$(pulumi stack output greenAppName)" \
    --workspace-id "$(pulumi stack output logAnalyticsWorkspaceId)" \
    --canary-component "$(pulumi stack output telemetryComponentIds | jq -r .blue)" \
    --stable-component "$(pulumi stack output telemetryComponentIds | jq -r .green)"`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, slot, err := o.config()
			if err != nil {
				return err
			}
			client, _, err := d.logsQuerier("", d.getenv)
			if err != nil {
				return fmt.Errorf("gate metrics: %w", err)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), metricsQueryTimeout)
			defer cancel()
			stdout := cmd.OutOrStdout()
			fmt.Fprintf(stdout, "canary slot %s is app %s; stable slot %s is app %s\n", slot, cfg.CanaryApp, slot.Other(), cfg.StableApp)
			res, err := d.metricsGate(ctx, client, cfg, stdout)
			if err == nil && res.Verdict == gate.VerdictInconclusive {
				fmt.Fprintln(stdout, "inconclusive does not block this gate (--inconclusive pass)")
			}
			return gateResult("metrics", err)
		},
	}
	def := gate.DefaultThresholds()
	f := cmd.Flags()
	slotFlag(cmd, &o.slot, "the canary slot: green or blue (required)")
	f.StringVar(&o.canaryApp, "canary-app", "", "the canary slot's function app name, stack output <slot>AppName (required)")
	f.StringVar(&o.stableApp, "stable-app", "", "the stable slot's function app name (required)")
	f.StringVar(&o.canaryComponent, "canary-component", "", "the canary slot's Application Insights component id, stack output telemetryComponentIds.<slot>; with --stable-component, each app's rows count only from its own component")
	f.StringVar(&o.stableComponent, "stable-component", "", "the stable slot's Application Insights component id (with --canary-component)")
	f.StringVar(&o.workspace, "workspace-id", "", "Log Analytics workspace ID (GUID), stack output logAnalyticsWorkspaceId (required)")
	f.DurationVar(&o.window, "window", gate.DefaultWindow, "the stretch of arrivals to judge: the requests that reached Log Analytics in this long before the query")
	f.DurationVar(&o.lag, "lag", gate.DefaultLag, "Azure Monitor's ingestion lag: requests served up to this long before the window still count, and a request arriving later than this counts as late")
	f.StringVar(&o.healthPath, "health-path", stack.DefaultHealthPath, "the API's health operation (stack config healthPath): its requests are the gates', not users'")
	f.IntVar(&o.weight, "weight", 0, "the canary's pool weight in percent during the window, 1..99, for the share check; 0 skips it")
	f.StringVar(&o.failureStatus, "failure-status", "5xx", "which statuses count as failures besides Success == false: 5xx (5xx and 429) or 4xx (every status from 400)")
	f.IntVar(&o.minRequests, "min-requests", def.MinRequests, "fewest users' requests per app for a verdict")
	f.Float64Var(&o.confidence, "confidence", def.Confidence, "one-sided confidence that the canary is worse, 0.5 to below 1")
	f.Float64Var(&o.maxDelta, "max-failure-rate-delta", def.MaxFailureRateDelta, "the smallest excess failure rate (0..1) that matters")
	f.Float64Var(&o.maxFailureRatio, "max-failure-rate-ratio", def.MaxFailureRateRatio, "the smallest multiple of the stable slot's failure rate that matters, 1 or more")
	f.BoolVar(&o.clientErrors, "client-error-check", def.CheckClientErrors, "compare the 4xx rates (429 aside) as well")
	f.Float64Var(&o.maxRatio, "max-p95-ratio", def.MaxP95Ratio, "largest allowed canary p95 / stable p95")
	f.Float64Var(&o.p95Floor, "p95-floor-ms", def.P95FloorMs, "a canary p95 at most this many ms above the stable slot's never fails")
	f.Float64Var(&o.tolerance, "sample-ratio-tolerance", def.SampleRatioTolerance, "how far below its weight, as a fraction of it, the canary's share may fall (0..1)")
	f.StringVar(&o.inconclusive, "inconclusive", "pass", "what too little traffic means: pass or fail")
	_ = cmd.RegisterFlagCompletionFunc("inconclusive", cobra.FixedCompletions([]string{"pass", "fail"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// config validates the flags into a metrics gate config and the canary slot.
func (o metricsOptions) config() (gate.MetricsConfig, stack.Slot, error) {
	slot, err := parseSlotFlag(o.slot)
	if err != nil {
		return gate.MetricsConfig{}, "", err
	}
	var problems []string
	for _, req := range []struct{ name, value string }{{"--canary-app", o.canaryApp}, {"--stable-app", o.stableApp}, {"--workspace-id", o.workspace}} {
		if strings.TrimSpace(req.value) == "" {
			problems = append(problems, req.name+": required")
		}
	}
	if (o.canaryComponent == "") != (o.stableComponent == "") {
		problems = append(problems, "--canary-component and --stable-component: give both (stack output telemetryComponentIds) or neither")
	} else if err := gate.ValidateComponents(o.canaryComponent, o.stableComponent); err != nil {
		problems = append(problems, strings.NewReplacer("canary component", "--canary-component", "stable component", "--stable-component").Replace(err.Error()))
	}
	if o.window <= 0 {
		problems = append(problems, fmt.Sprintf("--window: %s, want a positive duration", o.window))
	}
	if o.minRequests < 1 {
		problems = append(problems, fmt.Sprintf("--min-requests: %d, want at least 1", o.minRequests))
	}
	if !(o.confidence >= 0.5 && o.confidence < 1) {
		problems = append(problems, fmt.Sprintf("--confidence: %g, want 0.5 to below 1 (0.99 is 99%%)", o.confidence))
	}
	if !(o.maxDelta >= 0 && o.maxDelta <= 1) {
		problems = append(problems, fmt.Sprintf("--max-failure-rate-delta: %g, want 0 to 1 (0.002 is 0.2 points)", o.maxDelta))
	}
	if !(o.maxFailureRatio >= 1) {
		problems = append(problems, fmt.Sprintf("--max-failure-rate-ratio: %g, want 1 or more", o.maxFailureRatio))
	}
	if !(o.maxRatio > 0) {
		problems = append(problems, fmt.Sprintf("--max-p95-ratio: %g, want a positive number", o.maxRatio))
	}
	if !(o.p95Floor >= 0) {
		problems = append(problems, fmt.Sprintf("--p95-floor-ms: %g, want 0 or more", o.p95Floor))
	}
	if !(o.tolerance >= 0 && o.tolerance <= 1) {
		problems = append(problems, fmt.Sprintf("--sample-ratio-tolerance: %g, want 0 to 1", o.tolerance))
	}
	if o.weight < 0 || o.weight > 99 {
		problems = append(problems, fmt.Sprintf("--weight: %d, want 1..99, or 0 to skip the share check", o.weight))
	}
	if o.lag < 0 {
		problems = append(problems, fmt.Sprintf("--lag: %s, want 0 or more", o.lag))
	}
	if !strings.HasPrefix(o.healthPath, "/") {
		problems = append(problems, fmt.Sprintf("--health-path: %q does not start with /", o.healthPath))
	}
	if o.failureStatus != "5xx" && o.failureStatus != "4xx" {
		problems = append(problems, fmt.Sprintf("--failure-status: %q, want 5xx or 4xx", o.failureStatus))
	}
	if o.inconclusive != "pass" && o.inconclusive != "fail" {
		problems = append(problems, fmt.Sprintf("--inconclusive: %q, want pass or fail", o.inconclusive))
	}
	if len(problems) > 0 {
		return gate.MetricsConfig{}, "", usageError{strings.Join(problems, "; ")}
	}
	th := gate.DefaultThresholds()
	th.MinRequests, th.Confidence, th.MaxFailureRateDelta, th.MaxFailureRateRatio = o.minRequests, o.confidence, o.maxDelta, o.maxFailureRatio
	th.CheckClientErrors, th.FailClientErrors = o.clientErrors, o.failureStatus == "4xx"
	th.MaxP95Ratio, th.P95FloorMs, th.SampleRatioTolerance = o.maxRatio, o.p95Floor, o.tolerance
	return gate.MetricsConfig{
		WorkspaceID: o.workspace, CanaryApp: o.canaryApp, StableApp: o.stableApp, CanaryComponent: o.canaryComponent, StableComponent: o.stableComponent, Window: o.window, Lag: o.lag,
		HealthPath: o.healthPath, Share: float64(o.weight) / 100, Thresholds: th, InconclusiveBlocks: o.inconclusive == "fail",
	}, slot, nil
}

// parseSlotFlag validates --slot, which both gates need.
func parseSlotFlag(v string) (stack.Slot, error) {
	if v == "" {
		return "", usageError{"--slot: required, want green or blue"}
	}
	slot, err := stack.ParseSlot(v)
	if err != nil {
		return "", usagef("--slot: %v", err)
	}
	return slot, nil
}

// checkAPIURL refuses an API URL that would carry the pinning token in clear
// (internal/apiurl): a usage error for a flag or the environment, a failure for a stack output.
func checkAPIURL(source, value string) error {
	err := apiurl.CheckAPI(source, value)
	if err == nil || source == apiurl.SourceOutput {
		return err
	}
	return usageError{err.Error()}
}

// absoluteHTTP reports whether s is a URL the gate can poll.
func absoluteHTTP(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
