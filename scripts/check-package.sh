#!/usr/bin/env bash
# Refuses a package the Functions host cannot run, before it is published or deployed: it must
# exist, be a zip archive, and hold host.json at its root: a deployment package is the app's
# project folder, whose root holds host.json (learn.microsoft.com, azure-functions
# "functions-reference", folder structure; "functions-deployment-technologies", zip deploy).
#
#   scripts/check-package.sh PACKAGE.zip
set -euo pipefail

package="${1:?usage: check-package.sh PACKAGE.zip}"

# shellcheck source=scripts/ci-error.sh
. "$(dirname "${BASH_SOURCE[0]}")/ci-error.sh"
fail() { ci_error check-package "$1"; }

[ -f "$package" ] || fail "$package: no such file; the build must write the zip there (the package-path input, or the package parameter)"
if ! entries="$(unzip -Z1 "$package" 2>/dev/null)"; then
	fail "$package: not a zip archive"
fi
grep -qx 'host.json' <<<"$entries" || fail "$package: no host.json at the root of the zip; a Functions package holds the app's project folder, host.json first"
echo "package $package: $(wc -l <<<"$entries" | tr -d ' ') entries, host.json at the root"
