package dist_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slotless/slotless/internal/dist"
	"github.com/slotless/slotless/internal/dist/disttest"
)

// installer runs the repository's install.sh in dir with SLOTLESS_DOWNLOAD_URL set, and
// returns its stdout, stderr and exit code.
func installer(t *testing.T, dir, url string, args ...string) (string, string, int) {
	t.Helper()
	return installerEnv(t, dir, []string{"SLOTLESS_DOWNLOAD_URL=" + url}, args...)
}

func installerEnv(t *testing.T, dir string, env []string, args ...string) (string, string, int) {
	t.Helper()
	requireTools(t, "bash", "tar", "awk")
	if _, err := exec.LookPath("curl"); err != nil {
		requireTools(t, "wget")
	}
	if _, err := exec.LookPath("sha256sum"); err != nil {
		requireTools(t, "shasum")
	}
	script := filepath.Join(disttest.Root(t), dist.Installer)
	cmd := exec.Command("bash", append([]string{script}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

func sha256Of(t *testing.T, path string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// TestInstallRealRelease installs the release `make dist` built, served as GitHub serves one.
func TestInstallRealRelease(t *testing.T) {
	dir := realRelease(t)
	r := disttest.NewRelease(t)
	r.Serve(t, testVersion, dir)
	dest := filepath.Join(t.TempDir(), "slotless")
	stdout, stderr, code := installer(t, t.TempDir(), r.URL(), testVersion, dest)
	if code != 0 {
		t.Fatalf("install.sh: exit %d\n%s", code, stderr)
	}
	if stdout != dest+"/bin\n" {
		t.Errorf("stdout: got %q, want %q (DEST/bin alone)", stdout, dest+"/bin\n")
	}
	out, err := exec.Command(filepath.Join(dest, "bin", "slotless"), "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "slotless "+testVersion+" (") {
		t.Errorf("DEST/bin/slotless version: got %q, %v", out, err)
	}
	a, errA := os.Stat(filepath.Join(dest, "bin", "slotless"))
	b, errB := os.Stat(filepath.Join(dest, "bin", "pulumi-language-slotless"))
	if errA != nil || errB != nil || !os.SameFile(a, b) {
		t.Errorf("DEST/bin/pulumi-language-slotless: got %v, %v, want the same file as slotless", errA, errB)
	}
	if st, err := os.Stat(filepath.Join(dest, "ci", "traffic-drift.sh")); err != nil || st.Mode()&0o100 == 0 {
		t.Errorf("DEST/ci/traffic-drift.sh: got %v, %v, want an executable script", st, err)
	}
	left, _ := filepath.Glob(filepath.Join(dest, ".install.*"))
	if len(left) > 0 {
		t.Errorf("DEST: got %v left behind, want the staging folder removed", left)
	}
}

// TestInstallScript runs install.sh against fake releases made with the archiver, one way in
// which an install must go through or be refused at a time.
func TestInstallScript(t *testing.T) {
	host := disttest.Host()
	archive := host.ArchiveName("v1.2.0")
	cases := []struct {
		name string
		// setup adds releases to r and files to the working directory cwd.
		setup func(t *testing.T, r *disttest.Release, cwd string)
		// version is install.sh's first argument.
		version string
		// wantVersion is what DEST/bin/slotless prints after the install; "" wants a refusal.
		wantVersion string
		// wantErr are parts of stderr; {cwd}, {url}, {want} and {got} (the sums of the archive
		// in SHA256SUMS and as served) are filled in.
		wantErr []string
	}{
		{
			name:        "version given",
			setup:       func(t *testing.T, r *disttest.Release, _ string) { r.Add(t, disttest.Fake{Version: "v1.2.0"}) },
			version:     "v1.2.0",
			wantVersion: "v1.2.0",
			wantErr:     []string{"slotless v1.2.0 for " + host.String() + " from {url}/v1.2.0/"},
		},
		{
			name: "version pinned by Pulumi.yaml",
			setup: func(t *testing.T, r *disttest.Release, cwd string) {
				r.Add(t, disttest.Fake{Version: "v1.2.0"})
				disttest.PulumiYAML(t, cwd, "v1.2.0")
			},
			wantVersion: "v1.2.0",
			wantErr:     []string{"version v1.2.0, pinned by {cwd}/Pulumi.yaml (runtime.options.version)"},
		},
		{
			name: "tampered archive",
			setup: func(t *testing.T, r *disttest.Release, _ string) {
				r.Add(t, disttest.Fake{Version: "v1.2.0"})
				f, err := os.OpenFile(r.Path("v1.2.0", archive), os.O_APPEND|os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				f.Write([]byte("tampered"))
				f.Close()
			},
			version: "v1.2.0",
			wantErr: []string{"checksum mismatch for " + archive + ": SHA256SUMS says {want}, the download is {got}; refusing it"},
		},
		{
			name: "archive missing from SHA256SUMS",
			setup: func(t *testing.T, r *disttest.Release, _ string) {
				r.Add(t, disttest.Fake{Version: "v1.2.0"})
				r.WriteSums(t, "v1.2.0", dist.InstallerName)
			},
			version: "v1.2.0",
			wantErr: []string{"{url}/v1.2.0/SHA256SUMS has no line for " + archive + ": refusing"},
		},
		{
			name: "binary of another version",
			setup: func(t *testing.T, r *disttest.Release, _ string) {
				r.Add(t, disttest.Fake{Version: "v1.2.0", Prints: "slotless v1.1.0 (go1.26, " + host.String() + ")"})
			},
			version: "v1.2.0",
			wantErr: []string{`says "slotless v1.1.0 (go1.26, ` + host.String() + `)", want slotless v1.2.0: refusing it`},
		},
		{
			name:    "Pulumi.yaml pins no version",
			setup:   func(t *testing.T, _ *disttest.Release, cwd string) { disttest.PulumiYAML(t, cwd, "") },
			wantErr: []string{"no VERSION given, and {cwd}/Pulumi.yaml has no runtime.options.version: pin one"},
		},
		{
			name:    "no Pulumi.yaml",
			setup:   func(*testing.T, *disttest.Release, string) {},
			wantErr: []string{"no VERSION given, and no Pulumi.yaml in {cwd} to read runtime.options.version from"},
		},
		{
			name:    "not semver",
			setup:   func(*testing.T, *disttest.Release, string) {},
			version: "1.2",
			wantErr: []string{`version "1.2" is not v<semver>`},
		},
		{
			name:    "not released",
			setup:   func(t *testing.T, r *disttest.Release, _ string) { r.Add(t, disttest.Fake{Version: "v1.2.0"}) },
			version: "v1.3.0",
			wantErr: []string{"download of {url}/v1.3.0/SHA256SUMS failed"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := disttest.NewRelease(t)
			cwd := t.TempDir()
			c.setup(t, r, cwd)
			dest := filepath.Join(t.TempDir(), "tools")
			stdout, stderr, code := installer(t, cwd, r.URL(), c.version, dest)
			fill := strings.NewReplacer("{cwd}", cwd, "{url}", r.URL())
			if c.wantVersion == "" {
				if code == 0 {
					t.Fatalf("got success (stdout %q), want a refusal", stdout)
				}
				var want, got string
				if _, err := os.Stat(r.Path("v1.2.0", archive)); err == nil {
					sums, _ := os.ReadFile(r.Path("v1.2.0", dist.SumsFile))
					for _, l := range strings.Split(string(sums), "\n") {
						if sum, name, _ := strings.Cut(l, "  "); name == archive {
							want = sum
						}
					}
					got = sha256Of(t, r.Path("v1.2.0", archive))
				}
				fill = strings.NewReplacer("{cwd}", cwd, "{url}", r.URL(), "{want}", want, "{got}", got)
				if _, err := os.Stat(filepath.Join(dest, "bin")); err == nil {
					t.Errorf("refused, but DEST/bin exists: a refused install must leave DEST as it was")
				}
			} else {
				if code != 0 {
					t.Fatalf("exit %d, want success\n%s", code, stderr)
				}
				if stdout != dest+"/bin\n" {
					t.Errorf("stdout: got %q, want %q", stdout, dest+"/bin\n")
				}
				out, err := exec.Command(filepath.Join(dest, "bin", "slotless"), "version").Output()
				if err != nil || !strings.HasPrefix(string(out), "slotless "+c.wantVersion+" ") {
					t.Errorf("DEST/bin/slotless version: got %q, %v, want slotless %s", out, err, c.wantVersion)
				}
			}
			for _, w := range c.wantErr {
				if w := fill.Replace(w); !strings.Contains(stderr, w) {
					t.Errorf("stderr:\n%s\nwant it to contain %q", stderr, w)
				}
			}
		})
	}
}

// TestInstallUpgrades installs over an older version: the binaries and ci/ are the new
// release's, with nothing of the old ci/ left.
func TestInstallUpgrades(t *testing.T) {
	r := disttest.NewRelease(t)
	r.Add(t, disttest.Fake{Version: "v1.1.0"})
	r.Add(t, disttest.Fake{Version: "v1.2.0"})
	dest := filepath.Join(t.TempDir(), "tools")
	for _, v := range []string{"v1.1.0", "v1.2.0"} {
		if v == "v1.2.0" {
			if err := os.WriteFile(filepath.Join(dest, "ci", "stale.sh"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if _, stderr, code := installer(t, t.TempDir(), r.URL(), v, dest); code != 0 {
			t.Fatalf("install %s: exit %d\n%s", v, code, stderr)
		}
	}
	out, _ := exec.Command(filepath.Join(dest, "bin", "pulumi-language-slotless"), "version").Output()
	if !strings.HasPrefix(string(out), "slotless v1.2.0 ") {
		t.Errorf("after the upgrade, pulumi-language-slotless version: got %q, want v1.2.0", out)
	}
	if _, err := os.Stat(filepath.Join(dest, "ci", "stale.sh")); err == nil {
		t.Errorf("ci/stale.sh survived the upgrade: want ci/ to be the new release's")
	}
}

// awks are the awk programs on this machine, each as a PATH folder where it is `awk`: Debian's
// mawk, GNU awk (Git Bash's), and the one true awk (macOS's), when installed.
func awks(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, name := range []string{"mawk", "gawk", "original-awk", "nawk", "awk"} {
		path, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		real, err := filepath.EvalSymlinks(path)
		if err != nil || out[real] != "" {
			continue
		}
		dir := t.TempDir()
		if err := os.Symlink(real, filepath.Join(dir, "awk")); err != nil {
			t.Fatal(err)
		}
		out[real] = dir
	}
	return out
}

// TestInstallResolvesThePin reads every spelling of a pin through `install.sh --resolve`, with
// every awk the machine has.
func TestInstallResolvesThePin(t *testing.T) {
	for awk, dir := range awks(t) {
		for _, c := range disttest.PinCases {
			t.Run(filepath.Base(awk)+"/"+c.Name, func(t *testing.T) {
				cwd := t.TempDir()
				if err := os.WriteFile(filepath.Join(cwd, "Pulumi.yaml"), []byte(c.File), 0o644); err != nil {
					t.Fatal(err)
				}
				env := []string{"PATH=" + dir + string(filepath.ListSeparator) + os.Getenv("PATH")}
				stdout, stderr, code := installerEnv(t, cwd, env, "--resolve")
				if c.Want == "" {
					if code == 0 || !strings.Contains(stderr, "has no runtime.options.version") {
						t.Errorf("got exit %d, %q, %q; want a refusal naming runtime.options.version", code, stdout, stderr)
					}
					return
				}
				if code != 0 || stdout != c.Want+"\n" {
					t.Errorf("got exit %d, %q (%s), want %q", code, stdout, stderr, c.Want)
				}
			})
		}
	}
	stdout, _, code := installer(t, t.TempDir(), "http://unused.invalid", "--resolve", "v2.0.0")
	if code != 0 || stdout != "v2.0.0\n" {
		t.Errorf("--resolve v2.0.0: got %d, %q, want the given version", code, stdout)
	}
	if _, stderr, code := installer(t, t.TempDir(), "http://unused.invalid", "v1.2.0"); code != 2 || !strings.Contains(stderr, "usage: install.sh VERSION DEST") {
		t.Errorf("one argument: got exit %d, %q, want 2 and the usage", code, stderr)
	}
}
