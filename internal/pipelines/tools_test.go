package pipelines

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pathWithout builds a PATH with every command of the current one except those named, as
// symbolic links in one directory, so a test can run make as on a machine that lacks them.
func pathWithout(t *testing.T, names ...string) string {
	t.Helper()
	farm := t.TempDir()
	skip := map[string]bool{}
	for _, n := range names {
		skip[n] = true
	}
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			link := filepath.Join(farm, e.Name())
			if skip[e.Name()] || e.IsDir() {
				continue
			}
			if _, err := os.Lstat(link); err == nil {
				continue // an earlier PATH entry wins, as in a shell
			}
			if err := os.Symlink(filepath.Join(dir, e.Name()), link); err != nil {
				t.Fatal(err)
			}
		}
	}
	return farm
}

// TestPipelinesLintFetchesShellcheck runs `make pipelines-lint` with shellcheck absent from PATH:
// the target must fetch Debian's package itself, hand it to actionlint, and lint the scripts.
// It needs apt's package lists and a Debian mirror, as make test does on such a machine.
func TestPipelinesLintFetchesShellcheck(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads Debian's shellcheck package and runs actionlint")
	}
	for _, tool := range []string{"make", "apt-get", "dpkg-deb", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed: shellcheck is fetched only on Debian-based systems", tool)
		}
	}
	path := pathWithout(t, "shellcheck")
	tools := t.TempDir()
	cmd := exec.Command("make", "--no-print-directory", "pipelines-lint", "TOOLS="+tools)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "PATH="+path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "apt-get download failed") {
			t.Skipf("apt cannot download here (no package lists or no mirror):\n%s", out)
		}
		t.Fatalf("make pipelines-lint without shellcheck on PATH: %v\n%s", err, out)
	}
	fetched := filepath.Join(tools, "usr", "bin", "shellcheck")
	for _, want := range []string{
		"shellcheck is not on PATH; fetching Debian's package",
		"-shellcheck=" + fetched + " .github/workflows/",
		fetched + " scripts/",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("got\n%s\nwant it to contain %q", out, want)
		}
	}
	if v, err := exec.Command(fetched, "--version").Output(); err != nil || !strings.Contains(string(v), "ShellCheck") {
		t.Errorf("%s --version: got %q, %v", fetched, v, err)
	}
}
