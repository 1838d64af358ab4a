package scaffold

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/slotless/slotless/stack"
)

// interfaceRoot is where the reusable definitions the callers reference are read from: this
// repository, which publishes them at each release's tag.
var interfaceRoot = filepath.Join("..", "..")

// reusableUse is a caller's `uses:` of a reusable workflow of slotless's repository.
var reusableUse = regexp.MustCompile(`^slotless/slotless/(\.github/workflows/[A-Za-z0-9_.-]+\.ya?ml)@(\S+)$`)

type ghCaller struct {
	On   map[string]any `yaml:"on"`
	Jobs map[string]ghCallerJob
}

type ghCallerJob struct {
	If          string            `yaml:"if"`
	Uses        string            `yaml:"uses"`
	With        map[string]any    `yaml:"with"`
	Secrets     any               `yaml:"secrets"`
	Permissions map[string]string `yaml:"permissions"`
}

type workflowInput struct {
	Type     string `yaml:"type"`
	Required bool   `yaml:"required"`
	Default  any    `yaml:"default"`
}

// reusable is what a caller may pass a reusable workflow: its on.workflow_call block.
type reusable struct {
	Inputs  map[string]workflowInput
	Secrets map[string]struct{ Required bool }
}

// readReusable parses the workflow_call interface of a reusable workflow.
func readReusable(path string) (reusable, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return reusable{}, err
	}
	var wf struct {
		On struct {
			WorkflowCall *reusable `yaml:"workflow_call"`
		} `yaml:"on"`
	}
	if err := yaml.Unmarshal(raw, &wf); err != nil {
		return reusable{}, fmt.Errorf("%s: %w", path, err)
	}
	if wf.On.WorkflowCall == nil {
		return reusable{}, fmt.Errorf("%s: no on.workflow_call: not a reusable workflow", path)
	}
	return *wf.On.WorkflowCall, nil
}

// checkGitHubCall checks one job that calls a reusable workflow of slotless: pinned to version,
// passing only inputs the workflow declares, each of its type, every required input without a
// default, and secrets it declares (or inherit).
func checkGitHubCall(name string, job ghCallerJob, version string) error {
	m := reusableUse.FindStringSubmatch(job.Uses)
	if m == nil {
		return fmt.Errorf("job %s: uses %q, want slotless/slotless/.github/workflows/<file>@<version>", name, job.Uses)
	}
	if m[2] != version {
		return fmt.Errorf("job %s: uses %s at %s, want the pinned version %s", name, m[1], m[2], version)
	}
	iface, err := readReusable(filepath.Join(interfaceRoot, filepath.FromSlash(m[1])))
	if err != nil {
		return fmt.Errorf("job %s: %w", name, err)
	}
	for _, k := range slices.Sorted(maps.Keys(job.With)) {
		in, ok := iface.Inputs[k]
		if !ok {
			return fmt.Errorf("job %s: with.%s is not an input of %s, want one of %v", name, k, m[1], slices.Sorted(maps.Keys(iface.Inputs)))
		}
		v := job.With[k]
		var typeOK bool
		switch in.Type {
		case "string":
			_, typeOK = v.(string)
		case "boolean":
			_, typeOK = v.(bool)
		case "number":
			_, typeOK = v.(int)
		}
		if !typeOK {
			return fmt.Errorf("job %s: with.%s is %T %v, want a %s", name, k, v, v, in.Type)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(iface.Inputs)) {
		if in := iface.Inputs[k]; in.Required && in.Default == nil {
			if _, ok := job.With[k]; !ok {
				return fmt.Errorf("job %s: the required input %s of %s is not passed", name, k, m[1])
			}
		}
	}
	switch s := job.Secrets.(type) {
	case nil:
	case string:
		if s != "inherit" {
			return fmt.Errorf("job %s: secrets %q, want inherit or a mapping", name, s)
		}
	case map[string]any:
		for k := range s {
			if _, ok := iface.Secrets[k]; !ok {
				return fmt.Errorf("job %s: secrets.%s is not a secret of %s", name, k, m[1])
			}
		}
	default:
		return fmt.Errorf("job %s: secrets %v, want inherit or a mapping", name, s)
	}
	return nil
}

// checkGitHubCallers checks the callers of one stack as ci-interface defines them.
func checkGitHubCallers(o Options, files map[string][]byte) error {
	prefix := ""
	if o.WorkDir() != "." {
		prefix = strings.Repeat("../", strings.Count(o.WorkDir(), "/")+1)
	}
	var stackCaller, planCaller ghCaller
	for path, into := range map[string]*ghCaller{
		prefix + ".github/workflows/slotless-" + o.Stack + ".yml": &stackCaller,
		prefix + ".github/workflows/slotless-plan.yml":            &planCaller,
	} {
		raw, ok := files[path]
		if !ok {
			return fmt.Errorf("no %s", path)
		}
		if err := yaml.Unmarshal(raw, into); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	for _, c := range []ghCaller{stackCaller, planCaller} {
		for _, name := range slices.Sorted(maps.Keys(c.Jobs)) {
			if err := checkGitHubCall(name, c.Jobs[name], o.Version); err != nil {
				return err
			}
		}
	}

	// The stack's caller: tags <stack>-v*, a manual run and the 5-minute watch.
	push, _ := stackCaller.On["push"].(map[string]any)
	if tags, _ := push["tags"].([]any); !slices.Equal(tags, []any{o.Stack + "-v*"}) {
		return fmt.Errorf("on.push.tags: got %v, want [%s-v*]", push["tags"], o.Stack)
	}
	if _, ok := stackCaller.On["workflow_dispatch"]; !ok {
		return errors.New("on: no workflow_dispatch")
	}
	if sched, _ := stackCaller.On["schedule"].([]any); len(sched) != 1 || fmt.Sprint(sched[0]) != "map[cron:*/5 * * * *]" {
		return fmt.Errorf("on.schedule: got %v, want one cron */5 * * * *", stackCaller.On["schedule"])
	}
	release, watch := stackCaller.Jobs["release"], stackCaller.Jobs["watch"]
	if len(stackCaller.Jobs) != 2 || !strings.Contains(release.Uses, "/slotless-release.yml@") || !strings.Contains(watch.Uses, "/slotless-watch.yml@") {
		return fmt.Errorf("jobs: got %v, want release (slotless-release.yml) and watch (slotless-watch.yml)", stackCaller.Jobs)
	}
	if release.If != "github.event_name != 'schedule'" || watch.If != "github.event_name == 'schedule'" {
		return fmt.Errorf("release runs if %q and watch if %q; want the watch on the schedule only and the release never on it", release.If, watch.If)
	}
	if release.Permissions["id-token"] != "write" || watch.Permissions["id-token"] != "write" {
		return errors.New("the release and the watch sign in to Azure with OIDC: want id-token: write on both")
	}
	wantWith := map[string]any{"stack": o.Stack, "build-command": o.BuildCommand, "package-path": o.Package}
	if o.WorkDir() != "." {
		wantWith["working-directory"] = o.WorkDir()
	}
	if !maps.Equal(release.With, wantWith) {
		return fmt.Errorf("release with: got %v, want %v", release.With, wantWith)
	}
	delete(wantWith, "build-command")
	delete(wantWith, "package-path")
	if !maps.Equal(watch.With, wantWith) {
		return fmt.Errorf("watch with: got %v, want %v", watch.With, wantWith)
	}

	// The plan: every pull request, with the permissions the reusable workflow needs.
	if _, ok := planCaller.On["pull_request"]; !ok || len(planCaller.Jobs) != 1 {
		return fmt.Errorf("the plan caller: on %v with jobs %v, want one job on pull_request", planCaller.On, planCaller.Jobs)
	}
	for _, job := range planCaller.Jobs {
		if !strings.Contains(job.Uses, "/slotless-pr-plan.yml@") || job.Permissions["contents"] != "read" || job.Permissions["pull-requests"] != "write" {
			return fmt.Errorf("the plan job: uses %s with permissions %v, want slotless-pr-plan.yml with contents: read, pull-requests: write", job.Uses, job.Permissions)
		}
	}
	return nil
}

// renderFiles renders o into a map of path to content.
func renderFiles(t *testing.T, o Options) map[string][]byte {
	t.Helper()
	files, err := Render(o)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		out[f.Path] = f.Content
	}
	return out
}

// inGitRepo makes dir's parent folder a git work tree's root, so dir is a project below it.
func inGitRepo(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "services", "orders")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestGitHubCallers(t *testing.T) {
	for _, runtime := range Runtimes {
		for _, where := range []string{"root", "below the root"} {
			t.Run(runtime+" at "+where, func(t *testing.T) {
				dir := projectDir(t, "orders")
				if where != "root" {
					dir = inGitRepo(t)
				}
				o := options(t, dir, with(minimal, FlagRuntime, runtime, FlagStack, "prod"))
				if err := checkGitHubCallers(o, renderFiles(t, o)); err != nil {
					t.Error(err)
				}
			})
		}
	}
}

// TestGitHubCallerChecksCatchBreakage: the checks above fail on callers broken as a template
// bug or an interface change would break them.
func TestGitHubCallerChecksCatchBreakage(t *testing.T) {
	dir := projectDir(t, "orders")
	o := options(t, dir, minimal)
	const caller = ".github/workflows/slotless-dev.yml"
	tests := []struct{ name, old, new, want string }{
		{"an input the workflow lacks", "      package-path: app.zip", "      package-path: app.zip\n      package: app.zip", "with.package is not an input of .github/workflows/slotless-release.yml"},
		{"a required input left out", "      package-path: app.zip\n", "", "the required input package-path"},
		{"another version", "slotless-watch.yml@v1.2.0", "slotless-watch.yml@v1.1.0", "at v1.1.0, want the pinned version v1.2.0"},
		{"a workflow that does not exist", "slotless-watch.yml@", "slotless-watcher.yml@", "slotless-watcher.yml"},
		{"a boolean input as a string", "      package-path: app.zip", "      package-path: app.zip\n      record-traffic: \"false\"", "with.record-traffic is string false, want a boolean"},
		{"the watch on every push", "if: github.event_name == 'schedule'", "if: always()", "want the watch on the schedule only"},
		{"tags of every stack", `- dev-v*`, `- v*`, "on.push.tags: got [v*], want [dev-v*]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := renderFiles(t, o)
			if err := checkGitHubCallers(o, files); err != nil {
				t.Fatalf("the unbroken callers: %v", err)
			}
			if !strings.Contains(string(files[caller]), tt.old) {
				t.Fatalf("%s has no %q", caller, tt.old)
			}
			files[caller] = []byte(strings.Replace(string(files[caller]), tt.old, tt.new, 1))
			if err := checkGitHubCallers(o, files); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

type adoCaller struct {
	Trigger   any `yaml:"trigger"`
	PR        any `yaml:"pr"`
	Schedules []struct {
		Cron   string `yaml:"cron"`
		Always bool   `yaml:"always"`
	} `yaml:"schedules"`
	Resources struct {
		Repositories []map[string]string `yaml:"repositories"`
	} `yaml:"resources"`
	Extends struct {
		Template   string         `yaml:"template"`
		Parameters map[string]any `yaml:"parameters"`
	} `yaml:"extends"`
}

// templateParameters reads the parameters an Azure Pipelines template declares, and which of
// them have no default.
func templateParameters(path string) (all, required []string, err error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var tmpl struct {
		Parameters []map[string]any `yaml:"parameters"`
	}
	if err := yaml.Unmarshal(raw, &tmpl); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, p := range tmpl.Parameters {
		name, _ := p["name"].(string)
		all = append(all, name)
		if _, ok := p["default"]; !ok {
			required = append(required, name)
		}
	}
	return all, required, nil
}

// checkAzureDevOpsCallers checks the three callers of one stack: each extends its template
// from slotless's repository at the pinned tag, passing parameters the template declares.
func checkAzureDevOpsCallers(o Options, files map[string][]byte) error {
	prefix := ""
	if o.WorkDir() != "." {
		prefix = strings.Repeat("../", strings.Count(o.WorkDir(), "/")+1)
	}
	for _, kind := range []string{"release", "watch", "infra"} {
		path := prefix + "azure-pipelines/slotless-" + o.Stack + "-" + kind + ".yml"
		raw, ok := files[path]
		if !ok {
			return fmt.Errorf("no %s", path)
		}
		var c adoCaller
		if err := yaml.Unmarshal(raw, &c); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		repos := c.Resources.Repositories
		if len(repos) != 1 || repos[0]["repository"] != "slotless" || repos[0]["type"] != "github" || repos[0]["name"] != "slotless/slotless" ||
			repos[0]["ref"] != "refs/tags/"+o.Version || repos[0]["endpoint"] == "" {
			return fmt.Errorf("%s: resources.repositories %v, want slotless: github slotless/slotless at refs/tags/%s through a service connection", path, repos, o.Version)
		}
		tmpl := "pipelines/azure-devops/templates/slotless-" + kind + ".yml"
		if c.Extends.Template != tmpl+"@slotless" {
			return fmt.Errorf("%s: extends %q, want %s@slotless", path, c.Extends.Template, tmpl)
		}
		all, required, err := templateParameters(filepath.Join(interfaceRoot, filepath.FromSlash(tmpl)))
		if err != nil {
			return err
		}
		for _, k := range slices.Sorted(maps.Keys(c.Extends.Parameters)) {
			if !slices.Contains(all, k) {
				return fmt.Errorf("%s: parameter %s is not one of %s's: %v", path, k, tmpl, all)
			}
		}
		for _, k := range required {
			if _, ok := c.Extends.Parameters[k]; !ok {
				return fmt.Errorf("%s: the required parameter %s of %s is not passed", path, k, tmpl)
			}
		}
		want := map[string]any{"stack": o.Stack}
		if o.WorkDir() != "." {
			want["workingDirectory"] = o.WorkDir()
		}
		if kind == "release" {
			want["packageBuild"], want["package"] = o.BuildCommand, o.Package
			// The stack's releaseSteps (init writes none, so the default), as stages.
			var steps []any
			for _, s := range stack.DefaultReleaseSteps() {
				steps = append(steps, s)
			}
			want["releaseSteps"] = steps
		}
		if !reflect.DeepEqual(c.Extends.Parameters, want) {
			return fmt.Errorf("%s: parameters %v, want %v", path, c.Extends.Parameters, want)
		}
		switch kind {
		case "release":
			if !strings.Contains(fmt.Sprint(c.Trigger), "include:["+o.Stack+"-v*]") || fmt.Sprint(c.PR) != "none" {
				return fmt.Errorf("%s: trigger %v, pr %v; want the tags %s-v* only", path, c.Trigger, c.PR, o.Stack)
			}
		case "watch":
			if len(c.Schedules) != 1 || c.Schedules[0].Cron != "*/5 * * * *" || !c.Schedules[0].Always || fmt.Sprint(c.Trigger) != "none" {
				return fmt.Errorf("%s: schedules %v, trigger %v; want every 5 minutes, always, and no other trigger", path, c.Schedules, c.Trigger)
			}
		case "infra":
			wantPaths := fmt.Sprintf("[%s %s]", filepath.ToSlash(filepath.Join(o.WorkDir(), "Pulumi.yaml")), filepath.ToSlash(filepath.Join(o.WorkDir(), "Pulumi."+o.Stack+".yaml")))
			if o.APISpec != "" {
				wantPaths = strings.TrimSuffix(wantPaths, "]") + " " + filepath.ToSlash(filepath.Join(o.WorkDir(), o.APISpec)) + "]"
			}
			if !strings.Contains(fmt.Sprint(c.Trigger), "include:"+wantPaths) || fmt.Sprint(c.PR) != "none" {
				return fmt.Errorf("%s: trigger %v, pr %v; want the paths %s on the default branch only", path, c.Trigger, c.PR, wantPaths)
			}
		}
	}
	return nil
}

func TestAzureDevOpsCallers(t *testing.T) {
	for _, runtime := range Runtimes {
		for _, where := range []string{"root", "below the root"} {
			t.Run(runtime+" at "+where, func(t *testing.T) {
				dir := projectDir(t, "orders")
				if where != "root" {
					dir = inGitRepo(t)
					writeFile(t, filepath.Join(dir, "api", "openapi.yaml"), openAPIDoc)
				}
				o := options(t, dir, with(minimal, FlagRuntime, runtime, FlagCI, CIAzureDevOps, FlagStack, "prod", FlagAPISpec, "api/openapi.yaml"))
				if err := checkAzureDevOpsCallers(o, renderFiles(t, o)); err != nil {
					t.Error(err)
				}
			})
		}
	}
}

func TestAzureDevOpsCallerChecksCatchBreakage(t *testing.T) {
	dir := projectDir(t, "orders")
	o := options(t, dir, with(minimal, FlagCI, CIAzureDevOps))
	tests := []struct{ name, path, old, new, want string }{
		{"a parameter the template lacks", "azure-pipelines/slotless-dev-watch.yml", "    stack: dev", "    stack: dev\n    stackName: dev", "parameter stackName is not one of"},
		{"a required parameter left out", "azure-pipelines/slotless-dev-release.yml", "    package: app.zip\n", "", "the required parameter package"},
		{"another tag", "azure-pipelines/slotless-dev-infra.yml", "refs/tags/v1.2.0", "refs/heads/main", "want slotless: github slotless/slotless at refs/tags/v1.2.0"},
		{"another template", "azure-pipelines/slotless-dev-watch.yml", "templates/slotless-watch.yml@slotless", "templates/watch.yml@slotless", `extends "pipelines/azure-devops/templates/watch.yml@slotless"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := renderFiles(t, o)
			if err := checkAzureDevOpsCallers(o, files); err != nil {
				t.Fatalf("the unbroken callers: %v", err)
			}
			if !strings.Contains(string(files[tt.path]), tt.old) {
				t.Fatalf("%s has no %q", tt.path, tt.old)
			}
			files[tt.path] = []byte(strings.Replace(string(files[tt.path]), tt.old, tt.new, 1))
			if err := checkAzureDevOpsCallers(o, files); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestGitHubCallersPassActionlint runs actionlint, as `make pipelines-lint` runs it on this
// repository's workflows, on the callers of a project at a repository's root and of one below
// it. actionlint cannot fetch slotless/slotless's reusable workflows, so the inputs the callers
// pass are checked against their interface by TestGitHubCallers instead.
func TestGitHubCallersPassActionlint(t *testing.T) {
	if testing.Short() {
		t.Skip("runs actionlint through go run")
	}
	repoRoot, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	shellcheck := shellcheckPath(t, repoRoot)
	var paths []string
	for i, dir := range []string{projectDir(t, "orders"), inGitRepo(t)} {
		runtime := Runtimes[i%len(Runtimes)]
		o := options(t, dir, with(minimal, FlagRuntime, runtime, FlagStack, fmt.Sprint("stack", i)))
		files, err := Render(o)
		if err != nil {
			t.Fatal(err)
		}
		out, err := Write(dir, files)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range out.Wrote {
			if strings.Contains(p, ".github/workflows/") {
				paths = append(paths, filepath.Join(dir, filepath.FromSlash(p)))
			}
		}
	}
	if len(paths) != 4 {
		t.Fatalf("got callers %v, want 4", paths)
	}
	cmd := exec.Command("go", append([]string{"run", "github.com/rhysd/actionlint/cmd/actionlint@v1.7.12", "-shellcheck=" + shellcheck}, paths...)...)
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("actionlint: %v\n%s", err, out)
	}
}

// shellcheckPath finds shellcheck as `make pipelines-lint` does: on PATH, else Debian's package
// fetched into .cache/tools by .ci/fetch-shellcheck.
func shellcheckPath(t *testing.T, repoRoot string) string {
	t.Helper()
	if p, err := exec.LookPath("shellcheck"); err == nil {
		return p
	}
	tools := filepath.Join(repoRoot, ".cache", "tools")
	bin := filepath.Join(tools, "usr", "bin", "shellcheck")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	cmd := exec.Command(filepath.Join(repoRoot, ".ci", "fetch-shellcheck"), tools)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf(".ci/fetch-shellcheck: %v\n%s", err, out)
	}
	return bin
}
