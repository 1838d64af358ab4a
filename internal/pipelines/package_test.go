package pipelines

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slotless/slotless/internal/deploy/deploytest"
)

// TestCheckPackage: the pipelines' package check passes a zip with host.json at its root and
// refuses, naming the reason, a missing file, a file that is not a zip, and a zip whose
// host.json is not at the root.
func TestCheckPackage(t *testing.T) {
	dir := t.TempDir()
	zipOf := func(name string, files ...string) string {
		return deploytest.Zip(t, filepath.Join(dir, name), files...)
	}
	notZip := filepath.Join(dir, "app.tar.gz")
	if err := os.WriteFile(notZip, []byte("\x1f\x8b not a zip"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, path, want string }{
		{"a Functions package", zipOf("good.zip", "host.json", "health/function.json", "handler"), "host.json at the root"},
		{"missing", filepath.Join(dir, "nothing.zip"), "no such file"},
		{"not a zip", notZip, "not a zip archive"},
		{"host.json in a folder", zipOf("nested.zip", "app/host.json", "app/health/function.json"), "no host.json at the root"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command("bash", filepath.Join(root, "scripts", "check-package.sh"), tt.path)
			cmd.Env = append(os.Environ(), "TF_BUILD=", "GITHUB_ACTIONS=")
			out, err := cmd.CombinedOutput()
			if ok := tt.want == "host.json at the root"; (err == nil) != ok || !strings.Contains(string(out), tt.want) {
				t.Errorf("check-package.sh %s: got %v\n%s\nwant it to say %q", filepath.Base(tt.path), err, out, tt.want)
			}
		})
	}
}

// TestReleasesBuildThePackageTheyAreGiven: both release definitions build with the command they
// are given, in the project's folder, and publish the zip they are told to, check it before
// publishing and again before deploying, and deploy it with slotless deploy; this repository's
// callers give them the sample's build script and zip.
func TestReleasesBuildThePackageTheyAreGiven(t *testing.T) {
	for _, f := range []string{ghRelease, adoReleaseTemplate} {
		text := string(readFile(t, f))
		if !strings.Contains(text, `"$BUILD"`) {
			t.Errorf("%s: no \"$BUILD\": the build command is not run", f)
		}
		if n := len(ciScript("check-package").FindAllString(text, -1)); n != 2 {
			t.Errorf("%s: checks the package %d times, want twice (after the build, before the deploy)", f, n)
		}
		for _, sample := range []string{"make -C functionapp package", "scripts/build-package.sh", "functionapp/dist/functionapp.zip"} {
			if strings.Contains(text, sample) {
				t.Errorf("%s: names the sample's %s; a team's release must build what its caller says", f, sample)
			}
		}
		// The deploy goes through slotless deploy, which refuses a slot that carries traffic.
		if !strings.Contains(text, `slotless deploy --stack "$STACK" --slot "$IDLE" --package "$package" --version "$VERSION"`) || strings.Contains(text, "config-zip") {
			t.Errorf("%s: want the idle slot deployed with slotless deploy, and no config-zip", f)
		}
	}
	for _, f := range []string{ghReleaseCaller, adoReleaseCaller} {
		text := string(readFile(t, f))
		for _, want := range []string{"scripts/build-package.sh", "functionapp/dist/functionapp.zip"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s: no %q", f, want)
			}
		}
	}
}
