package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/slotless/slotless/internal/deploy"
	"github.com/slotless/slotless/internal/deploy/deploytest"
	"github.com/slotless/slotless/internal/gate"
	"github.com/slotless/slotless/stack"
)

type fakeUpload struct {
	deployed *[]string
	err      error
}

func (f fakeUpload) Deploy(_ context.Context, pkg deploy.Package, _ io.Writer) error {
	*f.deployed = append(*f.deployed, pkg.Path)
	return f.err
}

func appZip(t *testing.T, files ...string) string {
	t.Helper()
	return deploytest.Zip(t, "", files...)
}

// TestDeployOnlyToTheIdleSlot: deploy uploads to a slot with no traffic and then checks it
// pinned, with the version; it refuses (exit 3) a slot with any weight, with no upload, and
// refuses a bad package or a --version it cannot check (exit 2) before reading anything.
func TestDeployOnlyToTheIdleSlot(t *testing.T) {
	good := appZip(t, "host.json", "health/function.json")
	outputs := func(blue int) map[string]any {
		return map[string]any{
			"blueWeight": float64(blue), "greenAppName": "green-app1", "blueAppName": "blue-app2",
			"resourceGroupName": "slotless-dev-rg", "apiUrl": "https://apim.example.net/slotless", "healthPath": "/health",
			"poolId": "/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/slotless-dev-rg/providers/Microsoft.ApiManagement/service/apim1/backends/green-blue-pool",
		}
	}
	tests := []struct {
		name      string
		args      []string
		blue      int
		liveBlue  int // the live pool's blue weight; -1: the same as the stack's
		token     string
		uploadErr error
		code      int
		want      []string
		uploads   int
		gated     bool
	}{
		{"the idle slot, checked with its version", []string{"--slot", "blue", "--package", good, "--version", "1.1.0"}, 0, -1, "tok", nil, exitOK,
			[]string{"blue carries no traffic (stack: green 100% / blue 0%; live pool: green 100% / blue 0%): deploying to blue-app2", "deployed " + good + " to blue-app2"}, 1, true},
		{"a slot with 10% is refused", []string{"--slot", "blue", "--package", good}, 10, -1, "tok", nil, exitBlocked,
			[]string{"blue carries 10% of the traffic in stack dev; deploy to the idle slot (green)"}, 0, false},
		{"the live slot is refused", []string{"--slot", "green", "--package", good}, 0, -1, "tok", nil, exitBlocked,
			[]string{"green carries 100% of the traffic"}, 0, false},
		{"not a zip", []string{"--slot", "blue", "--package", filepath.Join(t.TempDir(), "missing.zip")}, 0, -1, "tok", nil, exitUsage,
			[]string{"--package", "no such file"}, 0, false},
		{"no host.json", []string{"--slot", "blue", "--package", appZip(t, "src/host.json")}, 0, -1, "tok", nil, exitUsage,
			[]string{"no host.json at the root"}, 0, false},
		{"a version it cannot check", []string{"--slot", "blue", "--package", good, "--version", "1.1.0"}, 0, -1, "", nil, exitUsage,
			[]string{"needs the pinning token"}, 0, false},
		{"no token, no version: deployed, gate skipped", []string{"--slot", "blue", "--package", good}, 0, -1, "", nil, exitOK,
			[]string{"warning: no health gate"}, 1, false},
		{"the upload fails", []string{"--slot", "blue", "--package", good}, 0, -1, "tok", errors.New("the deployment failed (status 3 Failed)"), exitFailure,
			[]string{"deploy to blue-app2: the deployment failed"}, 1, false},
		{"a package under another route prefix than the stack's", []string{"--slot", "blue", "--package",
			deploytest.ZipFiles(t, "", map[string]string{"host.json": `{"extensions": {"http": {"routePrefix": ""}}}`})}, 0, -1, "tok", nil, exitUsage,
			[]string{`host.json's extensions.http.routePrefix is "", the stack's routePrefix is "api"`}, 0, false},
		{"a slot the live pool gives traffic, whatever the stack says", []string{"--slot", "blue", "--package", good}, 0, 10, "tok", nil, exitBlocked,
			[]string{"blue carries 10% of the traffic in the live pool (API Management), though stack dev says 0%"}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var uploads []string
			var gateCfg *gate.HealthConfig
			deps := deployDeps{
				outputs: func(context.Context, string, string) (map[string]any, error) { return outputs(tt.blue), nil },
				config:  func(string, string) (*stack.Config, error) { return &stack.Config{}, nil },
				credential: func(func(string) string) (azcore.TokenCredential, string, error) {
					return nil, "a test credential", nil
				},
				deployer: func(_ context.Context, _ azcore.TokenCredential, sub, rg, app string, _ time.Duration, _ func(string) string) (packageDeployer, error) {
					if sub != "00000000-0000-0000-0000-0000000000aa" || rg != "slotless-dev-rg" {
						t.Errorf("deployer for %s/%s/%s, want the pool's subscription and the stack's group", sub, rg, app)
					}
					return fakeUpload{deployed: &uploads, err: tt.uploadErr}, nil
				},
				livePool: func(context.Context, string, string, map[string]any, func(string) string) (stack.Weights, error) {
					blue := tt.blue
					if tt.liveBlue >= 0 {
						blue = tt.liveBlue
					}
					return stack.Weights{Green: 100 - blue, Blue: blue}, nil
				},
				health: func(_ context.Context, cfg gate.HealthConfig, _ io.Writer) (gate.HealthResult, error) {
					gateCfg = &cfg
					return gate.HealthResult{}, nil
				},
				getenv: func(k string) string {
					if k == envPinToken {
						return tt.token
					}
					return ""
				},
			}
			d := realDeps()
			d.deploy = deps
			root := newRootCmd(d)
			var out bytes.Buffer
			root.SetArgs(append([]string{"deploy"}, tt.args...))
			root.SetOut(&out)
			root.SetErr(&out)
			_, err := root.ExecuteC()
			if err != nil {
				out.WriteString(err.Error())
			}
			if code := exitCode(err); code != tt.code {
				t.Fatalf("exit: got %d, want %d\n%s", code, tt.code, out.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output: got\n%s\nwant %q", out.String(), w)
				}
			}
			if len(uploads) != tt.uploads {
				t.Errorf("uploads: got %d, want %d", len(uploads), tt.uploads)
			}
			if tt.gated && (gateCfg == nil || gateCfg.URL != "https://apim.example.net/slotless/health?slotless-probe=1" || gateCfg.ExpectVersion != "1.1.0" || gateCfg.Headers[headerPinSlot] != "blue") {
				t.Errorf("health gate: got %+v, want blue pinned at the API's /health, marked, expecting 1.1.0", gateCfg)
			}
		})
	}
}

// runDeploy runs `slotless deploy args` with a stack whose outputs are outs and whose stack file
// lists shared in sharedHostStorage, the live pool as the stack says, and env as the
// environment. It returns the exit code, the output, the uploads and the health gate's config.
func runDeploy(t *testing.T, args []string, outs map[string]any, shared []stack.Slot, env map[string]string) (int, string, int, *gate.HealthConfig) {
	t.Helper()
	uploads := 0
	var gateCfg *gate.HealthConfig
	d := realDeps()
	d.deploy = deployDeps{
		outputs: func(context.Context, string, string) (map[string]any, error) { return outs, nil },
		config:  func(string, string) (*stack.Config, error) { return &stack.Config{SharedHostStorage: shared}, nil },
		credential: func(func(string) string) (azcore.TokenCredential, string, error) {
			return nil, "a test credential", nil
		},
		deployer: func(context.Context, azcore.TokenCredential, string, string, string, time.Duration, func(string) string) (packageDeployer, error) {
			var paths []string
			return countingUpload{fakeUpload{deployed: &paths}, &uploads}, nil
		},
		livePool: func(context.Context, string, string, map[string]any, func(string) string) (stack.Weights, error) {
			return stack.Weights{Green: 100}, nil
		},
		health: func(_ context.Context, cfg gate.HealthConfig, _ io.Writer) (gate.HealthResult, error) {
			gateCfg = &cfg
			return gate.HealthResult{}, nil
		},
		getenv: func(k string) string { return env[k] },
	}
	root := newRootCmd(d)
	var out bytes.Buffer
	root.SetArgs(append([]string{"deploy"}, args...))
	root.SetOut(&out)
	root.SetErr(&out)
	_, err := root.ExecuteC()
	if err != nil {
		out.WriteString(err.Error())
	}
	return exitCode(err), out.String(), uploads, gateCfg
}

type countingUpload struct {
	fakeUpload
	n *int
}

func (c countingUpload) Deploy(ctx context.Context, pkg deploy.Package, w io.Writer) error {
	*c.n++
	return c.fakeUpload.Deploy(ctx, pkg, w)
}

// deployOutputs are a deployed dev stack's outputs with green live, and extra on top.
func deployOutputs(extra map[string]any) map[string]any {
	outs := map[string]any{
		"blueWeight": float64(0), "greenAppName": "green-app1", "blueAppName": "blue-app2",
		"resourceGroupName": "slotless-dev-rg", "apiUrl": "https://apim.example.net/slotless", "healthPath": "/health",
		"poolId": "/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/slotless-dev-rg/providers/Microsoft.ApiManagement/service/apim1/backends/green-blue-pool",
	}
	for k, v := range extra {
		outs[k] = v
	}
	return outs
}

// TestDeployRefusesASlotInSharedHostStorage: a slot still listed in sharedHostStorage, in the
// stack file or in the deployed stack (whose identity may write the whole shared account, the
// other slot's package included), is refused with exit 3 before anything is uploaded, naming
// the key, the slot, where it is listed and what to do; an idle slot listed nowhere deploys,
// whatever the live slot's listing.
func TestDeployRefusesASlotInSharedHostStorage(t *testing.T) {
	good := appZip(t, "host.json", "health/function.json")
	args := []string{"--slot", "blue", "--package", good}
	for _, tt := range []struct {
		name     string
		shared   []stack.Slot
		deployed []any
		code     int
		want     []string
	}{
		{"listed in the stack file", []stack.Slot{stack.Blue}, nil, exitBlocked,
			[]string{"sharedHostStorage: blue is listed (in the stack file Pulumi.dev.yaml)", "Storage Blob Data Owner on the whole shared account", "green's deployment package",
				"take it out of sharedHostStorage in the stack file and run pulumi up, then deploy", "docs/security.md#each-slot-touches-only-its-own-storage"}},
		{"listed in the deployed stack only", nil, []any{"green", "blue"}, exitBlocked,
			[]string{"sharedHostStorage: blue is listed (in the deployed stack dev)"}},
		{"listed in both", []stack.Slot{stack.Green, stack.Blue}, []any{"blue"}, exitBlocked,
			[]string{"(in the stack file Pulumi.dev.yaml and the deployed stack dev)"}},
		{"only the live slot is listed: the idle one deploys", []stack.Slot{stack.Green}, []any{"green"}, exitOK,
			[]string{"deployed " + good + " to blue-app2"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			outs := deployOutputs(nil)
			if tt.deployed != nil {
				outs[stack.OutSharedHostStorage] = tt.deployed
			}
			code, out, uploads, _ := runDeploy(t, args, outs, tt.shared, nil)
			if code != tt.code {
				t.Fatalf("exit: got %d, want %d\n%s", code, tt.code, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output: got\n%s\nwant %q", out, w)
				}
			}
			if wantUploads := map[bool]int{true: 1, false: 0}[tt.code == exitOK]; uploads != wantUploads {
				t.Errorf("uploads: got %d, want %d", uploads, wantUploads)
			}
		})
	}
}

// TestDeployAPIURL: the health gate's requests carry the pinning token, so the API's URL must be
// https, or plain http to a loopback address (a local test server). A URL given by hand
// (--api-url, SLOTLESS_API_URL) is refused with exit 2 before anything is uploaded, naming where
// it came from, the value and what is allowed; a stack output over plain http fails the gate
// after the deploy.
func TestDeployAPIURL(t *testing.T) {
	good := appZip(t, "host.json", "health/function.json")
	pin := map[string]string{envPinToken: "tok"}
	withEnv := map[string]string{envPinToken: "tok", envAPIURL: "http://apim.example.net/slotless"}
	for _, tt := range []struct {
		name    string
		args    []string
		env     map[string]string
		apiURL  string // the stack output
		code    int
		uploads int
		want    string
		gateURL string
	}{
		{"the stack's https URL", nil, pin, "https://apim.example.net/slotless", exitOK, 1, "", "https://apim.example.net/slotless/health?slotless-probe=1"},
		{"a local test server over http", []string{"--api-url", "http://127.0.0.1:8080/slotless"}, pin, "https://apim.example.net/slotless", exitOK, 1, "", "http://127.0.0.1:8080/slotless/health?slotless-probe=1"},
		{"plain http in the flag", []string{"--api-url", "http://apim.example.net/slotless"}, pin, "https://apim.example.net/slotless", exitUsage, 0,
			`--api-url: "http://apim.example.net/slotless" is plain http to apim.example.net, which would carry the pinning token and the subscription key in clear; want an absolute https URL, or http to a loopback address`, ""},
		{"plain http in the environment", nil, withEnv, "https://apim.example.net/slotless", exitUsage, 0, `SLOTLESS_API_URL: "http://apim.example.net/slotless" is plain http`, ""},
		{"plain http in the stack output", nil, pin, "http://apim.example.net/slotless", exitFailure, 1, `blue is deployed, but its health gate cannot run: the stack output apiUrl: "http://apim.example.net/slotless" is plain http`, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--slot", "blue", "--package", good}, tt.args...)
			code, out, uploads, gateCfg := runDeploy(t, args, deployOutputs(map[string]any{"apiUrl": tt.apiURL}), nil, tt.env)
			if code != tt.code || uploads != tt.uploads || !strings.Contains(out, tt.want) {
				t.Fatalf("got exit %d, %d uploads\n%s\nwant exit %d, %d uploads and %q", code, uploads, out, tt.code, tt.uploads, tt.want)
			}
			if tt.gateURL != "" && (gateCfg == nil || gateCfg.URL != tt.gateURL) {
				t.Errorf("health gate: got %+v, want %s", gateCfg, tt.gateURL)
			}
			if tt.gateURL == "" && gateCfg != nil {
				t.Errorf("the health gate ran against %s", gateCfg.URL)
			}
		})
	}
}
