package pipelines

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const (
	ghRelease = ".github/workflows/release.yml"
	ghPRPlan  = ".github/workflows/pr-plan.yml"
	ghCI      = ".github/workflows/ci.yml"
	ghPublish = ".github/workflows/publish.yml"
)

var ghWorkflows = []string{ghCI, ghRelease, ghPRPlan, ghPublish}

type workflow struct {
	On          map[string]yaml.Node `yaml:"on"`
	Permissions map[string]string    `yaml:"permissions"`
	Env         map[string]string    `yaml:"env"`
	Jobs        map[string]*ghJob    `yaml:"jobs"`
}

type ghJob struct {
	Needs       stringList        `yaml:"needs"`
	If          string            `yaml:"if"`
	Environment environment       `yaml:"environment"`
	Permissions map[string]string `yaml:"permissions"`
	Steps       []ghStep          `yaml:"steps"`
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

var ghTrafficJobs = []struct {
	job, environment, command string
}{
	{"canary", "slotless-canary", releaseCommand(10)},
	{"ring-a", "slotless-ring-a", releaseCommand(50)},
	{"ga", "slotless-ga", releaseCommand(100)},
}

func checkGHTrafficJob(w *workflow, name, env, command string) error {
	j, err := w.job(name)
	if err != nil {
		return err
	}
	if string(j.Environment) != env {
		return fmt.Errorf("%s environment: got %q, want %q", name, j.Environment, env)
	}
	if err := checkThinStage(runsOf(j.Steps), command); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	// The record and report are kept whatever the outcome: a rolled-back job's are the ones to
	// read.
	release := indexOf(runsOf(j.Steps), command)
	report := reportDirOf(runsOf(j.Steps)[release])
	var summary, upload bool
	for _, st := range j.Steps[release+1:] {
		always := strings.Contains(st.If, "always()")
		summary = summary || always && st.Run == "scripts/publish-report.sh "+report
		upload = upload || always && strings.HasPrefix(st.Uses, "actions/upload-artifact@") && strings.Contains(fmt.Sprint(st.With["path"]), report+"/")
	}
	if !summary || !upload {
		return fmt.Errorf("%s: got job summary %v and artifact %v after the release, want scripts/publish-report.sh %s and an upload of it, both if: always()", name, summary, upload, report)
	}
	return nil
}

// checkGHChain asserts each job waits for the one before it, so no traffic moves before the
// previous step's gate passed.
func checkGHChain(w *workflow) error {
	chain := []string{"build", "deploy-idle", "verify", "canary", "ring-a", "ga"}
	for i := 1; i < len(chain); i++ {
		j, err := w.job(chain[i])
		if err != nil {
			return err
		}
		if !j.Needs.has(chain[i-1]) {
			return fmt.Errorf("%s needs: got %v, want it to include %s", chain[i], j.Needs, chain[i-1])
		}
	}
	return nil
}

func checkGHRollback(w *workflow) error {
	j, err := w.job("rollback")
	if err != nil {
		return err
	}
	for _, want := range []string{"verify", "canary", "ring-a", "ga"} {
		if !j.Needs.has(want) {
			return fmt.Errorf("rollback needs: got %v, want it to include %s", j.Needs, want)
		}
	}
	if !strings.Contains(j.If, "failure()") {
		return fmt.Errorf("rollback if: got %q, want one that runs on failure()", j.If)
	}
	if indexOf(runsOf(j.Steps), `slotless rollback --stack "$STACK" --slot "$IDLE"`) < 0 {
		return errors.New("rollback: got no step running slotless rollback, want one")
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

func TestGitHubRelease(t *testing.T) {
	w := decode[workflow](t, ghRelease)
	checks := []struct {
		name  string
		check func(*workflow) error
	}{
		{"job chain", checkGHChain},
		{"rollback on failure", checkGHRollback},
		{"OIDC only", checkGHOIDC},
		{"no client secret, tokens mapped", checkGHNoSecrets},
	}
	for _, tj := range ghTrafficJobs {
		checks = append(checks, struct {
			name  string
			check func(*workflow) error
		}{"traffic job " + tj.job, func(w *workflow) error {
			return checkGHTrafficJob(w, tj.job, tj.environment, tj.command)
		}})
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if err := c.check(w); err != nil {
				t.Error(err)
			}
		})
	}
	t.Run("manual trigger", func(t *testing.T) {
		if _, ok := w.On["workflow_dispatch"]; !ok {
			t.Errorf("on: got %v, want workflow_dispatch", slices.Sorted(maps.Keys(w.On)))
		}
	})
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
	ringA := func(w *workflow) error {
		return checkGHTrafficJob(w, "ring-a", "slotless-ring-a", ghTrafficJobs[1].command)
	}
	cases := []struct {
		name   string
		break_ func(*workflow)
		check  func(*workflow) error
	}{
		{"ring-a release removed", func(w *workflow) { drop(mustJob(w, "ring-a"), "slotless release") }, ringA},
		{"a bake back in ring-a", func(w *workflow) {
			j := mustJob(w, "ring-a")
			j.Steps = append(j.Steps, ghStep{Run: "sleep 600"})
		}, ringA},
		{"a shift back in ring-a", func(w *workflow) {
			j := mustJob(w, "ring-a")
			j.Steps = append(j.Steps, ghStep{Run: `slotless shift --stack "$STACK" --slot "$IDLE" --to 50`})
		}, ringA},
		{"ring-a record not kept", func(w *workflow) {
			j := mustJob(w, "ring-a")
			j.Steps = slices.DeleteFunc(j.Steps, func(s ghStep) bool { return strings.HasPrefix(s.Uses, "actions/upload-artifact@") })
		}, ringA},
		{"ring-a without approvals", func(w *workflow) { mustJob(w, "ring-a").Environment = "" }, ringA},
		{"ring-a release without the pinning token", func(w *workflow) {
			j := mustJob(w, "ring-a")
			for i := range j.Steps {
				if strings.Contains(j.Steps[i].Run, "slotless release") {
					j.Steps[i].Run = strings.ReplaceAll(j.Steps[i].Run, ". scripts/gate-env.sh", "true")
				}
			}
		}, ringA},
		{"canary does not wait for verify", func(w *workflow) { unneed(mustJob(w, "canary"), "verify") }, checkGHChain},
		{"ga does not wait for ring-a", func(w *workflow) { unneed(mustJob(w, "ga"), "ring-a") }, checkGHChain},
		{"rollback ignores ga", func(w *workflow) { unneed(mustJob(w, "rollback"), "ga") }, checkGHRollback},
		{"rollback always runs", func(w *workflow) { mustJob(w, "rollback").If = "always()" }, checkGHRollback},
		{"no id-token for ga", func(w *workflow) { mustJob(w, "ga").Permissions = map[string]string{"contents": "write"} }, checkGHOIDC},
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
			j := mustJob(w, "canary")
			j.Steps = append(j.Steps, ghStep{Run: `slotless gate health --slot "$IDLE"`})
		}, checkGHNoSecrets},
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

func checkPRPlan(w *workflow, script string) error {
	var pr struct {
		Paths       []string `yaml:"paths"`
		PathsIgnore []string `yaml:"paths-ignore"`
	}
	n, ok := w.On["pull_request"]
	if !ok {
		return fmt.Errorf("on: got %v, want pull_request", slices.Sorted(maps.Keys(w.On)))
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
	if _, ok := w.On["pull_request_target"]; ok {
		return errors.New("on: got pull_request_target, want pull_request (the plan runs the PR's code)")
	}
	want := map[string]string{"contents": "read", "pull-requests": "write"}
	if !maps.Equal(w.Permissions, want) {
		return fmt.Errorf("permissions: got %v, want %v", w.Permissions, want)
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
		case strings.Contains(s.Run, "scripts/pr-plan.sh"):
			plan = i
			if !strings.Contains(s.Run, "|| status=$?") {
				return fmt.Errorf("plan step: got %q, want it to record the status instead of failing before the comment", s.Run)
			}
		case strings.HasPrefix(s.Uses, "actions/github-script@") || strings.HasPrefix(s.Uses, "marocchino/sticky-pull-request-comment@"):
			comment = i
			if !strings.Contains(s.If, "always()") {
				return fmt.Errorf("comment step if: got %q, want always()", s.If)
			}
		case strings.Contains(s.Run, "exit 1") && fail < 0:
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
	for _, want := range []string{"go run ./cmd/slotless plan", "--against", "--markdown"} {
		if !strings.Contains(script, want) {
			return fmt.Errorf("scripts/pr-plan.sh: got no %q, want it", want)
		}
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
// `if` holds; a failed step fails the job unless it has continue-on-error.
func simulatePRPlan(j *ghJob, sc prScenario) (failed, commented bool, err error) {
	ctx := ghContext{values: map[string]string{
		"github.repository":                             "acme/slotless",
		"github.event.pull_request.head.repo.full_name": "acme/slotless",
	}}
	if sc.fork {
		ctx.values["github.event.pull_request.head.repo.full_name"] = "someone/slotless"
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
		case strings.Contains(s.Run, "scripts/pr-plan.sh"):
			if s.ID == "" {
				return false, false, fmt.Errorf("plan step: got no id, want one its status output can be read by")
			}
			ctx.values["steps."+s.ID+".outputs.status"] = sc.planStatus
		case strings.HasPrefix(s.Uses, "actions/github-script@") || strings.HasPrefix(s.Uses, "marocchino/sticky-pull-request-comment@"):
			commented = true
			ok = !sc.commentFails
		case strings.Contains(s.Run, "exit 1"):
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
	if err := checkPRPlan(decode[workflow](t, ghPRPlan), script); err != nil {
		t.Error(err)
	}
	breaks := []struct {
		name   string
		break_ func(*workflow)
	}{
		{"filtered by stack paths", func(w *workflow) {
			var n yaml.Node
			_ = yaml.Unmarshal([]byte("paths: [\"Pulumi.*.yaml\"]"), &n)
			w.On["pull_request"] = *n.Content[0]
		}},
		{"write-all contents", func(w *workflow) { w.Permissions["contents"] = "write" }},
		{"fail before comment", func(w *workflow) {
			j := w.Jobs["plan"]
			j.Steps = append(j.Steps[:1], append([]ghStep{{Run: "exit 1"}}, j.Steps[1:]...)...)
		}},
		{"comment failure fails the check", func(w *workflow) {
			for i, s := range w.Jobs["plan"].Steps {
				if strings.HasPrefix(s.Uses, "actions/github-script@") {
					w.Jobs["plan"].Steps[i].ContinueOnError = ""
				}
			}
		}},
		{"fork PR tries to comment", func(w *workflow) {
			for i, s := range w.Jobs["plan"].Steps {
				if strings.HasPrefix(s.Uses, "actions/github-script@") {
					w.Jobs["plan"].Steps[i].If = "always() && steps.plan.outputs.status != ''"
				}
			}
		}},
		{"verdict tolerated", func(w *workflow) {
			j := w.Jobs["plan"]
			j.Steps[len(j.Steps)-1].ContinueOnError = "true"
		}},
		{"verdict not last", func(w *workflow) {
			j := w.Jobs["plan"]
			j.Steps = append(j.Steps, ghStep{Run: "echo done"})
		}},
	}
	for _, b := range breaks {
		t.Run(b.name, func(t *testing.T) {
			w := decode[workflow](t, ghPRPlan)
			b.break_(w)
			if err := checkPRPlan(w, script); err == nil {
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
// v6), pulumi/actions@v6 and azure/login@v2 still declare node20. A new action or major goes
// here only after its action.yml was read.
var node24Majors = map[string]string{
	"actions/checkout":          "v5",
	"actions/setup-go":          "v6",
	"actions/setup-node":        "v5",
	"actions/upload-artifact":   "v7",
	"actions/download-artifact": "v8",
	"actions/github-script":     "v8",
	"actions/cache":             "v5", // in actions/setup-slotless; v5.0.0's notes: "runs on the Node.js 24 runtime"
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
