//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// installs holds one installed slotless per version, shared by the scenarios.
var installs struct {
	mu   sync.Mutex
	dirs map[string]string
}

// installed is the folder holding slotless of the given version as a team installs it: the
// binary and pulumi-language-slotless beside it.
func installed(t *testing.T, version string) string {
	t.Helper()
	installs.mu.Lock()
	defer installs.mu.Unlock()
	if dir, ok := installs.dirs[version]; ok {
		return dir
	}
	dir := filepath.Join(suiteDir, "installed", version)
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X github.com/slotless/slotless/internal/buildinfo.version="+version,
		"-o", filepath.Join(dir, "slotless"), "./cmd/slotless")
	build.Dir = repoRoot
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build slotless %s: %v\n%s", version, err, out)
	}
	if err := os.Link(filepath.Join(dir, "slotless"), filepath.Join(dir, "pulumi-language-slotless")); err != nil {
		t.Fatal(err)
	}
	if installs.dirs == nil {
		installs.dirs = map[string]string{}
	}
	installs.dirs[version] = dir
	return dir
}
