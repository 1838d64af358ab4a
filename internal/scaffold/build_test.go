package scaffold

import (
	"archive/zip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// buildEnv is the environment of a build without VERSION, with bin first on PATH.
func buildEnv(bin string) []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "VERSION=") || strings.HasPrefix(kv, "PATH=")
	})
	return append(env, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// shims stand in for the toolchains this machine lacks: each checks it is called as the
// default build calls it, and lays out its output as the real tool does, so the rest of the
// build (the VERSION stamp and the zip) runs for real.
var shims = map[string]string{
	"dotnet-isolated": `#!/bin/sh
# dotnet publish -c Release -o DIR, as for an isolated worker app: DIR holds host.json and the app.
[ "$*" = "publish -c Release -o bin/publish" ] || { echo "dotnet shim: unexpected arguments: $*" >&2; exit 1; }
mkdir -p bin/publish && echo '{"version": "2.0"}' > bin/publish/host.json && echo app > bin/publish/Orders.dll
`,
	"java": `#!/bin/sh
# mvn clean package with azure-functions-maven-plugin: the app staged in target/azure-functions/<app>/.
[ "$*" = "-B clean package" ] || { echo "mvn shim: unexpected arguments: $*" >&2; exit 1; }
rm -rf target && mkdir -p target/azure-functions/orders-app/lib &&
  echo '{"version": "2.0"}' > target/azure-functions/orders-app/host.json &&
  echo jar > target/azure-functions/orders-app/orders-1.0.jar
`,
}

// appFiles are what each runtime's app holds besides the health function, for its build.
var appFiles = map[string]map[string]string{
	"node": {
		"host.json": `{"version": "2.0"}`,
		// @azure/functions is the stand-in, as a local dependency npm installs into node_modules.
		"package.json":                        `{"name": "orders", "version": "0.0.0", "main": "src/functions/*.js", "scripts": {"build": "node -e \"require('fs').writeFileSync('built.txt', 'yes')\""}, "dependencies": {"@azure/functions": "file:vendor/azure-functions"}}`,
		"vendor/azure-functions/package.json": `{"name": "@azure/functions", "version": "4.0.0", "main": "index.js"}`,
	},
	"python": {
		"host.json":       `{"version": "2.0"}`,
		"function_app.py": "import azure.functions as func\n",
		// No dependency: pip cannot reach PyPI here.
		"requirements.txt": "# no dependencies\n",
	},
	"powershell": {"host.json": `{"version": "2.0"}`},
}

// packageRoots are files each package must hold at its root, besides VERSION.
var packageRoots = map[string][]string{
	"node":            {"host.json", "package.json", "built.txt", "src/functions/health.js", "node_modules/@azure/functions/index.js"},
	"python":          {"host.json", "function_app.py", "health_blueprint.py"},
	"dotnet-isolated": {"host.json", "Orders.dll"},
	"java":            {"host.json", "orders-1.0.jar"},
	"powershell":      {"host.json", "health/function.json", "health/run.ps1"},
}

// TestDefaultBuildsStampTheVersion runs each runtime's default build command, as the pipelines
// run it (bash, in the project folder, VERSION set), on a repository init wrote, for the
// versions the pipelines compute. Node's runs npm for real, Python's pip and PowerShell's
// nothing but the zip; .NET's and Java's compilers are not on this machine, so shims lay out
// their output and the stamp and the zip run for real. The package must hold VERSION at its
// root, with the version, and none of the repository's own files; where the health function
// can run here, it is served from the unzipped package and answers that version to the gate.
func TestDefaultBuildsStampTheVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("runs npm, pip and zip")
	}
	for _, tool := range []string{"bash", "zip", "npm", "python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	for _, runtime := range Runtimes {
		for _, version := range []string{"v1.2.0", "run42.abc1234"} {
			t.Run(runtime+"/"+version, func(t *testing.T) {
				dir := projectDir(t, "orders")
				o := options(t, dir, with(minimal, FlagRuntime, runtime))
				if _, err := Init(o); err != nil {
					t.Fatal(err)
				}
				for p, content := range appFiles[runtime] {
					writeFile(t, filepath.Join(dir, p), content)
				}
				bin := t.TempDir()
				if shim, ok := shims[runtime]; ok {
					name := map[string]string{"dotnet-isolated": "dotnet", "java": "mvn"}[runtime]
					if err := os.WriteFile(filepath.Join(bin, name), []byte(shim), 0o755); err != nil {
						t.Fatal(err)
					}
				}
				if runtime == "node" {
					copyTree(t, testdata(t, "node", "stub", "@azure", "functions"), filepath.Join(dir, "vendor", "azure-functions"))
					run(t, dir, nil, "npm", "install", "--package-lock-only", "--offline", "--no-audit", "--no-fund")
				}

				cmd := exec.Command("bash", "-c", o.BuildCommand)
				cmd.Dir = dir
				cmd.Env = append(buildEnv(bin), "VERSION="+version)
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("the build: %v\n%s", err, out)
				}

				unzipped := unzip(t, filepath.Join(dir, filepath.FromSlash(o.Package)))
				stamped, err := os.ReadFile(filepath.Join(unzipped, VersionFile))
				if err != nil || string(stamped) != version+"\n" {
					t.Errorf("VERSION at the package root: got %q (%v), want %q", stamped, err, version+"\n")
				}
				for _, p := range packageRoots[runtime] {
					if _, err := os.Stat(filepath.Join(unzipped, p)); err != nil {
						t.Errorf("the package has no %s", p)
					}
				}
				for _, p := range []string{"Pulumi.yaml", "Pulumi.dev.yaml", ".github", "app.zip"} {
					if _, err := os.Stat(filepath.Join(unzipped, p)); err == nil {
						t.Errorf("the package holds %s, which is not the app's", p)
					}
				}
				hr, ok := healthRuntimes[runtime]
				if !ok {
					return
				}
				if _, err := exec.LookPath(hr.tool); err != nil {
					t.Logf("%s is not installed: the package's health function is not served", hr.tool)
					return
				}
				serve := hr.setup(t)(t, unzipped)
				serve.Env = append(os.Environ(), "SLOT_NAME=blue")
				s := startServer(t, serve)
				checkHealthAnswer(t, "http://127.0.0.1:"+strconv.Itoa(s.Port)+"/api/health", version)
			})
		}
	}
}

// TestDefaultBuildsRequireVersion: without VERSION every default build stops at once, before
// anything is built, rather than package an app that answers with no version.
func TestDefaultBuildsRequireVersion(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is not installed")
	}
	for _, runtime := range Runtimes {
		t.Run(runtime, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command("bash", "-c", DefaultBuild(runtime, "1").Command)
			cmd.Dir = dir
			cmd.Env = buildEnv(t.TempDir())
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), "VERSION: set VERSION to the version the health gate expects") {
				t.Errorf("got %v\n%s\nwant a failure naming VERSION", err, out)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("the build wrote %v before failing", entries)
			}
		})
	}
}

// unzip extracts a zip into a new folder.
func unzip(t *testing.T, path string) string {
	t.Helper()
	r, err := zip.OpenReader(path)
	if err != nil {
		t.Fatalf("the package: %v", err)
	}
	defer r.Close()
	out := t.TempDir()
	for _, f := range r.File {
		if f.FileInfo().IsDir() {
			continue
		}
		if !filepath.IsLocal(f.Name) {
			t.Fatalf("the package holds %s, outside its root", f.Name)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		raw := new(strings.Builder)
		if _, err := io.Copy(raw, rc); err != nil {
			t.Fatal(err)
		}
		rc.Close()
		writeFile(t, filepath.Join(out, filepath.FromSlash(f.Name)), raw.String())
	}
	return out
}
