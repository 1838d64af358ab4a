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
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/monitor/azquery"

	"github.com/slotless/slotless/internal/engine"
	"github.com/slotless/slotless/internal/gate"
	"github.com/slotless/slotless/internal/release"
	"github.com/slotless/slotless/internal/rollout"
	"github.com/slotless/slotless/stack"
)

func TestReleaseValidatesInput(t *testing.T) {
	dir := project(t, stackYAML("slotless:blueWeight: 0"))
	t.Setenv(envPinToken, "")
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--version", "1.1.0"}, 2, "--slot: required, want green or blue"},
		{[]string{"--slot", "red", "--version", "1.1.0"}, 2, `--slot: "red" is not a slot`},
		{[]string{"--slot", "blue"}, 2, "--version: required"},
		{[]string{"--slot", "blue", "--version", "1.1.0", "--until", "30"}, 2, "--until: 30 is not a step, want one of releaseSteps 10, 50, 100"},
		{[]string{"--slot", "blue", "--version", "1.1.0", "--api-url", "gw/orders"}, 2, "--api-url"},
		{[]string{"--slot", "blue", "--version", "1.1.0"}, 2, "need the pinning token (stack config pinToken) in SLOTLESS_PIN_TOKEN"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			var out, errb bytes.Buffer
			args := append([]string{"release", "--dir", dir, "--stack", "ci"}, tt.args...)
			if code := run(args, &out, &errb); code != tt.code {
				t.Fatalf("exit: got %d, want %d (%s)", code, tt.code, errb.String())
			}
			if !strings.Contains(errb.String(), tt.want) {
				t.Errorf("stderr: got %q, want %q", errb.String(), tt.want)
			}
		})
	}
	// A plan with a step above maxStep is refused before anything is read.
	dir = project(t, stackYAML("slotless:blueWeight: 0", "slotless:maxStep: 20"))
	var out, errb bytes.Buffer
	if code := run([]string{"release", "--dir", dir, "--stack", "ci", "--slot", "blue", "--version", "1.1.0", "--dry-run"}, &out, &errb); code != 3 {
		t.Fatalf("exit: got %d, want 3 (%s)", code, errb.String())
	}
	if !strings.Contains(errb.String(), "releaseSteps: the step from 10 to 50 is 40 points, more than maxStep 20") {
		t.Errorf("stderr: got %q, want the step named", errb.String())
	}
}

func TestReleaseExitCodes(t *testing.T) {
	tests := []struct {
		err  error
		code int
	}{
		{fmt.Errorf("%w: slot is not idle", rollout.ErrRefused), exitBlocked},
		{fmt.Errorf("%w: analysis 1 failed; rolled back", rollout.ErrAborted), exitAborted},
		{fmt.Errorf("%w: analysis 1 failed; %w: boom", rollout.ErrAborted, rollout.ErrRollbackFailed), exitRollbackFailed},
		{fmt.Errorf("%w: no version", rollout.ErrInvalid), exitUsage},
		{fmt.Errorf("shift blue to 10%%: %w: besides traffic ...", release.ErrBlocked), exitBlocked},
		{errors.New("read the deployed traffic: boom"), exitFailure},
		{fmt.Errorf("release interrupted: %w", context.Canceled), exitFailure},
	}
	for _, tt := range tests {
		if got := exitCode(tt.err); got != tt.code {
			t.Errorf("%v: got exit %d, want %d", tt.err, got, tt.code)
		}
	}
}

// withoutPulumi leaves the pulumi CLI off PATH, as on a machine that only plans.
func withoutPulumi(t *testing.T) {
	t.Helper()
	t.Setenv("PATH", t.TempDir())
}

// TestReleaseDryRunOffline: without the Pulumi CLI a dry run plans from the stack file, says so,
// and prints what each shift changes, the apps' always-ready counts included.
func TestReleaseDryRunOffline(t *testing.T) {
	withoutPulumi(t)
	dir := project(t, stackYAML("slotless:blueWeight: 0", "slotless:alwaysReadyInstances: 2"))
	var out, errb bytes.Buffer
	if code := run([]string{"release", "--dir", dir, "--stack", "ci", "--slot", "blue", "--version", "1.1.0", "--dry-run"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{
		"planning from the weights in Pulumi.ci.yaml, which may lag the deployed ones",
		"] in Pulumi.ci.yaml: green 100% / blue 0%, current-slot-name green-backend",
		"release plan (dry run: nothing is changed): blue 1.1.0, releaseSteps 10, 50, 100, until 100%",
		"step 1: 0% → 10%: changes pool weights + blue app alwaysReady 0 → 2; bake 10m0s (10 analyses, every 1m0s)",
		"step 2: 10% → 50%: changes pool weights only",
		"step 3: 50% → 100%: changes pool weights + current-slot-name green-backend → blue-backend + green app alwaysReady 2 → 0",
		"from 100% that changes pool weights + current-slot-name blue-backend → green-backend + green app alwaysReady 0 → 2 + blue app alwaysReady 2 → 0",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("got\n%s\nwant it to contain %q", out.String(), want)
		}
	}

	out.Reset()
	if code := run([]string{"release", "--dir", dir, "--stack", "ci", "--slot", "blue", "--version", "1.1.0", "--dry-run", "--until", "50", "--json"}, &out, &errb); code != 0 {
		t.Fatalf("--json exit %d: %s", code, errb.String())
	}
	var rec rollout.Record
	if err := json.Unmarshal(out.Bytes(), &rec); err != nil {
		t.Fatalf("stdout is not the record: %v\n%s", err, out.String())
	}
	if rec.Outcome != rollout.OutcomeDryRun || len(rec.Planned) != 2 || rec.Planned[1].To != 50 {
		t.Errorf("record: got outcome %s, planned %+v; want a dry run of 0→10 and 10→50", rec.Outcome, rec.Planned)
	}
}

// TestReleaseDryRunShowsEachStepsBake: releaseSteps written in the stack file as YAML, objects
// with bakes of their own beside plain integers, reach the plan: the dry run prints each step's
// bake, --json records them, and --until names steps by weight whatever their form.
func TestReleaseDryRunShowsEachStepsBake(t *testing.T) {
	withoutPulumi(t)
	dir := project(t, stackYAML("slotless:blueWeight: 0", "slotless:analysisIntervalSeconds: 10",
		"slotless:analysisInitialDelaySeconds: 5", "slotless:releaseSteps:", "    - weight: 10", "      bake: 30s", "    - 50", "    - {weight: 100, bake: 0s}"))
	tests := []struct {
		name    string
		args    []string
		code    int
		want    []string
		planned []string // to:bakeSeconds:bakeFrom
	}{
		{"to GA", nil, 0, []string{
			"release plan (dry run: nothing is changed): blue 1.1.0, releaseSteps 10, 50, 100, until 100%",
			"step 1: 0% → 10%: changes pool weights only; bake 30s (3 analyses, every 10s)",
			"step 2: 10% → 50%: changes pool weights only; bake 10m0s (60 analyses, every 10s)",
			"step 3: 50% → 100%: changes pool weights + current-slot-name green-backend → blue-backend; no bake (its bake in releaseSteps is 0s)",
		}, []string{"10:30:releaseSteps", "50:600:bakeMinutes", "100:0:releaseSteps"}},
		{"until a step with its own bake", []string{"--until", "10"}, 0, []string{"until 10%", "step 1: 0% → 10%: changes pool weights only; bake 30s (3 analyses, every 10s)"}, []string{"10:30:releaseSteps"}},
		{"until a weight that is no step", []string{"--until", "30"}, 2, []string{"--until: 30 is not a step, want one of releaseSteps 10, 50, 100"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			args := append([]string{"release", "--dir", dir, "--stack", "ci", "--slot", "blue", "--version", "1.1.0", "--dry-run", "--json"}, tt.args...)
			if code := run(args, &out, &errb); code != tt.code {
				t.Fatalf("exit: got %d, want %d (%s)", code, tt.code, errb.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("stderr\n%s\nwant it to contain %q", errb.String(), w)
				}
			}
			if tt.code != 0 {
				return
			}
			var rec rollout.Record
			if err := json.Unmarshal(out.Bytes(), &rec); err != nil {
				t.Fatalf("stdout is not the record: %v\n%s", err, out.String())
			}
			var planned []string
			for _, s := range rec.Planned {
				planned = append(planned, fmt.Sprintf("%d:%d:%s", s.To, s.BakeSeconds, s.BakeFrom))
			}
			if !slices.Equal(planned, tt.planned) || !slices.Equal(rec.StepBakeSeconds, []int64{30, 600, 0}) {
				t.Errorf("record: got planned %v, stepBakeSeconds %v; want %v and [30 600 0]", planned, rec.StepBakeSeconds, tt.planned)
			}
		})
	}
}

// fakeDeployed is a deployed stack for slotless release: shifts go through release.Shift
// against it, each up applying the weights written to the config, and the preview reporting
// the pool and, with alwaysReadyInstances, the apps whose count the weights change.
type fakeDeployed struct {
	mu          sync.Mutex
	blue        int // deployed
	config      map[string]string
	alwaysReady int
	env         map[string]string
	calls       []string
	// version is the slotless the stack records (output slotlessVersion); empty for none.
	version string
}

func (f *fakeDeployed) Deployed(context.Context) (release.Deployed, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := stack.Weights{Green: 100 - f.blue, Blue: f.blue}
	name := w.CurrentSlotName()
	if w.InProgress() {
		name = stack.Green.BackendID() // these releases start from green
	}
	return release.Deployed{Weights: w, CurrentSlotName: name, Source: "deployed", Version: f.version}, nil
}

func (f *fakeDeployed) Outputs(context.Context) (map[string]any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return map[string]any{stack.OutWorkspaceID: "ws-1", stack.OutAppName(stack.Green): "func-green", stack.OutAppName(stack.Blue): "func-blue",
		stack.OutBlueWeight: float64(f.blue), stack.OutSlotlessVersion: f.version}, nil
}

func (f *fakeDeployed) SetEnv(k, v string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.env[k] = v
}

func (f *fakeDeployed) GetConfig(_ context.Context, k string) (string, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.config[k]
	return v, ok, nil
}

func (f *fakeDeployed) SetConfig(_ context.Context, k, v string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.config[k] = v
	return nil
}

func (f *fakeDeployed) RemoveConfig(_ context.Context, k string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.config, k)
	return nil
}

func (f *fakeDeployed) Preview(context.Context, io.Writer) (engine.Changes, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	blue, _ := strconv.Atoi(f.config["blueWeight"])
	from, to := stack.Weights{Green: 100 - f.blue, Blue: f.blue}, stack.Weights{Green: 100 - blue, Blue: blue}
	steps := []engine.Step{{Op: "update", Type: "azure-native:apimanagement:Backend", Name: stack.PoolID, URN: f.URN("azure-native:apimanagement:Backend", stack.PoolID)}}
	for _, s := range stack.Slots {
		a, b := from.AlwaysReady(s, f.alwaysReady), to.AlwaysReady(s, f.alwaysReady)
		if a == b {
			continue
		}
		steps = append(steps, engine.Step{Op: "update", Type: "azure-native:web:WebApp", Name: stack.AppResourceName(s), URN: f.URN("azure-native:web:WebApp", stack.AppResourceName(s)),
			Diffs: []string{"functionAppConfig"}, OldInputs: appIn(a), NewInputs: appIn(b)})
	}
	return engine.Changes{Steps: steps}, nil
}

func appIn(n int) map[string]any {
	sc := map[string]any{"maximumInstanceCount": 100.0}
	if n > 0 {
		sc["alwaysReady"] = []any{map[string]any{"name": "http", "instanceCount": float64(n)}}
	}
	return map[string]any{"functionAppConfig": map[string]any{"scaleAndConcurrency": sc}}
}

func (f *fakeDeployed) Up(_ context.Context, _ io.Writer, targets []string) (engine.Changes, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.blue, _ = strconv.Atoi(f.config["blueWeight"])
	var names []string
	for _, t := range targets {
		names = append(names, t[strings.LastIndex(t, "::")+2:])
	}
	slices.Sort(names)
	f.calls = append(f.calls, fmt.Sprintf("up blue %d: %s (token %s)", f.blue, strings.Join(names, " "), f.env["ARM_OIDC_TOKEN"]))
	return engine.Changes{Counts: map[string]int{"update": len(targets)}}, nil
}

func (f *fakeDeployed) URN(typ, name string) string { return typ + "::" + name }

func (f *fakeDeployed) Refresh(context.Context, io.Writer, []string) error { return nil }

// fakeLogs answers every query with both apps healthy and busy, or the canary failing.
type fakeLogs struct {
	mu      sync.Mutex
	queries int
	failing bool
}

func (l *fakeLogs) QueryWorkspace(_ context.Context, _ string, body azquery.Body, _ *azquery.LogsClientQueryWorkspaceOptions) (azquery.LogsClientQueryWorkspaceResponse, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.queries++
	col := func(n string) *azquery.Column { return &azquery.Column{Name: &n} }
	failed := 0
	if l.failing {
		failed = 200
	}
	name := "PrimaryResult"
	return azquery.LogsClientQueryWorkspaceResponse{Results: azquery.Results{Tables: []*azquery.Table{{
		Name:    &name,
		Columns: []*azquery.Column{col("AppRoleName"), col("Kind"), col("Rows"), col("Requests"), col("Failed"), col("ClientErrors"), col("Late"), col("P95DurationMs"), col("Settled"), col("SettledRows")},
		Rows:    []azquery.Row{{"func-blue", "user", 1000.0, 1000.0, float64(failed), 0.0, 0.0, 100.0, 1000.0, 1000.0}, {"func-green", "user", 1000.0, 1000.0, 0.0, 0.0, 0.0, 100.0, 1000.0, 1000.0}},
	}}}}, nil
}

// slotHealth serves <api>/health per pinned slot, as the function app behind APIM does.
func slotHealth(t *testing.T, token string, versions map[string]string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slot := r.Header.Get("X-Slotless-Slot")
		if r.URL.Path != "/orders/health" || r.Header.Get("X-Slotless-Token") != token || versions[slot] == "" {
			http.Error(w, "not pinned", http.StatusNotFound)
			return
		}
		w.Header().Set("X-Slot", slot)
		fmt.Fprintf(w, `{"status":"ok","slot":%q,"version":%q,"checks":{}}`, slot, versions[slot])
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestReleaseRunWiresTheController runs the command against a fake deployed stack, a health
// endpoint and a fake Log Analytics, with no bake: the release reaches 100 in three shifts,
// each applied through release.Shift with the app whose always-ready count it changes, and on
// Azure Pipelines each update gets a fresh federated token.
func TestReleaseRunWiresTheController(t *testing.T) {
	const token = "pin-0123456789abcdef"
	health := slotHealth(t, token, map[string]string{"green": "1.0.0", "blue": "1.1.0"})
	var oidcCalls int
	var oidcMu sync.Mutex
	oidc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Authorization") != "Bearer system-token" || r.URL.Query().Get("serviceConnectionId") != "sc-1" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		oidcMu.Lock()
		oidcCalls++
		n := oidcCalls
		oidcMu.Unlock()
		fmt.Fprintf(w, `{"oidcToken":"id-token-%d"}`, n)
	}))
	t.Cleanup(oidc.Close)
	for k, v := range map[string]string{envPinToken: token, envAPIURL: "", envSubscriptionKey: "", "ARM_USE_OIDC": "true",
		"SYSTEM_OIDCREQUESTURI": oidc.URL + "/oidctoken", "SYSTEM_ACCESSTOKEN": "system-token", "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID": "sc-1", "AZURESUBSCRIPTION_CLIENT_ID": "c", "AZURESUBSCRIPTION_TENANT_ID": "t"} {
		t.Setenv(k, v)
	}

	dir := project(t, stackYAML("slotless:blueWeight: 0", "slotless:bakeMinutes: 0", "slotless:alwaysReadyInstances: 2"))
	fake := &fakeDeployed{config: map[string]string{}, alwaysReady: 2, env: map[string]string{}}
	logs := &fakeLogs{}
	d := realDeps()
	d.openReleaseStack = func(context.Context, string, string) (releaseStack, error) { return fake, nil }
	d.logsQuerier = func(string, func(string) string) (gate.LogsQuerier, string, error) { return logs, "fake", nil }

	var out, errb bytes.Buffer
	args := []string{"release", "--dir", dir, "--stack", "ci", "--slot", "blue", "--version", "1.1.0", "--api-url", health.URL + "/orders", "--json"}
	if code := runWith(d, args, &out, &errb); code != 0 {
		t.Fatalf("exit %d\n%s", code, errb.String())
	}
	// The release slot's count goes up alone before its traffic, the old slot's down after.
	want := []string{
		"up blue 10: blue-app (token id-token-1)",
		"up blue 10: current-slot-name green-blue-pool (token id-token-1)",
		"up blue 50: current-slot-name green-blue-pool (token id-token-2)",
		"up blue 100: current-slot-name green-blue-pool (token id-token-3)",
		"up blue 100: green-app (token id-token-3)",
	}
	if !slices.Equal(fake.calls, want) {
		t.Errorf("updates: got\n%s\nwant\n%s", strings.Join(fake.calls, "\n"), strings.Join(want, "\n"))
	}
	var rec rollout.Record
	if err := json.Unmarshal(out.Bytes(), &rec); err != nil {
		t.Fatalf("stdout is not the record: %v\n%s", err, out.String())
	}
	if rec.Outcome != rollout.OutcomeComplete || len(rec.StepsTaken) != 3 || rec.StepsTaken[0].Warmup == nil {
		t.Errorf("record: got %s with %d steps, want complete in 3 warmed steps", rec.Outcome, len(rec.StepsTaken))
	}
	for _, want := range []string{"metrics gate: Log Analytics workspace ws-1 answers (credential: fake)", "updates: azure-native gets a fresh federated token from Azure Pipelines before each shift and rollback",
		"with the traffic: blue-app always-ready instances 0 → 2", "release complete: blue carries 100% with 1.1.0",
		// The fake stack has no telemetryComponentIds: the gate falls back to AppRoleName and says so.
		"warning: the stack has no telemetryComponentIds output (it was last deployed by an older slotless)"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("progress: got\n%s\nwant it to contain %q", errb.String(), want)
		}
	}
	if logs.queries != 1 {
		t.Errorf("Log Analytics queries: got %d, want 1 (the check before anything moves; no bake)", logs.queries)
	}
	if strings.Contains(out.String()+errb.String(), token) || strings.Contains(out.String()+errb.String(), "system-token") {
		t.Error("a secret leaked into the output")
	}
}

// TestReleaseRefusesWithoutMetrics: a Log Analytics that cannot be queried stops the release
// before anything moves.
func TestReleaseRefusesWithoutMetrics(t *testing.T) {
	const token = "pin-0123456789abcdef"
	health := slotHealth(t, token, map[string]string{"green": "1.0.0", "blue": "1.1.0"})
	t.Setenv(envPinToken, token)
	dir := project(t, stackYAML("slotless:blueWeight: 0"))
	fake := &fakeDeployed{config: map[string]string{}, env: map[string]string{}}
	d := realDeps()
	d.openReleaseStack = func(context.Context, string, string) (releaseStack, error) { return fake, nil }
	d.logsQuerier = func(string, func(string) string) (gate.LogsQuerier, string, error) {
		return brokenLogs{}, "DefaultAzureCredential", nil
	}
	var out, errb bytes.Buffer
	args := []string{"release", "--dir", dir, "--stack", "ci", "--slot", "blue", "--version", "1.1.0", "--api-url", health.URL + "/orders"}
	if code := runWith(d, args, &out, &errb); code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "cannot query Log Analytics") || !strings.Contains(errb.String(), "nothing was moved") {
		t.Errorf("stderr: got %q", errb.String())
	}
	if len(fake.calls) != 0 {
		t.Errorf("updates: got %v, want none", fake.calls)
	}
}

type brokenLogs struct{}

func (brokenLogs) QueryWorkspace(context.Context, string, azquery.Body, *azquery.LogsClientQueryWorkspaceOptions) (azquery.LogsClientQueryWorkspaceResponse, error) {
	return azquery.LogsClientQueryWorkspaceResponse{}, errors.New("DefaultAzureCredential: failed to acquire a token")
}

// TestRollbackWithoutAFreshToken: when no fresh federated token can be had, the rollback still
// runs with the environment the job started with, and says so.
func TestRollbackWithoutAFreshToken(t *testing.T) {
	fake := &fakeDeployed{blue: 50, config: map[string]string{"blueWeight": "50"}, env: map[string]string{}}
	var out bytes.Buffer
	tr := stackTraffic{st: fake, maxStep: 50, out: &out, refresh: func(context.Context) (map[string]string, error) {
		return nil, errors.New("azure pipelines federated token: HTTP 401 Unauthorized")
	}}
	if err := tr.Rollback(t.Context(), stack.Blue); err != nil {
		t.Fatalf("got %v, want the rollback applied", err)
	}
	if fake.blue != 0 || !strings.Contains(out.String(), "warning: no fresh federated token for this update") {
		t.Errorf("got blue %d and output\n%s\nwant blue 0 and a warning", fake.blue, out.String())
	}
}

// TestDocsDryRunSample: the releases page's sample of an offline dry run is what `slotless release
// --dry-run` prints for the repository's dev stack, but for the reason the stack could not be
// read, which the page shortens to "(...)".
func TestDocsDryRunSample(t *testing.T) {
	withoutPulumi(t)
	raw, err := os.ReadFile(filepath.Join("..", "..", "docs", "releases.md"))
	if err != nil {
		t.Fatal(err)
	}
	const first = "dry run: the deployed stack dev could not be read (...)"
	_, sample, ok := strings.Cut(string(raw), "```\n"+first)
	if !ok {
		t.Fatalf("docs/releases.md has no sample block starting %q", first)
	}
	sample, _, _ = strings.Cut(first+sample, "\n```")
	var out, errb bytes.Buffer
	if code := run([]string{"release", "--dir", filepath.Join("..", ".."), "--stack", "dev", "--slot", "blue", "--version", "1.1.0", "--dry-run"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	got := strings.TrimSpace(errb.String() + out.String())
	got = regexp.MustCompile(`could not be read \(.*\); planning`).ReplaceAllString(got, "could not be read (...); planning")
	if got != sample {
		t.Errorf("docs/releases.md's dry-run sample differs from the output.\ngot:\n%s\n\ndocs:\n%s", got, sample)
	}
}

// TestVersionSkew: slotless v1.2.0 over a stack slotless v1.3.0 last changed. release and shift
// refuse with exit 3 before anything moves, naming the version to install; the watch and the
// rollback, which only take traffic away from a canary, run.
func TestVersionSkew(t *testing.T) {
	const token = "pin-0123456789abcdef"
	health := slotHealth(t, token, map[string]string{"green": "1.0.0", "blue": "1.1.0"})
	t.Setenv(envPinToken, token)
	tests := []struct {
		name     string
		blue     int
		args     []string
		wantCode int
		// wantCalls are the updates the fake stack saw.
		wantCalls string
	}{
		{"release", 0, []string{"release", "--slot", "blue", "--version", "1.1.0", "--api-url", health.URL + "/orders"}, 3, ""},
		{"shift", 10, []string{"shift", "--slot", "blue", "--to", "50", "--force"}, 3, ""},
		{"watch with nothing to watch", 0, []string{"watch", "--api-url", health.URL + "/orders"}, 0, ""},
		{"rollback", 10, []string{"rollback", "--slot", "blue"}, 0, "up blue 0: current-slot-name green-blue-pool"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := project(t, stackYAML(fmt.Sprintf("slotless:blueWeight: %d", tt.blue), "slotless:bakeMinutes: 0"))
			fake := &fakeDeployed{blue: tt.blue, config: map[string]string{"blueWeight": fmt.Sprint(tt.blue)}, env: map[string]string{}, version: "v1.3.0"}
			d := realDeps()
			d.version = "v1.2.0"
			d.openReleaseStack = func(context.Context, string, string) (releaseStack, error) { return fake, nil }
			d.openStack = func(context.Context, string, string, string) (release.Stack, error) { return fake, nil }
			d.logsQuerier = func(string, func(string) string) (gate.LogsQuerier, string, error) { return &fakeLogs{}, "fake", nil }
			var out, errb bytes.Buffer
			code := runWith(d, append(tt.args, "--dir", dir, "--stack", "ci"), &out, &errb)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\n%s%s", code, tt.wantCode, out.String(), errb.String())
			}
			if tt.wantCode == 3 && !strings.Contains(errb.String(), "the stack was last changed by slotless v1.3.0 (its output slotlessVersion), and this is slotless v1.2.0") {
				t.Errorf("the refusal does not name the versions:\n%s", errb.String())
			}
			if got := strings.Join(fake.calls, "; "); !strings.HasPrefix(got, tt.wantCalls) || (tt.wantCalls == "" && got != "") {
				t.Errorf("calls: got %q, want %q", got, tt.wantCalls)
			}
		})
	}
}
