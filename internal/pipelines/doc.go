// Package pipelines holds the tests of the CI definitions: the Azure DevOps pipelines in
// pipelines/azure-devops and the GitHub workflows in .github/workflows. A release pipeline is
// only reviewed when it runs against real Azure, so the properties that keep a release safe
// (stage order, a gate after every traffic step, rollback on any failure, federated sign-in
// only) are asserted here on the parsed YAML, offline.
//
// Every check is a function that returns an error naming what it got and what it wanted. The
// tests run each check on the committed files, and on copies broken on purpose, so a check that
// stops detecting its breakage fails too.
package pipelines
