package scaffold

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestNextStepsBuildRuns runs the build line the next steps print, pasted into bash as a user
// would: it builds the first package with its version, and leaves the shell in the project
// folder although the .NET build changes folder on its way.
func TestNextStepsBuildRuns(t *testing.T) {
	for _, tool := range []string{"bash", "zip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	dir := projectDir(t, "orders")
	res, err := Init(options(t, dir, with(minimal, FlagRuntime, "dotnet-isolated")))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	res.Print(&out)
	var line string
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "(export VERSION=") {
			line = strings.TrimSpace(l)
		}
	}
	if line == "" {
		t.Fatalf("the next steps print no build line:\n%s", out.String())
	}
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "dotnet"), []byte(shims["dotnet-isolated"]), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "-c", line+"\npwd")
	cmd.Dir = dir
	cmd.Env = buildEnv(bin)
	pwd, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	if got := strings.TrimSpace(string(pwd)); got != dir {
		t.Errorf("after the build the shell is in %s, want %s", got, dir)
	}
	stamped, err := os.ReadFile(filepath.Join(unzip(t, filepath.Join(dir, DefaultPackage)), VersionFile))
	if err != nil || string(stamped) != firstVersion+"\n" {
		t.Errorf("VERSION: got %q (%v), want %s", stamped, err, firstVersion)
	}
	for _, want := range []string{"slotless deploy --stack dev --slot blue --package app.zip --version " + firstVersion, "slotless release --stack dev --slot blue --version " + firstVersion} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the next steps do not say %q:\n%s", want, out.String())
		}
	}
}

// TestPrintNamesTheRepositoryRoot: callers written outside the project folder are said to be.
func TestPrintNamesTheRepositoryRoot(t *testing.T) {
	dir := inGitRepo(t)
	res, err := Init(options(t, dir, minimal))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	res.Print(&out)
	root := filepath.Dir(filepath.Dir(dir))
	for _, want := range []string{
		"the CI callers go to the root of the git repository that holds the project, " + root + ", and work in services/orders\n",
		"\n  ../../.github/workflows/slotless-dev.yml\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("got\n%s\nwant it to contain %q", out.String(), want)
		}
	}
}
