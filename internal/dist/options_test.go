package dist

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestCheckVersion(t *testing.T) {
	cases := []struct {
		v    string
		want string // part of the error; "" accepts
	}{
		{"v1.2.3", ""},
		{"v0.0.1", ""},
		{"v1.2.3-rc.1", ""},
		{"v10.20.30-alpha.beta-1", ""},
		{"", "VERSION is missing"},
		{"1.2.3", "not v<semver>"},
		{"v1.2", "not v<semver>"},
		{"v1", "not v<semver>"},
		{"v1.2.3+build.7", "not v<semver>"},
		{"v01.2.3", "not v<semver>"},
		{"v1.2.3 ", "not v<semver>"},
		{"latest", "not v<semver>"},
	}
	for _, c := range cases {
		err := CheckVersion(c.v)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("CheckVersion(%q): got %v, want nil", c.v, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("CheckVersion(%q): got %v, want an error with %q", c.v, err, c.want)
		}
	}
}

func TestParsePlatforms(t *testing.T) {
	cases := []struct {
		in   string
		want []Platform
		err  string
	}{
		{"", Supported, ""},
		{"  ", Supported, ""},
		{"linux/amd64", []Platform{{"linux", "amd64"}}, ""},
		{"linux/amd64 darwin/arm64", []Platform{{"linux", "amd64"}, {"darwin", "arm64"}}, ""},
		{"windows/arm64,linux/arm64", []Platform{{"windows", "arm64"}, {"linux", "arm64"}}, ""},
		{"linux/386", nil, `"linux/386" is not one of linux/amd64 linux/arm64`},
		{"linux", nil, `"linux" is not one of`},
		{"freebsd/amd64", nil, "is not one of"},
		{"linux/amd64 linux/amd64", nil, "given twice"},
	}
	for _, c := range cases {
		got, err := ParsePlatforms(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParsePlatforms(%q): got %v, %v, want an error with %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("ParsePlatforms(%q): got %v, %v, want %v", c.in, got, err, c.want)
		}
	}
}

func TestArchiveNames(t *testing.T) {
	cases := []struct {
		p    Platform
		want string
	}{
		{Platform{"linux", "amd64"}, "slotless_v1.2.3_linux_amd64.tar.gz"},
		{Platform{"darwin", "arm64"}, "slotless_v1.2.3_darwin_arm64.tar.gz"},
		{Platform{"windows", "amd64"}, "slotless_v1.2.3_windows_amd64.zip"},
	}
	for _, c := range cases {
		if got := c.p.ArchiveName("v1.2.3"); got != c.want {
			t.Errorf("%v: got %q, want %q", c.p, got, c.want)
		}
	}
}

func TestSourceDate(t *testing.T) {
	root := filepath.Join("..", "..")
	head, err := exec.Command("git", "-C", root, "log", "-1", "--format=%ct", "HEAD").Output()
	if err != nil {
		t.Skipf("git cannot read HEAD here: %v", err)
	}
	noGit := t.TempDir()
	cases := []struct {
		name, env, dir string
		want           string // RFC 3339, or a part of the error
	}{
		{"from the environment", "1700000000", noGit, "2023-11-14T22:13:20Z"},
		{"epoch zero", "0", noGit, "1970-01-01T00:00:00Z"},
		{"HEAD's commit time", "", root, time.Unix(atoi(t, strings.TrimSpace(string(head))), 0).UTC().Format(time.RFC3339)},
		{"neither", "", noGit, "SOURCE_DATE_EPOCH is not set and git cannot give HEAD's commit time"},
		{"not a number", "yesterday", root, `SOURCE_DATE_EPOCH "yesterday": want whole seconds since 1970`},
		{"negative", "-1", root, "want whole seconds"},
		{"past ustar", "8589934592", root, "want whole seconds"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			getenv := func(k string) string {
				if k == EpochVar {
					return c.env
				}
				return os.Getenv(k)
			}
			got, err := SourceDate(context.Background(), getenv, c.dir)
			if err != nil {
				if !strings.Contains(err.Error(), c.want) {
					t.Errorf("got %v, want %q", err, c.want)
				}
				return
			}
			if got.Format(time.RFC3339) != c.want {
				t.Errorf("got %v, want %s", got.Format(time.RFC3339), c.want)
			}
		})
	}
}

func atoi(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBuildPinsItsEnvironment: a developer's GOFLAGS, CGO or GOAMD64 must not reach a release
// build; exec keeps the last of duplicate variables, so each must appear once, pinned.
func TestBuildPinsItsEnvironment(t *testing.T) {
	t.Setenv("GOFLAGS", "-race -tags=dev")
	t.Setenv("CGO_ENABLED", "1")
	t.Setenv("GOAMD64", "v3")
	t.Setenv("GOOS", "plan9")
	b := Build{Version: "v1.2.3", Platform: Platform{"darwin", "arm64"}, Out: "/tmp/x"}
	want := map[string]string{"CGO_ENABLED": "0", "GOOS": "darwin", "GOARCH": "arm64", "GOFLAGS": "", "GOAMD64": "v1", "GOARM64": "v8.0", "GOEXPERIMENT": ""}
	seen := map[string][]string{}
	for _, kv := range b.Env() {
		k, v, _ := strings.Cut(kv, "=")
		if _, ok := want[k]; ok {
			seen[k] = append(seen[k], v)
		}
	}
	for k, v := range want {
		if !slices.Equal(seen[k], []string{v}) {
			t.Errorf("env %s: got %q, want exactly [%q]", k, seen[k], v)
		}
	}
	flags := strings.Join(b.Flags(), " ")
	for _, f := range []string{"-trimpath", "-buildvcs=false", "-s -w -buildid= ", "-X github.com/slotless/slotless/internal/buildinfo.version=v1.2.3", "./cmd/slotless"} {
		if !strings.Contains(flags, f) {
			t.Errorf("go %s: got no %q", flags, f)
		}
	}
}

func TestCIEntries(t *testing.T) {
	root := filepath.Join("..", "..")
	entries, err := CIEntries(root)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Entry{}
	for _, e := range entries {
		got[e.Name] = e
	}
	if _, ok := got["ci/build-package.sh"]; ok {
		t.Errorf("ci/ has build-package.sh, which builds this repository's sample only")
	}
	scripts, _ := filepath.Glob(filepath.Join(root, "scripts", "*.sh"))
	if len(got) != len(scripts) { // every script but build-package.sh, plus ci/ itself
		t.Errorf("got %d entries for %d scripts, want one per script but build-package.sh, plus ci/", len(got), len(scripts))
	}
	for _, c := range []struct {
		name string
		mode os.FileMode
	}{{"ci/", 0o755}, {"ci/traffic-drift.sh", 0o755}, {"ci/gate-env.sh", 0o644}, {"ci/azure-oidc-env.sh", 0o644}} {
		if e, ok := got[c.name]; !ok || e.Mode != c.mode {
			t.Errorf("%s: got %+v (present %v), want mode %o", c.name, e, ok, c.mode)
		}
	}
}

func TestSums(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{"b.tar.gz": "bee", "a.zip": "ay", "install.sh": "#!/bin/sh\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sums, err := Sums(dir, []string{"install.sh", "b.tar.gz", "a.zip"})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(sums), "\n"), "\n")
	var names []string
	for _, l := range lines {
		sum, name, ok := strings.Cut(l, "  ")
		if !ok || len(sum) != 64 {
			t.Errorf("line %q: want \"<64 hex>  <name>\"", l)
		}
		names = append(names, name)
	}
	if want := []string{"a.zip", "b.tar.gz", "install.sh"}; !slices.Equal(names, want) {
		t.Errorf("names: got %v, want %v (sorted)", names, want)
	}
	if _, err := exec.LookPath("sha256sum"); err == nil {
		if err := os.WriteFile(filepath.Join(dir, SumsFile), sums, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("sha256sum", "-c", SumsFile)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("sha256sum -c: %v\n%s", err, out)
		}
	}
	if _, err := Sums(dir, []string{"../x"}); err == nil {
		t.Errorf("Sums of ../x: got nil, want a refusal of a name that is not a plain file name")
	}
}
