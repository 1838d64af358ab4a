# shellcheck shell=bash
# Sourced by the pipeline scripts. ci_error NAME MESSAGE annotates the run in either CI system,
# so the reason is on the summary page and not only in the log, or prints "NAME: MESSAGE"
# elsewhere, and exits 1.
ci_error() {
	if [ -n "${TF_BUILD:-}" ]; then
		echo "##vso[task.logissue type=error]$2" >&2
	elif [ -n "${GITHUB_ACTIONS:-}" ]; then
		echo "::error::$2" >&2
	else
		echo "$1: $2" >&2
	fi
	exit 1
}
