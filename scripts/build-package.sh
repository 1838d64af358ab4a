#!/usr/bin/env bash
# Builds the zip this repository's release deploys to the idle slot: the sample's custom handler.
# It is the build-command (GitHub) or packageBuild (Azure DevOps) that this repository's callers
# give the reusable release; a team gives its own, run the same way: in the folder holding
# Pulumi.yaml, with VERSION, the version the release's gates check, writing the zip to the path
# it gives as package-path (package). It is the one script of scripts/ that slotless's release
# archives leave out.
#
#   VERSION=1.1.0 scripts/build-package.sh
set -euo pipefail

: "${VERSION:?VERSION is the version the package reports}"
make -C functionapp package VERSION="$VERSION"
