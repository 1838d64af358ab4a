#!/usr/bin/env bash
# Shows the report that `slotless release --report-dir DIR` wrote as the CI system's summary of
# the job, whatever the release's outcome (run it with if: always() / condition: always()).
#   GitHub Actions: DIR/release.md is appended to $GITHUB_STEP_SUMMARY. Job summaries are GitHub
#     Flavored Markdown and render its Mermaid chart.
#   Azure Pipelines: `slotless report --chart text` writes DIR/summary.md, with a text chart, and
#     ##vso[task.uploadsummary] attaches it to the run's Extensions tab: that tab renders
#     Markdown, but Mermaid only in wikis.
# The HTML report (DIR/release.html) is the pipelines' artifact. A DIR without a report (the
# release stopped before its run: bad input, no login) is a warning here, since the release
# step has already failed and said why.
set -euo pipefail

dir="${1:?usage: publish-report.sh DIR (the --report-dir of slotless release)}"
if [ ! -f "$dir/release.json" ]; then
	echo "publish-report: $dir holds no report: the release stopped before its run (see the release step's log)" >&2
	exit 0
fi
if [ "${GITHUB_ACTIONS:-}" = "true" ] && [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
	cat "$dir/release.md" >>"$GITHUB_STEP_SUMMARY"
	echo "publish-report: $dir/release.md added to the job summary"
elif [ "${TF_BUILD:-}" = "True" ]; then
	slotless report "$dir/release.json" --markdown "$dir/summary.md" --chart text
	echo "##vso[task.uploadsummary]$(cd "$dir" && pwd)/summary.md"
else
	echo "publish-report: not in GitHub Actions or Azure Pipelines; the report is $dir/release.html"
fi
