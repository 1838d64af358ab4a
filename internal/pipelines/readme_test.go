package pipelines

import (
	"strings"
	"testing"
)

// TestPipelinesREADMEDocumentsReleaseRules keeps pipelines/README.md saying what the release
// guarantees and what these tests (and the CLI's) check: the rollback guarantee, what a shift
// refuses, concurrent updates, the thin traffic stages and their agreement with releaseSteps,
// the token handling, the infra stage graph, and, for a team calling the definitions: the
// interface, releaseSteps required on Azure DevOps, the record token, and the source mode being
// this repository's alone.
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
		"`slotless-infra.yml` (this repository's caller: `infra.yml`) has two stages with `dependsOn: []`",  // TestAzureDevOpsInfraStageGraph
		"(`TestReusableWorkflowsMatchTheCIInterface`)",                                                      // TestReusableWorkflowsMatchTheCIInterface
		"**`releaseSteps` is required on Azure DevOps.**",                                                   // TestAzureDevOpsRelease
		"Give the release the secret `SLOTLESS_RECORD_TOKEN`",                                               // TestRecordTrafficOpensThePullRequestWithTheRecordToken
		"*The traffic record's checks will not run*",                                                        // record-traffic.sh's warning
		"**`slotless-version: source`** (`slotlessVersion: source`) is for slotless's own repository alone", // TestNoTeamPathBuildsSlotless
		"`azure/login@v3`", // TestActionsRunOnNode24
	} {
		if !strings.Contains(readme, want) {
			t.Errorf("pipelines/README.md: got no %q, want it", want)
		}
	}
}

// TestReleaseEnvironmentsAreBranchRestricted: the setup gives every release environment of the
// stack a federated credential whose subject names the environment alone, so it must also
// restrict the environment to the release tags and the default branch; both loops list the same
// environments.
func TestReleaseEnvironmentsAreBranchRestricted(t *testing.T) {
	readme := string(readFile(t, "pipelines/README.md"))
	var loops []string
	for _, line := range strings.Split(readme, "\n") {
		if strings.HasPrefix(line, "for env in ") {
			loops = append(loops, line)
		}
	}
	if len(loops) != 2 || loops[0] != loops[1] {
		t.Fatalf("pipelines/README.md: got environment loops %q, want the credentials' and the branch policies' over the same environments", loops)
	}
	_, policies, _ := strings.Cut(readme, "deployment_branch_policy")
	for _, want := range []string{"deployment_branch_policy[custom_branch_policies]=true", "deployment-branch-policies\" -f name='dev-v*' -f type=tag", "-f name=main -f type=branch"} {
		if !strings.Contains("deployment_branch_policy"+policies, want) {
			t.Errorf("pipelines/README.md: the branch policies lack %q", want)
		}
	}
}
