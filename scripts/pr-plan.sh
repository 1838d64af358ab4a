#!/usr/bin/env bash
# Writes the PR comment for every stack config a pull request changes: the offline plan of each
# against the base revision, with the installed slotless. It runs in the folder holding
# Pulumi.yaml, which may be below the repository's root: the stack files of that folder count. Exit status 1 when any plan breaks a guard rail (or cannot run);
# the whole comment is still written first, so reviewers see why.
#
#   scripts/pr-plan.sh BASE_REVISION > comment.md
#
# SLOTLESS_ALLOW_JUMP=true passes --allow-jump (a reviewed pure blue/green switch), and
# SLOTLESS_ALLOW_LIVE_CHANGE=true passes --allow-live-change (a reviewed change to a slot's app
# while it carries traffic).
set -euo pipefail

base="${1:?usage: pr-plan.sh BASE_REVISION}"
extra=()
if [ "${SLOTLESS_ALLOW_JUMP:-false}" = true ]; then
	extra+=(--allow-jump)
fi
if [ "${SLOTLESS_ALLOW_LIVE_CHANGE:-false}" = true ]; then
	extra+=(--allow-live-change)
fi

# Stack config files only: Pulumi.yaml is the project and Pulumi.<stack>.deploy.yaml are
# deployment settings, neither of which a plan reads as a stack.
mapfile -t stacks < <(git diff --relative --name-only --diff-filter=d "$base...HEAD" -- 'Pulumi.*.yaml' |
	grep -v -e / -e '\.deploy\.yaml$' |
	sed -e 's/^Pulumi\.//' -e 's/\.yaml$//' |
	sort -u)

echo "## slotless plan"
echo
if [ "${#stacks[@]}" -eq 0 ]; then
	echo "No stack config changed against \`$base\`: no traffic change."
	exit 0
fi

err="$(mktemp)"
trap 'rm -f "$err"' EXIT
status=0
for stack in "${stacks[@]}"; do
	rc=0
	slotless plan --stack "$stack" --against "$base" --markdown "${extra[@]}" 2>"$err" || rc=$?
	if [ "$rc" -ne 0 ]; then
		status=1
		echo
		echo "**Guard rail broken or plan failed** (exit $rc):"
		echo
		echo '```'
		cat "$err"
		echo '```'
	fi
	echo
done
exit "$status"
