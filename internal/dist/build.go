package dist

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// MainPackage is the product's binary, the one every archive holds.
const MainPackage = "./cmd/slotless"

// Build is one cross-compilation of the slotless binary.
type Build struct {
	// Go is the go command to run ("go" on PATH when empty).
	Go string
	// Dir is the module root the package is built from.
	Dir      string
	Version  string
	Platform Platform
	// Out is the binary's path.
	Out string
}

// VersionVars are the variables the version is linked into: internal/buildinfo.version, where
// the CLI, the language host and the program read it.
var VersionVars = []string{"github.com/slotless/slotless/internal/buildinfo.version"}

// Flags are the go build flags of a release binary: no file system paths (-trimpath), no VCS
// stamp (which would differ between a clean and a dirty checkout of one commit), no symbol
// table or DWARF (-s -w), an empty build ID, and the version linked in.
func (b Build) Flags() []string {
	ldflags := "-s -w -buildid="
	for _, v := range VersionVars {
		ldflags += " -X " + v + "=" + b.Version
	}
	return []string{
		"build", "-trimpath", "-buildvcs=false",
		"-ldflags", ldflags,
		"-o", b.Out, MainPackage,
	}
}

// Env is the environment of the build: the caller's, with every variable that changes the
// compiled bytes pinned. CGO is off (a static binary, and no C toolchain's paths), GOFLAGS is
// emptied so a developer's -race or -tags cannot slip in, and the architecture levels are the
// defaults (GOAMD64=v1, GOARM64=v8.0) so a builder's tuning does not leak into the release.
func (b Build) Env() []string {
	pinned := map[string]string{
		"CGO_ENABLED":  "0",
		"GOOS":         b.Platform.OS,
		"GOARCH":       b.Platform.Arch,
		"GOFLAGS":      "",
		"GOAMD64":      "v1",
		"GOARM64":      "v8.0",
		"GOEXPERIMENT": "",
	}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := pinned[k]; !ok {
			env = append(env, kv)
		}
	}
	for _, k := range []string{"CGO_ENABLED", "GOOS", "GOARCH", "GOFLAGS", "GOAMD64", "GOARM64", "GOEXPERIMENT"} {
		env = append(env, k+"="+pinned[k])
	}
	return env
}

// Run compiles the binary.
func (b Build) Run(ctx context.Context) error {
	goCmd := b.Go
	if goCmd == "" {
		goCmd = "go"
	}
	cmd := exec.CommandContext(ctx, goCmd, b.Flags()...)
	cmd.Dir = b.Dir
	cmd.Env = b.Env()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s for %s: %w\n%s", MainPackage, b.Platform, err, out.String())
	}
	return nil
}
