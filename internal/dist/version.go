package dist

import (
	"fmt"

	"golang.org/x/mod/semver"
)

// CheckVersion accepts a release version: v<semver> in canonical form (v1.2.3, v1.2.3-rc.1).
// The version names the archives, the release's download URL and what `slotless version`
// prints, and a team's Pulumi.yaml pins it, so shorthands Go's semver also reads (v1, v1.2) and
// build metadata (v1.2.3+x, which semver ignores when comparing) are refused: two spellings of
// one version would be two releases.
func CheckVersion(v string) error {
	if v == "" {
		return fmt.Errorf("VERSION is missing: want v<semver>, such as v1.2.3 or v1.2.3-rc.1")
	}
	if !semver.IsValid(v) || semver.Canonical(v) != v {
		return fmt.Errorf("VERSION %q is not v<semver>: want v<major>.<minor>.<patch>[-<prerelease>], such as v1.2.3 or v1.2.3-rc.1", v)
	}
	return nil
}
