package pipelines

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The GitHub workflows: the reusable ones a team's repository calls (slotless-*.yml, on:
// workflow_call), this repository's own callers of them for the sample (release.yml, watch.yml,
// pr-plan.yml), and this repository's CI (ci.yml). The checks read the reusable definitions as a
// caller's inputs instantiate them: the release's matrix of steps expanded into one job per step,
// the environments' names evaluated.
const (
	ghRelease       = ".github/workflows/slotless-release.yml"
	ghWatch         = ".github/workflows/slotless-watch.yml"
	ghPRPlan        = ".github/workflows/slotless-pr-plan.yml"
	ghReleaseCaller = ".github/workflows/release.yml"
	ghWatchCaller   = ".github/workflows/watch.yml"
	ghPRPlanCaller  = ".github/workflows/pr-plan.yml"
	ghCI            = ".github/workflows/ci.yml"
	ghPublish       = ".github/workflows/publish.yml"
)

var (
	ghReusable  = []string{ghRelease, ghWatch, ghPRPlan}
	ghCallers   = []string{ghReleaseCaller, ghWatchCaller, ghPRPlanCaller}
	ghWorkflows = append(append([]string{ghCI, ghPublish}, ghReusable...), ghCallers...)
)

type workflow struct {
	On          map[string]yaml.Node `yaml:"on"`
	Permissions map[string]string    `yaml:"permissions"`
	Concurrency struct {
		Group            string `yaml:"group"`
		CancelInProgress bool   `yaml:"cancel-in-progress"`
	} `yaml:"concurrency"`
	Env  map[string]string `yaml:"env"`
	Jobs map[string]*ghJob `yaml:"jobs"`
}

type ghJob struct {
	Needs       stringList        `yaml:"needs"`
	If          string            `yaml:"if"`
	Environment environment       `yaml:"environment"`
	Permissions map[string]string `yaml:"permissions"`
	Env         map[string]string `yaml:"env"`
	Outputs     map[string]string `yaml:"outputs"`
	Strategy    struct {
		MaxParallel string            `yaml:"max-parallel"`
		FailFast    string            `yaml:"fail-fast"`
		Matrix      map[string]string `yaml:"matrix"`
	} `yaml:"strategy"`
	Steps []ghStep `yaml:"steps"`
	// Uses, With and Secrets are a caller's job: the reusable workflow it calls and what it passes.
	Uses    string            `yaml:"uses"`
	With    map[string]string `yaml:"with"`
	Secrets callerSecrets     `yaml:"secrets"`
}

// callerSecrets is a calling job's `secrets:`: `inherit`, or the secrets it passes by name.
type callerSecrets struct {
	inherit bool
	names   []string
}

func (c *callerSecrets) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		c.inherit = n.Value == "inherit"
		if !c.inherit {
			return fmt.Errorf("secrets: got %q, want inherit or a mapping", n.Value)
		}
		return nil
	}
	var m map[string]string
	if err := n.Decode(&m); err != nil {
		return err
	}
	c.names = slices.Sorted(maps.Keys(m))
	return nil
}

type ghStep struct {
	Name string            `yaml:"name"`
	ID   string            `yaml:"id"`
	If   string            `yaml:"if"`
	Uses string            `yaml:"uses"`
	Run  string            `yaml:"run"`
	With map[string]string `yaml:"with"`
	Env  map[string]string `yaml:"env"`
	// ContinueOnError is "true" for a step whose failure does not fail the job.
	ContinueOnError string `yaml:"continue-on-error"`
}

func (w *workflow) job(name string) (*ghJob, error) {
	j, ok := w.Jobs[name]
	if !ok {
		return nil, fmt.Errorf("got no job %s, want one", name)
	}
	return j, nil
}

// permission is a job's permission for scope, inheriting the workflow's when the job sets none.
func (w *workflow) permission(j *ghJob, scope string) string {
	if j.Permissions != nil {
		return j.Permissions[scope]
	}
	return w.Permissions[scope]
}

func runsOf(steps []ghStep) []string {
	out := make([]string, len(steps))
	for i, s := range steps {
		out[i] = s.Run
	}
	return out
}

// The sample's stack and steps, as this repository's caller releases them, and a second stack
// with steps of its own, as a team's caller would pass them.
var (
	sampleInputs = map[string]string{"stack": "dev"}
	sampleSteps  = []int{10, 50, 100}
	otherInputs  = map[string]string{"stack": "prod", "release-steps": "[5, 25, 100]"}
	otherSteps   = []int{5, 25, 100}
)

// inputsContext is the expression context of a called workflow: its inputs, the defaults of the
// ones the caller left out included.
func inputsContext(w *workflow, given map[string]string) (ghContext, error) {
	decl, err := workflowCall(w)
	if err != nil {
		return ghContext{}, err
	}
	ctx := ghContext{values: map[string]string{}}
	for name, in := range decl.Inputs {
		ctx.values["inputs."+name] = in.Default
	}
	for k, v := range given {
		if _, ok := decl.Inputs[k]; !ok {
			return ghContext{}, fmt.Errorf("input %s: not declared", k)
		}
		ctx.values["inputs."+k] = v
	}
	return ctx, nil
}

// environmentOf is a job's environment name as GitHub evaluates it.
func environmentOf(j *ghJob, ctx ghContext) (string, error) {
	return evalGHString(string(j.Environment), ctx)
}

// releaseLeg is one job of the release's matrix: the job the matrix makes for one step.
type releaseLeg struct {
	step        int
	job         *ghJob
	environment string
}

// releaseLegs expands the release job's matrix for steps, as GitHub does for the steps output
// of deploy-idle: each leg's ${{ matrix.step }} is the step.
func releaseLegs(w *workflow, inputs map[string]string, steps []int) ([]releaseLeg, error) {
	j, err := w.job("release")
	if err != nil {
		return nil, err
	}
	ctx, err := inputsContext(w, inputs)
	if err != nil {
		return nil, err
	}
	var legs []releaseLeg
	for _, step := range steps {
		ctx.values["matrix.step"] = strconv.Itoa(step)
		leg := *j
		leg.Env = map[string]string{}
		for k, v := range j.Env {
			leg.Env[k] = strings.ReplaceAll(v, "${{ matrix.step }}", strconv.Itoa(step))
		}
		env, err := environmentOf(j, ctx)
		if err != nil {
			return nil, err
		}
		legs = append(legs, releaseLeg{step: step, job: &leg, environment: env})
	}
	return legs, nil
}

// ghReleaseCommand is a release job's one command: --until is the job's UNTIL, its matrix step.
const ghReleaseCommand = `slotless release --stack "$STACK" --slot "$IDLE" --version "$VERSION" --until "$UNTIL"`

func checkGHTrafficLeg(leg releaseLeg, wantEnv string) error {
	name := fmt.Sprintf("release (%d)", leg.step)
	if leg.environment != wantEnv {
		return fmt.Errorf("%s environment: got %q, want %q", name, leg.environment, wantEnv)
	}
	if got := leg.job.Env["UNTIL"]; got != strconv.Itoa(leg.step) {
		return fmt.Errorf("%s env UNTIL: got %q, want its step %d", name, got, leg.step)
	}
	j := leg.job
	if err := checkThinStage(runsOf(j.Steps), ghReleaseCommand); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	// The record and report are kept whatever the outcome: a rolled-back job's are the ones to
	// read.
	release := indexOf(runsOf(j.Steps), ghReleaseCommand)
	report := strings.Trim(reportDirOf(runsOf(j.Steps)[release]), `"`)
	var summary, upload bool
	for _, st := range j.Steps[release+1:] {
		always := strings.Contains(st.If, "always()")
		summary = summary || always && ciScript("publish-report").MatchString(st.Run) && strings.Contains(st.Run, `"`+report+`"`)
		upload = upload || always && strings.HasPrefix(st.Uses, "actions/upload-artifact@") &&
			strings.Contains(fmt.Sprint(st.With["path"]), strings.ReplaceAll(report, "$UNTIL", "${{ matrix.step }}")+"/")
	}
	if !summary || !upload {
		return fmt.Errorf("%s: got job summary %v and artifact %v after the release, want publish-report.sh %s and an upload of it, both if: always()", name, summary, upload, report)
	}
	return nil
}

// checkGHChain asserts each job waits for the one before it, so no traffic moves before the
// previous step's gate passed, and that the release job walks its steps one at a time, in order,
// a failed one cancelling the rest.
func checkGHChain(w *workflow) error {
	chain := []string{"build", "deploy-idle", "verify", "release"}
	for i := 1; i < len(chain); i++ {
		j, err := w.job(chain[i])
		if err != nil {
			return err
		}
		if !j.Needs.has(chain[i-1]) {
			return fmt.Errorf("%s needs: got %v, want it to include %s", chain[i], j.Needs, chain[i-1])
		}
	}
	r := w.Jobs["release"]
	if got, want := r.Strategy.Matrix["step"], "${{ fromJSON(needs.deploy-idle.outputs.steps) }}"; got != want || len(r.Strategy.Matrix) != 1 {
		return fmt.Errorf("release matrix: got %v, want step: %s alone", r.Strategy.Matrix, want)
	}
	if r.Strategy.MaxParallel != "1" {
		return fmt.Errorf("release max-parallel: got %q, want 1 (one step at a time, in the matrix's order)", r.Strategy.MaxParallel)
	}
	if r.Strategy.FailFast == "false" {
		return errors.New("release fail-fast: got false, want a failed step to cancel the steps after it")
	}
	return nil
}

// checkGHStepsFromStack asserts where the release's steps come from: deploy-idle's steps output
// is release-steps.sh's answer, fed with the stack's own releaseSteps as the dry run of this very
// release reads them and with the release-steps input. So the jobs agree with the stack by
// construction, and a caller's own list is checked against it before anything is deployed.
func checkGHStepsFromStack(w *workflow) error {
	j, err := w.job("deploy-idle")
	if err != nil {
		return err
	}
	if got, want := j.Outputs["steps"], "${{ steps.steps.outputs.steps }}"; got != want {
		return fmt.Errorf("deploy-idle outputs.steps: got %q, want %q", got, want)
	}
	steps, deploy := -1, -1
	for i, s := range j.Steps {
		if s.ID == "steps" {
			steps = i
		}
		if strings.Contains(s.Run, "slotless deploy") {
			deploy = i
		}
	}
	if steps < 0 || deploy < 0 || steps > deploy {
		return fmt.Errorf("deploy-idle: got the steps step at %d and the deploy at %d, want the steps worked out first", steps, deploy)
	}
	s := j.Steps[steps]
	for _, want := range []string{`slotless release --stack "$STACK" --slot "$IDLE" --version "$VERSION" --dry-run --json`, `jq -c .steps`, `"$REQUESTED"`, `>>"$GITHUB_OUTPUT"`} {
		if !strings.Contains(s.Run, want) {
			return fmt.Errorf("deploy-idle steps step: got no %q in %q", want, s.Run)
		}
	}
	if !ciScript("release-steps").MatchString(s.Run) {
		return fmt.Errorf("deploy-idle steps step: got no release-steps.sh in %q", s.Run)
	}
	if got, want := s.Env["REQUESTED"], "${{ inputs.release-steps }}"; got != want {
		return fmt.Errorf("deploy-idle steps step env REQUESTED: got %q, want %q", got, want)
	}
	return nil
}

func checkGHRollback(w *workflow) error {
	j, err := w.job("rollback")
	if err != nil {
		return err
	}
	for _, want := range []string{"deploy-idle", "verify", "release"} {
		if !j.Needs.has(want) {
			return fmt.Errorf("rollback needs: got %v, want it to include %s", j.Needs, want)
		}
	}
	if j.Needs.has("record") {
		return errors.New("rollback needs: got record, want none: a failed record must not roll back a healthy release")
	}
	if !strings.Contains(j.If, "failure()") || !strings.Contains(j.If, "cancelled()") || !strings.Contains(j.If, "needs.deploy-idle.result == 'success'") {
		return fmt.Errorf("rollback if: got %q, want one that runs on failure() or cancelled() once deploy-idle succeeded", j.If)
	}
	if indexOf(runsOf(j.Steps), `slotless rollback --stack "$STACK" --slot "$IDLE"`) < 0 {
		return errors.New("rollback: got no step running slotless rollback, want one")
	}
	return nil
}

// checkGHRecord asserts the record of a completed release: a job after every step that runs
// only when they all succeeded and the caller wants it, and, like the rollback's record, opens
// the pull request with the record token when there is one.
func checkGHRecord(w *workflow) error {
	j, err := w.job("record")
	if err != nil {
		return err
	}
	if !j.Needs.has("release") {
		return fmt.Errorf("record needs: got %v, want release", j.Needs)
	}
	if j.If != "inputs.record-traffic" {
		return fmt.Errorf("record if: got %q, want inputs.record-traffic (and so every step succeeded)", j.If)
	}
	for _, name := range []string{"record", "rollback"} {
		j := w.Jobs[name]
		i := slices.IndexFunc(j.Steps, func(s ghStep) bool { return ciScript("record-traffic").MatchString(s.Run) })
		if i < 0 {
			return fmt.Errorf("%s: got no step running record-traffic.sh, want one", name)
		}
		s := j.Steps[i]
		if name == "rollback" && s.If != "inputs.record-traffic" {
			return fmt.Errorf("rollback record if: got %q, want inputs.record-traffic", s.If)
		}
		for k, want := range map[string]string{"SLOTLESS_RECORD_TOKEN": "${{ secrets.SLOTLESS_RECORD_TOKEN }}", "GH_TOKEN": "${{ github.token }}", "DEFAULT_BRANCH": "${{ github.event.repository.default_branch }}"} {
			if s.Env[k] != want {
				return fmt.Errorf("%s record env %s: got %q, want %q", name, k, s.Env[k], want)
			}
		}
		for _, scope := range []string{"contents", "pull-requests"} {
			if got := w.permission(j, scope); got != "write" {
				return fmt.Errorf("%s permissions %s: got %q, want write (the record's branch and pull request)", name, scope, got)
			}
		}
	}
	return nil
}

// checkGHOIDC asserts that every job signing in to Azure, or running `pulumi up` (whose
// azure-native provider exchanges the job's GitHub token), may request an OIDC token, and that
// azure/login is given ids only.
func checkGHOIDC(w *workflow) error {
	if got := w.Env["ARM_USE_OIDC"]; got != "true" {
		return fmt.Errorf("env ARM_USE_OIDC: got %q, want \"true\"", got)
	}
	for _, name := range slices.Sorted(maps.Keys(w.Jobs)) {
		j := w.Jobs[name]
		azure := false
		for _, s := range j.Steps {
			if strings.HasPrefix(s.Uses, "azure/login@") {
				azure = true
				for _, k := range []string{"client-id", "tenant-id", "subscription-id"} {
					if s.With[k] == "" {
						return fmt.Errorf("%s azure/login %s: got none, want one", name, k)
					}
				}
				if _, ok := s.With["creds"]; ok {
					return fmt.Errorf("%s azure/login: got creds, want OIDC ids only", name)
				}
			}
			if changesTraffic.MatchString(s.Run) {
				azure = true
			}
		}
		if azure && w.permission(j, "id-token") != "write" {
			return fmt.Errorf("%s permissions id-token: got %q, want \"write\"", name, w.permission(j, "id-token"))
		}
		if azure && j.Environment == "" {
			return fmt.Errorf("%s: got no environment, want one (the federated credential's subject)", name)
		}
	}
	return nil
}

func checkGHNoSecrets(w *workflow) error {
	b, err := yaml.Marshal(w)
	if err != nil {
		return err
	}
	if err := secretIn(string(b)); err != nil {
		return err
	}
	for name, j := range w.Jobs {
		for _, s := range j.Steps {
			if err := checkAzArgsFromVariables(s.Run); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if needsPulumiToken.MatchString(s.Run) && s.Env["PULUMI_ACCESS_TOKEN"] != "${{ secrets.PULUMI_ACCESS_TOKEN }}" {
				return fmt.Errorf("%s step %q env PULUMI_ACCESS_TOKEN: got %q, want the PULUMI_ACCESS_TOKEN secret", name, s.Name, s.Env["PULUMI_ACCESS_TOKEN"])
			}
		}
	}
	return nil
}

// checkGHPerStack asserts that a stack's runs never share anything with another stack's: every
// environment is <prefix>-release or <prefix>-<step> with the prefix the inputs give (slotless-
// <stack> by default), and one run of a stack at a time.
func checkGHPerStack(w *workflow, inputs map[string]string, steps []int) error {
	ctx, err := inputsContext(w, inputs)
	if err != nil {
		return err
	}
	prefix := ctx.values["inputs.environment-prefix"]
	if prefix == "" {
		prefix = "slotless-" + ctx.values["inputs.stack"]
	}
	for _, name := range slices.Sorted(maps.Keys(w.Jobs)) {
		j := w.Jobs[name]
		if j.Environment == "" || name == "release" {
			continue
		}
		got, err := environmentOf(j, ctx)
		if err != nil {
			return fmt.Errorf("%s environment: %w", name, err)
		}
		if got != prefix+"-release" {
			return fmt.Errorf("%s environment: got %q, want %q", name, got, prefix+"-release")
		}
	}
	if _, ok := w.Jobs["release"]; ok {
		legs, err := releaseLegs(w, inputs, steps)
		if err != nil {
			return err
		}
		for _, leg := range legs {
			if want := fmt.Sprintf("%s-%d", prefix, leg.step); leg.environment != want {
				return fmt.Errorf("release (%d) environment: got %q, want %q", leg.step, leg.environment, want)
			}
		}
	}
	group, err := evalGHString(w.Concurrency.Group, ctx)
	if err != nil {
		return fmt.Errorf("concurrency group: %w", err)
	}
	if !strings.HasSuffix(group, "-"+ctx.values["inputs.stack"]) || w.Concurrency.CancelInProgress {
		return fmt.Errorf("concurrency: got group %q (cancel-in-progress %v), want one group per stack that queues", group, w.Concurrency.CancelInProgress)
	}
	return nil
}

func TestGitHubRelease(t *testing.T) {
	w := decode[workflow](t, ghRelease)
	checks := []struct {
		name  string
		check func(*workflow) error
	}{
		{"job chain", checkGHChain},
		{"steps from the stack", checkGHStepsFromStack},
		{"rollback on failure", checkGHRollback},
		{"record", checkGHRecord},
		{"OIDC only", checkGHOIDC},
		{"no client secret, tokens mapped", checkGHNoSecrets},
		{"per stack: the sample", func(w *workflow) error { return checkGHPerStack(w, sampleInputs, sampleSteps) }},
		{"per stack: another stack", func(w *workflow) error { return checkGHPerStack(w, otherInputs, otherSteps) }},
		{"per stack: a prefix", func(w *workflow) error {
			return checkGHPerStack(w, map[string]string{"stack": "prod", "environment-prefix": "orders-prod"}, sampleSteps)
		}},
	}
	for _, run := range []struct {
		inputs map[string]string
		steps  []int
	}{{sampleInputs, sampleSteps}, {otherInputs, otherSteps}} {
		legs, err := releaseLegs(w, run.inputs, run.steps)
		if err != nil {
			t.Fatal(err)
		}
		for _, leg := range legs {
			want := fmt.Sprintf("slotless-%s-%d", run.inputs["stack"], leg.step)
			checks = append(checks, struct {
				name  string
				check func(*workflow) error
			}{fmt.Sprintf("traffic job %s %d", run.inputs["stack"], leg.step), func(*workflow) error { return checkGHTrafficLeg(leg, want) }})
		}
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if err := c.check(w); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestGitHubChecksCatchBreakage breaks a fresh copy of the release workflow one way at a time.
func TestGitHubChecksCatchBreakage(t *testing.T) {
	mustJob := func(w *workflow, name string) *ghJob {
		j, err := w.job(name)
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	drop := func(j *ghJob, match string) {
		j.Steps = slices.DeleteFunc(j.Steps, func(s ghStep) bool { return strings.Contains(s.Run, match) })
	}
	unneed := func(j *ghJob, name string) {
		j.Needs = slices.DeleteFunc(j.Needs, func(s string) bool { return s == name })
	}
	leg50 := func(w *workflow) error {
		legs, err := releaseLegs(w, sampleInputs, sampleSteps)
		if err != nil {
			return err
		}
		return checkGHTrafficLeg(legs[1], "slotless-dev-50")
	}
	cases := []struct {
		name   string
		break_ func(*workflow)
		check  func(*workflow) error
	}{
		{"release command removed", func(w *workflow) { drop(mustJob(w, "release"), "slotless release") }, leg50},
		{"a bake back in the release", func(w *workflow) {
			j := mustJob(w, "release")
			j.Steps = append(j.Steps, ghStep{Run: "sleep 600"})
		}, leg50},
		{"a shift back in the release", func(w *workflow) {
			j := mustJob(w, "release")
			j.Steps = append(j.Steps, ghStep{Run: `slotless shift --stack "$STACK" --slot "$IDLE" --to 50`})
		}, leg50},
		{"record not kept", func(w *workflow) {
			j := mustJob(w, "release")
			j.Steps = slices.DeleteFunc(j.Steps, func(s ghStep) bool { return strings.HasPrefix(s.Uses, "actions/upload-artifact@") })
		}, leg50},
		{"report only on success", func(w *workflow) {
			for i, s := range mustJob(w, "release").Steps {
				if strings.Contains(s.Run, "publish-report.sh") {
					mustJob(w, "release").Steps[i].If = ""
				}
			}
		}, leg50},
		{"all steps in one environment", func(w *workflow) {
			mustJob(w, "release").Environment = "${{ inputs.environment-prefix || format('slotless-{0}', inputs.stack) }}-release"
		}, leg50},
		{"until fixed", func(w *workflow) { mustJob(w, "release").Env["UNTIL"] = "100" }, leg50},
		{"release without the pinning token", func(w *workflow) {
			j := mustJob(w, "release")
			for i := range j.Steps {
				if strings.Contains(j.Steps[i].Run, "slotless release") {
					j.Steps[i].Run = gateEnv.ReplaceAllString(j.Steps[i].Run, "true ")
				}
			}
		}, leg50},
		{"steps in parallel", func(w *workflow) { mustJob(w, "release").Strategy.MaxParallel = "3" }, checkGHChain},
		{"a failed step goes on", func(w *workflow) { mustJob(w, "release").Strategy.FailFast = "false" }, checkGHChain},
		{"steps from a list of its own", func(w *workflow) { mustJob(w, "release").Strategy.Matrix["step"] = "[10, 50, 100]" }, checkGHChain},
		{"release does not wait for verify", func(w *workflow) { unneed(mustJob(w, "release"), "verify") }, checkGHChain},
		{"steps not from the stack", func(w *workflow) {
			for i, s := range mustJob(w, "deploy-idle").Steps {
				if s.ID == "steps" {
					mustJob(w, "deploy-idle").Steps[i].Run = `echo "steps=$REQUESTED" >>"$GITHUB_OUTPUT"`
				}
			}
		}, checkGHStepsFromStack},
		{"steps worked out after the deploy", func(w *workflow) {
			j := mustJob(w, "deploy-idle")
			i := slices.IndexFunc(j.Steps, func(s ghStep) bool { return s.ID == "steps" })
			st := j.Steps[i]
			j.Steps = append(slices.Delete(j.Steps, i, i+1), st)
		}, checkGHStepsFromStack},
		{"rollback ignores the release", func(w *workflow) { unneed(mustJob(w, "rollback"), "release") }, checkGHRollback},
		{"rollback waits for the record", func(w *workflow) {
			j := mustJob(w, "rollback")
			j.Needs = append(j.Needs, "record")
		}, checkGHRollback},
		{"rollback always runs", func(w *workflow) { mustJob(w, "rollback").If = "always()" }, checkGHRollback},
		{"record after a failure", func(w *workflow) { mustJob(w, "record").If = "always() && inputs.record-traffic" }, checkGHRecord},
		{"record without the record token", func(w *workflow) {
			for i, s := range mustJob(w, "record").Steps {
				if s.Env != nil {
					delete(mustJob(w, "record").Steps[i].Env, "SLOTLESS_RECORD_TOKEN")
				}
			}
		}, checkGHRecord},
		{"rollback record may not open pull requests", func(w *workflow) {
			mustJob(w, "rollback").Permissions = map[string]string{"contents": "write", "id-token": "write"}
		}, checkGHRecord},
		{"no id-token for a step", func(w *workflow) { mustJob(w, "release").Permissions = map[string]string{"contents": "read"} }, checkGHOIDC},
		{"a step outside an environment", func(w *workflow) { mustJob(w, "release").Environment = "" }, checkGHOIDC},
		{"login with creds", func(w *workflow) {
			j := mustJob(w, "deploy-idle")
			for i := range j.Steps {
				if strings.HasPrefix(j.Steps[i].Uses, "azure/login@") {
					j.Steps[i].With["creds"] = "${{ secrets.AZURE_CREDENTIALS }}"
				}
			}
		}, checkGHOIDC},
		{"client secret in env", func(w *workflow) { w.Env["ARM_CLIENT_SECRET"] = "${{ secrets.X }}" }, checkGHNoSecrets},
		{"token not mapped", func(w *workflow) {
			j := mustJob(w, "release")
			j.Steps = append(j.Steps, ghStep{Run: `slotless gate health --slot "$IDLE"`})
		}, checkGHNoSecrets},
		{"token not mapped to a CI script", func(w *workflow) {
			j := mustJob(w, "verify")
			j.Steps = append(j.Steps, ghStep{Run: `"$SLOTLESS_CI/release-target.sh" "$STACK"`})
		}, checkGHNoSecrets},
		{"one environment for every stack", func(w *workflow) { mustJob(w, "verify").Environment = "slotless-release" }, func(w *workflow) error { return checkGHPerStack(w, otherInputs, otherSteps) }},
		{"one release at a time for every stack", func(w *workflow) { w.Concurrency.Group = "slotless-release" }, func(w *workflow) error { return checkGHPerStack(w, otherInputs, otherSteps) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := decode[workflow](t, ghRelease)
			if err := c.check(w); err != nil {
				t.Fatalf("before breaking: got %v, want nil", err)
			}
			c.break_(w)
			if err := c.check(w); err == nil {
				t.Errorf("after breaking: got nil, want an error")
			}
		})
	}
}

// workflowCallDecl is the on.workflow_call block of a reusable workflow: what a caller may pass.
type workflowCallDecl struct {
	Inputs map[string]struct {
		Type     string `yaml:"type"`
		Required bool   `yaml:"required"`
		Default  string `yaml:"default"`
	} `yaml:"inputs"`
	Secrets map[string]struct {
		Required bool `yaml:"required"`
	} `yaml:"secrets"`
}

func workflowCall(w *workflow) (*workflowCallDecl, error) {
	n, ok := w.On["workflow_call"]
	if !ok {
		return nil, fmt.Errorf("on: got %v, want workflow_call", slices.Sorted(maps.Keys(w.On)))
	}
	var d workflowCallDecl
	if err := n.Decode(&d); err != nil {
		return nil, err
	}
	return &d, nil
}

// ciInput is one input of the CI interface a team's callers are written against: its type, and
// its default ("required" when it has none and must be given).
type ciInput struct{ typ, def string }

// ciInterface is the interface of the reusable workflows that `slotless init` writes callers
// for, input by input and secret by secret. A change here is a change of every team's callers.
var ciInterface = map[string]struct {
	inputs  map[string]ciInput
	secrets []string
}{
	ghRelease: {
		inputs: map[string]ciInput{
			"stack":              {"string", "required"},
			"slotless-version":   {"string", ""},
			"working-directory":  {"string", "."},
			"build-command":      {"string", "required"},
			"package-path":       {"string", "required"},
			"version":            {"string", ""},
			"release-steps":      {"string", ""},
			"environment-prefix": {"string", ""},
			"record-traffic":     {"boolean", "true"},
			"pulumi-version":     {"string", "3.274.1"},
		},
		secrets: []string{"PULUMI_ACCESS_TOKEN", "SLOTLESS_RECORD_TOKEN", "SLOTLESS_SUBSCRIPTION_KEY"},
	},
	ghWatch: {
		inputs: map[string]ciInput{
			"stack":              {"string", "required"},
			"slotless-version":   {"string", ""},
			"working-directory":  {"string", "."},
			"environment-prefix": {"string", ""},
			"pulumi-version":     {"string", "3.274.1"},
		},
		secrets: []string{"PULUMI_ACCESS_TOKEN", "SLOTLESS_SUBSCRIPTION_KEY"},
	},
	ghPRPlan: {
		inputs: map[string]ciInput{
			"slotless-version":  {"string", ""},
			"working-directory": {"string", "."},
		},
	},
}

func checkWorkflowCall(w *workflow, file string) error {
	d, err := workflowCall(w)
	if err != nil {
		return err
	}
	want := ciInterface[file]
	got := map[string]ciInput{}
	for name, in := range d.Inputs {
		def := in.Default
		if in.Required {
			def = "required"
		}
		got[name] = ciInput{in.Type, def}
	}
	if !maps.Equal(got, want.inputs) {
		return fmt.Errorf("inputs: got %v, want %v", got, want.inputs)
	}
	secrets := slices.Sorted(maps.Keys(d.Secrets))
	if !slices.Equal(secrets, want.secrets) {
		return fmt.Errorf("secrets: got %v, want %v", secrets, want.secrets)
	}
	for name, s := range d.Secrets {
		if s.Required {
			return fmt.Errorf("secret %s: got required, want optional (callers pass secrets: inherit)", name)
		}
	}
	return nil
}

// TestReusableWorkflowsMatchTheCIInterface: the inputs and secrets of each reusable workflow are
// exactly the interface that team callers are written against.
func TestReusableWorkflowsMatchTheCIInterface(t *testing.T) {
	for _, file := range ghReusable {
		if err := checkWorkflowCall(decode[workflow](t, file), file); err != nil {
			t.Errorf("%s: %v", file, err)
		}
	}
	w := decode[workflow](t, ghRelease)
	n := w.On["workflow_call"]
	var d map[string]map[string]map[string]any
	if err := n.Decode(&d); err != nil {
		t.Fatal(err)
	}
	delete(d["inputs"], "release-steps")
	if err := n.Encode(d); err != nil {
		t.Fatal(err)
	}
	w.On["workflow_call"] = n
	if err := checkWorkflowCall(w, ghRelease); err == nil {
		t.Error("without the release-steps input: got nil, want an error")
	}
}

// checkCaller asserts a caller's jobs that use a reusable workflow of this repository: they
// pass only declared inputs, every required one, declared secrets (or inherit), and grant every
// permission the called jobs ask for: GitHub only ever narrows the caller's token, and a called
// job that asks for more fails the run at start-up.
func checkCaller(t *testing.T, w *workflow) error {
	for _, name := range slices.Sorted(maps.Keys(w.Jobs)) {
		j := w.Jobs[name]
		path, ok := strings.CutPrefix(j.Uses, "./")
		if !ok {
			continue
		}
		called := decode[workflow](t, path)
		d, err := workflowCall(called)
		if err != nil {
			return fmt.Errorf("%s uses %s: %w", name, path, err)
		}
		for k := range j.With {
			if _, ok := d.Inputs[k]; !ok {
				return fmt.Errorf("%s with %s: not an input of %s, want one of %v", name, k, path, slices.Sorted(maps.Keys(d.Inputs)))
			}
		}
		for k, in := range d.Inputs {
			if _, given := j.With[k]; in.Required && !given {
				return fmt.Errorf("%s: got no %s, a required input of %s", name, k, path)
			}
		}
		for _, s := range j.Secrets.names {
			if _, ok := d.Secrets[s]; !ok {
				return fmt.Errorf("%s secrets %s: not a secret of %s", name, s, path)
			}
		}
		for _, cj := range called.Jobs {
			for _, scope := range []string{"contents", "id-token", "pull-requests"} {
				need := called.permission(cj, scope)
				have := w.permission(j, scope)
				if need == "write" && have != "write" || need == "read" && have == "" {
					return fmt.Errorf("%s permissions %s: got %q, want at least the %q its jobs in %s ask for", name, scope, have, need, path)
				}
			}
		}
	}
	return nil
}

// TestCallersPassTheInterface: this repository's callers of the reusable workflows pass what
// the interface declares and grant what the called jobs need; each one calls its workflow.
func TestCallersPassTheInterface(t *testing.T) {
	uses := map[string]string{ghReleaseCaller: "./" + ghRelease, ghWatchCaller: "./" + ghWatch, ghPRPlanCaller: "./" + ghPRPlan}
	for _, file := range ghCallers {
		w := decode[workflow](t, file)
		if err := checkCaller(t, w); err != nil {
			t.Errorf("%s: %v", file, err)
		}
		found := false
		for _, j := range w.Jobs {
			found = found || j.Uses == uses[file]
		}
		if !found {
			t.Errorf("%s: got no job that uses %s, want one", file, uses[file])
		}
	}
	breaks := []struct {
		name   string
		break_ func(*ghJob)
	}{
		{"an input the workflow lacks", func(j *ghJob) { j.With["bake-minutes"] = "5" }},
		{"a required input left out", func(j *ghJob) { delete(j.With, "stack") }},
		{"a secret the workflow lacks", func(j *ghJob) { j.Secrets = callerSecrets{names: []string{"AZURE_CREDENTIALS"}} }},
		{"no id-token for the called jobs", func(j *ghJob) { delete(j.Permissions, "id-token") }},
		{"read-only contents for the record", func(j *ghJob) { j.Permissions["contents"] = "read" }},
	}
	for _, b := range breaks {
		t.Run(b.name, func(t *testing.T) {
			w := decode[workflow](t, ghReleaseCaller)
			b.break_(w.Jobs["release"])
			if err := checkCaller(t, w); err == nil {
				t.Error("after breaking: got nil, want an error")
			}
		})
	}
}

// TestSampleCallers: this repository's callers release, watch and plan the sample, stack dev,
// and build slotless from this checkout (slotless-version: source), since this repository pins
// no release of itself; a dev-v* tag releases dev, the v* tags being slotless's own releases.
func TestSampleCallers(t *testing.T) {
	want := map[string]map[string]string{
		ghReleaseCaller: {"stack": "dev", "slotless-version": "source", "build-command": "scripts/build-package.sh", "package-path": "functionapp/dist/functionapp.zip"},
		ghWatchCaller:   {"stack": "dev", "slotless-version": "source"},
		ghPRPlanCaller:  {"slotless-version": "source"},
	}
	for file, with := range want {
		w := decode[workflow](t, file)
		for _, j := range w.Jobs {
			for k, v := range with {
				if j.With[k] != v {
					t.Errorf("%s with %s: got %q, want %q", file, k, j.With[k], v)
				}
			}
		}
	}
	var push struct {
		Tags []string `yaml:"tags"`
	}
	n := decode[workflow](t, ghReleaseCaller).On["push"]
	if err := n.Decode(&push); err != nil || !slices.Equal(push.Tags, []string{"dev-v*"}) {
		t.Errorf("%s on.push.tags: got %v (%v), want [dev-v*]", ghReleaseCaller, push.Tags, err)
	}
}

func checkPRPlan(caller, w *workflow, script string) error {
	var pr struct {
		Paths       []string `yaml:"paths"`
		PathsIgnore []string `yaml:"paths-ignore"`
	}
	n, ok := caller.On["pull_request"]
	if !ok {
		return fmt.Errorf("caller on: got %v, want pull_request", slices.Sorted(maps.Keys(caller.On)))
	}
	if err := n.Decode(&pr); err != nil {
		return err
	}
	// A required check must report on every pull request: filtered by paths, it stays
	// "Pending" on a pull request that changes no stack file and blocks its merge.
	if len(pr.Paths) > 0 || len(pr.PathsIgnore) > 0 {
		return fmt.Errorf("pull_request paths: got %v (ignore %v), want none: the check must run on every pull request", pr.Paths, pr.PathsIgnore)
	}
	if !strings.Contains(script, "no traffic change") {
		return errors.New("pr-plan.sh does not say \"no traffic change\" when no stack file changed")
	}
	if _, ok := caller.On["pull_request_target"]; ok {
		return errors.New("caller on: got pull_request_target, want pull_request (the plan runs the PR's code)")
	}
	want := map[string]string{"contents": "read", "pull-requests": "write"}
	if !maps.Equal(w.Permissions, want) || !maps.Equal(caller.Permissions, want) {
		return fmt.Errorf("permissions: got %v (caller %v), want %v", w.Permissions, caller.Permissions, want)
	}
	j, err := w.job("plan")
	if err != nil {
		return err
	}
	checkout, plan, comment, fail := -1, -1, -1, -1
	for i, s := range j.Steps {
		switch {
		case strings.HasPrefix(s.Uses, "actions/checkout@"):
			checkout = i
			if s.With["fetch-depth"] != "0" {
				return fmt.Errorf("checkout fetch-depth: got %q, want \"0\" (the plan reads the base revision)", s.With["fetch-depth"])
			}
		case ciScript("pr-plan").MatchString(s.Run):
			plan = i
			if !strings.Contains(s.Run, "|| status=$?") {
				return fmt.Errorf("plan step: got %q, want it to record the status instead of failing before the comment", s.Run)
			}
		case strings.HasPrefix(s.Uses, "actions/github-script@") || strings.HasPrefix(s.Uses, "marocchino/sticky-pull-request-comment@"):
			comment = i
			if !strings.Contains(s.If, "always()") {
				return fmt.Errorf("comment step if: got %q, want always()", s.If)
			}
		case strings.Contains(s.Run, "exit 1") && plan >= 0 && fail < 0:
			fail = i
		}
	}
	if got := []int{checkout, plan, comment, fail}; slices.Contains(got, -1) || !slices.IsSorted(got) {
		return fmt.Errorf("step order (checkout, plan, comment, fail): got %v, want all present and ascending", got)
	}
	if fail != len(j.Steps)-1 {
		return fmt.Errorf("verdict step: got it at %d of %d steps, want it last, so nothing after it can change the check", fail+1, len(j.Steps))
	}
	if j.Steps[fail].ContinueOnError != "" && j.Steps[fail].ContinueOnError != "false" {
		return fmt.Errorf("verdict step continue-on-error: got %q, want none", j.Steps[fail].ContinueOnError)
	}
	if err := checkPRPlanOutcomes(j); err != nil {
		return err
	}
	for _, want := range []string{"slotless plan", "--against", "--markdown"} {
		if !strings.Contains(script, want) {
			return fmt.Errorf("scripts/pr-plan.sh: got no %q, want it", want)
		}
	}
	if strings.Contains(script, "go run") {
		return errors.New("scripts/pr-plan.sh: got go run, want the installed slotless")
	}
	return nil
}

// prScenario is one pull request run of pr-plan: where the PR comes from, what the plan
// exits with, and whether posting the comment fails (a fork's read-only token answers 403).
type prScenario struct {
	name         string
	fork         bool
	planStatus   string
	commentFails bool
	wantFailed   bool
	// wantComment: the comment step runs; a fork's never should, as it can only fail.
	wantComment bool
}

var prScenarios = []prScenario{
	{"same repo, plan passes", false, "0", false, false, true},
	{"same repo, guard rail broken", false, "1", false, true, true},
	{"same repo, plan passes, comment refused", false, "0", true, false, true},
	{"same repo, guard rail broken, comment refused", false, "1", true, true, true},
	{"fork, plan passes", true, "0", true, false, false},
	{"fork, guard rail broken", true, "1", true, true, false},
}

// simulatePRPlan runs the plan job's steps on paper, with GitHub's rules: a step runs when its
// `if` holds; a failed step fails the job unless it has continue-on-error. The steps that
// install slotless succeed.
func simulatePRPlan(j *ghJob, sc prScenario) (failed, commented bool, err error) {
	ctx := ghContext{values: map[string]string{
		"github.repository":                             "acme/orders",
		"github.event.pull_request.head.repo.full_name": "acme/orders",
		"env.SLOTLESS_VERSION":                          "v1.2.0",
	}}
	if sc.fork {
		ctx.values["github.event.pull_request.head.repo.full_name"] = "someone/orders"
	}
	for _, s := range j.Steps {
		ctx.failed = failed
		runs, err := evalStepIf(s.If, ctx)
		if err != nil {
			return false, false, fmt.Errorf("step %q if %q: %w", s.Name, s.If, err)
		}
		if !runs {
			continue
		}
		ok := true
		switch {
		case ciScript("pr-plan").MatchString(s.Run):
			if s.ID == "" {
				return false, false, fmt.Errorf("plan step: got no id, want one its status output can be read by")
			}
			ctx.values["steps."+s.ID+".outputs.status"] = sc.planStatus
		case strings.HasPrefix(s.Uses, "actions/github-script@") || strings.HasPrefix(s.Uses, "marocchino/sticky-pull-request-comment@"):
			commented = true
			ok = !sc.commentFails
		case strings.Contains(s.Run, "exit 1") && ctx.values["steps.plan.outputs.status"] != "":
			ok = false
		}
		if !ok && s.ContinueOnError != "true" {
			failed = true
		}
	}
	return failed, commented, nil
}

// checkPRPlanOutcomes: the check fails exactly when the plan does, whoever opened the PR and
// whether or not the comment could be posted; a fork's PR never tries to comment.
func checkPRPlanOutcomes(j *ghJob) error {
	for _, sc := range prScenarios {
		failed, commented, err := simulatePRPlan(j, sc)
		if err != nil {
			return fmt.Errorf("%s: %w", sc.name, err)
		}
		if failed != sc.wantFailed {
			return fmt.Errorf("%s: got check failed=%v, want %v", sc.name, failed, sc.wantFailed)
		}
		if commented != sc.wantComment {
			return fmt.Errorf("%s: got comment step run=%v, want %v", sc.name, commented, sc.wantComment)
		}
	}
	return nil
}

func TestPRPlan(t *testing.T) {
	script := string(readFile(t, "scripts/pr-plan.sh"))
	if err := checkPRPlan(decode[workflow](t, ghPRPlanCaller), decode[workflow](t, ghPRPlan), script); err != nil {
		t.Error(err)
	}
	breaks := []struct {
		name   string
		break_ func(caller, w *workflow)
	}{
		{"filtered by stack paths", func(c, _ *workflow) {
			var n yaml.Node
			_ = yaml.Unmarshal([]byte("paths: [\"Pulumi.*.yaml\"]"), &n)
			c.On["pull_request"] = *n.Content[0]
		}},
		{"write-all contents", func(_, w *workflow) { w.Permissions["contents"] = "write" }},
		{"caller grants no comment", func(c, _ *workflow) { delete(c.Permissions, "pull-requests") }},
		{"fail before comment", func(_, w *workflow) {
			j := w.Jobs["plan"]
			i := slices.IndexFunc(j.Steps, func(s ghStep) bool { return s.ID == "plan" })
			j.Steps = slices.Insert(j.Steps, i+1, ghStep{Run: "exit 1"})
		}},
		{"comment failure fails the check", func(_, w *workflow) {
			for i, s := range w.Jobs["plan"].Steps {
				if strings.HasPrefix(s.Uses, "actions/github-script@") {
					w.Jobs["plan"].Steps[i].ContinueOnError = ""
				}
			}
		}},
		{"fork PR tries to comment", func(_, w *workflow) {
			for i, s := range w.Jobs["plan"].Steps {
				if strings.HasPrefix(s.Uses, "actions/github-script@") {
					w.Jobs["plan"].Steps[i].If = "always() && steps.plan.outputs.status != ''"
				}
			}
		}},
		{"verdict tolerated", func(_, w *workflow) {
			j := w.Jobs["plan"]
			j.Steps[len(j.Steps)-1].ContinueOnError = "true"
		}},
		{"verdict not last", func(_, w *workflow) {
			j := w.Jobs["plan"]
			j.Steps = append(j.Steps, ghStep{Run: "echo done"})
		}},
	}
	for _, b := range breaks {
		t.Run(b.name, func(t *testing.T) {
			caller, w := decode[workflow](t, ghPRPlanCaller), decode[workflow](t, ghPRPlan)
			b.break_(caller, w)
			if err := checkPRPlan(caller, w, script); err == nil {
				t.Errorf("after breaking: got nil, want an error")
			}
		})
	}
}

func TestCI(t *testing.T) {
	w := decode[workflow](t, ghCI)
	j, err := w.job("test")
	if err != nil {
		t.Fatal(err)
	}
	runs := runsOf(j.Steps)
	for _, want := range []string{"go vet ./...", "honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...", "make test", "make -C functionapp package"} {
		if indexOf(runs, want) < 0 {
			t.Errorf("ci steps: got %q, want one running %q", runs, want)
		}
	}
	uploaded := false
	for _, s := range j.Steps {
		if strings.HasPrefix(s.Uses, "actions/upload-artifact@") && s.With["path"] == "functionapp/dist/functionapp.zip" {
			uploaded = true
		}
	}
	if !uploaded {
		t.Errorf("ci: got no upload of functionapp/dist/functionapp.zip, want one")
	}
}

// majorPin is owner/repo[/path]@vN: a major version tag, never a branch.
var majorPin = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(/[A-Za-z0-9_./-]+)?@v[0-9]+$`)

func TestActionsPinnedToMajor(t *testing.T) {
	for _, file := range ghWorkflows {
		w := decode[workflow](t, file)
		for name, j := range w.Jobs {
			for _, s := range j.Steps {
				if s.Uses == "" || strings.HasPrefix(s.Uses, "./") {
					continue
				}
				if !majorPin.MatchString(s.Uses) {
					t.Errorf("%s %s: got uses %q, want owner/repo@vN", file, name, s.Uses)
				}
			}
		}
	}
}

// node24Majors are the majors allowed for each action the workflows use: each runs on Node 24
// (`runs.using: node24` in the action.yml of that major tag in the action's own repository).
// GitHub is retiring Node 20 on its runners; upload-artifact@v5, download-artifact@v5 (and
// v6), pulumi/actions@v6, azure/login@v2 and cache@v4 still declare node20. A new action or major
// goes here only after its action.yml was read.
var node24Majors = map[string]string{
	"actions/checkout":          "v5",
	"actions/setup-go":          "v6",
	"actions/setup-node":        "v5",
	"actions/upload-artifact":   "v7",
	"actions/download-artifact": "v8",
	"actions/github-script":     "v8",
	"actions/cache":             "v5", // v5.0.0's release notes: "runs on the Node.js 24 runtime"
	"pulumi/actions":            "v7",
	"azure/login":               "v3",
}

func checkNode24Majors(w *workflow) error {
	for _, name := range slices.Sorted(maps.Keys(w.Jobs)) {
		for _, s := range w.Jobs[name].Steps {
			if s.Uses == "" || strings.HasPrefix(s.Uses, "./") {
				continue
			}
			action, major, _ := strings.Cut(s.Uses, "@")
			want, ok := node24Majors[strings.ToLower(action)]
			if !ok {
				return fmt.Errorf("%s uses %s: got an action with no checked major, want one of %v", name, s.Uses, slices.Sorted(maps.Keys(node24Majors)))
			}
			if major != want {
				return fmt.Errorf("%s uses %s: got %s, want %s (the major that runs on Node 24)", name, s.Uses, major, want)
			}
		}
	}
	return nil
}

func TestActionsRunOnNode24(t *testing.T) {
	for _, file := range ghWorkflows {
		if err := checkNode24Majors(decode[workflow](t, file)); err != nil {
			t.Errorf("%s: %v", file, err)
		}
	}
	breaks := []struct{ name, uses string }{
		{"upload-artifact v5", "actions/upload-artifact@v5"},
		{"download-artifact v5", "actions/download-artifact@v5"},
		{"pulumi/actions v6", "pulumi/actions@v6"},
		{"azure/login v2", "azure/login@v2"},
		{"checkout v4", "actions/checkout@v4"},
		{"cache v4", "actions/cache@v4"},
		{"unchecked action", "someone/action@v1"},
	}
	for _, b := range breaks {
		t.Run(b.name, func(t *testing.T) {
			w := decode[workflow](t, ghRelease)
			j := w.Jobs["build"]
			j.Steps = append(j.Steps, ghStep{Uses: b.uses})
			if err := checkNode24Majors(w); err == nil {
				t.Errorf("with %s: got nil, want an error", b.uses)
			}
		})
	}
}

func TestWorkflowsHaveNoClientSecret(t *testing.T) {
	for _, file := range ghWorkflows {
		if err := secretIn(string(readFile(t, file))); err != nil {
			t.Errorf("%s: %v", file, err)
		}
	}
}
