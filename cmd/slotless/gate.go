package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/monitor/azquery"

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

// newLogsQuerier builds the Log Analytics client; tests replace it to point
// the real client at a fake API.
var newLogsQuerier = func() (gate.LogsQuerier, error) {
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		return nil, fmt.Errorf("azure credential: %w", err)
	}
	c, err := azquery.NewLogsClient(cred, nil)
	if err != nil {
		return nil, fmt.Errorf("log analytics client: %w", err)
	}
	return c, nil
}

func gateCmd(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usageError{"gate: want a subcommand: health or metrics"}
	}
	// Ctrl-C or a cancelled pipeline stops polling at once and is reported as
	// an interruption, not as a failed gate.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "health":
		cfg, err := parseGateHealth(args[1:], os.Getenv)
		if err != nil {
			return err
		}
		_, err = gate.Health(ctx, cfg, stdout)
		return gateResult("health", err)
	case "metrics":
		cfg, slot, err := parseGateMetrics(args[1:])
		if err != nil {
			return err
		}
		client, err := newLogsQuerier()
		if err != nil {
			return fmt.Errorf("gate metrics: %w", err)
		}
		ctx, cancel := context.WithTimeout(ctx, metricsQueryTimeout)
		defer cancel()
		fmt.Fprintf(stdout, "canary slot %s is app %s; stable slot %s is app %s\n", slot, cfg.CanaryApp, slot.Other(), cfg.StableApp)
		res, err := gate.Metrics(ctx, client, cfg, stdout)
		if err == nil && res.Verdict == gate.VerdictInconclusive {
			fmt.Fprintln(stdout, "inconclusive does not block this gate (--inconclusive pass)")
		}
		return gateResult("metrics", err)
	default:
		return usageError{fmt.Sprintf("gate: unknown subcommand %q, want health or metrics", args[0])}
	}
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

// parseGateHealth turns flags and environment into a health gate config.
func parseGateHealth(args []string, getenv func(string) string) (gate.HealthConfig, error) {
	fs := flag.NewFlagSet("gate health", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	slotFlag := fs.String("slot", "", "the slot that must answer: green or blue")
	version := fs.String("expect-version", "", "the version that must answer (any when empty)")
	rawURL := fs.String("url", "", "full health URL, e.g. a function app's /api/health; no slot pinning")
	apiURL := fs.String("api-url", "", "APIM API URL (stack output apiUrl); default $"+envAPIURL)
	successes := fs.Int("successes", gate.DefaultSuccesses, "healthy answers in a row that pass the gate")
	interval := fs.Duration("interval", gate.DefaultInterval, "pause between polls")
	timeout := fs.Duration("timeout", gate.DefaultTimeout, "give up after this long")
	reqTimeout := fs.Duration("request-timeout", gate.DefaultRequestTimeout, "limit for each poll")
	if err := fs.Parse(args); err != nil {
		return gate.HealthConfig{}, usageError{fmt.Sprintf("gate health: %v", err)}
	}
	if fs.NArg() > 0 {
		return gate.HealthConfig{}, usageError{fmt.Sprintf("gate health: unexpected argument %q", fs.Arg(0))}
	}
	slot, err := parseSlotFlag(*slotFlag)
	if err != nil {
		return gate.HealthConfig{}, err
	}
	if *successes < 1 {
		return gate.HealthConfig{}, usageError{fmt.Sprintf("--successes: %d, want at least 1", *successes)}
	}
	for _, d := range []struct {
		name  string
		value time.Duration
	}{{"--interval", *interval}, {"--timeout", *timeout}, {"--request-timeout", *reqTimeout}} {
		if d.value <= 0 {
			return gate.HealthConfig{}, usageError{fmt.Sprintf("%s: %s, want a positive duration", d.name, d.value)}
		}
	}

	cfg := gate.HealthConfig{
		Slot: string(slot), ExpectVersion: *version, Headers: map[string]string{},
		Successes: *successes, Interval: *interval, Timeout: *timeout, RequestTimeout: *reqTimeout,
	}
	if key := getenv(envSubscriptionKey); key != "" {
		cfg.Headers[headerSubscriptionKey] = key
	}
	if *rawURL != "" {
		if *apiURL != "" {
			return gate.HealthConfig{}, usageError{"--url and --api-url: give one, not both"}
		}
		// The URL may carry ?code=, so it is never echoed back.
		if !absoluteHTTP(*rawURL) {
			return gate.HealthConfig{}, usageError{"--url: want an absolute http or https URL"}
		}
		cfg.URL = *rawURL
		// The function key only goes to a direct URL: through APIM the
		// gateway adds its own, and the key has no business at the gateway.
		if key := getenv(envFunctionKey); key != "" {
			cfg.Headers[headerFunctionKey] = key
		}
		return cfg, nil
	}

	base := *apiURL
	if base == "" {
		base = getenv(envAPIURL)
	}
	if base == "" {
		return gate.HealthConfig{}, usageError{fmt.Sprintf("gate health: give --url, or --api-url or %s", envAPIURL)}
	}
	if !absoluteHTTP(base) {
		return gate.HealthConfig{}, usageError{fmt.Sprintf("--api-url: %q is not an absolute http or https URL", base)}
	}
	token := getenv(envPinToken)
	if token == "" {
		return gate.HealthConfig{}, usageError{fmt.Sprintf("gate health through APIM pins the request to slot %s and needs the pinning token (stack config pinToken) in %s", slot, envPinToken)}
	}
	cfg.URL = strings.TrimSuffix(base, "/") + "/health"
	cfg.Headers[headerPinSlot] = string(slot)
	cfg.Headers[headerPinToken] = token
	return cfg, nil
}

// parseGateMetrics turns flags into a metrics gate config and the canary slot.
func parseGateMetrics(args []string) (gate.MetricsConfig, stack.Slot, error) {
	fs := flag.NewFlagSet("gate metrics", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	slotFlag := fs.String("slot", "", "the canary slot: green or blue")
	canaryApp := fs.String("canary-app", "", "the canary slot's function app name (stack output <slot>AppName)")
	stableApp := fs.String("stable-app", "", "the stable slot's function app name")
	workspace := fs.String("workspace-id", "", "Log Analytics workspace ID (GUID) that Application Insights writes to")
	window := fs.Duration("window", gate.DefaultWindow, "how far back to look")
	minRequests := fs.Int("min-requests", gate.DefaultMinRequests, "fewest requests per app for a verdict")
	maxDelta := fs.Float64("max-failure-rate-delta", gate.DefaultMaxFailureRateDelta, "how far the canary's failure rate (0..1) may exceed the stable slot's")
	maxRatio := fs.Float64("max-p95-ratio", gate.DefaultMaxP95Ratio, "largest allowed canary p95 / stable p95")
	inconclusive := fs.String("inconclusive", "pass", "what too little traffic means: pass or fail")
	if err := fs.Parse(args); err != nil {
		return gate.MetricsConfig{}, "", usageError{fmt.Sprintf("gate metrics: %v", err)}
	}
	if fs.NArg() > 0 {
		return gate.MetricsConfig{}, "", usageError{fmt.Sprintf("gate metrics: unexpected argument %q", fs.Arg(0))}
	}
	slot, err := parseSlotFlag(*slotFlag)
	if err != nil {
		return gate.MetricsConfig{}, "", err
	}
	var problems []string
	for _, req := range []struct{ name, value string }{{"--canary-app", *canaryApp}, {"--stable-app", *stableApp}, {"--workspace-id", *workspace}} {
		if strings.TrimSpace(req.value) == "" {
			problems = append(problems, req.name+": required")
		}
	}
	if *window <= 0 {
		problems = append(problems, fmt.Sprintf("--window: %s, want a positive duration", *window))
	}
	if *minRequests < 1 {
		problems = append(problems, fmt.Sprintf("--min-requests: %d, want at least 1", *minRequests))
	}
	if !(*maxDelta >= 0 && *maxDelta <= 1) {
		problems = append(problems, fmt.Sprintf("--max-failure-rate-delta: %g, want 0 to 1 (0.02 is 2 points)", *maxDelta))
	}
	if !(*maxRatio > 0) {
		problems = append(problems, fmt.Sprintf("--max-p95-ratio: %g, want a positive number", *maxRatio))
	}
	if *inconclusive != "pass" && *inconclusive != "fail" {
		problems = append(problems, fmt.Sprintf("--inconclusive: %q, want pass or fail", *inconclusive))
	}
	if len(problems) > 0 {
		return gate.MetricsConfig{}, "", usageError{strings.Join(problems, "; ")}
	}
	return gate.MetricsConfig{
		WorkspaceID: *workspace, CanaryApp: *canaryApp, StableApp: *stableApp,
		Window: *window, MinRequests: *minRequests, MaxFailureRateDelta: *maxDelta, MaxP95Ratio: *maxRatio,
		InconclusiveBlocks: *inconclusive == "fail",
	}, slot, nil
}

// parseSlotFlag validates --slot, which both gates need.
func parseSlotFlag(v string) (stack.Slot, error) {
	if v == "" {
		return "", usageError{"--slot: required, want green or blue"}
	}
	slot, err := stack.ParseSlot(v)
	if err != nil {
		return "", usageError{fmt.Sprintf("--slot: %v", err)}
	}
	return slot, nil
}

// absoluteHTTP reports whether s is a URL the gate can poll.
func absoluteHTTP(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
