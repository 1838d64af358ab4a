package pipelines

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The Azure DevOps templates a team's pipeline extends (templates/slotless-*.yml, from the
// repository resource slotless), the steps template they share (templates/tools.yml), and this
// repository's own pipelines, which extend them for the sample. The checks read a template as a
// caller's parameters expand it (adotemplate_test.go): this repository's callers, and a team's
// stack with other steps and an installed slotless.
const (
	adoReleaseCaller   = "pipelines/azure-devops/release.yml"
	adoWatchCaller     = "pipelines/azure-devops/watch.yml"
	adoInfraCaller     = "pipelines/azure-devops/infra.yml"
	adoReleaseTemplate = "pipelines/azure-devops/templates/slotless-release.yml"
	adoWatchTemplate   = "pipelines/azure-devops/templates/slotless-watch.yml"
	adoInfraTemplate   = "pipelines/azure-devops/templates/slotless-infra.yml"
	adoTools           = "pipelines/azure-devops/templates/tools.yml"
)

// teamRelease is what a team's release pipeline passes: another stack, steps of its own, and a
// slotless release installed instead of built.
var teamRelease = map[string]any{
	"stack": "prod", "slotlessVersion": "v1.2.0", "workingDirectory": "infra", "packageBuild": "npm run package",
	"package": "dist/app.zip", "releaseSteps": []any{5, 25, 100},
}

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
	Job         string            `yaml:"job"`
	Deployment  string            `yaml:"deployment"`
	Environment environment       `yaml:"environment"`
	Variables   map[string]string `yaml:"variables"`
	Steps       []adoStep         `yaml:"steps"`
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

// releaseStageOrder is the stages a release with these steps has, in order.
func releaseStageOrder(steps []int) []string {
	out := []string{"Build", "DeployIdle", "Verify"}
	for _, s := range steps {
		out = append(out, fmt.Sprintf("Release_%d", s))
	}
	return append(out, "Record", "Rollback")
}

func checkStageOrder(p *adoPipeline, steps []int) error {
	var got []string
	for _, s := range p.Stages {
		got = append(got, s.Stage)
	}
	if want := releaseStageOrder(steps); !slices.Equal(got, want) {
		return fmt.Errorf("stages: got %v, want %v", got, want)
	}
	return nil
}

// releaseCommand is a traffic stage's one command, up to the step it stops after.
func releaseCommand(until int) string {
	return fmt.Sprintf(`slotless release --stack "$STACK" --slot "$IDLE" --version "$VERSION" --until %d`, until)
}

// trafficStage is a stage that moves users onto the new slot, behind its environment.
type trafficStage struct {
	stage, environment, command string
}

// trafficStages are a release's traffic stages: one per step, each in <prefix>-<step>.
func trafficStages(prefix string, steps []int) []trafficStage {
	var out []trafficStage
	for _, s := range steps {
		out = append(out, trafficStage{fmt.Sprintf("Release_%d", s), fmt.Sprintf("%s-%d", prefix, s), releaseCommand(s)})
	}
	return out
}

func checkTrafficStage(p *adoPipeline, ts trafficStage, earlier []string) error {
	name := ts.stage
	st, err := p.stage(name)
	if err != nil {
		return err
	}
	// Each step after the deploy, the verify and every step before it: no traffic moves before
	// the previous step's gates passed.
	for _, want := range append([]string{"DeployIdle", "Verify"}, earlier...) {
		if !st.DependsOn.has(want) {
			return fmt.Errorf("%s dependsOn: got %v, want it to include %s", name, st.DependsOn, want)
		}
	}
	if len(st.Jobs) != 1 {
		return fmt.Errorf("%s jobs: got %d, want 1", name, len(st.Jobs))
	}
	j := st.Jobs[0]
	if j.Deployment == "" {
		return fmt.Errorf("%s: got a plain job, want a deployment job (approvals live on its environment)", name)
	}
	if string(j.Environment) != ts.environment {
		return fmt.Errorf("%s environment: got %q, want %q", name, j.Environment, ts.environment)
	}
	steps := j.steps()
	if err := checkThinStage(scriptsOf(steps), ts.command); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	// The record and report are kept whatever the outcome: a rolled-back stage's are the ones
	// to read.
	release := indexOf(scriptsOf(steps), ts.command)
	report := steps[release].env("REPORT")
	if report == "" || reportDirOf(scriptsOf(steps)[release]) != `"$REPORT"` {
		return fmt.Errorf("%s: got report dir %q, want --report-dir \"$REPORT\" from the step's env", name, report)
	}
	var summary, published bool
	for _, st := range steps[release+1:] {
		always := strings.Contains(fmt.Sprint(st["condition"]), "always()")
		bash := fmt.Sprint(st["bash"])
		summary = summary || always && ciScript("publish-report").MatchString(bash) && strings.Contains(bash, `"`+report+`"`)
		published = published || always && fmt.Sprint(st["publish"]) == report
	}
	if !summary || !published {
		return fmt.Errorf("%s: got summary %v and artifact %v after the release, want publish-report.sh of %s and a publish of it, both condition: always()", name, summary, published, report)
	}
	return nil
}

// checkTrafficStages runs checkTrafficStage on every step's stage.
func checkTrafficStages(p *adoPipeline, prefix string, steps []int) error {
	var earlier []string
	for _, ts := range trafficStages(prefix, steps) {
		if err := checkTrafficStage(p, ts, earlier); err != nil {
			return err
		}
		earlier = append(earlier, ts.stage)
	}
	return nil
}

func checkRollback(p *adoPipeline, steps []int) error {
	st, err := p.stage("Rollback")
	if err != nil {
		return err
	}
	for _, want := range releaseStageOrder(steps)[1 : len(steps)+3] {
		if !st.DependsOn.has(want) {
			return fmt.Errorf("Rollback dependsOn: got %v, want it to include %s", st.DependsOn, want)
		}
	}
	if st.DependsOn.has("Record") {
		return errors.New("Rollback dependsOn: got Record, want none: a failed record must not roll back a healthy release")
	}
	if !strings.Contains(st.Condition, "failed()") || !strings.Contains(st.Condition, "canceled()") || !strings.Contains(st.Condition, "eq(dependencies.DeployIdle.result, 'Succeeded')") {
		return fmt.Errorf("Rollback condition: got %q, want one that runs on failed() or canceled() once DeployIdle succeeded", st.Condition)
	}
	var steps_ []adoStep
	for _, j := range st.Jobs {
		if j.Environment != "" {
			return fmt.Errorf("Rollback job environment: got %q, want none (no approval may hold a rollback)", j.Environment)
		}
		steps_ = append(steps_, j.steps()...)
	}
	if indexOf(scriptsOf(steps_), `slotless rollback --stack "$STACK" --slot "$IDLE"`) < 0 {
		return errors.New("Rollback: got no step running slotless rollback, want one")
	}
	return nil
}

// checkRecord: a Record stage after every step, which runs only when they all succeeded, opens
// the record's pull request with the job's token, from a checkout that keeps its credentials.
func checkRecord(p *adoPipeline, steps []int) error {
	st, err := p.stage("Record")
	if err != nil {
		return err
	}
	for _, s := range steps {
		if want := fmt.Sprintf("Release_%d", s); !st.DependsOn.has(want) {
			return fmt.Errorf("Record dependsOn: got %v, want it to include %s", st.DependsOn, want)
		}
	}
	if c := strings.TrimSpace(st.Condition); c != "" && c != "succeeded()" {
		return fmt.Errorf("Record condition: got %q, want none: only a release that reached 100%% is recorded here", c)
	}
	for _, name := range []string{"Record", "Rollback"} {
		stage, _ := p.stage(name)
		all := stage.Jobs[0].steps()
		i := slices.IndexFunc(all, func(s adoStep) bool { return ciScript("record-traffic").MatchString(s.script()) })
		if i < 0 {
			return fmt.Errorf("%s: got no step running record-traffic.sh, want one", name)
		}
		if got := all[i].env("AZURE_DEVOPS_EXT_PAT"); got != "$(System.AccessToken)" {
			return fmt.Errorf("%s record env AZURE_DEVOPS_EXT_PAT: got %q, want $(System.AccessToken)", name, got)
		}
		if all[0]["persistCredentials"] != true {
			return fmt.Errorf("%s checkout persistCredentials: got %v, want true (the record branch is pushed)", name, all[0]["persistCredentials"])
		}
	}
	return nil
}

// buildVersion is how a stage's job reads the version the Build stage worked out.
const buildVersion = "$[ stageDependencies.Build.build.outputs['version.version'] ]"

func checkVerify(p *adoPipeline) error {
	st, err := p.stage("Verify")
	if err != nil {
		return err
	}
	for _, j := range st.Jobs {
		steps := j.steps()
		i := indexOf(scriptsOf(steps), "slotless gate health", `--expect-version "$VERSION"`)
		if i < 0 {
			continue
		}
		if steps[i].env("VERSION") != "$(version)" || j.Variables["version"] != buildVersion {
			return fmt.Errorf("Verify: got VERSION %q from %q, want the Build stage's version", steps[i].env("VERSION"), j.Variables["version"])
		}
		return nil
	}
	return errors.New(`Verify: got no slotless gate health --expect-version "$VERSION", want one`)
}

// checkStepsAgainstStack: before anything is deployed, DeployIdle checks the steps the stages
// were made from against the stack's own releaseSteps, as slotless reads them.
func checkStepsAgainstStack(p *adoPipeline, steps []int) error {
	st, err := p.stage("DeployIdle")
	if err != nil {
		return err
	}
	all := st.Jobs[0].steps()
	check := slices.IndexFunc(all, func(s adoStep) bool { return ciScript("release-steps").MatchString(s.script()) })
	deploy := indexOf(scriptsOf(all), "slotless deploy")
	if check < 0 || deploy < 0 || check > deploy {
		return fmt.Errorf("DeployIdle: got the steps check at %d and the deploy at %d, want the check first", check, deploy)
	}
	s := all[check]
	for _, want := range []string{`slotless release --stack "$STACK" --slot "$IDLE" --version "$VERSION" --dry-run --json`, `jq -c .steps`, `--required --name releaseSteps`, `"$REQUESTED"`} {
		if !strings.Contains(s.script(), want) {
			return fmt.Errorf("DeployIdle steps check: got no %q", want)
		}
	}
	var requested []int
	if err := json.Unmarshal([]byte(s.env("REQUESTED")), &requested); err != nil || !slices.Equal(requested, steps) {
		return fmt.Errorf("DeployIdle steps check REQUESTED: got %q (%v), want the stages' steps %v", s.env("REQUESTED"), err, steps)
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
		if !azureOIDCEnv.MatchString(sc) {
			return fmt.Errorf("step %q: got no . azure-oidc-env.sh, want the federated token exported for azure-native", s["displayName"])
		}
	}
	return nil
}

// azureOIDCEnv matches the sourcing of azure-oidc-env.sh, which hands the task's federated token
// to azure-native.
var azureOIDCEnv = regexp.MustCompile(`\. "?` + ciScripts + `azure-oidc-env\.sh`)

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

// adoReleaseRun is one expansion of the release template the checks read: this repository's
// caller, and a team's.
type adoReleaseRun struct {
	name   string
	p      *adoPipeline
	prefix string
	steps  []int
}

func adoReleaseRuns(t *testing.T) []adoReleaseRun {
	return []adoReleaseRun{
		{"the sample", expandedPipeline(t, adoReleaseCaller), "slotless-dev", sampleSteps},
		{"a team's stack", expandedTemplate(t, adoReleaseTemplate, teamRelease), "slotless-prod", otherSteps},
	}
}

func adoReleaseChecks(prefix string, steps []int) []struct {
	name  string
	check func(*adoPipeline) error
} {
	return []struct {
		name  string
		check func(*adoPipeline) error
	}{
		{"stage order", func(p *adoPipeline) error { return checkStageOrder(p, steps) }},
		{"traffic stages", func(p *adoPipeline) error { return checkTrafficStages(p, prefix, steps) }},
		{"steps checked against the stack", func(p *adoPipeline) error { return checkStepsAgainstStack(p, steps) }},
		{"verify gates the expected version", checkVerify},
		{"rollback on any failure", func(p *adoPipeline) error { return checkRollback(p, steps) }},
		{"record", func(p *adoPipeline) error { return checkRecord(p, steps) }},
		{"federated sign-in", func(p *adoPipeline) error { return checkFederatedSignIn(p.allSteps()) }},
		{"pulumi token mapped", func(p *adoPipeline) error { return checkTokenMapped(p.allSteps()) }},
		{"no client secret, no literal names", func(p *adoPipeline) error { return checkNoSecrets(p.allSteps()) }},
	}
}

func TestAzureDevOpsRelease(t *testing.T) {
	for _, run := range adoReleaseRuns(t) {
		for _, c := range adoReleaseChecks(run.prefix, run.steps) {
			t.Run(run.name+"/"+c.name, func(t *testing.T) {
				if err := c.check(run.p); err != nil {
					t.Error(err)
				}
			})
		}
	}
	// Per stack: the environments follow environmentPrefix when it is given.
	p := expandedTemplate(t, adoReleaseTemplate, map[string]any{
		"stack": "prod", "packageBuild": "make", "package": "app.zip", "releaseSteps": []any{100}, "environmentPrefix": "orders-prod",
	})
	if err := checkTrafficStages(p, "orders-prod", []int{100}); err != nil {
		t.Errorf("environmentPrefix orders-prod: %v", err)
	}
	// Without recordTraffic there is no Record stage and the rollback records nothing.
	p = expandedTemplate(t, adoReleaseTemplate, map[string]any{
		"stack": "prod", "packageBuild": "make", "package": "app.zip", "releaseSteps": []any{100}, "recordTraffic": false,
	})
	if _, err := p.stage("Record"); err == nil || indexOf(scriptsOf(p.allSteps()), "record-traffic.sh") >= 0 {
		t.Error("recordTraffic false: got a Record stage or a record step, want neither")
	}
	// releaseSteps is required: the stages cannot be made without it.
	if _, err := expandTemplateFile(adoReleaseTemplate, map[string]any{"stack": "prod", "packageBuild": "make", "package": "app.zip"}); err == nil ||
		!strings.Contains(err.Error(), "releaseSteps: a value is required") {
		t.Errorf("without releaseSteps: got %v, want the parameter named as required", err)
	}
}

func TestAzureDevOpsOtherPipelines(t *testing.T) {
	pipelines := map[string]*adoPipeline{
		adoInfraCaller:                   expandedPipeline(t, adoInfraCaller),
		adoWatchCaller:                   expandedPipeline(t, adoWatchCaller),
		adoInfraTemplate + " (a team's)": expandedTemplate(t, adoInfraTemplate, map[string]any{"stack": "prod", "slotlessVersion": "v1.2.0"}),
		adoWatchTemplate + " (a team's)": expandedTemplate(t, adoWatchTemplate, map[string]any{"stack": "prod"}),
		adoTools + " (source)":           expandedTemplate(t, adoTools, map[string]any{"slotlessVersion": "source", "pulumiVersion": "3.274.1", "compileProgram": true}),
		adoTools + " (a release)":        expandedTemplate(t, adoTools, map[string]any{"slotlessVersion": "v1.2.0", "pulumiVersion": "3.274.1"}),
		adoSetup:                         expandedTemplate(t, adoSetup, map[string]any{"version": "v1.2.0"}),
	}
	for _, name := range slices.Sorted(maps.Keys(pipelines)) {
		steps := pipelines[name].allSteps()
		if len(steps) == 0 {
			t.Errorf("%s steps: got none, want some", name)
		}
		for _, check := range []func([]adoStep) error{checkFederatedSignIn, checkTokenMapped, checkNoSecrets} {
			if err := check(steps); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	}
	// The infrastructure of a stack runs in its own environment.
	up, err := pipelines[adoInfraTemplate+" (a team's)"].stage("Up")
	if err != nil || up.Jobs[0].Environment != "slotless-prod-infra" {
		t.Errorf("a team's infra Up: got %v (%v), want environment slotless-prod-infra", up, err)
	}
}

// TestAzureDevOpsChecksCatchBreakage breaks a fresh expansion of this repository's release one
// way at a time and wants the matching check to notice.
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
	deploySteps := func(p *adoPipeline, stage string) *[]adoStep {
		return &stageOf(p, stage).Jobs[0].Strategy.RunOnce.Deploy.Steps
	}
	traffic := func(p *adoPipeline) error { return checkTrafficStages(p, "slotless-dev", sampleSteps) }
	order := func(p *adoPipeline) error { return checkStageOrder(p, sampleSteps) }
	rollback := func(p *adoPipeline) error { return checkRollback(p, sampleSteps) }
	record := func(p *adoPipeline) error { return checkRecord(p, sampleSteps) }
	stepsCheck := func(p *adoPipeline) error { return checkStepsAgainstStack(p, sampleSteps) }
	cases := []struct {
		name   string
		break_ func(*adoPipeline)
		check  func(*adoPipeline) error
	}{
		{"Release_50 before Release_10", func(p *adoPipeline) { p.Stages[3], p.Stages[4] = p.Stages[4], p.Stages[3] }, order},
		{"Verify dropped", func(p *adoPipeline) { p.Stages = slices.Delete(p.Stages, 2, 3) }, order},
		{"Release_50 does not wait for Release_10", func(p *adoPipeline) {
			st := stageOf(p, "Release_50")
			st.DependsOn = slices.DeleteFunc(st.DependsOn, func(s string) bool { return s == "Release_10" })
		}, traffic},
		{"Release_10 does not wait for Verify", func(p *adoPipeline) {
			st := stageOf(p, "Release_10")
			st.DependsOn = slices.DeleteFunc(st.DependsOn, func(s string) bool { return s == "Verify" })
		}, traffic},
		{"release removed", func(p *adoPipeline) { dropSteps(stageOf(p, "Release_10"), "slotless release") }, traffic},
		{"a bake back in a step", func(p *adoPipeline) {
			*deploySteps(p, "Release_10") = append(*deploySteps(p, "Release_10"), adoStep{"bash": `sleep 600`})
		}, traffic},
		{"a gate back in a step", func(p *adoPipeline) {
			*deploySteps(p, "Release_10") = append(*deploySteps(p, "Release_10"), adoStep{"bash": `slotless gate health --slot "$IDLE"`})
		}, traffic},
		{"a step in a plain job", func(p *adoPipeline) { stageOf(p, "Release_10").Jobs[0].Deployment = "" }, traffic},
		{"a step without approvals", func(p *adoPipeline) { stageOf(p, "Release_10").Jobs[0].Environment = "slotless-dev" }, traffic},
		{"one environment for every stack", func(p *adoPipeline) { stageOf(p, "Release_100").Jobs[0].Environment = "slotless-100" }, traffic},
		{"record not kept", func(p *adoPipeline) {
			*deploySteps(p, "Release_100") = slices.DeleteFunc(flatten(*deploySteps(p, "Release_100")), func(s adoStep) bool { _, ok := s["publish"]; return ok })
		}, traffic},
		{"release without the pinning token", func(p *adoPipeline) {
			for _, s := range stageOf(p, "Release_10").Jobs[0].steps() {
				if in := asMap(s["inputs"]); in != nil && strings.Contains(s.script(), "slotless release") {
					in["inlineScript"] = gateEnv.ReplaceAllString(s.script(), "true ")
				}
			}
		}, traffic},
		{"steps not checked", func(p *adoPipeline) { dropSteps(stageOf(p, "DeployIdle"), "release-steps.sh") }, stepsCheck},
		{"steps checked against a list of its own", func(p *adoPipeline) {
			for _, s := range stageOf(p, "DeployIdle").Jobs[0].steps() {
				if e := asMap(s["env"]); e != nil && e["REQUESTED"] != nil {
					e["REQUESTED"] = "[10, 100]"
				}
			}
		}, stepsCheck},
		{"rollback ignores Release_100", func(p *adoPipeline) {
			st := stageOf(p, "Rollback")
			st.DependsOn = slices.DeleteFunc(st.DependsOn, func(s string) bool { return s == "Release_100" })
		}, rollback},
		{"rollback ignores Verify", func(p *adoPipeline) {
			st := stageOf(p, "Rollback")
			st.DependsOn = slices.DeleteFunc(st.DependsOn, func(s string) bool { return s == "Verify" })
		}, rollback},
		{"rollback waits for the record", func(p *adoPipeline) {
			st := stageOf(p, "Rollback")
			st.DependsOn = append(st.DependsOn, "Record")
		}, rollback},
		{"rollback runs on success", func(p *adoPipeline) { stageOf(p, "Rollback").Condition = "succeeded()" }, rollback},
		{"rollback behind an approval", func(p *adoPipeline) { stageOf(p, "Rollback").Jobs[0].Environment = "slotless-dev-100" }, rollback},
		{"record after a failure", func(p *adoPipeline) { stageOf(p, "Record").Condition = "always()" }, record},
		{"record before GA", func(p *adoPipeline) {
			st := stageOf(p, "Record")
			st.DependsOn = slices.DeleteFunc(st.DependsOn, func(s string) bool { return s == "Release_100" })
		}, record},
		{"verify without version", func(p *adoPipeline) { dropSteps(stageOf(p, "Verify"), "--expect-version") }, checkVerify},
		{"verify of another version", func(p *adoPipeline) { stageOf(p, "Verify").Jobs[0].Variables["version"] = "$(Build.BuildNumber)" }, checkVerify},
		{"client secret in a step", func(p *adoPipeline) {
			j := &stageOf(p, "Release_10").Jobs[0]
			j.Steps = append(j.Steps, adoStep{"bash": "pulumi up", "env": map[string]any{"ARM_CLIENT_SECRET": "$(secret)", "PULUMI_ACCESS_TOKEN": "$(PULUMI_ACCESS_TOKEN)"}})
		}, func(p *adoPipeline) error { return checkNoSecrets(p.allSteps()) }},
		{"release outside AzureCLI@2", func(p *adoPipeline) {
			j := &stageOf(p, "Release_10").Jobs[0]
			j.Steps = append(j.Steps, adoStep{"bash": `slotless release --until 10`})
		}, func(p *adoPipeline) error { return checkFederatedSignIn(p.allSteps()) }},
		{"token not mapped", func(p *adoPipeline) {
			j := &stageOf(p, "Release_50").Jobs[0]
			j.Steps = append(j.Steps, adoStep{"bash": `slotless gate health --slot "$IDLE"`})
		}, func(p *adoPipeline) error { return checkTokenMapped(p.allSteps()) }},
		{"token not mapped to a CI script", func(p *adoPipeline) {
			j := &stageOf(p, "Verify").Jobs[0]
			j.Steps = append(j.Steps, adoStep{"bash": `"$(SLOTLESS_CI)/release-target.sh" "$STACK"`})
		}, func(p *adoPipeline) error { return checkTokenMapped(p.allSteps()) }},
		{"literal app name", func(p *adoPipeline) {
			j := &stageOf(p, "DeployIdle").Jobs[0]
			j.Steps = append(j.Steps, adoStep{"bash": `az functionapp restart -g slotless-dev-rg -n "$APP"`})
		}, func(p *adoPipeline) error { return checkNoSecrets(p.allSteps()) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := expandedPipeline(t, adoReleaseCaller)
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
