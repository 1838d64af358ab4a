package pipelines

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The two versions a run works out, by the scripts of the definitions themselves, run here as the
// CI systems run them (bash -eo pipefail, the step's env): the slotless to install, and the
// version of the package the health gate expects.

// runStep runs a step's script in dir with env, and returns its exit code, its output, and what
// it wrote to GITHUB_OUTPUT and GITHUB_ENV.
func runStep(t *testing.T, script, dir string, env map[string]string) (code int, out, outputs, envFile string) {
	t.Helper()
	files := t.TempDir()
	outputsPath, envPath := filepath.Join(files, "output"), filepath.Join(files, "env")
	cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GITHUB_OUTPUT="+outputsPath, "GITHUB_ENV="+envPath, "GITHUB_ACTIONS=true")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	b, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	o, _ := os.ReadFile(outputsPath)
	e, _ := os.ReadFile(envPath)
	return code, string(b), string(o), string(e)
}

func ghStepByID(t *testing.T, file, job, id string) ghStep {
	t.Helper()
	j, err := decode[workflow](t, file).job(job)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(j.Steps, func(s ghStep) bool { return s.ID == id })
	if i < 0 {
		t.Fatalf("%s %s: no step %s", file, job, id)
	}
	return j.Steps[i]
}

// TestSlotlessVersionStep: the slotless a run installs is the input, else Pulumi.yaml's
// runtime.options.version in the working directory; neither fails naming the file and the key;
// a value that could not be a release tag is refused; source is keyed by the commit. Every
// reusable workflow resolves it with the same script.
func TestSlotlessVersionStep(t *testing.T) {
	// yq here stands for the one on GitHub's runners: it prints runtime.options.version.
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "yq"), []byte("#!/bin/sh\nsed -n 's/^ *version: *//p' \"$2\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	pinned := "name: orders\nruntime:\n  name: slotless\n  options:\n    version: v1.2.0\n"
	tests := []struct {
		name       string
		requested  string
		pulumiYAML string // "" = no Pulumi.yaml
		wantCode   int
		wantOut    string
		wantKey    string
	}{
		{"the input", "v1.3.0", pinned, 0, "", "v1.3.0"},
		{"Pulumi.yaml's pin", "", pinned, 0, "slotless v1.2.0, as infra/Pulumi.yaml pins it (runtime.options.version)", "v1.2.0"},
		{"no pin", "", "name: orders\nruntime: go\n", 1, "slotless-version is empty and infra/Pulumi.yaml has no runtime.options.version", ""},
		{"no Pulumi.yaml", "", "", 1, "infra/Pulumi.yaml has no runtime.options.version", ""},
		{"not a tag", "v1.2.0; curl evil", pinned, 1, "slotless-version 'v1.2.0; curl evil': want a release tag such as v1.2.0", ""},
		{"a path", "..", pinned, 1, "slotless-version '..': want a release tag", ""},
		{"source", "source", "", 0, "", "source-0123456789abcdef"},
	}
	for _, file := range ghReusable {
		job := map[string]string{ghRelease: "build", ghWatch: "watch", ghPRPlan: "plan"}[file]
		step := ghStepByID(t, file, job, "slotless")
		for _, tt := range tests {
			t.Run(filepath.Base(file)+"/"+tt.name, func(t *testing.T) {
				dir := t.TempDir()
				if tt.pulumiYAML != "" {
					if err := os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), []byte(tt.pulumiYAML), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				code, out, outputs, env := runStep(t, step.Run, dir, map[string]string{
					"REQUESTED": tt.requested, "WORKING_DIRECTORY": "infra", "GITHUB_SHA": "0123456789abcdef",
					"PATH": bin + ":" + os.Getenv("PATH"),
				})
				if code != tt.wantCode || !strings.Contains(out, tt.wantOut) {
					t.Fatalf("got exit %d and %q, want exit %d and %q", code, out, tt.wantCode, tt.wantOut)
				}
				if tt.wantKey == "" {
					return
				}
				version := tt.requested
				if version == "" {
					version = "v1.2.0"
				}
				if !strings.Contains(outputs, "version="+version+"\n") || !strings.Contains(outputs, "key="+tt.wantKey+"\n") ||
					!strings.Contains(env, "SLOTLESS_VERSION="+version+"\n") || !strings.Contains(env, "SLOTLESS_KEY="+tt.wantKey+"\n") {
					t.Errorf("got outputs %q and env %q, want version %s and key %s in both", outputs, env, version, tt.wantKey)
				}
			})
		}
	}
}

// TestPackageVersionStep: the version the health gate expects is the input, else the tag without
// its stack (prod-v1.2.3 gives v1.2.3), else run<run>.<short sha>, with only A-Za-z0-9.+_- kept,
// in both CI systems.
func TestPackageVersionStep(t *testing.T) {
	tests := []struct {
		name      string
		requested string
		tag       string // "" = a branch
		want      string
	}{
		{"the input", "2.0.0-rc.1", "prod-v1.2.3", "2.0.0-rc.1"},
		{"the stack's tag", "", "prod-v1.2.3", "v1.2.3"},
		{"another tag", "", "v9.9.9", "v9.9.9"},
		{"a branch", "", "", "run42.abcdef1"},
		{"sanitised", "1.2/3 beta", "", "1.2-3-beta"},
	}
	gh := ghStepByID(t, ghRelease, "build", "version")
	var ado adoStep
	for _, s := range expandedTemplate(t, adoReleaseTemplate, teamRelease).Stages[0].Jobs[0].steps() {
		if s["name"] == "version" {
			ado = s
		}
	}
	if ado == nil {
		t.Fatalf("%s: no version step in Build", adoReleaseTemplate)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"REQUESTED": tt.requested, "STACK": "prod", "GITHUB_RUN_NUMBER": "42", "GITHUB_SHA": "abcdef1234567", "GITHUB_REF_TYPE": "branch", "GITHUB_REF_NAME": "main"}
			if tt.tag != "" {
				env["GITHUB_REF_TYPE"], env["GITHUB_REF_NAME"] = "tag", tt.tag
			}
			if _, out, outputs, _ := runStep(t, gh.Run, t.TempDir(), env); outputs != "version="+tt.want+"\n" {
				t.Errorf("GitHub: got %q (%s), want version=%s", outputs, out, tt.want)
			}
			branch := "refs/heads/main"
			if tt.tag != "" {
				branch = "refs/tags/" + tt.tag
			}
			code, out, _, _ := runStep(t, ado.script(), t.TempDir(), map[string]string{
				"REQUESTED": tt.requested, "STACK": "prod", "BUILD_SOURCEBRANCH": branch, "BUILD_BUILDID": "42", "BUILD_SOURCEVERSION": "abcdef1234567",
			})
			if want := "##vso[task.setvariable variable=version;isOutput=true]" + tt.want + "\n"; code != 0 || !strings.Contains(out, want) {
				t.Errorf("Azure DevOps: got exit %d and %q, want %q", code, out, want)
			}
		})
	}
}
