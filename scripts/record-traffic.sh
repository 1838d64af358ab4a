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
# A protected branch takes changes through pull requests, so by default the commit goes to the
# branch slotless/record-traffic-STACK and a pull request into BRANCH is opened (or the open one
# updated): with gh on GitHub Actions (GH_TOKEN, `pull-requests: write`), with `az repos pr` on
# Azure Pipelines (AZURE_DEVOPS_EXT_PAT, the build service allowed to contribute to pull
# requests). RECORD_VIA=push pushes to BRANCH itself, where nothing protects it.
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

weights() { git show HEAD:"$file" | grep -E '^[[:space:]]+slotless:(blue|green)Weight:' | tr -d ' ' | paste -sd ' ' -; }

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
