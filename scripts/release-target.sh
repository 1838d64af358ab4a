#!/usr/bin/env bash
# Prints, as KEY=VALUE lines, where a release goes: the idle slot and its app, the live slot and
# its app, and what the gates need. Everything comes from the stack's outputs, so no pipeline
# carries a resource name of its own.
#
#   scripts/release-target.sh STACK [OUTPUTS_JSON_FILE]
#
# Without a file it runs `pulumi stack output --json --stack STACK`. SLOTLESS_WORKSPACE_ID, when
# set, wins over the stack's logAnalyticsWorkspaceId output.
set -euo pipefail

stack="${1:?usage: release-target.sh STACK [OUTPUTS_JSON_FILE]}"
file="${2:-}"

# shellcheck source=scripts/ci-error.sh
. "$(dirname "${BASH_SOURCE[0]}")/ci-error.sh"
fail() { ci_error release-target "$1"; }

if [ -n "$file" ]; then
	outputs="$(cat "$file")"
else
	outputs="$(pulumi stack output --json --stack "$stack")"
fi

out() { jq -r --arg k "$1" '.[$k] // "" | tostring' <<<"$outputs"; }

live="$(out liveSlot)"
idle="$(out idleSlot)"
if [ -z "$live" ]; then
	fail "stack $stack has no liveSlot output; run the infrastructure pipeline (pulumi up) first"
fi
if [ -z "$idle" ]; then
	echo "traffic now: green $(out greenWeight)% / blue $(out blueWeight)%" >&2
	fail "a release is in progress: $live carries traffic and no slot is idle; finish or roll back first"
fi
case "$idle" in
green | blue) ;;
*) fail "stack $stack reports idleSlot \"$idle\", want green or blue" ;;
esac

idle_app="$(out "${idle}AppName")"
live_app="$(out "${live}AppName")"
rg="$(out resourceGroupName)"
api_url="$(out apiUrl)"
app_insights="$(out appInsightsName)"
for pair in "${idle}AppName=$idle_app" "${live}AppName=$live_app" "resourceGroupName=$rg" "apiUrl=$api_url" "appInsightsName=$app_insights"; do
	[ -n "${pair#*=}" ] || fail "stack $stack has no ${pair%%=*} output"
done

# The metrics gate queries the Log Analytics workspace behind Application Insights. The stack
# exports its id; stacks last deployed before that output existed are looked up with az.
workspace_id="${SLOTLESS_WORKSPACE_ID:-$(out logAnalyticsWorkspaceId)}"
if [ -z "$workspace_id" ]; then
	workspace_resource="$(az resource show -g "$rg" -n "$app_insights" \
		--resource-type Microsoft.Insights/components \
		--query properties.WorkspaceResourceId -o tsv)"
	[ -n "$workspace_resource" ] || fail "Application Insights $app_insights is not workspace-based"
	workspace_id="$(az resource show --ids "$workspace_resource" --query properties.customerId -o tsv)"
	[ -n "$workspace_id" ] || fail "no customer id on workspace $workspace_resource"
fi

printf '%s=%s\n' \
	idleSlot "$idle" \
	idleApp "$idle_app" \
	liveSlot "$live" \
	liveApp "$live_app" \
	resourceGroup "$rg" \
	apiUrl "$api_url" \
	workspaceId "$workspace_id"
