#!/usr/bin/env bash
# Records the weights a release left deployed in git, so git is again the source of truth for
# traffic and the next infrastructure up passes the traffic guard and the drift guard.
#
#   scripts/record-traffic.sh STACK BRANCH RELEASE
#
# The weights come from `slotless record`: the pool as API Management holds it (a break-glass
# rollback included), else the stack's outputs. Only the weight keys change, on BRANCH's current
# file: other config merged while the release ran is kept.
#
# It runs in the folder holding Pulumi.yaml, which may be below the repository's root.
#
# A protected branch takes changes through pull requests, so by default the commit goes to the
# branch slotless/record-traffic-STACK and a pull request into BRANCH is opened (or the open one
# updated): with gh on GitHub Actions, with `az repos pr` on Azure Pipelines
# (AZURE_DEVOPS_EXT_PAT, the build service allowed to contribute to pull requests). RECORD_VIA=push
# pushes to BRANCH itself, where nothing protects it.
#
# On GitHub, a pull request opened or pushed with the job's GITHUB_TOKEN starts no workflow, so
# the required checks never report on it. SLOTLESS_RECORD_TOKEN (a GitHub App installation token
# or a PAT with contents and pull requests write) opens it and pushes its branch instead, and
# the checks run; without it GH_TOKEN (the job's token) does, with a warning that says so.
# Azure Repos queues build validation for a pull request whoever opened it, so the job's token
# serves there.
set -euo pipefail

stack="${1:?usage: record-traffic.sh STACK BRANCH RELEASE}"
branch="${2:?usage: record-traffic.sh STACK BRANCH RELEASE}"
release="${3:?usage: record-traffic.sh STACK BRANCH RELEASE}"
via="${RECORD_VIA:-pr}"
file="Pulumi.$stack.yaml"
record_branch="slotless/record-traffic-$stack"

case "$via" in
pr | push) ;;
*)
	echo "record-traffic: RECORD_VIA=$via: want pr or push" >&2
	exit 2
	;;
esac

commit_on() {
	git fetch --quiet origin "$branch"
	git checkout --quiet --force -B slotless-record "origin/$branch"
	slotless record --stack "$stack"
	if git diff --quiet -- "$file"; then
		return 1
	fi
	git -c user.name="${GIT_AUTHOR_NAME:-slotless release}" -c user.email="${GIT_AUTHOR_EMAIL:-slotless-release@noreply.invalid}" \
		commit --quiet -m "$stack: record traffic after release $release" -- "$file"
}

# HEAD:./FILE is the file in this folder, wherever it sits in the repository. The keys are in the
# project's namespace (orders:blueWeight), whatever the project is called.
weights() { git show "HEAD:./$file" | grep -E '^[[:space:]]+[A-Za-z0-9_.-]+:(blue|green)Weight:' | tr -d ' ' | paste -sd ' ' -; }

# The record token reaches git the way actions/checkout puts the job's token there: an
# Authorization header for the remote's server. An empty value first drops the checkout's header,
# so the push is the token's alone (git reads GIT_CONFIG_* after its config files; the token stays
# out of the process list).
if [ "${GITHUB_ACTIONS:-}" = true ] && [ "$via" = pr ]; then
	if [ -n "${SLOTLESS_RECORD_TOKEN:-}" ]; then
		echo "::add-mask::$SLOTLESS_RECORD_TOKEN"
		GH_TOKEN="$SLOTLESS_RECORD_TOKEN"
		export GH_TOKEN
		remote="$(git remote get-url origin)"
		case "$remote" in
		http://* | https://*)
			rest="${remote#*://}"
			server="${remote%%://*}://${rest%%/*}/"
			basic="$(printf 'x-access-token:%s' "$SLOTLESS_RECORD_TOKEN" | base64 | tr -d '\n')"
			echo "::add-mask::$basic"
			export GIT_CONFIG_COUNT=2 \
				GIT_CONFIG_KEY_0="http.${server}.extraheader" GIT_CONFIG_VALUE_0="" \
				GIT_CONFIG_KEY_1="http.${server}.extraheader" GIT_CONFIG_VALUE_1="AUTHORIZATION: basic $basic"
			;;
		*) echo "::warning::record-traffic: origin ($remote) is not an http(s) remote; $record_branch is pushed with the checkout's own credentials" ;;
		esac
	fi
fi

if [ "$via" = push ]; then
	# A push can lose a race with a merge to the branch, so the whole edit is retried on a fresh tip.
	for attempt in 1 2 3; do
		if ! commit_on; then
			echo "$file on $branch already records the deployed weights"
			exit 0
		fi
		if git push --quiet origin "HEAD:refs/heads/$branch"; then
			echo "recorded $(weights) in $file on $branch"
			exit 0
		fi
		echo "push to $branch rejected (attempt $attempt); retrying on the new tip" >&2
	done
	echo "record-traffic: could not push to $branch; record the weights by pull request (RECORD_VIA=pr)" >&2
	exit 1
fi

if ! commit_on; then
	echo "$file on $branch already records the deployed weights"
	exit 0
fi
# The record branch is this script's alone: each run replaces it with one commit on BRANCH's tip.
git push --quiet --force origin "HEAD:refs/heads/$record_branch"
title="$stack: record traffic after release $release"
body="The weights deployed after release $release, as \`slotless record\` read them: $(weights). Until this merges, a \`pulumi up\` from $branch is refused by the traffic guard."

if [ "${GITHUB_ACTIONS:-}" = true ]; then
	if [ -z "${SLOTLESS_RECORD_TOKEN:-}" ]; then
		echo "::warning title=The traffic record's checks will not run::No SLOTLESS_RECORD_TOKEN, so the pull request from $record_branch is opened and pushed with GITHUB_TOKEN, for which GitHub starts no workflow: its required checks never report, and a branch that requires them will not merge it. Close and reopen it to run them, or give the release workflow SLOTLESS_RECORD_TOKEN (a GitHub App installation token or a PAT with contents and pull requests write)."
	fi
	if [ -n "$(gh pr list --head "$record_branch" --base "$branch" --state open --json number --jq '.[].number')" ]; then
		echo "updated the open pull request from $record_branch into $branch: $(weights)"
	else
		gh pr create --head "$record_branch" --base "$branch" --title "$title" --body "$body"
	fi
elif [ "${TF_BUILD:-}" = True ]; then
	# Azure Pipelines exposes the organization, project and repository as these variables.
	scope=(--organization "${SYSTEM_COLLECTIONURI:?}" --project "${SYSTEM_TEAMPROJECT:?}" --repository "${BUILD_REPOSITORY_NAME:?}")
	open="$(az repos pr list "${scope[@]}" --source-branch "$record_branch" --target-branch "$branch" --status active --query '[].pullRequestId' -o tsv)"
	if [ -n "$open" ]; then
		echo "updated the open pull request $open from $record_branch into $branch: $(weights)"
	else
		az repos pr create "${scope[@]}" --source-branch "$record_branch" --target-branch "$branch" --title "$title" --description "$body" -o none
		echo "opened a pull request from $record_branch into $branch: $(weights)"
	fi
else
	echo "pushed $record_branch with $(weights); open a pull request from it into $branch"
fi
