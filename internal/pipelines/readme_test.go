package pipelines

import (
	"strings"
	"testing"
)

// TestPipelinesREADMEDocumentsReleaseRules keeps pipelines/README.md saying what the release
// guarantees and what these tests (and the CLI's) check: the rollback guarantee, what a shift
// refuses, concurrent updates, the thin traffic stages and their agreement with releaseSteps,
// the token handling, and the infra stage graph.
func TestPipelinesREADMEDocumentsReleaseRules(t *testing.T) {
	// Line breaks fall anywhere in prose; compare with runs of white space as one space.
	readme := strings.Join(strings.Fields(string(readFile(t, "pipelines/README.md"))), " ")
	for _, want := range []string{
		"**The rollback guarantee.** A rollback is never blocked by a guard rail",
		"`currentSlotName` output",
		"### What a shift refuses",
		"`--allow-other-changes`",
		"`[409] Another update is currently in progress`",
		"A rollback retries a bounded number of times",
		"A shift fails fast on it",
		"### Token lifetimes",
		"about 10 minutes",
		"**The traffic stages are thin.**",                                              // TestAzureDevOpsRelease, TestGitHubRelease
		"A test keeps the two in step (`TestPipelinesAgreeWithReleaseSteps`",            // TestPipelinesAgreeWithReleaseSteps
		"maps `SYSTEM_ACCESSTOKEN: $(System.AccessToken)` on Azure DevOps",              // TestReleaseTokenLifetimes
		"no GitHub traffic job runs `azure/login` (tests: `TestReleaseTokenLifetimes`)", // TestReleaseTokenLifetimes
		"`infra.yml` has two stages with `dependsOn: []`",                               // TestAzureDevOpsInfraStageGraph
		"`azure/login@v3`",                                                              // TestActionsRunOnNode24
	} {
		if !strings.Contains(readme, want) {
			t.Errorf("pipelines/README.md: got no %q, want it", want)
		}
	}
}
