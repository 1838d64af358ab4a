#!/usr/bin/env bash
# Prints, as a compact JSON list, the steps a release pipeline walks: one job (GitHub) or stage
# (Azure DevOps) per step, each one `slotless release --until <step>` behind its own environment.
#
#   release-steps.sh [--required] [--name NAME] STACK_STEPS [REQUESTED]
#
# STACK_STEPS is the stack's own releaseSteps as slotless parses them: the `steps` of
# `slotless release --dry-run --json`, so Pulumi.yaml's default, the stack file and the
# validation against maxStep are the CLI's, not this script's. REQUESTED is the pipeline's own
# list (NAME: the release-steps input, the releaseSteps parameter); empty means the stack's.
#
# A requested list must hold steps of the stack, strictly ascending, ending at 100: slotless
# release refuses an --until that is not one of releaseSteps, and a release that stops short of
# 100 never completes. A stack step the list leaves out is still walked, with its bake and its
# gates, by the job that passes it; it only loses the approval in front of it.
#
# --required refuses an empty REQUESTED and names the stack's steps to pass instead: Azure
# DevOps expands its stages from the parameter before anything runs, so it cannot fall back to
# the stack's list at run time.
set -euo pipefail

# shellcheck source=scripts/ci-error.sh
. "$(dirname "${BASH_SOURCE[0]}")/ci-error.sh"
fail() { ci_error release-steps "$1"; }

required=false
name=release-steps
while [ $# -gt 0 ]; do
	case "$1" in
	--required) required=true ;;
	--name)
		name="${2:?usage: release-steps.sh [--required] [--name NAME] STACK_STEPS [REQUESTED]}"
		shift
		;;
	--) ;;
	-*)
		echo "release-steps: unknown option $1; want --required or --name NAME" >&2
		exit 2
		;;
	*) break ;;
	esac
	shift
done
stack_steps="${1:?usage: release-steps.sh [--required] [--name NAME] STACK_STEPS [REQUESTED]}"
requested="${2:-}"

# A JSON list of whole numbers, compact, or nothing when it is not one.
int_list() { jq -ce 'select(type == "array" and all(.[]; type == "number" and . == floor))' <<<"$1" 2>/dev/null; }

stack="$(int_list "$stack_steps")" || fail "the stack's releaseSteps $stack_steps: want a JSON list of integers (the steps of slotless release --dry-run --json)"
[ "$stack" != "[]" ] || fail "the stack's releaseSteps are empty"

if [ -z "${requested//[[:space:]]/}" ] || [ "$(int_list "$requested")" = "[]" ]; then
	if [ "$required" = true ]; then
		fail "$name is empty: Azure DevOps expands one stage per step before the run starts and cannot read the stack's config; pass $name: $stack (this stack's releaseSteps)"
	fi
	echo "release steps $stack: the stack's releaseSteps" >&2
	echo "$stack"
	exit 0
fi

steps="$(int_list "$requested")" || fail "$name '$requested': want a JSON list of integers such as $stack"
problem="$(jq -nr --argjson want "$steps" --argjson have "$stack" '
	first(
		($want | to_entries[] | select(.value as $s | $have | index($s) | not)
			| "\(.value) is not one of the stack'"'"'s releaseSteps \($have)"),
		($want | range(1; length) as $i | select(.[$i] <= .[$i - 1])
			| "\(.[$i]) follows \(.[$i - 1]); want them strictly ascending"),
		(select($want[-1] != 100) | "it ends at \($want[-1]); want the last step 100, or the release never completes"),
		empty
	) // ""')"
[ -z "$problem" ] || fail "$name $steps: $problem"

if [ "$steps" = "$stack" ]; then
	echo "release steps $steps: the stack's releaseSteps" >&2
else
	echo "release steps $steps ($name), within the stack's releaseSteps $stack: a step between two jobs is walked, with its bake, by the job that passes it" >&2
fi
echo "$steps"
