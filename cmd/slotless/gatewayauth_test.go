package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/slotless/slotless/internal/gate"
	"github.com/slotless/slotless/internal/gatewayauth"
	"github.com/slotless/slotless/stack"
)

const (
	testPoolID    = "/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/slotless-dev-rg/providers/Microsoft.ApiManagement/service/apim1/backends/green-blue-pool"
	testPrincipal = "0d7c2b1a-0000-4000-8000-000000000001"
	testAudience  = "5f0c2b1a-8e7d-4c6b-9a5f-4e3d2c1b0a9f"
)

// gatewayOutputs are a deployed stack's outputs in a phase of the gateway's authentication
// ("" for a stack from before the phase was recorded), with its API at apiURL.
func gatewayOutputs(phase, apiURL string) map[string]any {
	outs := map[string]any{
		"blueWeight": 0.0, "greenAppName": "green-app1", "blueAppName": "blue-app2",
		"greenHostname": "green-app1.azurewebsites.net", "blueHostname": "blue-app2.azurewebsites.net",
		"resourceGroupName": "slotless-dev-rg", "apiUrl": apiURL, "healthPath": "/health", "poolId": testPoolID,
	}
	if phase != "" {
		outs[stack.OutGatewayAuthPhase] = phase
	}
	if phase == "observe" || phase == "require" {
		outs[stack.OutGatewayAudience], outs[stack.OutGatewayPrincipalID] = testAudience, testPrincipal
	}
	return outs
}

// directCalls records the direct-call checks a command asked for and answers them: a slot in
// open answers 200 to the direct call, as an app on a Flex that does not enforce built-in
// authentication does.
type directCalls struct {
	keys  []string
	calls []gatewayauth.DirectCall
	open  map[stack.Slot]bool
}

func (d *directCalls) wire(deps *deployDeps) {
	deps.functionKey = func(_ context.Context, _ azcore.TokenCredential, poolID string, slot stack.Slot, _ func(string) string) (string, error) {
		if poolID != testPoolID {
			return "", fmt.Errorf("pool %s, want the stack's", poolID)
		}
		d.keys = append(d.keys, string(slot))
		return "key-of-" + string(slot), nil
	}
	deps.directCall = func(_ context.Context, c gatewayauth.DirectCall, _ io.Writer) error {
		d.calls = append(d.calls, c)
		if strings.Contains(c.App, "blue") && d.open[stack.Blue] || strings.Contains(c.App, "green") && d.open[stack.Green] {
			return fmt.Errorf("%w: %s answered 200, want 401", gatewayauth.ErrAnswersDirectCalls, c.App)
		}
		return nil
	}
}

// TestDeployChecksDirectCalls: after a deployment, in require the slot's app must refuse a
// direct call with its key (read from API Management) and no token, or the deploy fails
// naming the app and the status; in observe it says how to tell when require is safe; a stack
// from before the phase was recorded is deployed with a warning that nothing was checked.
func TestDeployChecksDirectCalls(t *testing.T) {
	good := appZip(t, "host.json", "health/function.json")
	for _, tt := range []struct {
		name   string
		phase  string
		token  string
		open   bool
		code   int
		want   string
		checks int
	}{
		{"require, the app refuses", "require", "tok", false, exitOK, "", 1},
		{"require, the app answers", "require", "tok", true, exitFailure, "blue is deployed, but blue: the app answers callers that go around API Management: blue-app2 answered 200, want 401", 1},
		{"require, no health gate", "require", "", true, exitFailure, "blue-app2 answered 200, want 401", 1},
		{"observe", "observe", "tok", true, exitOK, "gatewayAuthPhase observe: the apps still answer callers that go around API Management; `slotless gateway-auth --stack dev` says when require is safe", 0},
		{"off", "off", "tok", true, exitOK, "", 0},
		{"a stack from before the phase", "", "tok", true, exitOK, "warning: the stack has no gatewayAuthPhase output", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var uploads []string
			calls := &directCalls{open: map[stack.Slot]bool{stack.Blue: tt.open}}
			deps := deployDeps{
				outputs: func(context.Context, string, string) (map[string]any, error) {
					return gatewayOutputs(tt.phase, "https://apim.example.net/slotless"), nil
				},
				config: func(string, string) (*stack.Config, error) { return &stack.Config{}, nil },
				credential: func(func(string) string) (azcore.TokenCredential, string, error) {
					return nil, "a test credential", nil
				},
				deployer: func(context.Context, azcore.TokenCredential, string, string, string, time.Duration, func(string) string) (packageDeployer, error) {
					return fakeUpload{deployed: &uploads}, nil
				},
				livePool: func(context.Context, string, string, map[string]any, func(string) string) (stack.Weights, error) {
					return stack.Weights{Green: 100}, nil
				},
				health: func(context.Context, gate.HealthConfig, io.Writer) (gate.HealthResult, error) {
					return gate.HealthResult{}, nil
				},
				getenv: func(k string) string {
					if k == envPinToken {
						return tt.token
					}
					return ""
				},
			}
			calls.wire(&deps)
			d := realDeps()
			d.deploy = deps
			var out bytes.Buffer
			code := runWith(d, []string{"deploy", "--slot", "blue", "--package", good}, &out, &out)
			if code != tt.code || !strings.Contains(out.String(), tt.want) {
				t.Fatalf("got exit %d\n%s\nwant %d and %q", code, out.String(), tt.code, tt.want)
			}
			if len(calls.calls) != tt.checks {
				t.Fatalf("direct calls: got %+v, want %d", calls.calls, tt.checks)
			}
			for _, c := range calls.calls {
				want := gatewayauth.DirectCall{App: "blue-app2", ResourceGroup: "slotless-dev-rg", Host: "blue-app2.azurewebsites.net", HealthPath: "/health", FunctionKey: "key-of-blue"}
				if c != want {
					t.Errorf("direct call: got %+v, want %+v", c, want)
				}
			}
			if len(uploads) != 1 {
				t.Errorf("uploads: got %d, want 1", len(uploads))
			}
		})
	}
}

// principalGateway answers <api>/health, pinned, as API Management in front of apps whose
// health function reports the principal they saw: seen[slot], or none; it records whether each
// request was marked as a probe.
func principalGateway(t *testing.T, seen map[string]string) (*httptest.Server, *[]string) {
	t.Helper()
	var marks []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/orders/health" || r.Header.Get("X-Slotless-Token") != testPinToken {
			http.NotFound(w, r)
			return
		}
		marks = append(marks, r.URL.Query().Get("slotless-probe"))
		slot := r.Header.Get("X-Slotless-Slot")
		fmt.Fprintf(w, `{"status":"ok","slot":%q,"version":"1.0.0","clientPrincipalId":%q}`, slot, seen[slot])
	}))
	t.Cleanup(srv.Close)
	return srv, &marks
}

// TestGatewayAuthCommand: slotless gateway-auth passes in observe once both slots see the
// gateway's principal, saying require is safe and how to set it; a slot that sees none fails
// it with what to check; in require it also checks each app refuses a direct call. A stack
// without gatewayAudience, or a missing pinning token, is an error.
func TestGatewayAuthCommand(t *testing.T) {
	both := map[string]string{"green": testPrincipal, "blue": testPrincipal}
	for _, tt := range []struct {
		name   string
		phase  string
		seen   map[string]string
		open   bool
		token  string
		code   int
		want   []string
		checks int
	}{
		{"observe, both see it", "observe", both, false, testPinToken, exitOK, []string{
			"stack dev: gatewayAuthPhase observe, audience " + testAudience + ", gateway principal " + testPrincipal,
			"green: sees the gateway's principal", "blue: sees the gateway's principal",
			"require is safe: both slots see the gateway's principal. Next: pulumi config set gatewayAuthPhase require --stack dev && pulumi up --stack dev"}, 0},
		{"observe, blue sees none", "observe", map[string]string{"green": testPrincipal}, false, testPinToken, exitFailure, []string{
			"green: sees the gateway's principal", "require is not safe yet, keep gatewayAuthPhase observe", "blue: its app saw no principal", "az ad sp create --id " + testAudience}, 0},
		{"require, all good", "require", both, false, testPinToken, exitOK, []string{"only the gateway reaches the apps: both slots see its principal and both apps refuse direct calls"}, 2},
		{"require, an app answers direct calls", "require", both, true, testPinToken, exitFailure, []string{"blue: the app answers callers that go around API Management: blue-app2 answered 200, want 401"}, 2},
		{"no gatewayAudience", "off", both, false, testPinToken, exitFailure, []string{"stack dev has no gatewayAudience"}, 0},
		{"no pinning token", "observe", both, false, "", exitUsage, []string{"needs the pinning token (stack config pinToken) in SLOTLESS_PIN_TOKEN"}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			gw, marks := principalGateway(t, tt.seen)
			d, _ := withOutputs(t, gatewayOutputs(tt.phase, gw.URL+"/orders"), nil)
			calls := &directCalls{open: map[stack.Slot]bool{stack.Blue: tt.open}}
			d.deploy.credential = func(func(string) string) (azcore.TokenCredential, string, error) {
				return nil, "a test credential", nil
			}
			calls.wire(&d.deploy)
			env := map[string]string{envPinToken: tt.token}
			d.getenv = func(k string) string { return env[k] }
			d.deploy.getenv = d.getenv
			var out bytes.Buffer
			code := runWith(d, []string{"gateway-auth", "--stack", "dev"}, &out, &out)
			if code != tt.code {
				t.Fatalf("exit: got %d, want %d\n%s", code, tt.code, out.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output: got\n%s\nwant %q", out.String(), w)
				}
			}
			if len(calls.calls) != tt.checks {
				t.Errorf("direct calls: got %d, want %d", len(calls.calls), tt.checks)
			}
			for _, m := range *marks {
				if m != "1" {
					t.Errorf("a probe went without slotless-probe=1 (%q)", m)
				}
			}
		})
	}
}

// TestDirectCallErrorExitsAsFailure: a deploy whose app answers direct calls is a failure (exit
// 1), not a refusal of a guard rail: the package is deployed, and nothing was refused.
func TestDirectCallErrorExitsAsFailure(t *testing.T) {
	err := fmt.Errorf("blue is deployed, but %w", fmt.Errorf("%w: x", gatewayauth.ErrAnswersDirectCalls))
	if !errors.Is(err, gatewayauth.ErrAnswersDirectCalls) || exitCode(err) != exitFailure {
		t.Errorf("exit code %d, want %d", exitCode(err), exitFailure)
	}
}
