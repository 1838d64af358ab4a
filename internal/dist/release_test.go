package dist_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slotless/slotless/internal/dist"
	"github.com/slotless/slotless/internal/dist/disttest"
)

// testVersion is the version the tests release; a prerelease, so it is never a real one.
const testVersion = "v0.0.0-test.1"

// shared is the release `make dist` builds once for the package's tests: the reproducibility
// test builds a second one to compare with, and the installer's test serves it.
var shared struct {
	once sync.Once
	root string // a temporary folder TestMain removes
	dir  string
	took time.Duration
	err  error
}

func TestMain(m *testing.M) {
	root, err := os.MkdirTemp("", "slotless-dist-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	shared.root = root
	code := m.Run()
	os.RemoveAll(root)
	os.Exit(code)
}

func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
}

// makeDist runs `make dist` in the module root as a maintainer would, with none of the
// variables it reads inherited from the test's environment (an outer make's included).
func makeDist(t *testing.T, vars ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("make", append([]string{"--no-print-directory", "dist"}, vars...)...)
	cmd.Dir = disttest.Root(t)
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "VERSION", "PLATFORMS", "DIST", dist.EpochVar:
		default:
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// realRelease is `make dist VERSION=testVersion PLATFORMS=<this machine>`, built once.
func realRelease(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds slotless: about 10 s with a warm build cache, 3 to 4 min on 2 cores without (make test builds everything CGO off and -trimpath, as a release, so there the cache is shared)")
	}
	requireTools(t, "make", "git", "go")
	if !slices.Contains(dist.Supported, disttest.Host()) {
		t.Skipf("no release is made for this machine's platform %s", disttest.Host())
	}
	shared.once.Do(func() {
		shared.dir = filepath.Join(shared.root, "a")
		start := time.Now()
		out, err := makeDist(t, "VERSION="+testVersion, "PLATFORMS="+disttest.Host().String(), "DIST="+shared.dir)
		shared.took = time.Since(start)
		if err != nil {
			shared.err = fmt.Errorf("make dist: %v\n%s", err, out)
		}
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.dir
}

func archiveName() string { return disttest.Host().ArchiveName(testVersion) }

// TestMakeDistIsReproducible builds the release a second time, into another folder, from the
// same commit: every file must be byte for byte the same.
func TestMakeDistIsReproducible(t *testing.T) {
	a := realRelease(t)
	t.Logf("first make dist: %v", shared.took.Round(time.Second/10))
	b := filepath.Join(shared.root, "b")
	start := time.Now()
	if out, err := makeDist(t, "VERSION="+testVersion, "PLATFORMS="+disttest.Host().String(), "DIST="+b); err != nil {
		t.Fatalf("make dist: %v\n%s", err, out)
	}
	t.Logf("second make dist: %v", time.Since(start).Round(time.Second/10))
	list := func(dir string) []string {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		return names
	}
	want := []string{dist.SumsFile, dist.InstallerName, archiveName()}
	slices.Sort(want)
	if got := list(a); !slices.Equal(got, want) {
		t.Fatalf("%s: got %v, want %v", a, got, want)
	}
	if got := list(b); !slices.Equal(got, want) {
		t.Fatalf("%s: got %v, want %v", b, got, want)
	}
	for _, name := range want {
		x, _ := os.ReadFile(filepath.Join(a, name))
		y, _ := os.ReadFile(filepath.Join(b, name))
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between two builds of one commit (%d and %d bytes)", name, len(x), len(y))
		}
	}
}

// TestMakeDistChecksums checks SHA256SUMS with sha256sum itself, as a user does, and that it
// covers exactly the archive and install.sh, which is the repository's installer.
func TestMakeDistChecksums(t *testing.T) {
	dir := realRelease(t)
	requireTools(t, "sha256sum")
	cmd := exec.Command("sha256sum", "-c", dist.SumsFile)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sha256sum -c %s: %v\n%s", dist.SumsFile, err, out)
	}
	want := fmt.Sprintf("%s: OK\n%s: OK\n", dist.InstallerName, archiveName())
	if archiveName() < dist.InstallerName {
		want = fmt.Sprintf("%s: OK\n%s: OK\n", archiveName(), dist.InstallerName)
	}
	if string(out) != want {
		t.Errorf("sha256sum -c: got\n%s\nwant\n%s", out, want)
	}
	got, _ := os.ReadFile(filepath.Join(dir, dist.InstallerName))
	repo, err := os.ReadFile(filepath.Join(disttest.Root(t), dist.Installer))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, repo) {
		t.Errorf("%s differs from %s", dist.InstallerName, dist.Installer)
	}
}

// TestMakeDistArchiveLayout reads the tarball's headers: the binary, its plugin name as a hard
// link, ci/ with the shipped scripts and their modes, root's ownership and HEAD's commit time on
// every entry.
func TestMakeDistArchiveLayout(t *testing.T) {
	dir := realRelease(t)
	if disttest.Host().Zip() {
		t.Skip("the layout test reads a tarball")
	}
	head, err := exec.Command("git", "-C", disttest.Root(t), "log", "-1", "--format=%ct", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	sec, _ := strconv.ParseInt(strings.TrimSpace(string(head)), 10, 64)
	commit := time.Unix(sec, 0)

	type entry struct {
		typ  byte
		mode int64
		link string
	}
	want := map[string]entry{
		"slotless":                 {tar.TypeReg, 0o755, ""},
		"pulumi-language-slotless": {tar.TypeLink, 0o755, "slotless"},
		"ci/":                      {tar.TypeDir, 0o755, ""},
	}
	scripts, _ := filepath.Glob(filepath.Join(disttest.Root(t), "scripts", "*.sh"))
	for _, s := range scripts {
		if filepath.Base(s) == "build-package.sh" {
			continue
		}
		st, err := os.Stat(s)
		if err != nil {
			t.Fatal(err)
		}
		mode := int64(0o644)
		if st.Mode()&0o100 != 0 {
			mode = 0o755
		}
		want["ci/"+filepath.Base(s)] = entry{tar.TypeReg, mode, ""}
	}

	f, err := os.Open(filepath.Join(dir, archiveName()))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if gz.Name != "" || !gz.ModTime.IsZero() {
		t.Errorf("gzip header: got name %q and time %v, want neither", gz.Name, gz.ModTime)
	}
	tr := tar.NewReader(gz)
	got := map[string]entry{}
	var order []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name] = entry{h.Typeflag, h.Mode, h.Linkname}
		order = append(order, h.Name)
		if !h.ModTime.Equal(commit) || h.Uid != 0 || h.Gid != 0 || h.Uname != "root" || h.Gname != "root" {
			t.Errorf("%s: got mtime %v, owner %d:%d %s:%s; want HEAD's commit time %v, 0:0 root:root", h.Name, h.ModTime, h.Uid, h.Gid, h.Uname, h.Gname, commit)
		}
	}
	for name, w := range want {
		if g, ok := got[name]; !ok || g != w {
			t.Errorf("%s: got %+v (present %v), want %+v", name, g, ok, w)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: in the archive, want no such entry", name)
		}
	}
	if i, j := slices.Index(order, "slotless"), slices.Index(order, "pulumi-language-slotless"); i < 0 || j < i {
		t.Errorf("order %v: want the hard link after slotless, which tar must unpack first", order)
	}
}

// TestMakeDistBinaryRuns unpacks the archive with tar, as install.sh does, runs `slotless
// version`, and looks for this machine's paths in the binary.
func TestMakeDistBinaryRuns(t *testing.T) {
	dir := realRelease(t)
	if disttest.Host().Zip() {
		t.Skip("unpacks a tarball")
	}
	requireTools(t, "tar")
	x := t.TempDir()
	if out, err := exec.Command("tar", "-xzf", filepath.Join(dir, archiveName()), "-C", x).CombinedOutput(); err != nil {
		t.Fatalf("tar -xzf: %v\n%s", err, out)
	}
	bin := filepath.Join(x, "slotless")
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatalf("slotless version: %v", err)
	}
	prefix, suffix := "slotless "+testVersion+" (go", ", "+disttest.Host().String()+")\n"
	if !strings.HasPrefix(string(out), prefix) || !strings.HasSuffix(string(out), suffix) {
		t.Errorf("slotless version: got %q, want %q...%q", out, prefix, suffix)
	}
	a, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.Stat(filepath.Join(x, "pulumi-language-slotless"))
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(a, b) {
		t.Errorf("pulumi-language-slotless: got a separate file, want a hard link to slotless")
	}

	raw, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := filepath.Abs(disttest.Root(t))
	paths := map[string]string{"the module root": root}
	for _, v := range []string{"GOMODCACHE", "GOROOT", "GOCACHE"} {
		p, err := exec.Command("go", "env", v).Output()
		if err == nil && len(bytes.TrimSpace(p)) > 1 {
			paths[v] = string(bytes.TrimSpace(p))
		}
	}
	for what, p := range paths {
		if bytes.Contains(raw, []byte(p)) {
			t.Errorf("the binary holds %s (%s): a build-time path", what, p)
		}
	}
}

// TestMakeDistRefuses: make dist without a version, or with one that is not v<semver>, or for a
// platform there is no release for, stops before it builds and says what it wants.
func TestMakeDistRefuses(t *testing.T) {
	requireTools(t, "make", "go")
	cases := []struct {
		name string
		vars []string
		want string
	}{
		{"no VERSION", nil, "make dist: VERSION is required, v<semver>"},
		{"empty VERSION", []string{"VERSION="}, "dist: VERSION is missing: want v<semver>"},
		{"not semver", []string{"VERSION=1.2.3"}, `dist: VERSION "1.2.3" is not v<semver>`},
		{"shorthand", []string{"VERSION=v1.2"}, `dist: VERSION "v1.2" is not v<semver>`},
		{"build metadata", []string{"VERSION=v1.2.3+meta"}, `dist: VERSION "v1.2.3+meta" is not v<semver>`},
		{"platform", []string{"VERSION=v1.2.3", "PLATFORMS=linux/386"}, `dist: PLATFORMS: "linux/386" is not one of linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "dist")
			got, err := makeDist(t, append(c.vars, "DIST="+out)...)
			if err == nil {
				t.Fatalf("make dist %v: got success, want a refusal\n%s", c.vars, got)
			}
			if !strings.Contains(got, c.want) {
				t.Errorf("make dist %v: got\n%s\nwant it to contain %q", c.vars, got, c.want)
			}
			if _, err := os.Stat(filepath.Join(out, dist.SumsFile)); err == nil {
				t.Errorf("make dist %v refused but wrote %s", c.vars, dist.SumsFile)
			}
		})
	}
}
