// Package buildinfo says which slotless this binary is. The version is stamped at link time
// (make build, make dist: -ldflags "-X github.com/slotless/slotless/internal/buildinfo.version=v1.2.3"),
// as Pulumi stamps its own CLI's, because a team pins it, each stack records it, and the
// release checks compare it; one package holds it so the CLI, the language host and the
// program agree.
package buildinfo

import "runtime/debug"

// version is set by the linker; empty in a plain go build or go run.
var version string

// Version is the stamped version, else what the Go toolchain recorded: the module version of
// a go install of a tagged module, or "(devel)" with the VCS revision of a build from a checkout.
func Version() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(devel)"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if rev == "" {
		return "(devel)"
	}
	return "(devel) " + rev[:min(12, len(rev))] + dirty
}
