// Package disttest makes small releases for the tests of what installs slotless (install.sh,
// the setup action, the Azure Pipelines template, the Pulumi Deployments pre-run commands):
// archives written by package dist's own archiver in a release's layout, around a shell script
// that answers `slotless version` the way the real binary does, and served over HTTP as the
// GitHub releases are. The real binary is built once, by internal/dist's tests; these are for
// the many cases around it, at no compile.
package disttest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/slotless/slotless/internal/dist"
)

// Root is the module root, from any package directory of the module.
func Root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// Host is the platform the tests run on, for which a fake release's binary must run.
func Host() dist.Platform { return dist.Platform{OS: runtime.GOOS, Arch: runtime.GOARCH} }

// Release is a fake release, served at Server.URL/<version>/.
type Release struct {
	// Dir holds one folder per version: Dir/<version>/{archive,install.sh,SHA256SUMS}.
	Dir    string
	Server *httptest.Server
}

// NewRelease starts an empty release server; Add puts versions on it.
func NewRelease(t testing.TB) *Release {
	t.Helper()
	r := &Release{Dir: t.TempDir()}
	r.Server = httptest.NewServer(http.FileServer(http.Dir(r.Dir)))
	t.Cleanup(r.Server.Close)
	return r
}

// URL is the base of the download URLs, what SLOTLESS_DOWNLOAD_URL names.
func (r *Release) URL() string { return r.Server.URL }

// Path is a file of a version's release.
func (r *Release) Path(version, name string) string { return filepath.Join(r.Dir, version, name) }

// Fake is a fake version to add.
type Fake struct {
	Version string
	// Prints is what the binary prints for `version`; empty: what a real one of Version prints.
	Prints string
	// Platform is the archive's platform; the zero value is the host's, whose binary the
	// installers' tests run. Another is for a reader that only unpacks it (the watcher's
	// package takes linux/amd64's binary on any machine).
	Platform dist.Platform
}

// Add writes a version's release for the host: the archive around a fake binary, the
// repository's install.sh and SHA256SUMS, as `make dist` lays them out. It returns the archive's
// name.
func (r *Release) Add(t testing.TB, f Fake) string {
	t.Helper()
	host := Host()
	if f.Platform != (dist.Platform{}) {
		host = f.Platform
	}
	prints := f.Prints
	if prints == "" {
		prints = fmt.Sprintf("slotless %s (go-fake, %s)", f.Version, host)
	}
	src := t.TempDir()
	bin := filepath.Join(src, "slotless")
	script := fmt.Sprintf("#!/bin/sh\n# a stand-in for the slotless binary\nif [ \"$1\" = version ]; then echo '%s'; exit 0; fi\necho \"fake slotless: $*\" >&2\nexit 2\n", prints)
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	drift := filepath.Join(src, "traffic-drift.sh")
	if err := os.WriteFile(drift, []byte("#!/usr/bin/env bash\necho fake drift guard \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	scripts := []dist.Entry{{Name: "ci/", Mode: 0o755}, {Name: "ci/traffic-drift.sh", Mode: 0o755, Source: drift}}
	dir := filepath.Join(r.Dir, f.Version)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	name := host.ArchiveName(f.Version)
	out, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	entries := dist.Layout(host, bin, scripts)
	mtime := time.Unix(1700000000, 0)
	if host.Zip() {
		err = dist.WriteZip(out, entries, mtime)
	} else {
		err = dist.WriteTarGz(out, entries, mtime)
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	installer, err := os.ReadFile(filepath.Join(Root(t), dist.Installer))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, dist.InstallerName), installer, 0o755); err != nil {
		t.Fatal(err)
	}
	r.WriteSums(t, f.Version, name, dist.InstallerName)
	return name
}

// WriteSums rewrites a version's SHA256SUMS over the named files of its folder.
func (r *Release) WriteSums(t testing.TB, version string, names ...string) {
	t.Helper()
	dir := filepath.Join(r.Dir, version)
	sums, err := dist.Sums(dir, names)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, dist.SumsFile), sums, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Serve publishes a folder `make dist` wrote as the release of version.
func (r *Release) Serve(t testing.TB, version, distDir string) {
	t.Helper()
	if err := os.Symlink(distDir, filepath.Join(r.Dir, version)); err != nil {
		t.Fatal(err)
	}
}

// PulumiYAML writes a team's Pulumi.yaml pinning version into dir (none when version is empty).
func PulumiYAML(t testing.TB, dir, version string) {
	t.Helper()
	text := "name: orders\nruntime:\n  name: slotless\n"
	if version != "" {
		text += "  options:\n    version: " + version + "   # the pinned slotless\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// PinCase is a Pulumi.yaml and the version it pins, for the tests of every reader of
// runtime.options.version (install.sh, the Azure Pipelines template, the Pulumi Deployments
// pre-run command).
type PinCase struct {
	Name, File, Want string
}

// PinCases are the spellings of a pin a team's Pulumi.yaml may use, and ones that pin nothing.
var PinCases = []PinCase{
	{"block", "name: orders\nruntime:\n  name: slotless\n  options:\n    version: v1.2.0\n", "v1.2.0"},
	{"comment after the value", "name: orders\nruntime:\n  name: slotless\n  options:\n    version: v1.2.0   # pinned\n", "v1.2.0"},
	{"double quotes", "name: orders\nruntime:\n  name: slotless\n  options:\n    version: \"v1.2.0\"\n", "v1.2.0"},
	{"single quotes", "name: orders\nruntime:\n  name: slotless\n  options:\n    version: 'v1.2.0-rc.1'\n", "v1.2.0-rc.1"},
	{"flow runtime", "runtime: {name: slotless, options: {version: v1.3.0}}\nname: orders\n", "v1.3.0"},
	{"flow options", "name: orders\nruntime:\n  options: {version: \"v1.3.1\"}\n  name: slotless\n", "v1.3.1"},
	{"four-space indent, blank lines and comments", "name: orders\n# the runtime\nruntime:\n    name: slotless\n\n    # pinned\n    options:\n\n        binary: x\n        version: v1.4.0\n", "v1.4.0"},
	{"CRLF line ends", "name: orders\r\nruntime:\r\n  name: slotless\r\n  options:\r\n    version: v1.5.0\r\n", "v1.5.0"},
	{"after other top-level keys", "name: orders\ndescription: version: v0.0.9 is not this\nconfig:\n  version: v0.0.8\nruntime:\n  name: slotless\n  options:\n    version: v1.6.0\n", "v1.6.0"},
	{"runtime by name only", "name: orders\nruntime: slotless\n", ""},
	{"no options", "name: orders\nruntime:\n  name: slotless\n", ""},
	{"version outside options", "name: orders\nruntime:\n  name: slotless\n  version: v9.0.0\noptions:\n  version: v9.0.1\n", ""},
	{"version nested deeper", "name: orders\nruntime:\n  name: slotless\n  options:\n    other:\n      version: v9.0.2\n", ""},
	{"nested deeper, then the pin", "name: orders\nruntime:\n  name: slotless\n  options:\n    other:\n      version: v9.0.2\n    version: v1.7.0\n", "v1.7.0"},
}
