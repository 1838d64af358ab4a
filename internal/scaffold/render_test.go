package scaffold

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/slotless/slotless/internal/plan"
	"github.com/slotless/slotless/stack"
)

// options resolves the inputs of a project folder named orders, from flags only.
func options(t *testing.T, dir string, given Answers) Options {
	t.Helper()
	o, err := Resolve(Env{Dir: dir, BinaryVersion: "v1.2.0"}, given, nil)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// healthPaths are the files of each runtime's health function.
var healthPaths = map[string][]string{
	"node":            {"src/functions/health.js"},
	"python":          {"health_blueprint.py"},
	"dotnet-isolated": {"Health.cs"},
	"java":            {"src/main/java/slotless/Health.java"},
	"powershell":      {"health/function.json", "health/run.ps1"},
}

// ciPaths are the CI callers of the stack dev, per --ci.
var ciPaths = map[string][]string{
	CIGitHub:      {".github/workflows/slotless-dev.yml", ".github/workflows/slotless-plan.yml"},
	CIAzureDevOps: {"azure-pipelines/slotless-dev-release.yml", "azure-pipelines/slotless-dev-watch.yml", "azure-pipelines/slotless-dev-infra.yml"},
	CINone:        nil,
}

// TestEveryRuntimeAndCIRenders writes the repository of every runtime and CI, then reads its
// stack file back with the plan's own loader, key check and parser, and plans it.
func TestEveryRuntimeAndCIRenders(t *testing.T) {
	if len(healthPaths) != len(Runtimes) {
		t.Fatalf("the test knows the health files of %d runtimes, init offers %d: %v", len(healthPaths), len(Runtimes), Runtimes)
	}
	for _, runtime := range Runtimes {
		for _, ci := range CIs {
			t.Run(runtime+"/"+ci, func(t *testing.T) {
				dir := projectDir(t, "orders")
				o := options(t, dir, with(minimal, FlagRuntime, runtime, FlagCI, ci, FlagAPISpec, "api/openapi.yaml"))
				res, err := Init(o)
				if err != nil {
					t.Fatal(err)
				}
				want := append(append([]string{"Pulumi.yaml", "Pulumi.dev.yaml"}, ciPaths[ci]...), healthPaths[runtime]...)
				if !slices.Equal(res.Wrote, want) || len(res.Kept) != 0 {
					t.Fatalf("wrote %v, kept %v; want to write %v", res.Wrote, res.Kept, want)
				}

				cfg, err := plan.LoadConfig(dir, "dev")
				if err != nil {
					t.Fatal(err)
				}
				if err := cfg.CheckKeys(); err != nil {
					t.Fatalf("the stack file has keys the program does not know: %v", err)
				}
				parsed, err := stack.Parse(cfg.Source())
				if err != nil {
					t.Fatalf("the stack file does not parse: %v", err)
				}
				got := []string{cfg.Project, parsed.Runtime.Name, parsed.Runtime.Version, parsed.API.Path, parsed.API.Spec, parsed.APIM.PublisherEmail, parsed.Location, parsed.Prefix, parsed.Weights.String()}
				wantCfg := []string{"orders", runtime, stack.FlexRuntimes[runtime].Default, "orders", "api/openapi.yaml", "ops@example.com", "westeurope", "orders", stack.Weights{Green: 100}.String()}
				if !slices.Equal(got, wantCfg) {
					t.Errorf("the stack file reads as %v, want %v", got, wantCfg)
				}
				if _, err := plan.Run("dev", cfg); err != nil {
					t.Errorf("the stack does not plan: %v", err)
				}
				for _, p := range want {
					raw, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
					if err != nil {
						t.Fatal(err)
					}
					if bytes.Contains(raw, []byte("<no value>")) || !bytes.HasSuffix(raw, []byte("\n")) {
						t.Errorf("%s: a missing template value, or no final newline:\n%s", p, raw)
					}
				}
			})
		}
	}
}

// TestStackFileOfEveryRuntimeVersion: each version Flex offers a runtime reaches the program as
// written (a YAML float would turn 8.0 into 8).
func TestStackFileOfEveryRuntimeVersion(t *testing.T) {
	dir := projectDir(t, "orders")
	for _, runtime := range Runtimes {
		for _, v := range stack.FlexRuntimes[runtime].Versions {
			o := options(t, dir, with(minimal, FlagRuntime, runtime, FlagRuntimeVersion, v))
			files, err := Render(o)
			if err != nil {
				t.Fatal(err)
			}
			if err := Check(o, files); err != nil {
				t.Errorf("%s %s: %v", runtime, v, err)
			}
		}
	}
}

// TestCheckCatchesTemplateBugs: files that would not work are refused before anything is
// written. Each case breaks one rendered file as a template bug would.
func TestCheckCatchesTemplateBugs(t *testing.T) {
	dir := projectDir(t, "orders")
	tests := []struct {
		name, path, old, new, want string
	}{
		{"unquoted runtime version", "Pulumi.dev.yaml", `functionRuntimeVersion: "8.0"`, "functionRuntimeVersion: 8.0", `functionRuntimeVersion: "8" is not a Flex Consumption version of dotnet-isolated`},
		{"a key in another namespace", "Pulumi.dev.yaml", "orders:blueWeight", "slotless:blueWeight", "this project is named orders"},
		{"a misspelt key", "Pulumi.dev.yaml", "orders:apiPath", "orders:apiPth", "unknown config key apiPth: did you mean apiPath?"},
		{"no location", "Pulumi.dev.yaml", "azure-native:location: westeurope", "", "azure-native:location: is not set"},
		{"the version not pinned", "Pulumi.yaml", "    version: v1.2.0", "", `version ""; want "orders", "slotless", "v1.2.0"`},
		{"the runtime not slotless", "Pulumi.yaml", "name: slotless", "name: go", `runtime "go"`},
		{"a caller that is not YAML", ".github/workflows/slotless-dev.yml", "jobs:", "jobs: [", "is not a YAML mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := options(t, dir, with(minimal, FlagRuntime, "dotnet-isolated"))
			files, err := Render(o)
			if err != nil {
				t.Fatal(err)
			}
			if err := Check(o, files); err != nil {
				t.Fatalf("the unbroken files: %v", err)
			}
			found := false
			for i, f := range files {
				if f.Path == tt.path && bytes.Contains(f.Content, []byte(tt.old)) {
					files[i].Content = bytes.Replace(f.Content, []byte(tt.old), []byte(tt.new), 1)
					found = true
				}
			}
			if !found {
				t.Fatalf("%s has no %q to break", tt.path, tt.old)
			}
			err = Check(o, files)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestFoldedScalar(t *testing.T) {
	for _, s := range []string{
		DefaultBuild("python", "3.12").Command,
		"make package",
		"a && b",
		"echo 'x: y' && echo \"#not a comment\"",
		"  leading && trailing  ",
		"first line\nsecond && third",
		"true",
	} {
		out, err := foldedScalar(6, s)
		if err != nil {
			t.Fatal(err)
		}
		var back struct{ K struct{ V string } }
		if err := yaml.Unmarshal([]byte("k:\n    v: "+out+"\n"), &back); err != nil || back.K.V != s {
			t.Errorf("%q renders as\n%s\nwhich reads back as %q (%v)", s, out, back.K.V, err)
		}
	}
}
