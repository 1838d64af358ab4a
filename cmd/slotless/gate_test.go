package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/monitor/azquery"

	"github.com/slotless/slotless/internal/gate"
)

func envFunc(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

// parseGateHealth runs gate health on args with the gate itself replaced, and returns the
// config the command line yields.
func parseGateHealth(args []string, getenv func(string) string) (gate.HealthConfig, error) {
	var got gate.HealthConfig
	d := realDeps()
	d.getenv = getenv
	d.healthGate = func(_ context.Context, cfg gate.HealthConfig, _ io.Writer) (gate.HealthResult, error) {
		got = cfg
		return gate.HealthResult{}, nil
	}
	cmd := newGateHealthCmd(d)
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.Execute()
	return got, err
}

// parseGateMetrics does the same for gate metrics, returning the canary slot it announces.
func parseGateMetrics(args []string) (gate.MetricsConfig, string, error) {
	var got gate.MetricsConfig
	d := realDeps()
	d.logsQuerier = func(string, func(string) string) (gate.LogsQuerier, string, error) { return nil, "", nil }
	d.metricsGate = func(_ context.Context, _ gate.LogsQuerier, cfg gate.MetricsConfig, _ io.Writer) (gate.MetricsResult, error) {
		got = cfg
		return gate.MetricsResult{}, nil
	}
	cmd := newGateMetricsCmd(d)
	var out bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(io.Discard)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.Execute()
	slot, _, _ := strings.Cut(strings.TrimPrefix(out.String(), "canary slot "), " ")
	return got, slot, err
}

func TestGateHealthFlags(t *testing.T) {
	pinEnv := map[string]string{envAPIURL: "https://apim.example/orders/", envPinToken: "pin-0123456789abcdef", envSubscriptionKey: "sub"}
	tests := []struct {
		name        string
		args        []string
		env         map[string]string
		wantErr     string // "" means valid
		wantURL     string
		wantHeaders []string
	}{
		{name: "api url from env", args: []string{"--slot", "blue"}, env: pinEnv,
			wantURL: "https://apim.example/orders/health?slotless-probe=1", wantHeaders: []string{"Ocp-Apim-Subscription-Key", "X-Slotless-Slot", "X-Slotless-Token"}},
		{name: "api url flag wins", args: []string{"--slot", "green", "--api-url", "https://other.example/api"}, env: pinEnv,
			wantURL: "https://other.example/api/health?slotless-probe=1", wantHeaders: []string{"Ocp-Apim-Subscription-Key", "X-Slotless-Slot", "X-Slotless-Token"}},
		{name: "direct url with function key", args: []string{"--slot", "green", "--url", "https://app.example/api/health"}, env: map[string]string{envFunctionKey: "fk", envPinToken: "ignored-0123456789"},
			wantURL: "https://app.example/api/health", wantHeaders: []string{"x-functions-key"}},
		{name: "direct url without keys", args: []string{"--slot", "green", "--url", "http://127.0.0.1:8080/api/health", "--successes", "1", "--interval", "1s", "--timeout", "1m", "--request-timeout", "2s"},
			wantURL: "http://127.0.0.1:8080/api/health", wantHeaders: []string{}},
		{name: "function key never goes to the gateway", args: []string{"--slot", "blue"}, env: map[string]string{envAPIURL: "https://apim.example/orders", envPinToken: "pin-0123456789abcdef", envFunctionKey: "fk"},
			wantURL: "https://apim.example/orders/health?slotless-probe=1", wantHeaders: []string{"X-Slotless-Slot", "X-Slotless-Token"}},
		{name: "bad slot", args: []string{"--slot", "red"}, env: pinEnv, wantErr: `--slot: "red" is not a slot, want green or blue`},
		{name: "no slot", args: []string{}, env: pinEnv, wantErr: "--slot: required, want green or blue"},
		{name: "no token", args: []string{"--slot", "blue", "--api-url", "https://apim.example"}, wantErr: "needs the pinning token (stack config pinToken) in SLOTLESS_PIN_TOKEN"},
		{name: "no target", args: []string{"--slot", "blue"}, wantErr: "give --url, or --api-url or SLOTLESS_API_URL"},
		{name: "both targets", args: []string{"--slot", "blue", "--url", "http://a/x", "--api-url", "http://b"}, env: pinEnv, wantErr: "--url and --api-url: give one, not both"},
		{name: "relative url", args: []string{"--slot", "blue", "--url", "/api/health?code=SECRET"}, wantErr: "--url: want an absolute http or https URL"},
		{name: "bad api url", args: []string{"--slot", "blue", "--api-url", "apim.example"}, env: pinEnv, wantErr: `--api-url: "apim.example" is not an absolute`},
		// The pinning token and the subscription key never travel in clear; a local test
		// server on the same machine may take them over http.
		{name: "plain http api url", args: []string{"--slot", "blue", "--api-url", "http://apim.example/orders"}, env: pinEnv,
			wantErr: `--api-url: "http://apim.example/orders" is plain http to apim.example, which would carry the pinning token and the subscription key in clear; want an absolute https URL, or http to a loopback address (localhost, 127.0.0.1, [::1]) for a local test server`},
		{name: "plain http api url from env", args: []string{"--slot", "blue"}, env: map[string]string{envAPIURL: "http://apim.example/orders", envPinToken: "pin-0123456789abcdef"},
			wantErr: `SLOTLESS_API_URL: "http://apim.example/orders" is plain http to apim.example`},
		{name: "api url of a local test server", args: []string{"--slot", "blue", "--api-url", "http://127.0.0.1:8080/orders"}, env: pinEnv,
			wantURL: "http://127.0.0.1:8080/orders/health?slotless-probe=1", wantHeaders: []string{"Ocp-Apim-Subscription-Key", "X-Slotless-Slot", "X-Slotless-Token"}},
		{name: "plain http direct url with a key in its query", args: []string{"--slot", "blue", "--url", "http://app.example/api/health?code=SECRET"},
			wantErr: `--url: "http://app.example/api/health (query and user left out)" is plain http to app.example, which would carry the function key in clear`},
		{name: "zero successes", args: []string{"--slot", "blue", "--successes", "0"}, env: pinEnv, wantErr: "--successes: 0, want at least 1"},
		{name: "negative interval", args: []string{"--slot", "blue", "--interval", "-1s"}, env: pinEnv, wantErr: "--interval: -1s, want a positive duration"},
		{name: "zero timeout", args: []string{"--slot", "blue", "--timeout", "0s"}, env: pinEnv, wantErr: "--timeout: 0s, want a positive duration"},
		{name: "zero request timeout", args: []string{"--slot", "blue", "--request-timeout", "0"}, env: pinEnv, wantErr: "--request-timeout: 0s"},
		{name: "zero unreachable window", args: []string{"--slot", "blue", "--unreachable-after", "0s"}, env: pinEnv, wantErr: "--unreachable-after: 0s, want a positive duration"},
		{name: "stray argument", args: []string{"--slot", "blue", "now"}, env: pinEnv, wantErr: `unexpected argument "now"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseGateHealth(tt.args, envFunc(tt.env))
			if tt.wantErr != "" {
				var ue usageError
				if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want a usage error containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "SECRET") {
					t.Errorf("error %q repeats the URL's query", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if cfg.URL != tt.wantURL {
				t.Errorf("url: got %q, want %q", cfg.URL, tt.wantURL)
			}
			names := make([]string, 0, len(cfg.Headers))
			for k := range cfg.Headers {
				names = append(names, k)
			}
			sort.Strings(names)
			if got, want := strings.Join(names, ","), strings.Join(tt.wantHeaders, ","); got != want {
				t.Errorf("headers: got %v, want %v", got, want)
			}
			if v, ok := cfg.Headers[headerPinSlot]; ok && v != cfg.Slot {
				t.Errorf("pin header: got %q, want %q", v, cfg.Slot)
			}
		})
	}
}

// compBlue and compGreen are the slots' Application Insights components.
const (
	compBlue  = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-orders/providers/Microsoft.Insights/components/appi-orders-blue"
	compGreen = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-orders/providers/Microsoft.Insights/components/appi-orders-green"
)

func TestGateMetricsFlags(t *testing.T) {
	base := []string{"--slot", "blue", "--canary-app", "app-blue", "--stable-app", "app-green", "--workspace-id", "ws"}
	tests := []struct {
		name    string
		args    []string
		wantErr string
		want    gate.MetricsConfig
	}{
		{name: "defaults: the stack's", args: base, want: gate.MetricsConfig{WorkspaceID: "ws", CanaryApp: "app-blue", StableApp: "app-green", Window: 10 * time.Minute, Lag: 3 * time.Minute,
			HealthPath: "/health", Thresholds: gate.DefaultThresholds()}},
		{name: "all set", args: append(base, "--window", "30m", "--min-requests", "5", "--max-failure-rate-delta", "0", "--max-p95-ratio", "2", "--inconclusive", "fail", "--lag", "90s", "--failure-status", "4xx",
			"--confidence", "0.999", "--max-failure-rate-ratio", "2", "--client-error-check=false", "--p95-floor-ms", "250", "--sample-ratio-tolerance", "0.5", "--weight", "10", "--health-path", "/status"),
			want: gate.MetricsConfig{WorkspaceID: "ws", CanaryApp: "app-blue", StableApp: "app-green", Window: 30 * time.Minute, Lag: 90 * time.Second, HealthPath: "/status", Share: 0.1, InconclusiveBlocks: true,
				Thresholds: gate.Thresholds{MinRequests: 5, Confidence: 0.999, FailureLimit: gate.DefaultFailureLimit, MaxFailureRateDelta: 0, MaxFailureRateRatio: 2, FailClientErrors: true,
					MaxP95Ratio: 2, P95FloorMs: 250, SampleRatioTolerance: 0.5}}},
		{name: "components", args: append(base, "--canary-component", compBlue, "--stable-component", compGreen),
			want: gate.MetricsConfig{WorkspaceID: "ws", CanaryApp: "app-blue", StableApp: "app-green", CanaryComponent: compBlue, StableComponent: compGreen,
				Window: 10 * time.Minute, Lag: 3 * time.Minute, HealthPath: "/health", Thresholds: gate.DefaultThresholds()}},
		{name: "one component", args: append(base, "--canary-component", compBlue), wantErr: "--canary-component and --stable-component: give both (stack output telemetryComponentIds) or neither"},
		{name: "not a component", args: append(base, "--canary-component", compBlue, "--stable-component", "appi-green"), wantErr: `--stable-component "appi-green": want an Application Insights component's resource id`},
		{name: "bad slot", args: []string{"--slot", "red"}, wantErr: `--slot: "red" is not a slot, want green or blue`},
		{name: "missing names", args: []string{"--slot", "blue"}, wantErr: "--canary-app: required; --stable-app: required; --workspace-id: required"},
		{name: "bad inconclusive", args: append(base, "--inconclusive", "maybe"), wantErr: `--inconclusive: "maybe", want pass or fail`},
		{name: "bad failure status", args: append(base, "--failure-status", "500"), wantErr: `--failure-status: "500", want 5xx or 4xx`},
		{name: "delta as a percentage", args: append(base, "--max-failure-rate-delta", "2"), wantErr: "--max-failure-rate-delta: 2, want 0 to 1"},
		{name: "zero ratio", args: append(base, "--max-p95-ratio", "0"), wantErr: "--max-p95-ratio: 0"},
		{name: "zero min requests", args: append(base, "--min-requests", "0"), wantErr: "--min-requests: 0, want at least 1"},
		{name: "zero window", args: append(base, "--window", "0s"), wantErr: "--window: 0s"},
		{name: "confidence as a percentage", args: append(base, "--confidence", "99"), wantErr: "--confidence: 99, want 0.5 to below 1"},
		{name: "ratio below 1", args: append(base, "--max-failure-rate-ratio", "0.5"), wantErr: "--max-failure-rate-ratio: 0.5, want 1 or more"},
		{name: "weight of all", args: append(base, "--weight", "100"), wantErr: "--weight: 100, want 1..99, or 0 to skip the share check"},
		{name: "tolerance above 1", args: append(base, "--sample-ratio-tolerance", "2"), wantErr: "--sample-ratio-tolerance: 2, want 0 to 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, slot, err := parseGateMetrics(tt.args)
			if tt.wantErr != "" {
				var ue usageError
				if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want a usage error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if !reflect.DeepEqual(cfg, tt.want) || slot != "blue" {
				t.Errorf("got %+v slot %s, want %+v slot blue", cfg, slot, tt.want)
			}
		})
	}
}

// TestGateHealthCommand runs the command end to end against a fake health
// endpoint that wants the function key from the environment.
func TestGateHealthCommand(t *testing.T) {
	const key = "fk-SECRET"
	t.Setenv(envFunctionKey, key)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/health" || r.Header.Get("x-functions-key") != key {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("X-Slot", "green")
		w.Header().Set("X-Version", "1.4.0")
		fmt.Fprint(w, `{"status":"ok","slot":"green","version":"1.4.0","uptimeSeconds":3,"checks":{"config":{"status":"ok","durationMs":0.01}}}`)
	}))
	t.Cleanup(srv.Close)
	tests := []struct {
		name    string
		version string
		wantErr string // prefix; "" means the gate passes
		wantOut string
	}{
		{name: "pass", version: "1.4.0", wantOut: "health gate passed after 2 attempts"},
		{name: "wrong version", version: "1.5.0", wantErr: `gate failed: wrong-version: no 2 healthy answers in a row from slot green`, wantOut: `want "1.5.0"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run([]string{"gate", "health", "--slot", "green", "--expect-version", tt.version, "--url", srv.URL + "/api/health",
				"--successes", "2", "--interval", "10ms", "--timeout", "300ms", "--request-timeout", "1s"}, &out, &errb)
			if tt.wantErr == "" && code != 0 {
				t.Fatalf("exit %d, want 0\n%s%s", code, out.String(), errb.String())
			}
			if tt.wantErr != "" && (code != 1 || !strings.HasPrefix(errb.String(), "slotless: "+tt.wantErr)) {
				t.Fatalf("exit %d, stderr %q; want exit 1 and stderr starting with %q", code, errb.String(), tt.wantErr)
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("output: got %q, want %q in it", out.String(), tt.wantOut)
			}
			if strings.Contains(out.String(), key) || strings.Contains(errb.String(), key) {
				t.Errorf("function key leaked into the output or error")
			}
		})
	}
}

// fakeCredential stands in for DefaultAzureCredential.
type fakeCredential struct{}

func (fakeCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "t", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// TestGateMetricsCommand runs the metrics command with the real azquery client
// pointed at a fake Log Analytics query API.
func TestGateMetricsCommand(t *testing.T) {
	tests := []struct {
		name         string
		canary       []any
		inconclusive string
		wantErr      string
		wantOut      string
	}{
		{name: "pass", canary: []any{"app-blue", "user", 400, 400, 2, 0, 0, 105.0, 400, 400}, inconclusive: "pass", wantOut: "verdict: pass"},
		{name: "failure rate", canary: []any{"app-blue", "user", 400, 400, 40, 0, 0, 105.0, 400, 400}, inconclusive: "pass", wantErr: "gate failed: failure-rate: canary failure rate 10.00% (40 of 400) vs stable 0.50% (10 of 2000)"},
		{name: "a 404 regression", canary: []any{"app-blue", "user", 400, 400, 0, 80, 0, 105.0, 400, 400}, inconclusive: "pass", wantErr: "gate failed: client-errors: canary 4xx rate 20.00% (80 of 400)"},
		{name: "inconclusive passes", canary: []any{"app-blue", "user", 3, 3, 3, 0, 0, 900.0, 3, 3}, inconclusive: "pass", wantOut: "inconclusive does not block"},
		{name: "inconclusive blocks", canary: []any{"app-blue", "user", 3, 3, 3, 0, 0, 900.0, 3, 3}, inconclusive: "fail", wantErr: "gate failed: inconclusive: canary app-blue had 3 users' requests"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, _ := json.Marshal(map[string]any{"tables": []any{map[string]any{
				"name": "PrimaryResult",
				"columns": []map[string]string{
					{"name": "AppRoleName", "type": "string"}, {"name": "Kind", "type": "string"}, {"name": "Rows", "type": "long"}, {"name": "Requests", "type": "long"},
					{"name": "Failed", "type": "long"}, {"name": "ClientErrors", "type": "long"}, {"name": "Late", "type": "long"}, {"name": "P95DurationMs", "type": "real"},
					{"name": "Settled", "type": "long"}, {"name": "SettledRows", "type": "long"},
				},
				"rows": [][]any{tt.canary, {"app-green", "user", 2000, 2000, 10, 0, 0, 100.0, 2000, 2000}},
			}}})
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/v1/workspaces/ws-9/query" {
					http.NotFound(w, r)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(body)
			}))
			t.Cleanup(srv.Close)
			d := realDeps()
			d.logsQuerier = func(string, func(string) string) (gate.LogsQuerier, string, error) {
				c, err := azquery.NewLogsClient(fakeCredential{}, &azquery.LogsClientOptions{ClientOptions: azcore.ClientOptions{
					Cloud: cloud.Configuration{Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
						azquery.ServiceNameLogs: {Endpoint: srv.URL + "/v1", Audience: "https://api.loganalytics.io"},
					}},
					Transport: srv.Client(),
					Retry:     policy.RetryOptions{MaxRetries: -1},
				}})
				return c, "a fake credential", err
			}
			var out, errb bytes.Buffer
			code := runWith(d, []string{"gate", "metrics", "--slot", "blue", "--canary-app", "app-blue", "--stable-app", "app-green", "--workspace-id", "ws-9", "--inconclusive", tt.inconclusive}, &out, &errb)
			if tt.wantErr == "" && code != 0 {
				t.Fatalf("exit %d, want 0\n%s%s", code, out.String(), errb.String())
			}
			if tt.wantErr != "" && (code != 1 || !strings.HasPrefix(errb.String(), "slotless: "+tt.wantErr)) {
				t.Fatalf("exit %d, stderr %q; want exit 1 and stderr starting with %q", code, errb.String(), tt.wantErr)
			}
			for _, w := range []string{"canary slot blue is app app-blue; stable slot green is app app-green", "canary  app-blue", tt.wantOut} {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output: got\n%s\nwant %q in it", out.String(), w)
				}
			}
		})
	}
}
