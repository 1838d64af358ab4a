package pipelines

import (
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

	"github.com/slotless/slotless/internal/dist/disttest"
)

const deploySettings = "deploy/Pulumi.yaml"

type deployProgram struct {
	Config map[string]struct {
		Type    string `yaml:"type"`
		Default any    `yaml:"default"`
	} `yaml:"config"`
	Resources map[string]struct {
		Type       string         `yaml:"type"`
		Properties map[string]any `yaml:"properties"`
	} `yaml:"resources"`
	Outputs map[string]string `yaml:"outputs"`
}

// vcsProperties are the properties of pulumiservice:index:DeploymentSettingsVcs in the Pulumi
// Service provider's schema (pulumi/pulumi-pulumiservice,
// provider/cmd/pulumi-resource-pulumiservice/schema.json); `provider` is required.
var vcsProperties = []string{"deployCommits", "deployPullRequest", "installationId", "paths", "previewPullRequests", "provider", "pullRequestTemplate", "repository"}

// vcsProviders are the values the provider maps to a VCS; it drops the block for any other.
var vcsProviders = []string{"azure_devops", "bitbucket", "custom", "github", "gitlab"}

// teamPaths are the files of a team's repository whose change is an infrastructure change: the
// project (its pinned slotless version is the program), the stack's config and the API's
// OpenAPI document. main.go, go.mod and stack/** are this repository's, which no team has.
var teamPaths = []string{"Pulumi.yaml", "Pulumi.${targetStack}.yaml", "${apiSpec}"}

func checkDeploymentSettings(p *deployProgram) error {
	var props map[string]any
	for name, r := range p.Resources {
		if r.Type == "pulumiservice:DeploymentSettings" || r.Type == "pulumiservice:index:DeploymentSettings" {
			if props != nil {
				return fmt.Errorf("got a second DeploymentSettings (%s), want one", name)
			}
			props = r.Properties
		}
	}
	if props == nil {
		return fmt.Errorf("got no pulumiservice:DeploymentSettings resource, want one")
	}
	if _, ok := props["github"]; ok {
		return fmt.Errorf("properties: got the deprecated github block, want vcs")
	}
	vcs, ok := props["vcs"].(map[string]any)
	if !ok {
		return fmt.Errorf("properties vcs: got %v, want a mapping", props["vcs"])
	}
	for _, k := range slices.Sorted(maps.Keys(vcs)) {
		if !slices.Contains(vcsProperties, k) {
			return fmt.Errorf("vcs.%s: not a property of DeploymentSettingsVcs, want one of %v", k, vcsProperties)
		}
	}
	if got := vcs["provider"]; got != "github" {
		return fmt.Errorf("vcs.provider: got %v, want github (one of %v, spelt exactly)", got, vcsProviders)
	}
	if got := vcs["repository"]; got != "${githubRepository}" {
		return fmt.Errorf("vcs.repository: got %v, want ${githubRepository}", got)
	}
	for _, k := range []string{"deployCommits", "previewPullRequests"} {
		if vcs[k] != true {
			return fmt.Errorf("vcs.%s: got %v, want true", k, vcs[k])
		}
	}
	var paths []string
	if list, ok := vcs["paths"].([]any); ok {
		for _, v := range list {
			if s, ok := v.(string); ok {
				paths = append(paths, s)
			}
		}
	}
	if !slices.Equal(paths, teamPaths) {
		return fmt.Errorf("vcs.paths: got %v, want %v", paths, teamPaths)
	}
	return nil
}

// checkTeamProject: the settings drive the stack of the team's project, named by config.
func checkTeamProject(p *deployProgram) error {
	props := settingsOf(p)
	if got := props["project"]; got != "${projectName}" {
		return fmt.Errorf("project: got %v, want ${projectName} (the team's Pulumi.yaml names it)", got)
	}
	if c, ok := p.Config["projectName"]; !ok || c.Type != "string" || c.Default != nil {
		return fmt.Errorf("config projectName: got %+v (declared %v), want a string with no default", c, ok)
	}
	if c, ok := p.Config["apiSpec"]; !ok || c.Type != "string" {
		return fmt.Errorf("config apiSpec: got %+v (declared %v), want a string", c, ok)
	}
	if got, want := p.Outputs["settingsFor"], "${pulumi.organization}/${projectName}/${targetStack}"; got != want {
		return fmt.Errorf("outputs.settingsFor: got %q, want %q", got, want)
	}
	return nil
}

func settingsOf(p *deployProgram) map[string]any {
	for _, r := range p.Resources {
		if r.Type == "pulumiservice:DeploymentSettings" || r.Type == "pulumiservice:index:DeploymentSettings" {
			return r.Properties
		}
	}
	return nil
}

// preRunCommands are the settings' pre-run commands.
func preRunCommands(p *deployProgram) []string {
	var out []string
	list, _ := asMap(settingsOf(p)["operationContext"])["preRunCommands"].([]any)
	for _, v := range list {
		s, _ := v.(string)
		out = append(out, s)
	}
	return out
}

// pulumiInterpolation is what Pulumi YAML reads in a string: ${...} and its $$ escape.
var pulumiInterpolation = regexp.MustCompile(`\$\$|\$\{[^}]*\}|\$`)

// checkPreRun: the pinned slotless is installed with install.sh and put on PATH through
// /PULUMI_ENV, then the drift guard runs from the installed ci/ on updates; no Go, no source.
func checkPreRun(p *deployProgram) error {
	opctx := asMap(settingsOf(p)["operationContext"])
	if env := asMap(opctx["environmentVariables"]); env["GOTOOLCHAIN"] != nil {
		return errors.New("environmentVariables: got GOTOOLCHAIN, want no Go toolchain in a team's deployment")
	}
	if v := asMap(opctx["options"])["skipInstallDependencies"]; v != true {
		return fmt.Errorf("options.skipInstallDependencies: got %v, want true (the executor's package managers have nothing to install)", v)
	}
	cmds := preRunCommands(p)
	install, drift := -1, -1
	for i, c := range cmds {
		for _, m := range pulumiInterpolation.FindAllString(c, -1) {
			if m != "$$" && m != "${targetStack}" {
				return fmt.Errorf("pre-run command %d: got %q, which Pulumi YAML interpolates; want $$ for the shell's $", i+1, m)
			}
		}
		if buildsSlotless.MatchString(c) || strings.Contains(c, "scripts/") {
			return fmt.Errorf("pre-run command %d: got %q, want the installed slotless and its ci/ scripts, no source", i+1, c)
		}
		if strings.Contains(c, `install.sh" "$$v" "$$d"`) {
			install = i
			for _, want := range []string{"Pulumi.yaml", "SLOTLESS_DOWNLOAD_URL", "sha256sum -c", `PATH=$$d/bin:$$PATH" >> /PULUMI_ENV`, `SLOTLESS_CI=$$d/ci" >> /PULUMI_ENV`} {
				if !strings.Contains(c, want) {
					return fmt.Errorf("install command: got no %q", want)
				}
			}
		}
		if strings.Contains(c, `bash "$$SLOTLESS_CI/traffic-drift.sh" ${targetStack}`) {
			drift = i
			if !strings.Contains(c, `case "$${PULUMI_CI_OPERATION:-}" in update | remediate-drift)`) {
				return fmt.Errorf("drift guard %q: want it on updates and remediate-drift runs only", c)
			}
		}
	}
	if install < 0 || drift < install {
		return fmt.Errorf("pre-run commands: got the install at %d and the drift guard at %d, want both, the install first", install+1, drift+1)
	}
	return nil
}

func TestDeploymentSettingsUseVCS(t *testing.T) {
	if err := checkDeploymentSettings(decode[deployProgram](t, deploySettings)); err != nil {
		t.Error(err)
	}
	vcs := func(p map[string]any) map[string]any {
		m, _ := p["vcs"].(map[string]any)
		if m == nil {
			m = map[string]any{}
			p["vcs"] = m
		}
		return m
	}
	breaks := []struct {
		name   string
		break_ func(map[string]any)
	}{
		{"github block back", func(p map[string]any) { p["github"] = p["vcs"]; delete(p, "vcs") }},
		{"both blocks", func(p map[string]any) { p["github"] = map[string]any{"repository": "x/y"} }},
		{"provider misspelt", func(p map[string]any) { vcs(p)["provider"] = "GitHub" }},
		{"provider missing", func(p map[string]any) { delete(vcs(p), "provider") }},
		{"unknown property", func(p map[string]any) { vcs(p)["repo"] = "x/y" }},
		{"no commit deploys", func(p map[string]any) { vcs(p)["deployCommits"] = false }},
	}
	for _, b := range breaks {
		t.Run(b.name, func(t *testing.T) {
			p := decode[deployProgram](t, deploySettings)
			for _, r := range p.Resources {
				if r.Properties != nil {
					b.break_(r.Properties)
				}
			}
			if err := checkDeploymentSettings(p); err == nil {
				t.Errorf("after breaking: got nil, want an error")
			}
		})
	}
}

func TestDeploymentSettingsFitATeam(t *testing.T) {
	checks := []struct {
		name  string
		check func(*deployProgram) error
	}{{"team project", checkTeamProject}, {"pre-run install", checkPreRun}, {"vcs", checkDeploymentSettings}}
	for _, c := range checks {
		if err := c.check(decode[deployProgram](t, deploySettings)); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	editCmds := func(p *deployProgram, edit func([]any) []any) {
		opctx := asMap(settingsOf(p)["operationContext"])
		list, _ := opctx["preRunCommands"].([]any)
		opctx["preRunCommands"] = edit(list)
	}
	breaks := []struct {
		name   string
		break_ func(*deployProgram)
		check  func(*deployProgram) error
	}{
		{"project hard-coded", func(p *deployProgram) { settingsOf(p)["project"] = "slotless" }, checkTeamProject},
		{"projectName defaulted", func(p *deployProgram) {
			c := p.Config["projectName"]
			c.Default = "slotless"
			p.Config["projectName"] = c
		}, checkTeamProject},
		{"this repository's paths", func(p *deployProgram) {
			asMap(settingsOf(p)["vcs"])["paths"] = []any{"Pulumi.yaml", "Pulumi.${targetStack}.yaml", "main.go", "stack/**"}
		}, checkDeploymentSettings},
		{"Go toolchain back", func(p *deployProgram) {
			asMap(settingsOf(p)["operationContext"])["environmentVariables"] = map[string]any{"GOTOOLCHAIN": "auto"}
		}, checkPreRun},
		{"dependencies installed", func(p *deployProgram) {
			delete(asMap(asMap(settingsOf(p)["operationContext"])["options"]), "skipInstallDependencies")
		}, checkPreRun},
		{"drift guard from the source", func(p *deployProgram) {
			editCmds(p, func(l []any) []any {
				return append(l[:len(l)-1], `case "$${PULUMI_CI_OPERATION:-}" in update | remediate-drift) bash scripts/traffic-drift.sh ${targetStack} HEAD^1 ;; esac`)
			})
		}, checkPreRun},
		{"no install", func(p *deployProgram) { editCmds(p, func(l []any) []any { return append(l[:1], l[2:]...) }) }, checkPreRun},
		{"drift guard before the install", func(p *deployProgram) {
			editCmds(p, func(l []any) []any { l[1], l[2] = l[2], l[1]; return l })
		}, checkPreRun},
		{"an unescaped $", func(p *deployProgram) {
			editCmds(p, func(l []any) []any {
				l[2] = strings.Replace(l[2].(string), "$$SLOTLESS_CI", "$SLOTLESS_CI", 1)
				return l
			})
		}, checkPreRun},
	}
	for _, b := range breaks {
		t.Run(b.name, func(t *testing.T) {
			p := decode[deployProgram](t, deploySettings)
			b.break_(p)
			if err := b.check(p); err == nil {
				t.Errorf("after breaking: got nil, want an error")
			}
		})
	}
}

// preRunShells are the shells the pre-run commands are tried with: each command is one line
// of POSIX shell, so it must not depend on which one the executor uses.
var preRunShells = []string{"sh", "bash"}

// TestDeploymentPreRunInstalls runs the pre-run commands, as Pulumi Deployments would, against
// fake releases: each in a shell of its own in the checkout, with what earlier ones appended to
// PULUMI_ENV loaded before the next (here a file in place of /PULUMI_ENV).
func TestDeploymentPreRunInstalls(t *testing.T) {
	for _, tool := range []string{"sh", "bash", "curl", "sha256sum", "tar"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	cases := []struct {
		name      string
		setup     func(t *testing.T, r *disttest.Release, checkout string)
		operation string
		wantOut   string // a part of the output; with wantErr, of the failure
		wantErr   bool
	}{
		{"update: install, then the drift guard", func(t *testing.T, r *disttest.Release, co string) {
			r.Add(t, disttest.Fake{Version: "v1.2.0"})
			disttest.PulumiYAML(t, co, "v1.2.0")
		}, "update", "fake drift guard dev HEAD^1", false},
		{"remediate-drift: install, then the drift guard", func(t *testing.T, r *disttest.Release, co string) {
			r.Add(t, disttest.Fake{Version: "v1.2.0"})
			disttest.PulumiYAML(t, co, "v1.2.0")
		}, "remediate-drift", "fake drift guard dev HEAD^1", false},
		{"preview: install only", func(t *testing.T, r *disttest.Release, co string) {
			r.Add(t, disttest.Fake{Version: "v1.2.0"})
			disttest.PulumiYAML(t, co, "v1.2.0")
		}, "preview", "installed slotless v1.2.0", false},
		{"no pin", func(t *testing.T, r *disttest.Release, co string) {
			disttest.PulumiYAML(t, co, "")
		}, "update", "Pulumi.yaml has no runtime.options.version", true},
		{"tampered install.sh", func(t *testing.T, r *disttest.Release, co string) {
			r.Add(t, disttest.Fake{Version: "v1.2.0"})
			os.WriteFile(r.Path("v1.2.0", "install.sh"), []byte("echo pwned\n"), 0o755)
			disttest.PulumiYAML(t, co, "v1.2.0")
		}, "update", "install.sh: FAILED", true},
	}
	for _, shell := range preRunShells {
		for _, c := range cases {
			t.Run(shell+"/"+c.name, func(t *testing.T) {
				r := disttest.NewRelease(t)
				checkout, home := t.TempDir(), t.TempDir()
				c.setup(t, r, checkout)
				envFile := filepath.Join(t.TempDir(), "PULUMI_ENV")
				out, err := runPreRun(t, shell, preRunCommands(decode[deployProgram](t, deploySettings)), checkout, envFile,
					"HOME="+home, "SLOTLESS_DOWNLOAD_URL="+r.URL(), "PULUMI_CI_OPERATION="+c.operation)
				if c.wantErr {
					if err == nil || !strings.Contains(out, c.wantOut) {
						t.Errorf("got %v\n%s\nwant a failure with %q", err, out, c.wantOut)
					}
					return
				}
				if err != nil {
					t.Fatalf("%v\n%s", err, out)
				}
				if !strings.Contains(out, c.wantOut) {
					t.Errorf("output:\n%s\nwant %q", out, c.wantOut)
				}
				if c.operation != "update" && c.operation != "remediate-drift" && strings.Contains(out, "fake drift guard") {
					t.Errorf("the drift guard ran on a %s", c.operation)
				}
				raw, _ := os.ReadFile(envFile)
				dest := filepath.Join(home, ".slotless", "v1.2.0")
				want := "PATH=" + dest + "/bin:" + os.Getenv("PATH") + "\nSLOTLESS_CI=" + dest + "/ci\n"
				if string(raw) != want {
					t.Errorf("PULUMI_ENV: got\n%s\nwant\n%s", raw, want)
				}
				if _, err := os.Stat(filepath.Join(dest, "bin", "pulumi-language-slotless")); err != nil {
					t.Errorf("pulumi-language-slotless: %v", err)
				}
			})
		}
	}
}

// runPreRun runs the commands one shell each, Pulumi YAML's interpolation applied
// (targetStack dev), with PULUMI_ENV's NAME=value lines in the environment of the later ones.
func runPreRun(t *testing.T, shell string, cmds []string, dir, envFile string, env ...string) (string, error) {
	t.Helper()
	var all strings.Builder
	for i, c := range cmds {
		c = strings.ReplaceAll(strings.ReplaceAll(c, "${targetStack}", "dev"), "$$", "$")
		c = strings.ReplaceAll(c, "/PULUMI_ENV", envFile)
		cmd := exec.Command(shell, "-c", c)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), env...)
		if raw, err := os.ReadFile(envFile); err == nil {
			cmd.Env = append(cmd.Env, strings.Split(strings.TrimSpace(string(raw)), "\n")...)
		}
		out, err := cmd.CombinedOutput()
		all.Write(out)
		if err != nil {
			return all.String(), fmt.Errorf("pre-run command %d: %w", i+1, err)
		}
	}
	return all.String(), nil
}
