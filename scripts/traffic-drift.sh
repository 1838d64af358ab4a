#!/usr/bin/env bash
# Refuses a `pulumi up` from git that would silently move traffic.
#
#   scripts/traffic-drift.sh STACK BASE_REVISION
#
# The release pipelines shift traffic with `slotless shift/promote/rollback`, which deploy a
# weight that git does not have until the release records it. An up from git in that window
# would put the old weight back: the seed's "reprovisioning undoes a shift" defect. So an up is
# allowed when the deployed blueWeight equals the one being deployed, or equals the one at
# BASE_REVISION (this push is then the reviewed change of traffic); anything else stops here.
set -euo pipefail

stack="${1:?usage: traffic-drift.sh STACK BASE_REVISION}"
base="${2:?usage: traffic-drift.sh STACK BASE_REVISION}"
file="Pulumi.$stack.yaml"

# blueWeight of a stack config file; the project's default when the key is absent.
weight_in() {
	local w
	if w="$(pulumi config get blueWeight --stack "$stack" --config-file "$1" 2>/dev/null)"; then
		echo "$w"
	else
		echo 0
	fi
}

if ! deployed="$(pulumi stack output blueWeight --stack "$stack" 2>/dev/null)" || [ -z "$deployed" ]; then
	echo "stack $stack has no deployed blueWeight yet: nothing to protect"
	exit 0
fi

head_weight="$(weight_in "$file")"
if [ "$deployed" = "$head_weight" ]; then
	echo "blueWeight $deployed is deployed and committed: no traffic change"
	exit 0
fi

tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
# BASE:./FILE is the file in this folder, wherever it sits in the repository.
if ! git show "$base:./$file" >"$tmp" 2>/dev/null; then
	echo "traffic-drift: cannot read $file at $base to tell a reviewed shift from drift; refusing (deployed blueWeight $deployed, committed $head_weight)" >&2
	exit 1
fi
base_weight="$(weight_in "$tmp")"
if [ "$deployed" = "$base_weight" ]; then
	echo "blueWeight $base_weight -> $head_weight is this change's reviewed shift"
	exit 0
fi

cat >&2 <<MSG
traffic-drift: stack $stack serves blueWeight $deployed, but git had $base_weight before this change and has $head_weight now.
A release moved traffic outside git (or is still running). Deploying would undo it.
Finish or roll back the release, then record the deployed weight in $file
(pulumi config refresh --stack $stack, or the release's record step) and push again.
MSG
exit 1
