package pipelines

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/slotless/slotless/internal/dist/disttest"
)

const setupAction = "actions/setup-slotless/action.yml"

// compositeAction is what an action.yml of `runs.using: composite` declares.
type compositeAction struct {
	Name        string                  `yaml:"name"`
	Description string                  `yaml:"description"`
	Inputs      map[string]actionInput  `yaml:"inputs"`
	Outputs     map[string]actionOutput `yaml:"outputs"`
	Runs        struct {
		Using string       `yaml:"using"`
		Steps []actionStep `yaml:"steps"`
	} `yaml:"runs"`
}

type actionInput struct {
	Description string  `yaml:"description"`
	Required    bool    `yaml:"required"`
	Default     *string `yaml:"default"`
}

type actionOutput struct {
	Description string `yaml:"description"`
	Value       string `yaml:"value"`
}

// actionStep is a workflow step plus what a composite action's step must or may add.
type actionStep struct {
	ghStep           `yaml:",inline"`
	Shell            string `yaml:"shell"`
	WorkingDirectory string `yaml:"working-directory"`
}

// stepOutput matches an output's value: one output of one step.
var stepOutput = regexp.MustCompile(`^\$\{\{\s*steps\.([A-Za-z0-9_-]+)\.outputs\.([A-Za-z0-9_-]+)\s*\}\}$`)

// buildsSlotless matches a step that would compile or test slotless: no team's path may.
var buildsSlotless = regexp.MustCompile(`\bgo (build|test|run|install)\b`)

func checkSetupAction(a *compositeAction) error {
	if a.Name == "" || a.Description == "" {
		return errors.New("name and description: both required by GitHub's action metadata")
	}
	if a.Runs.Using != "composite" {
		return fmt.Errorf("runs.using: got %q, want composite", a.Runs.Using)
	}
	wantInputs := map[string]string{"version": "", "working-directory": "."}
	if got := slices.Sorted(maps.Keys(a.Inputs)); !slices.Equal(got, slices.Sorted(maps.Keys(wantInputs))) {
		return fmt.Errorf("inputs: got %v, want %v", got, slices.Sorted(maps.Keys(wantInputs)))
	}
	for name, def := range wantInputs {
		in := a.Inputs[name]
		if in.Required || in.Default == nil || *in.Default != def || in.Description == "" {
			return fmt.Errorf("input %s: got required %v, default %v, want optional, default %q and a description", name, in.Required, in.Default, def)
		}
	}
	ids := map[string]actionStep{}
	for i, s := range a.Runs.Steps {
		if s.ID != "" {
			ids[s.ID] = s
		}
		if s.Run != "" && s.Shell != "bash" {
			return fmt.Errorf("step %d (%s) shell: got %q, want bash (a composite step must name its shell)", i+1, s.Name, s.Shell)
		}
		if buildsSlotless.MatchString(s.Run) {
			return fmt.Errorf("step %d (%s): got %q, want slotless installed, never built", i+1, s.Name, buildsSlotless.FindString(s.Run))
		}
		if s.Uses != "" {
			if !majorPin.MatchString(s.Uses) {
				return fmt.Errorf("step %d uses %q: want owner/repo@vN", i+1, s.Uses)
			}
			action, major, _ := strings.Cut(s.Uses, "@")
			if want, ok := node24Majors[action]; !ok || major != want {
				return fmt.Errorf("step %d uses %s: got %s, want the major that runs on Node 24 (%q)", i+1, action, major, want)
			}
		}
	}
	if got := slices.Sorted(maps.Keys(a.Outputs)); !slices.Equal(got, []string{"path", "version"}) {
		return fmt.Errorf("outputs: got %v, want [path version]", got)
	}
	for name, o := range a.Outputs {
		m := stepOutput.FindStringSubmatch(o.Value)
		if m == nil {
			return fmt.Errorf("output %s value %q: want ${{ steps.<id>.outputs.<name> }}", name, o.Value)
		}
		if s, ok := ids[m[1]]; !ok || !strings.Contains(s.Run, m[2]+"=") {
			return fmt.Errorf("output %s: no step %s writing %s to GITHUB_OUTPUT", name, m[1], m[2])
		}
	}
	var cache *actionStep
	for i := range a.Runs.Steps {
		if strings.HasPrefix(a.Runs.Steps[i].Uses, "actions/cache@") {
			cache = &a.Runs.Steps[i]
		}
	}
	if cache == nil || cache.ID == "" {
		return errors.New("got no actions/cache step with an id, want the install cached")
	}
	version := a.Outputs["version"].Value
	if want := "slotless-" + version + "-${{ runner.os }}-${{ runner.arch }}"; cache.With["key"] != want {
		return fmt.Errorf("cache key: got %q, want %q", cache.With["key"], want)
	}
	var install, path bool
	for _, s := range a.Runs.Steps {
		if strings.Contains(s.Run, `install.sh" "$VERSION"`) {
			install = true
			if !strings.Contains(s.If, "steps."+cache.ID+".outputs.cache-hit != 'true'") {
				return fmt.Errorf("install step if: got %q, want it to run on a cache miss only", s.If)
			}
		}
		if strings.Contains(s.Run, `>> "$GITHUB_PATH"`) && strings.Contains(s.Run, `SLOTLESS_CI=`) && s.If == "" {
			path = true
		}
	}
	if !install || !path {
		return fmt.Errorf("got install step %v and PATH step %v, want install.sh run on a miss and, always, DEST/bin on GITHUB_PATH and SLOTLESS_CI in GITHUB_ENV", install, path)
	}
	return nil
}

func TestSetupActionDefinition(t *testing.T) {
	if err := checkSetupAction(decode[compositeAction](t, setupAction)); err != nil {
		t.Error(err)
	}
	step := func(a *compositeAction, match func(actionStep) bool) *actionStep {
		for i := range a.Runs.Steps {
			if match(a.Runs.Steps[i]) {
				return &a.Runs.Steps[i]
			}
		}
		t.Fatal("no such step")
		return nil
	}
	isCache := func(s actionStep) bool { return strings.HasPrefix(s.Uses, "actions/cache@") }
	isInstall := func(s actionStep) bool { return strings.Contains(s.Run, `install.sh" "$VERSION"`) }
	breaks := []struct {
		name   string
		break_ func(*compositeAction)
	}{
		{"not composite", func(a *compositeAction) { a.Runs.Using = "node24" }},
		{"a step without shell", func(a *compositeAction) { step(a, isInstall).Shell = "" }},
		{"version input required", func(a *compositeAction) { in := a.Inputs["version"]; in.Required = true; a.Inputs["version"] = in }},
		{"working-directory default", func(a *compositeAction) {
			d := "infra"
			in := a.Inputs["working-directory"]
			in.Default = &d
			a.Inputs["working-directory"] = in
		}},
		{"no path output", func(a *compositeAction) { delete(a.Outputs, "path") }},
		{"output from no step", func(a *compositeAction) { a.Outputs["path"] = actionOutput{Value: "${{ steps.nope.outputs.path }}"} }},
		{"cache key without the version", func(a *compositeAction) {
			step(a, isCache).With["key"] = "slotless-${{ runner.os }}-${{ runner.arch }}"
		}},
		{"cache key without the arch", func(a *compositeAction) {
			c := step(a, isCache)
			c.With["key"] = strings.TrimSuffix(c.With["key"], "-${{ runner.arch }}")
		}},
		{"cache on Node 20", func(a *compositeAction) { step(a, isCache).Uses = "actions/cache@v4" }},
		{"install on a hit too", func(a *compositeAction) { step(a, isInstall).If = "" }},
		{"slotless built", func(a *compositeAction) { step(a, isInstall).Run = "go build -o bin/slotless ./cmd/slotless" }},
	}
	for _, b := range breaks {
		t.Run(b.name, func(t *testing.T) {
			a := decode[compositeAction](t, setupAction)
			b.break_(a)
			if err := checkSetupAction(a); err == nil {
				t.Errorf("after breaking: got nil, want an error")
			}
		})
	}
}

// actionRun is one run of the action's steps on this machine, the way a runner runs a
// composite action: expressions filled in, each run step a `bash --noprofile --norc -eo
// pipefail` script with the step's env, GITHUB_OUTPUT/GITHUB_PATH/GITHUB_ENV files read back.
// actions/cache is the one step not run: the run says whether it hit.
type actionRun struct {
	inputs    map[string]string
	workspace string
	toolCache string
	cacheHit  bool
	env       []string
}

type actionResult struct {
	outputs             map[string]string
	path                []string
	env                 map[string]string
	cacheKey, cachePath string
	installed           bool
	stderr              string
}

var expression = regexp.MustCompile(`\$\{\{\s*([^}]*?)\s*\}\}`)

// runnerNames are runner.os and runner.arch for this machine.
func runnerNames() (string, string) {
	os := map[string]string{"linux": "Linux", "darwin": "macOS", "windows": "Windows"}[runtime.GOOS]
	arch := map[string]string{"amd64": "X64", "arm64": "ARM64"}[runtime.GOARCH]
	return os, arch
}

func runSetupAction(t *testing.T, a *compositeAction, run actionRun) (actionResult, error) {
	t.Helper()
	runnerOS, runnerArch := runnerNames()
	actionPath, err := filepath.Abs(filepath.Join(root, filepath.Dir(setupAction)))
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]string{"runner.os": runnerOS, "runner.arch": runnerArch, "github.action_path": actionPath}
	for name, in := range a.Inputs {
		v, ok := run.inputs[name]
		if !ok && in.Default != nil {
			v = *in.Default
		}
		values["inputs."+name] = v
	}
	expand := func(s string) (string, error) {
		var err error
		out := expression.ReplaceAllStringFunc(s, func(m string) string {
			key := expression.FindStringSubmatch(m)[1]
			v, ok := values[key]
			if !ok && !strings.HasPrefix(key, "steps.") {
				err = fmt.Errorf("expression %s: not modelled", m)
			}
			return v
		})
		return out, err
	}
	res := actionResult{outputs: map[string]string{}, env: map[string]string{}}
	tmp := t.TempDir()
	files := map[string]string{"GITHUB_OUTPUT": "", "GITHUB_PATH": "", "GITHUB_ENV": ""}
	for k := range files {
		files[k] = filepath.Join(tmp, k)
	}
	for i, s := range a.Runs.Steps {
		runs, err := evalStepIf(s.If, ghContext{values: values})
		if err != nil {
			return res, fmt.Errorf("step %d if %q: %w", i+1, s.If, err)
		}
		if !runs {
			continue
		}
		if strings.HasPrefix(s.Uses, "actions/cache@") {
			if res.cacheKey, err = expand(s.With["key"]); err != nil {
				return res, err
			}
			if res.cachePath, err = expand(s.With["path"]); err != nil {
				return res, err
			}
			values["steps."+s.ID+".outputs.cache-hit"] = fmt.Sprint(run.cacheHit)
			continue
		}
		if s.Uses != "" {
			return res, fmt.Errorf("step %d uses %s: not modelled", i+1, s.Uses)
		}
		script := filepath.Join(tmp, fmt.Sprintf("step%d.sh", i+1))
		if err := os.WriteFile(script, []byte(s.Run), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			os.WriteFile(f, nil, 0o644)
		}
		cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", script)
		wd, err := expand(s.WorkingDirectory)
		if err != nil {
			return res, err
		}
		cmd.Dir = filepath.Join(run.workspace, wd)
		cmd.Env = append(os.Environ(), run.env...)
		cmd.Env = append(cmd.Env, "GITHUB_ACTION_PATH="+actionPath, "RUNNER_TOOL_CACHE="+run.toolCache, "RUNNER_OS="+runnerOS, "RUNNER_ARCH="+runnerArch)
		for k, f := range files {
			cmd.Env = append(cmd.Env, k+"="+f)
		}
		for k, v := range s.Env {
			v, err := expand(v)
			if err != nil {
				return res, err
			}
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		out, err := cmd.CombinedOutput()
		res.stderr += string(out)
		if err != nil {
			return res, fmt.Errorf("step %d (%s): %v\n%s", i+1, s.Name, err, out)
		}
		if strings.Contains(s.Run, "install.sh\" \"$VERSION\"") {
			res.installed = true
		}
		for k, f := range files {
			raw, _ := os.ReadFile(f)
			for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
				if line == "" {
					continue
				}
				name, value, _ := strings.Cut(line, "=")
				switch k {
				case "GITHUB_OUTPUT":
					values["steps."+s.ID+".outputs."+name] = value
				case "GITHUB_ENV":
					res.env[name] = value
				case "GITHUB_PATH":
					res.path = append(res.path, line)
				}
			}
		}
	}
	for name, o := range a.Outputs {
		v, err := expand(o.Value)
		if err != nil {
			return res, err
		}
		res.outputs[name] = v
	}
	return res, nil
}

// TestSetupActionInstalls runs the action's steps against fake releases: a miss installs, a
// hit reuses the cached folder and still checks its version, and a bad pin or archive fails.
func TestSetupActionInstalls(t *testing.T) {
	for _, tool := range []string{"bash", "tar", "curl", "sha256sum"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	runnerOS, runnerArch := runnerNames()
	a := decode[compositeAction](t, setupAction)
	cases := []struct {
		name     string
		setup    func(t *testing.T, r *disttest.Release, workspace, toolCache string)
		inputs   map[string]string
		cacheHit bool
		wantErr  string // a part of the failing step's output; "" wants v1.2.0 installed
	}{
		{"version input, cache miss", func(t *testing.T, r *disttest.Release, _, _ string) {
			r.Add(t, disttest.Fake{Version: "v1.2.0"})
		}, map[string]string{"version": "v1.2.0"}, false, ""},
		{"pinned in working-directory's Pulumi.yaml", func(t *testing.T, r *disttest.Release, ws, _ string) {
			r.Add(t, disttest.Fake{Version: "v1.2.0"})
			os.MkdirAll(filepath.Join(ws, "infra"), 0o755)
			disttest.PulumiYAML(t, filepath.Join(ws, "infra"), "v1.2.0")
		}, map[string]string{"working-directory": "infra"}, false, ""},
		{"cache hit: nothing downloaded", func(t *testing.T, r *disttest.Release, _, tc string) {
			// The release is not on the server: a download would fail the run.
			other := disttest.NewRelease(t)
			other.Add(t, disttest.Fake{Version: "v1.2.0"})
			dest := filepath.Join(tc, "slotless", "v1.2.0", runnerArch)
			installFrom(t, other, "v1.2.0", dest)
		}, map[string]string{"version": "v1.2.0"}, true, ""},
		{"cache hit with another version's binary", func(t *testing.T, r *disttest.Release, _, tc string) {
			// What a cache entry saved under v1.2.0's key by a broken run would restore.
			r.Add(t, disttest.Fake{Version: "v1.1.0"})
			installFrom(t, r, "v1.1.0", filepath.Join(tc, "slotless", "v1.2.0", runnerArch))
		}, map[string]string{"version": "v1.2.0"}, true, `says "slotless v1.1.0`},
		{"no pin", func(t *testing.T, _ *disttest.Release, ws, _ string) {
			disttest.PulumiYAML(t, ws, "")
		}, nil, false, "Pulumi.yaml has no runtime.options.version"},
		{"tampered archive", func(t *testing.T, r *disttest.Release, _, _ string) {
			name := r.Add(t, disttest.Fake{Version: "v1.2.0"})
			f, _ := os.OpenFile(r.Path("v1.2.0", name), os.O_APPEND|os.O_WRONLY, 0)
			f.Write([]byte("x"))
			f.Close()
		}, map[string]string{"version": "v1.2.0"}, false, "checksum mismatch"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := disttest.NewRelease(t)
			ws, tc := t.TempDir(), t.TempDir()
			c.setup(t, r, ws, tc)
			res, err := runSetupAction(t, a, actionRun{inputs: c.inputs, workspace: ws, toolCache: tc, cacheHit: c.cacheHit, env: []string{"SLOTLESS_DOWNLOAD_URL=" + r.URL()}})
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Errorf("got %v, want a failure with %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			dest := filepath.Join(tc, "slotless", "v1.2.0", runnerArch)
			want := map[string]string{"version": "v1.2.0", "path": filepath.Join(dest, "bin")}
			if !maps.Equal(res.outputs, want) {
				t.Errorf("outputs: got %v, want %v", res.outputs, want)
			}
			if !slices.Equal(res.path, []string{filepath.Join(dest, "bin")}) || res.env["SLOTLESS_CI"] != filepath.Join(dest, "ci") {
				t.Errorf("GITHUB_PATH %v, GITHUB_ENV %v: want %s/bin and SLOTLESS_CI=%s/ci", res.path, res.env, dest, dest)
			}
			if wantKey := "slotless-v1.2.0-" + runnerOS + "-" + runnerArch; res.cacheKey != wantKey || res.cachePath != dest {
				t.Errorf("cache: got key %q path %q, want %q and %q", res.cacheKey, res.cachePath, wantKey, dest)
			}
			if res.installed == c.cacheHit {
				t.Errorf("install step ran: %v on a cache hit of %v", res.installed, c.cacheHit)
			}
			for _, bin := range []string{"slotless", "pulumi-language-slotless"} {
				if _, err := os.Stat(filepath.Join(dest, "bin", bin)); err != nil {
					t.Errorf("%s: %v", bin, err)
				}
			}
		})
	}
}

// installFrom runs install.sh against a release into dest and returns dest/bin.
func installFrom(t *testing.T, r *disttest.Release, version, dest string) string {
	t.Helper()
	cmd := exec.Command("bash", filepath.Join(root, "actions", "setup-slotless", "install.sh"), version, dest)
	cmd.Env = append(os.Environ(), "SLOTLESS_DOWNLOAD_URL="+r.URL())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("install.sh %s: %v", version, err)
	}
	return strings.TrimSpace(string(out))
}
