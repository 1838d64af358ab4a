package pipelines

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const (
	adoRelease = "pipelines/azure-devops/release.yml"
	adoInfra   = "pipelines/azure-devops/infra.yml"
	adoTools   = "pipelines/azure-devops/templates/tools.yml"
	adoWatch   = "pipelines/azure-devops/watch.yml"
)

type adoPipeline struct {
	Stages []adoStage `yaml:"stages"`
	Jobs   []adoJob   `yaml:"jobs"`  // a pipeline of jobs alone
	Steps  []adoStep  `yaml:"steps"` // a steps template
	// Schedules are the pipeline's cron triggers.
	Schedules []struct {
		Cron     string `yaml:"cron"`
		Always   bool   `yaml:"always"`
		Branches struct {
			Include []string `yaml:"include"`
		} `yaml:"branches"`
	} `yaml:"schedules"`
}

type adoStage struct {
	Stage     string     `yaml:"stage"`
	DependsOn stringList `yaml:"dependsOn"`
	Condition string     `yaml:"condition"`
	Jobs      []adoJob   `yaml:"jobs"`
}

type adoJob struct {
	Job         string      `yaml:"job"`
	Deployment  string      `yaml:"deployment"`
	Environment environment `yaml:"environment"`
	Steps       []adoStep   `yaml:"steps"`
	Strategy    struct {
		RunOnce struct {
			Deploy struct {
				Steps []adoStep `yaml:"steps"`
			} `yaml:"deploy"`
		} `yaml:"runOnce"`
	} `yaml:"strategy"`
}

// adoStep stays a map: steps are bash, tasks, templates, checkouts, downloads and
// ${{ if }} blocks, each with its own keys.
type adoStep map[string]any

// steps returns a job's steps, deploy hook included, with ${{ if }} blocks flattened in place.
func (j adoJob) steps() []adoStep {
	return flatten(append(slices.Clone(j.Steps), j.Strategy.RunOnce.Deploy.Steps...))
}

func flatten(in []adoStep) []adoStep {
	var out []adoStep
	for _, s := range in {
		if len(s) == 1 {
			for k, v := range s {
				if list, ok := v.([]any); ok && strings.HasPrefix(k, "${{") {
					var inner []adoStep
					for _, e := range list {
						if m := asMap(e); m != nil {
							inner = append(inner, adoStep(m))
						}
					}
					out = append(out, flatten(inner)...)
					continue
				}
				out = append(out, s)
			}
			continue
		}
		out = append(out, s)
	}
	return out
}

// script is what a step runs: a bash/script body or an AzureCLI@2 inline script.
func (s adoStep) script() string {
	for _, k := range []string{"bash", "script", "pwsh", "powershell"} {
		if v, ok := s[k].(string); ok {
			return v
		}
	}
	if v, ok := asMap(s["inputs"])["inlineScript"].(string); ok {
		return v
	}
	return ""
}

func (s adoStep) input(k string) any { return asMap(s["inputs"])[k] }

func (s adoStep) env(k string) string {
	v, _ := asMap(s["env"])[k].(string)
	return v
}

// asMap returns a decoded mapping, which yaml.v3 gives as the step's own map type when nested.
func asMap(v any) map[string]any {
	switch m := v.(type) {
	case adoStep:
		return m
	case map[string]any:
		return m
	}
	return nil
}

func (s adoStep) text() string {
	b, _ := yaml.Marshal(map[string]any(s))
	return string(b)
}

func scriptsOf(steps []adoStep) []string {
	out := make([]string, len(steps))
	for i, s := range steps {
		out[i] = s.script()
	}
	return out
}

func (p *adoPipeline) stage(name string) (*adoStage, error) {
	for i := range p.Stages {
		if p.Stages[i].Stage == name {
			return &p.Stages[i], nil
		}
	}
	return nil, fmt.Errorf("got no stage %s, want one", name)
}

func (p *adoPipeline) allSteps() []adoStep {
	steps := flatten(p.Steps)
	for _, j := range p.Jobs {
		steps = append(steps, j.steps()...)
	}
	for _, st := range p.Stages {
		for _, j := range st.Jobs {
			steps = append(steps, j.steps()...)
		}
	}
	return steps
}

var releaseStageOrder = []string{"Build", "DeployIdle", "Verify", "Canary", "RingA", "GA", "Rollback"}

func checkStageOrder(p *adoPipeline) error {
	var got []string
	for _, s := range p.Stages {
		got = append(got, s.Stage)
	}
	if !slices.Equal(got, releaseStageOrder) {
		return fmt.Errorf("stages: got %v, want %v", got, releaseStageOrder)
	}
	return nil
}

// releaseCommand is a traffic stage's one command, up to the step it stops after.
func releaseCommand(until int) string {
	return fmt.Sprintf(`slotless release --stack "$STACK" --slot "$IDLE" --version "$VERSION" --until %d`, until)
}

// trafficStages are the stages that move users onto the new slot, each behind its environment.
var trafficStages = []struct {
	stage, environment, command string
}{
	{"Canary", "slotless-canary", releaseCommand(10)},
	{"RingA", "slotless-ring-a", releaseCommand(50)},
	{"GA", "slotless-ga", releaseCommand(100)},
}

func checkTrafficStage(p *adoPipeline, name, env, command string) error {
	st, err := p.stage(name)
	if err != nil {
		return err
	}
	if len(st.Jobs) != 1 {
		return fmt.Errorf("%s jobs: got %d, want 1", name, len(st.Jobs))
	}
	j := st.Jobs[0]
	if j.Deployment == "" {
		return fmt.Errorf("%s: got a plain job, want a deployment job (approvals live on its environment)", name)
	}
	if string(j.Environment) != env {
		return fmt.Errorf("%s environment: got %q, want %q", name, j.Environment, env)
	}
	steps := j.steps()
	if err := checkThinStage(scriptsOf(steps), command); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	// The record and report are kept whatever the outcome: a rolled-back stage's are the ones
	// to read.
	release := indexOf(scriptsOf(steps), command)
	report := steps[release].env("REPORT")
	if report == "" || reportDirOf(scriptsOf(steps)[release]) != `"$REPORT"` {
		return fmt.Errorf("%s: got report dir %q, want --report-dir \"$REPORT\" from the step's env", name, report)
	}
	var summary, published bool
	for _, st := range steps[release+1:] {
		always := strings.Contains(fmt.Sprint(st["condition"]), "always()")
		summary = summary || always && strings.TrimSpace(fmt.Sprint(st["bash"])) == `scripts/publish-report.sh "`+report+`"`
		published = published || always && fmt.Sprint(st["publish"]) == report
	}
	if !summary || !published {
		return fmt.Errorf("%s: got summary %v and artifact %v after the release, want scripts/publish-report.sh of %s and a publish of it, both condition: always()", name, summary, published, report)
	}
	return nil
}

func checkRollback(p *adoPipeline) error {
	st, err := p.stage("Rollback")
	if err != nil {
		return err
	}
	for _, want := range []string{"Verify", "Canary", "RingA", "GA"} {
		if !st.DependsOn.has(want) {
			return fmt.Errorf("Rollback dependsOn: got %v, want it to include %s", st.DependsOn, want)
		}
	}
	if !strings.Contains(st.Condition, "failed()") {
		return fmt.Errorf("Rollback condition: got %q, want one that runs on failed()", st.Condition)
	}
	var steps []adoStep
	for _, j := range st.Jobs {
		if j.Environment != "" {
			return fmt.Errorf("Rollback job environment: got %q, want none (no approval may hold a rollback)", j.Environment)
		}
		steps = append(steps, j.steps()...)
	}
	if indexOf(scriptsOf(steps), `slotless rollback --stack "$STACK" --slot "$IDLE"`) < 0 {
		return errors.New("Rollback: got no step running slotless rollback, want one")
	}
	return nil
}

func checkVerify(p *adoPipeline) error {
	st, err := p.stage("Verify")
	if err != nil {
		return err
	}
	var steps []adoStep
	for _, j := range st.Jobs {
		steps = append(steps, j.steps()...)
	}
	if indexOf(scriptsOf(steps), "slotless gate health", "--expect-version", "$(Build.BuildNumber)") < 0 {
		return errors.New("Verify: got no slotless gate health --expect-version $(Build.BuildNumber), want one")
	}
	return nil
}

// checkFederatedSignIn asserts that every step that runs `pulumi up` signs in to Azure through a
// workload identity federation service connection and hands its token to azure-native.
func checkFederatedSignIn(steps []adoStep) error {
	for _, s := range steps {
		sc := s.script()
		if !changesTraffic.MatchString(sc) {
			continue
		}
		if task, _ := s["task"].(string); task != "AzureCLI@2" {
			return fmt.Errorf("step %q task: got %q, want AzureCLI@2", s["displayName"], task)
		}
		if v, _ := s.input("addSpnToEnvironment").(bool); !v {
			return fmt.Errorf("step %q addSpnToEnvironment: got %v, want true", s["displayName"], s.input("addSpnToEnvironment"))
		}
		if !strings.Contains(sc, ". scripts/azure-oidc-env.sh") {
			return fmt.Errorf("step %q: got no . scripts/azure-oidc-env.sh, want the federated token exported for azure-native", s["displayName"])
		}
	}
	return nil
}

// checkTokenMapped asserts that secret variables reach the scripts that need them: Azure DevOps
// never maps a secret into a script's environment on its own.
func checkTokenMapped(steps []adoStep) error {
	for _, s := range steps {
		if !needsPulumiToken.MatchString(s.script()) {
			continue
		}
		if got, want := s.env("PULUMI_ACCESS_TOKEN"), "$(PULUMI_ACCESS_TOKEN)"; got != want {
			return fmt.Errorf("step %q env PULUMI_ACCESS_TOKEN: got %q, want %q", s["displayName"], got, want)
		}
	}
	return nil
}

func checkNoSecrets(steps []adoStep) error {
	for _, s := range steps {
		if err := secretIn(s.text()); err != nil {
			return fmt.Errorf("step %q: %w", s["displayName"], err)
		}
		if err := checkAzArgsFromVariables(s.script()); err != nil {
			return fmt.Errorf("step %q: %w", s["displayName"], err)
		}
	}
	return nil
}

func TestAzureDevOpsRelease(t *testing.T) {
	p := decode[adoPipeline](t, adoRelease)
	checks := []struct {
		name  string
		check func(*adoPipeline) error
	}{
		{"stage order", checkStageOrder},
		{"verify gates the expected version", checkVerify},
		{"rollback on any failure", checkRollback},
		{"federated sign-in", func(p *adoPipeline) error { return checkFederatedSignIn(p.allSteps()) }},
		{"pulumi token mapped", func(p *adoPipeline) error { return checkTokenMapped(p.allSteps()) }},
		{"no client secret, no literal names", func(p *adoPipeline) error { return checkNoSecrets(p.allSteps()) }},
	}
	for _, ts := range trafficStages {
		checks = append(checks, struct {
			name  string
			check func(*adoPipeline) error
		}{"traffic stage " + ts.stage, func(p *adoPipeline) error {
			return checkTrafficStage(p, ts.stage, ts.environment, ts.command)
		}})
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if err := c.check(p); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestAzureDevOpsOtherPipelines(t *testing.T) {
	for _, file := range []string{adoInfra, adoTools, adoWatch, adoSetup} {
		p := decode[adoPipeline](t, file)
		steps := p.allSteps()
		if len(steps) == 0 {
			t.Errorf("%s steps: got none, want some", file)
		}
		for _, check := range []func([]adoStep) error{checkFederatedSignIn, checkTokenMapped, checkNoSecrets} {
			if err := check(steps); err != nil {
				t.Errorf("%s: %v", file, err)
			}
		}
	}
}

// TestAzureDevOpsChecksCatchBreakage breaks a fresh copy of release.yml one way at a time and
// wants the matching check to notice.
func TestAzureDevOpsChecksCatchBreakage(t *testing.T) {
	stageOf := func(p *adoPipeline, name string) *adoStage {
		st, err := p.stage(name)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	dropSteps := func(st *adoStage, match string) {
		j := &st.Jobs[0]
		keep := func(steps []adoStep) []adoStep {
			var out []adoStep
			for _, s := range flatten(steps) {
				if !strings.Contains(s.script(), match) {
					out = append(out, s)
				}
			}
			return out
		}
		j.Steps = keep(j.Steps)
		j.Strategy.RunOnce.Deploy.Steps = keep(j.Strategy.RunOnce.Deploy.Steps)
	}
	canary := func(p *adoPipeline) error {
		return checkTrafficStage(p, "Canary", "slotless-canary", trafficStages[0].command)
	}
	ga := func(p *adoPipeline) error {
		return checkTrafficStage(p, "GA", "slotless-ga", trafficStages[2].command)
	}
	cases := []struct {
		name   string
		break_ func(*adoPipeline)
		check  func(*adoPipeline) error
	}{
		{"RingA before Canary", func(p *adoPipeline) { p.Stages[3], p.Stages[4] = p.Stages[4], p.Stages[3] }, checkStageOrder},
		{"Verify dropped", func(p *adoPipeline) { p.Stages = slices.Delete(p.Stages, 2, 3) }, checkStageOrder},
		{"canary release removed", func(p *adoPipeline) { dropSteps(stageOf(p, "Canary"), "slotless release") }, canary},
		{"a bake back in the canary", func(p *adoPipeline) {
			j := &stageOf(p, "Canary").Jobs[0]
			j.Strategy.RunOnce.Deploy.Steps = append(j.Strategy.RunOnce.Deploy.Steps, adoStep{"bash": `sleep 600`})
		}, canary},
		{"a gate back in the canary", func(p *adoPipeline) {
			j := &stageOf(p, "Canary").Jobs[0]
			j.Strategy.RunOnce.Deploy.Steps = append(j.Strategy.RunOnce.Deploy.Steps, adoStep{"bash": `slotless gate health --slot "$IDLE"`})
		}, canary},
		{"canary is a plain job", func(p *adoPipeline) { stageOf(p, "Canary").Jobs[0].Deployment = "" }, canary},
		{"canary without approvals", func(p *adoPipeline) { stageOf(p, "Canary").Jobs[0].Environment = "slotless-dev" }, canary},
		{"GA release removed", func(p *adoPipeline) { dropSteps(stageOf(p, "GA"), "slotless release") }, ga},
		{"GA record not kept", func(p *adoPipeline) {
			j := &stageOf(p, "GA").Jobs[0]
			j.Strategy.RunOnce.Deploy.Steps = slices.DeleteFunc(flatten(j.Strategy.RunOnce.Deploy.Steps), func(s adoStep) bool { _, ok := s["publish"]; return ok })
		}, ga},
		{"canary release without the pinning token", func(p *adoPipeline) {
			for _, s := range stageOf(p, "Canary").Jobs[0].steps() {
				if in := asMap(s["inputs"]); in != nil && strings.Contains(s.script(), "slotless release") {
					in["inlineScript"] = strings.ReplaceAll(s.script(), ". scripts/gate-env.sh", "true")
				}
			}
		}, canary},
		{"rollback ignores GA", func(p *adoPipeline) {
			st := stageOf(p, "Rollback")
			st.DependsOn = slices.DeleteFunc(st.DependsOn, func(s string) bool { return s == "GA" })
		}, checkRollback},
		{"rollback ignores Verify", func(p *adoPipeline) {
			st := stageOf(p, "Rollback")
			st.DependsOn = slices.DeleteFunc(st.DependsOn, func(s string) bool { return s == "Verify" })
		}, checkRollback},
		{"rollback runs on success", func(p *adoPipeline) { stageOf(p, "Rollback").Condition = "succeeded()" }, checkRollback},
		{"rollback behind an approval", func(p *adoPipeline) { stageOf(p, "Rollback").Jobs[0].Environment = "slotless-ga" }, checkRollback},
		{"verify without version", func(p *adoPipeline) { dropSteps(stageOf(p, "Verify"), "--expect-version") }, checkVerify},
		{"client secret in a step", func(p *adoPipeline) {
			j := &stageOf(p, "Canary").Jobs[0]
			j.Steps = append(j.Steps, adoStep{"bash": "pulumi up", "env": map[string]any{"ARM_CLIENT_SECRET": "$(secret)", "PULUMI_ACCESS_TOKEN": "$(PULUMI_ACCESS_TOKEN)"}})
		}, func(p *adoPipeline) error { return checkNoSecrets(p.allSteps()) }},
		{"release outside AzureCLI@2", func(p *adoPipeline) {
			j := &stageOf(p, "Canary").Jobs[0]
			j.Steps = append(j.Steps, adoStep{"bash": `slotless release --until 10`})
		}, func(p *adoPipeline) error { return checkFederatedSignIn(p.allSteps()) }},
		{"token not mapped", func(p *adoPipeline) {
			j := &stageOf(p, "RingA").Jobs[0]
			j.Steps = append(j.Steps, adoStep{"bash": `slotless gate health --slot "$IDLE"`})
		}, func(p *adoPipeline) error { return checkTokenMapped(p.allSteps()) }},
		{"literal app name", func(p *adoPipeline) {
			j := &stageOf(p, "DeployIdle").Jobs[0]
			j.Steps = append(j.Steps, adoStep{"bash": `az functionapp restart -g slotless-dev-rg -n "$APP"`})
		}, func(p *adoPipeline) error { return checkNoSecrets(p.allSteps()) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := decode[adoPipeline](t, adoRelease)
			if err := c.check(p); err != nil {
				t.Fatalf("before breaking: got %v, want nil", err)
			}
			c.break_(p)
			if err := c.check(p); err == nil {
				t.Errorf("after breaking: got nil, want an error")
			}
		})
	}
}

// TestReleaseTarget runs the script DeployIdle uses to pick the slot, on stack outputs as
// `pulumi stack output --json` prints them.
func TestReleaseTarget(t *testing.T) {
	if _, err := exec.LookPath("jq"); err != nil {
		t.Skip("jq not installed")
	}
	base := map[string]string{
		"liveSlot": "green", "greenWeight": "100", "blueWeight": "0",
		"greenAppName": "fa-green", "blueAppName": "fa-blue", "resourceGroupName": "rg-1",
		"apiUrl": "https://gw/slotless", "appInsightsName": "ai-1",
	}
	cases := []struct {
		name    string
		set     map[string]string
		wantOut string // a line of the output
		wantErr string // a part of stderr; "" means success
	}{
		{"blue idle", map[string]string{"idleSlot": "blue"}, "idleApp=fa-blue\nliveSlot=green\nliveApp=fa-green", ""},
		{"green idle", map[string]string{"idleSlot": "green", "liveSlot": "blue"}, "idleSlot=green\nidleApp=fa-green\nliveSlot=blue\nliveApp=fa-blue", ""},
		{"in progress", map[string]string{"idleSlot": "", "greenWeight": "90", "blueWeight": "10"}, "",
			"a release is in progress: green carries traffic and no slot is idle; finish or roll back first"},
		{"never deployed", map[string]string{"liveSlot": "", "idleSlot": ""}, "", "no liveSlot output"},
		{"missing app name", map[string]string{"idleSlot": "blue", "blueAppName": ""}, "", "no blueAppName output"},
		{"workspace from output", map[string]string{"idleSlot": "blue", "logAnalyticsWorkspaceId": "ws-out"}, "workspaceId=ws-out", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			outs := map[string]string{}
			for k, v := range base {
				outs[k] = v
			}
			for k, v := range c.set {
				outs[k] = v
			}
			var b strings.Builder
			b.WriteString("{")
			first := true
			for k, v := range outs {
				if !first {
					b.WriteString(",")
				}
				first = false
				fmt.Fprintf(&b, "%q:%q", k, v)
			}
			b.WriteString("}")
			file := filepath.Join(t.TempDir(), "outputs.json")
			if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("bash", filepath.Join(root, "scripts", "release-target.sh"), "dev", file)
			ws := "SLOTLESS_WORKSPACE_ID=ws-1"
			if outs["logAnalyticsWorkspaceId"] != "" {
				ws = "SLOTLESS_WORKSPACE_ID="
			}
			cmd.Env = append(os.Environ(), ws, "TF_BUILD=", "GITHUB_ACTIONS=")
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if c.wantErr != "" {
				if err == nil || !strings.Contains(stderr.String(), c.wantErr) {
					t.Errorf("got err %v, stderr %q, want failure with %q", err, stderr.String(), c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got %v (%s), want success", err, stderr.String())
			}
			if !strings.Contains(stdout.String(), c.wantOut) || !strings.Contains(stdout.String(), "workspaceId=ws-") {
				t.Errorf("got %q, want it to contain %q and a workspaceId", stdout.String(), c.wantOut)
			}
		})
	}
}
