package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// initDeps are the real deps with the terminal seam set: answers read from stdin, asked only
// when terminal is true.
func initDeps(stdin string, terminal bool) deps {
	d := realDeps()
	d.stdin = strings.NewReader(stdin)
	d.stdinTerminal = func() bool { return terminal }
	return d
}

// files lists the files under dir, slash-separated and sorted.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

var nodeGitHub = []string{".github/workflows/slotless-dev.yml", ".github/workflows/slotless-plan.yml", "Pulumi.dev.yaml", "Pulumi.yaml", "src/functions/health.js"}

func TestInitCommand(t *testing.T) {
	flags := []string{"--runtime", "node", "--publisher-email", "ops@example.com", "--slotless-version", "v1.2.0"}
	tests := []struct {
		name string
		// before are files in the project folder before init.
		before   map[string]string
		args     []string
		stdin    string
		terminal bool
		code     int
		stdout   []string
		stderr   []string
		files    []string
	}{
		{
			name: "flags only", args: flags, code: 0,
			stdout: []string{"slotless init: project orders, stack dev, node 22, CI github, slotless v1.2.0", "wrote:\n  Pulumi.yaml\n  Pulumi.dev.yaml\n", "pulumi stack init dev", `pulumi config set --secret pinToken "$(openssl rand -hex 24)"`, "slotless deploy --stack dev --slot blue --package app.zip --version v0.1.0", "slotless release --stack dev --slot blue --version v0.1.0"},
			files:  nodeGitHub,
		},
		{
			name: "no CI, dotnet", args: []string{"--runtime", "dotnet-isolated", "--ci", "none", "--publisher-email", "ops@example.com", "--slotless-version", "v1.2.0"}, code: 0,
			stdout: []string{"dotnet-isolated 8.0, CI none", "Health.cs compiles with the isolated worker project"},
			files:  []string{"Health.cs", "Pulumi.dev.yaml", "Pulumi.yaml"},
		},
		{
			name: "no terminal: a value without a default is a usage error", args: []string{"--publisher-email", "ops@example.com", "--slotless-version", "v1.2.0"}, code: 2,
			stderr: []string{"slotless: init: --runtime: required, want one of dotnet-isolated, node, python, java, powershell", "Run 'slotless init --help' for usage."},
		},
		{
			name: "a development build must be given the version", args: []string{"--runtime", "node", "--publisher-email", "ops@example.com"}, code: 2,
			stderr: []string{"init: --slotless-version: required: this slotless is a development build", "pass the release the team installs, e.g. --slotless-version v1.2.0"},
		},
		{
			name: "bad CI", args: append([]string{"--ci", "jenkins"}, flags...), code: 2,
			stderr: []string{`init: --ci: "jenkins" is not one of github, azure-devops, none`},
		},
		{
			name: "bad runtime version", args: append([]string{"--runtime-version", "18"}, flags...), code: 2,
			stderr: []string{`init: --runtime-version: "18" is not a Flex Consumption version of node, want one of 20, 22`},
		},
		{
			name: "stray argument", args: append([]string{"orders"}, flags...), code: 2,
			stderr: []string{`init: unexpected argument "orders"`},
		},
		{
			name:   "files in the way: nothing written, each named",
			before: map[string]string{"Pulumi.yaml": "name: orders\nruntime: go\n", "src/functions/health.js": "// ours\n"},
			args:   flags, code: 2,
			stderr: []string{"init: nothing written: 2 file(s) in", "slotless init never overwrites one", "\n  Pulumi.yaml: exists with other content\n", "\n  src/functions/health.js: exists with other content"},
			files:  []string{"Pulumi.yaml", "src/functions/health.js"},
		},
		{
			name: "a terminal: asked for what is not given, defaults shown", args: []string{"--slotless-version", "v1.2.0"}, terminal: true,
			// project, stack, runtime, runtime version, api path, api spec, build, package, ci, location, e-mail
			stdin: "\nprod\npython\n3.11\n\n\n\n\nazure-devops\nnortheurope\nops@example.com\n", code: 0,
			stdout: []string{"project orders, stack prod, python 3.11, CI azure-devops", "from health_blueprint import bp as health_bp"},
			stderr: []string{"Pulumi project name [orders]: ", "Functions runtime (dotnet-isolated, node, python, java, powershell): ", "Runtime version (3.10, 3.11, 3.12, 3.13) [3.12]: "},
			files:  []string{"Pulumi.prod.yaml", "Pulumi.yaml", "azure-pipelines/slotless-prod-infra.yml", "azure-pipelines/slotless-prod-release.yml", "azure-pipelines/slotless-prod-watch.yml", "health_blueprint.py"},
		},
		{
			name: "a terminal whose input ends", args: []string{"--slotless-version", "v1.2.0"}, terminal: true, stdin: "\n\n", code: 2,
			stderr: []string{`init: --runtime: no answer to "Functions runtime"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "orders")
			for p, content := range tt.before {
				if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, p), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var out, errb bytes.Buffer
			code := runWith(initDeps(tt.stdin, tt.terminal), append([]string{"init", "--dir", dir}, tt.args...), &out, &errb)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out.String(), errb.String())
			}
			for _, want := range tt.stdout {
				if !strings.Contains(out.String(), want) {
					t.Errorf("stdout: got\n%s\nwant it to contain %q", out.String(), want)
				}
			}
			for _, want := range tt.stderr {
				if !strings.Contains(errb.String(), want) {
					t.Errorf("stderr: got\n%s\nwant it to contain %q", errb.String(), want)
				}
			}
			if _, err := os.Stat(dir); err != nil && tt.files == nil {
				return
			}
			if got := files(t, dir); !slices.Equal(got, tt.files) {
				t.Errorf("files: got %v, want %v", got, tt.files)
			}
			for p, content := range tt.before {
				if raw, _ := os.ReadFile(filepath.Join(dir, p)); string(raw) != content {
					t.Errorf("%s was overwritten", p)
				}
			}
		})
	}
}

// TestInitThenPlan: slotless plan works in the folder init made, reading its config in the
// project's namespace: a --set of blueWeight moves the traffic line, the same key in another
// project's namespace is refused.
func TestInitThenPlan(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "orders")
	var out, errb bytes.Buffer
	d := initDeps("", false)
	d.version = "v1.2.0"
	if code := runWith(d, []string{"init", "--dir", dir, "--runtime", "node", "--publisher-email", "ops@example.com"}, &out, &errb); code != 0 {
		t.Fatalf("init: exit %d\n%s", code, errb.String())
	}
	if raw, _ := os.ReadFile(filepath.Join(dir, "Pulumi.yaml")); !strings.Contains(string(raw), "    version: v1.2.0\n") {
		t.Errorf("Pulumi.yaml does not pin this binary's version v1.2.0:\n%s", raw)
	}
	tests := []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{nil, 0, "stack dev: traffic green 100% / blue 0%, live green", ""},
		{[]string{"--set", "blueWeight=10"}, 0, "stack dev: traffic green 90% / blue 10%, live green", ""},
		{[]string{"--set", "orders:blueWeight=60"}, 0, "stack dev: traffic green 40% / blue 60%, live blue", ""},
		{[]string{"--set", "slotless:blueWeight=10"}, 1, "", "config key slotless:blueWeight: this project is named orders (Pulumi.yaml), so the program reads orders:blueWeight"},
		{[]string{"--stack", "prod"}, 2, "", `stack "prod": no Pulumi.prod.yaml`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			code := runWith(realDeps(), append([]string{"plan", "--dir", dir, "--stack", "dev"}, tt.args...), &out, &errb)
			if code != tt.code || !strings.Contains(out.String(), tt.stdout) || !strings.Contains(errb.String(), tt.stderr) {
				t.Errorf("exit %d, want %d\nstdout:\n%.400s\nwant %q\nstderr:\n%s\nwant %q", code, tt.code, out.String(), tt.stdout, errb.String(), tt.stderr)
			}
		})
	}
	// The resources are named with the project's prefix, not slotless's.
	out.Reset()
	runWith(realDeps(), []string{"plan", "--dir", dir, "--stack", "dev"}, &out, &errb)
	if !strings.Contains(out.String(), `resourceGroupName = "orders-dev-rg"`) {
		t.Errorf("the plan does not name the resource group orders-dev-rg:\n%.2000s", out.String())
	}
}

// TestInitSecondStack: init of another stack in the same repository adds its files and keeps
// the shared ones.
func TestInitSecondStack(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "orders")
	base := []string{"init", "--dir", dir, "--runtime", "node", "--publisher-email", "ops@example.com", "--slotless-version", "v1.2.0"}
	var out, errb bytes.Buffer
	if code := runWith(initDeps("", false), base, &out, &errb); code != 0 {
		t.Fatalf("init dev: exit %d\n%s", code, errb.String())
	}
	out.Reset()
	if code := runWith(initDeps("", false), append(base, "--stack", "prod"), &out, &errb); code != 0 {
		t.Fatalf("init prod: exit %d\n%s", code, errb.String())
	}
	for _, want := range []string{
		"wrote:\n  Pulumi.prod.yaml\n  .github/workflows/slotless-prod.yml\n",
		"kept (already there, the same):\n  Pulumi.yaml\n  .github/workflows/slotless-plan.yml\n  src/functions/health.js\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("stdout: got\n%s\nwant it to contain %q", out.String(), want)
		}
	}
	want := append(slices.Clone(nodeGitHub), ".github/workflows/slotless-prod.yml", "Pulumi.prod.yaml")
	slices.Sort(want)
	if got := files(t, dir); !slices.Equal(got, want) {
		t.Errorf("files: got %v, want %v", got, want)
	}
	for _, stack := range []string{"dev", "prod"} {
		if code := runWith(realDeps(), []string{"plan", "--dir", dir, "--stack", stack}, &out, &errb); code != 0 {
			t.Errorf("plan --stack %s: exit %d\n%s", stack, code, errb.String())
		}
	}
}
