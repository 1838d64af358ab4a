//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slotless/slotless/internal/dist"
)

// releases are slotless releases as a team downloads them: `make dist`'s archive for this
// machine, install.sh and SHA256SUMS under <base>/<version>/, served over HTTP in place of
// GitHub's release downloads; and the folders they were installed into, one per version.
var releases struct {
	mu     sync.Mutex
	dir    string
	server *httptest.Server
	dirs   map[string]string
}

// releaseDate is the modification time the releases' archive entries carry.
var releaseDate = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

// installed is the folder holding slotless of the given version as a team installs it: the
// release built by make dist's code for this machine, installed with the README's line,
// `curl -fsSL <base>/<version>/install.sh | bash -s -- <version> <dir>`, which checks the archive
// against SHA256SUMS. It returns <dir>/bin: slotless, and pulumi-language-slotless beside it.
func installed(t *testing.T, version string) string {
	t.Helper()
	releases.mu.Lock()
	defer releases.mu.Unlock()
	if dir, ok := releases.dirs[version]; ok {
		return dir
	}
	if releases.server == nil {
		releases.dir = filepath.Join(suiteTmp, "releases")
		releases.server = httptest.NewServer(http.FileServer(http.Dir(releases.dir)))
		releases.dirs = map[string]string{}
	}
	var log bytes.Buffer
	_, err := dist.Make(context.Background(), dist.Options{
		Version:   version,
		Platforms: []dist.Platform{{OS: runtime.GOOS, Arch: runtime.GOARCH}},
		Root:      repoRoot,
		Out:       filepath.Join(releases.dir, version),
		ModTime:   releaseDate,
		Log:       &log,
	})
	if err != nil {
		t.Fatalf("make dist %s: %v\n%s", version, err, log.String())
	}
	dest := filepath.Join(suiteTmp, "installed", version)
	install := exec.Command("bash", "-euo", "pipefail", "-c",
		`curl -fsSL "$SLOTLESS_DOWNLOAD_URL/`+version+`/install.sh" | bash -s -- `+version+` "$DEST"`)
	install.Env = append(os.Environ(), "SLOTLESS_DOWNLOAD_URL="+releases.server.URL, "DEST="+dest)
	out, err := install.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("install.sh %s: %v\n%s%s", version, err, out, stderr)
	}
	bin := strings.TrimSpace(string(out))
	if bin != filepath.Join(dest, "bin") {
		t.Fatalf("install.sh %s printed %q, want %s", version, bin, filepath.Join(dest, "bin"))
	}
	releases.dirs[version] = bin
	return bin
}
