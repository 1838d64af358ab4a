#!/usr/bin/env bash
# Builds the zip a release deploys to the idle slot: by default the sample's custom handler.
# Bring your own app by pointing the pipelines at a script of your own (SLOTLESS_BUILD in GitHub,
# the packageBuild parameter in Azure DevOps) that builds it the same way: it is run from the
# repository root with VERSION, the version the release's gates check, and must write the zip
# to the path the pipelines publish (SLOTLESS_PACKAGE, the package parameter).
#
#   VERSION=1.1.0 scripts/build-package.sh
set -euo pipefail

: "${VERSION:?VERSION is the version the package reports}"
make -C functionapp package VERSION="$VERSION"
