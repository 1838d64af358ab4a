// Package pin keeps each stack on one slotless version. A team pins the version in its
// Pulumi.yaml (runtime.options.version) and CI installs exactly that; every deployed stack
// records the version that last changed it (output slotlessVersion). A slotless older than
// the record would run an older program, which deletes what the newer one added and undoes
// what it changed, so it may not change the stack: it says which version to install. A
// rollback is the exception, always: version skew must never keep traffic on a failing slot.
package pin

import (
	"errors"
	"fmt"

	"golang.org/x/mod/semver"
)

// ErrSkew wraps every refusal for version skew, so the CLI maps it to its guard-rail exit code.
var ErrSkew = errors.New("version skew")

// Release reports whether v is a released version (v<semver>, as make dist stamps it). A
// development build (go run, go build from a checkout) is not: it is never refused, and never
// recorded over a release.
func Release(v string) bool { return semver.IsValid(v) }

// Compare orders two released versions as semver does: -1, 0 or +1.
func Compare(a, b string) int { return semver.Compare(a, b) }

// Check decides whether slotless running may change a stack whose Pulumi.yaml pins pinned ("" for
// no pin) and which was last changed by recorded ("" when unknown: never deployed, or deployed
// before stacks recorded it). The error wraps ErrSkew; warnings say what is allowed but odd.
//
// A development build is allowed with a warning: it is how slotless itself is developed. A
// release must equal the pin, since a laptop's newer binary would record its version and lock
// out the CI that installs the pinned one, and must not be older than the record.
func Check(running, pinned, recorded string) (warnings []string, err error) {
	if !Release(running) {
		for _, v := range []struct{ what, v string }{{"Pulumi.yaml pins", pinned}, {"the stack was last changed by", recorded}} {
			if Release(v.v) {
				warnings = append(warnings, fmt.Sprintf("this is a development build of slotless (%s); %s slotless %s", running, v.what, v.v))
			}
		}
		return warnings, nil
	}
	if pinned != "" && !Release(pinned) {
		return nil, fmt.Errorf("%w: Pulumi.yaml's runtime.options.version is %q, not a slotless release such as v1.2.0", ErrSkew, pinned)
	}
	if Release(recorded) && Compare(running, recorded) < 0 {
		raise := ""
		if pinned != "" && Compare(pinned, recorded) < 0 {
			raise = fmt.Sprintf(" and raise the pin in Pulumi.yaml (runtime.options.version, now %s)", pinned)
		}
		return nil, fmt.Errorf("%w: the stack was last changed by slotless %s (its output slotlessVersion), and this is slotless %s, which would undo what %s changed: install slotless %s%s (docs/install.md); a rollback works with any version: slotless rollback --slot <slot>", ErrSkew, recorded, running, recorded, recorded, raise)
	}
	if pinned != "" && running != pinned {
		return nil, fmt.Errorf("%w: Pulumi.yaml pins slotless %s (runtime.options.version) and this is slotless %s: install %s (docs/install.md), or change the pin in a reviewed change so every machine and pipeline moves together", ErrSkew, pinned, running, pinned)
	}
	return nil, nil
}

// Record is the version a stack records after slotless running changed it, given the version
// recorded before: running, unless that would lower a release on record (a development build,
// or a rollback allowed under skew), so an older binary stays refused until someone deploys the
// recorded version or a newer one.
func Record(running, recorded string) string {
	switch {
	case Release(running) && (!Release(recorded) || Compare(running, recorded) >= 0):
		return running
	case recorded != "":
		return recorded
	}
	return running
}
