package pipelines

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// A team's path (release, watch, plan, rollback) installs the slotless its Pulumi.yaml pins and
// never compiles or tests slotless: no Go toolchain, no go build, go test or go run. The one
// exception is slotless-version: source, with which slotless's own repository builds slotless
// from its checkout; it is checked here to stay behind that value alone.

// goCommand matches a go command that builds, tests or runs code, wherever it sits on a line
// (`CGO_ENABLED=0 go build`, `&& go test`).
var goCommand = regexp.MustCompile(`(?m)(?:^|[\s;&|(])go\s+(build|test|run|install|vet|generate|get|mod)\b`)

func needsGo(s ghStep) bool {
	return strings.HasPrefix(s.Uses, "actions/setup-go@") || goCommand.MatchString(s.Run)
}

// ghGoSteps lists the steps that need Go and run when the resolved slotless version is version,
// on a cache miss (the worst case): each step's `if` is evaluated as GitHub would.
func ghGoSteps(w *workflow, version string) ([]string, error) {
	ctx := ghContext{values: map[string]string{"env.SLOTLESS_VERSION": version, "steps.slotless-cache.outputs.cache-hit": ""}}
	var found []string
	for _, name := range slices.Sorted(maps.Keys(w.Jobs)) {
		for _, s := range w.Jobs[name].Steps {
			if !needsGo(s) {
				continue
			}
			runs, err := evalStepIf(s.If, ctx)
			if err != nil {
				return nil, fmt.Errorf("%s step %q if %q: %w", name, s.Name+s.Uses, s.If, err)
			}
			if runs {
				found = append(found, name+": "+s.Name+s.Uses)
			}
		}
	}
	return found, nil
}

// installStep is the step that puts slotless on PATH and sets SLOTLESS_CI.
func installStep(j *ghJob) int {
	return slices.IndexFunc(j.Steps, func(s ghStep) bool { return strings.Contains(s.Run, `SLOTLESS_CI=$dest/ci" >>"$GITHUB_ENV"`) })
}

// usesSlotless matches a step that runs slotless or a CI script that comes with it.
var usesSlotless = regexp.MustCompile(`(?m)(?:^\s*|[;&|]\s*|\$\(\s*)slotless\s|\$SLOTLESS_CI/`)

// checkGHInstallsSlotless: every job that runs slotless or its CI scripts installs it first,
// from the release of the resolved version (install.sh, which verifies the archive's checksum),
// cached by version, OS and architecture; and the version is resolved once, from the input or
// Pulumi.yaml's runtime.options.version, in the first job.
func checkGHInstallsSlotless(w *workflow) error {
	for _, name := range slices.Sorted(maps.Keys(w.Jobs)) {
		j := w.Jobs[name]
		install := installStep(j)
		for i, s := range j.Steps {
			if usesSlotless.MatchString(s.Run) && (install < 0 || i < install) {
				return fmt.Errorf("%s step %q runs slotless at %d, before it is installed (%d)", name, s.Name, i, install)
			}
		}
		if install < 0 {
			continue
		}
		s := j.Steps[install]
		for _, want := range []string{
			`curl -fsSL`, `/$SLOTLESS_VERSION/install.sh"`, `https://github.com/slotless/slotless/releases/download`, `${SLOTLESS_DOWNLOAD_URL:-`,
			`bash "$RUNNER_TEMP/install-slotless.sh" "$SLOTLESS_VERSION" "$dest"`, `dest="$RUNNER_TOOL_CACHE/slotless/$SLOTLESS_KEY"`,
			`echo "$dest/bin" >>"$GITHUB_PATH"`,
		} {
			if !strings.Contains(s.Run, want) {
				return fmt.Errorf("%s install step: got no %q", name, want)
			}
		}
		cache := slices.IndexFunc(j.Steps, func(s ghStep) bool { return strings.HasPrefix(s.Uses, "actions/cache@") })
		if cache < 0 || cache > install {
			return fmt.Errorf("%s: got the cache at %d and the install at %d, want the cache restored first", name, cache, install)
		}
		c := j.Steps[cache]
		if c.ID != "slotless-cache" || c.With["path"] != "${{ runner.tool_cache }}/slotless/${{ env.SLOTLESS_KEY }}" ||
			c.With["key"] != "slotless-${{ env.SLOTLESS_KEY }}-${{ runner.os }}-${{ runner.arch }}" {
			return fmt.Errorf("%s cache: got id %q, path %q, key %q; want the install folder, keyed by version, OS and arch", name, c.ID, c.With["path"], c.With["key"])
		}
		resolve := slices.IndexFunc(j.Steps, func(s ghStep) bool { return s.ID == "slotless" })
		if resolve >= 0 {
			r := j.Steps[resolve]
			if r.Env["REQUESTED"] != "${{ inputs.slotless-version }}" || !strings.Contains(r.Run, `yq '.runtime.options.version // ""' Pulumi.yaml`) ||
				!strings.Contains(r.Run, "Pulumi.yaml has no runtime.options.version") || !strings.Contains(r.Run, `>>"$GITHUB_ENV"`) {
				return fmt.Errorf("%s: the version step does not resolve slotless-version, else Pulumi.yaml's runtime.options.version, failing with the file and key", name)
			}
			continue
		}
		for _, k := range []string{"SLOTLESS_VERSION", "SLOTLESS_KEY"} {
			if !strings.HasPrefix(j.Env[k], "${{ needs.") {
				return fmt.Errorf("%s env %s: got %q, want the version the first job resolved", name, k, j.Env[k])
			}
		}
	}
	return nil
}

func TestNoTeamPathBuildsSlotless(t *testing.T) {
	for _, file := range ghReusable {
		w := decode[workflow](t, file)
		for _, version := range []string{"v1.2.0", "v0.1.0-rc.1"} {
			if got, err := ghGoSteps(w, version); err != nil || len(got) > 0 {
				t.Errorf("%s with slotless %s: got Go steps %v (%v), want none", file, version, got, err)
			}
		}
		// The check sees the Go steps where they are: behind slotless-version source.
		if got, err := ghGoSteps(w, "source"); err != nil || len(got) == 0 {
			t.Errorf("%s with slotless-version source: got Go steps %v (%v), want the build from the checkout", file, got, err)
		}
		if err := checkGHInstallsSlotless(w); err != nil {
			t.Errorf("%s: %v", file, err)
		}
	}
	// The CI scripts a release ships (everything in scripts/ but the sample's build) run no go.
	scripts, err := filepath.Glob(filepath.Join(root, "scripts", "*.sh"))
	if err != nil || len(scripts) == 0 {
		t.Fatalf("scripts: %v", err)
	}
	for _, f := range scripts {
		if filepath.Base(f) == "build-package.sh" {
			continue
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if m := goCommand.FindString(string(raw)); m != "" {
			t.Errorf("%s: got %q, want no go command in a script a team's pipeline runs", filepath.Base(f), strings.TrimSpace(m))
		}
	}

	breaks := []struct {
		name   string
		break_ func(*workflow)
		check  func(*workflow) error
	}{
		{"setup-go for everyone", func(w *workflow) {
			for i, s := range w.Jobs["verify"].Steps {
				if strings.HasPrefix(s.Uses, "actions/setup-go@") {
					w.Jobs["verify"].Steps[i].If = ""
				}
			}
		}, func(w *workflow) error { return noGo(w, "v1.2.0") }},
		{"a go test back in the build", func(w *workflow) {
			w.Jobs["build"].Steps = append(w.Jobs["build"].Steps, ghStep{Run: "go test ./..."})
		}, func(w *workflow) error { return noGo(w, "v1.2.0") }},
		{"the source build for any version", func(w *workflow) {
			for i, s := range w.Jobs["rollback"].Steps {
				if goCommand.MatchString(s.Run) {
					w.Jobs["rollback"].Steps[i].If = "steps.slotless-cache.outputs.cache-hit != 'true'"
				}
			}
		}, func(w *workflow) error { return noGo(w, "v1.2.0") }},
		{"slotless used before it is installed", func(w *workflow) {
			j := w.Jobs["verify"]
			j.Steps = slices.Insert(j.Steps, 1, ghStep{Run: `. "$SLOTLESS_CI/gate-env.sh" "$STACK"`})
		}, checkGHInstallsSlotless},
		{"a cache shared by every version", func(w *workflow) {
			for i, s := range w.Jobs["release"].Steps {
				if s.ID == "slotless-cache" {
					w.Jobs["release"].Steps[i].With["key"] = "slotless-${{ runner.os }}"
				}
			}
		}, checkGHInstallsSlotless},
		{"the installer of another version", func(w *workflow) {
			i := installStep(w.Jobs["record"])
			w.Jobs["record"].Steps[i].Run = strings.ReplaceAll(w.Jobs["record"].Steps[i].Run, "/$SLOTLESS_VERSION/install.sh", "/latest/install.sh")
		}, checkGHInstallsSlotless},
	}
	for _, b := range breaks {
		t.Run(b.name, func(t *testing.T) {
			w := decode[workflow](t, ghRelease)
			if err := b.check(w); err != nil {
				t.Fatalf("before breaking: %v", err)
			}
			b.break_(w)
			if err := b.check(w); err == nil {
				t.Error("after breaking: got nil, want an error")
			}
		})
	}
}

// adoTeamPipelines are the templates as a team's pipelines expand them, for a slotless version:
// release, watch and infrastructure.
func adoTeamPipelines(t *testing.T, version string) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	for file, params := range map[string]map[string]any{
		adoReleaseTemplate: teamRelease,
		adoWatchTemplate:   {"stack": "prod"},
		adoInfraTemplate:   {"stack": "prod"},
	} {
		params = maps.Clone(params)
		params["slotlessVersion"] = version
		n, err := expandTemplateFile(file, params)
		if err != nil {
			t.Fatal(err)
		}
		out[file] = n
	}
	return out
}

// checkADOInstallsSlotless: every job that runs slotless or a CI script installs it first with
// setup-slotless.yml, given the version and the project's folder, and nothing else installs it.
func checkADOInstallsSlotless(p *adoPipeline, version, workingDirectory string) error {
	var jobs []adoJob
	jobs = append(jobs, p.Jobs...)
	for _, st := range p.Stages {
		jobs = append(jobs, st.Jobs...)
	}
	for _, j := range jobs {
		name := j.Job + j.Deployment
		setup := -1
		for i, s := range j.steps() {
			if s["template"] == "setup-slotless.yml" {
				params := asMap(s["parameters"])
				if setup >= 0 || params["version"] != version || params["workingDirectory"] != workingDirectory {
					return fmt.Errorf("%s: got setup-slotless.yml with %v (another at %d), want it once with version %q and workingDirectory %q", name, params, setup, version, workingDirectory)
				}
				setup = i
			}
			if adoUsesSlotless.MatchString(s.script()) && (setup < 0 || i < setup) {
				return fmt.Errorf("%s step %q runs slotless at %d, before setup-slotless.yml (%d)", name, s["displayName"], i, setup)
			}
		}
	}
	return nil
}

// adoUsesSlotless matches a step that runs slotless or one of the CI scripts that come with it.
var adoUsesSlotless = regexp.MustCompile(`(?m)(?:^\s*|[;&|]\s*)slotless\s|\$\(SLOTLESS_CI\)/`)

func TestNoAzureDevOpsTeamPathBuildsSlotless(t *testing.T) {
	for _, version := range []string{"v1.2.0", ""} {
		for file, n := range adoTeamPipelines(t, version) {
			if got := goUse(n); len(got) > 0 {
				t.Errorf("%s with slotlessVersion %q: got Go %v, want none", file, version, got)
			}
			wd := "."
			if file == adoReleaseTemplate {
				wd = teamRelease["workingDirectory"].(string)
			}
			if err := checkADOInstallsSlotless(decodeNode[adoPipeline](t, n), version, wd); err != nil {
				t.Errorf("%s with slotlessVersion %q: %v", file, version, err)
			}
		}
	}
	// The check sees Go where there is some: slotless's own repository builds slotless.
	for file, n := range adoTeamPipelines(t, "source") {
		if got := goUse(n); len(got) == 0 {
			t.Errorf("%s with slotlessVersion source: got no Go, want the build from the checkout", file)
		}
	}
	// And it sees slotless used before it is installed.
	p := decodeNode[adoPipeline](t, adoTeamPipelines(t, "v1.2.0")[adoWatchTemplate])
	p.Jobs[0].Steps = slices.Insert(p.Jobs[0].Steps, 1, adoStep{"bash": `"$(SLOTLESS_CI)/gate-env.sh"`})
	if err := checkADOInstallsSlotless(p, "v1.2.0", "."); err == nil {
		t.Error("a CI script before setup-slotless.yml: got nil, want an error")
	}
}

func noGo(w *workflow, version string) error {
	got, err := ghGoSteps(w, version)
	if err != nil {
		return err
	}
	if len(got) > 0 {
		return fmt.Errorf("with slotless %s: got Go steps %v, want none", version, got)
	}
	return nil
}
