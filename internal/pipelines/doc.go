// Package pipelines holds the tests of the CI definitions: the GitHub reusable workflows
// (.github/workflows/slotless-*.yml) and Azure DevOps templates
// (pipelines/azure-devops/templates/) that a team's repository calls, this repository's own
// callers of them for the sample, its CI workflow, and the CI scripts they run. A release
// pipeline is only reviewed when it runs against real Azure, so the properties that keep a
// release safe (stage order, a gate after every traffic step, rollback on any failure, federated
// sign-in only, slotless installed and never built on a team's path) are asserted here on the
// parsed YAML, offline: a reusable workflow as a caller's inputs instantiate it (its matrix of
// steps expanded, its environments' names evaluated), a template as Azure Pipelines expands it
// with a caller's parameters.
//
// Every check is a function that returns an error naming what it got and what it wanted. The
// tests run each check on the committed files, and on copies broken on purpose, so a check that
// stops detecting its breakage fails too. The tests check the definitions and the callers of this
// repository; what a team adds to its own callers is its own.
package pipelines
