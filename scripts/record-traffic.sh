#!/usr/bin/env bash
# Commits the weights a release left deployed to BRANCH, so git is again the source of truth
# for traffic and the next infrastructure up neither undoes the release nor trips the drift guard.
#
#   scripts/record-traffic.sh STACK BRANCH RELEASE
#
# Only the weight keys change, set with `pulumi config set` on the branch's current file: other
# config merged while the release ran is kept. Needs push rights for the checkout's credentials.
set -euo pipefail

stack="${1:?usage: record-traffic.sh STACK BRANCH RELEASE}"
branch="${2:?usage: record-traffic.sh STACK BRANCH RELEASE}"
release="${3:?usage: record-traffic.sh STACK BRANCH RELEASE}"
file="Pulumi.$stack.yaml"

blue="$(pulumi stack output blueWeight --stack "$stack")"
green="$(pulumi stack output greenWeight --stack "$stack")"

# The release's own edits to the file are discarded: the deployed outputs are what is recorded.
# A push can lose a race with a merge to the branch, so the whole edit is retried on a fresh tip.
for attempt in 1 2 3; do
	git fetch --quiet origin "$branch"
	git checkout --quiet --force -B slotless-record "origin/$branch"

	pulumi config set blueWeight "$blue" --stack "$stack"
	if pulumi config get greenWeight --stack "$stack" >/dev/null 2>&1; then
		pulumi config set greenWeight "$green" --stack "$stack"
	fi

	if git diff --quiet -- "$file"; then
		echo "$file on $branch already says green $green% / blue $blue%"
		exit 0
	fi

	git -c user.name="${GIT_AUTHOR_NAME:-slotless release}" -c user.email="${GIT_AUTHOR_EMAIL:-slotless-release@noreply.invalid}" \
		commit --quiet -m "$stack: record traffic green $green% / blue $blue% after release $release [skip ci]" -- "$file"
	if git push --quiet origin "HEAD:refs/heads/$branch"; then
		echo "recorded green $green% / blue $blue% in $file on $branch"
		exit 0
	fi
	echo "push to $branch rejected (attempt $attempt); retrying on the new tip" >&2
done
echo "record-traffic: could not push to $branch; record green $green% / blue $blue% in $file by pull request" >&2
exit 1
