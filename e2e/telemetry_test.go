//go:build e2e

package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slotless/slotless/e2e/azurefake"
	"github.com/slotless/slotless/internal/rollout"
	"github.com/slotless/slotless/stack"
)

// deployWith runs the README's deploy section for a fresh user, with the given config lines run
// just before its pulumi up, as a team adds its own keys.
func deployWith(t *testing.T, u *user, extra ...string) {
	t.Helper()
	for _, line := range readmeCommands(t, "## Deploying to Azure") {
		if line == "pulumi up" {
			for _, e := range extra {
				u.run(e)
			}
			u.preview("dev")
			u.up("dev")
			continue
		}
		u.run(line)
	}
}

// TestReusedTelemetry: a team deploys with its own Application Insights, in its observability
// group. The stack creates no workspace and no component; both apps report to the team's with
// their own identities, each of which publishes metrics to it; the stack's outputs name it and its
// workspace. The release identity, whose role follows the telemetry to the team's group, moves
// traffic through Pulumi (whose program reads the team's component and workspace); and a
// release's metrics gate reads that workspace and finds the canary's requests there.
func TestReusedTelemetry(t *testing.T) {
	parallel(t, 45*time.Second)
	const sub = "00000000-0000-0000-0000-0000000a1a1a"
	obs := "/subscriptions/" + sub + "/resourceGroups/observability-rg"
	component := obs + "/providers/Microsoft.Insights/components/orders-ai"
	workspace := obs + "/providers/Microsoft.OperationalInsights/workspaces/orders-logs"
	cloud := newCloud(t)
	var customerID string
	if err := cloud.Update(func(c *azurefake.Cloud) error {
		c.Put(&azurefake.Resource{ID: obs, Token: "azure-native:resources:ResourceGroup", Subscription: sub, Properties: map[string]any{"name": "observability-rg", "location": "westeurope"}})
		customerID = c.PutWorkspace(workspace, "westeurope")
		c.PutComponent(component, "westeurope", workspace)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	u := newUser(t, cloud, sub)
	deployWith(t, u, "pulumi config set appInsightsResourceId "+component, "pulumi config set releasePrincipalId "+releasePrincipal)

	c, err := cloud.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, token := range []string{"azure-native:applicationinsights:Component", "azure-native:operationalinsights:Workspace"} {
		for _, r := range c.ByType(token) {
			if !strings.EqualFold(r.ID, component) && !strings.EqualFold(r.ID, workspace) {
				t.Errorf("the stack created %s %s; it reuses the team's", token, r.ID)
			}
		}
	}
	for _, call := range c.Calls {
		if call.Op == "create" && (call.Token == "azure-native:applicationinsights:Component" || call.Token == "azure-native:operationalinsights:Workspace") {
			t.Errorf("the stack created %s", call.Target)
		}
	}
	team, _ := c.Get(component)
	conn, _ := team.Properties["connectionString"].(string)
	outs := u.outputs("dev")
	if outs[stack.OutWorkspaceID] != customerID || outs[stack.OutAppInsightsName] != "orders-ai" || !strings.EqualFold(outs[stack.OutAppInsightsID].(string), component) {
		t.Errorf("outputs: workspace %v, component %v (%v); want the team's workspace %s and component orders-ai", outs[stack.OutWorkspaceID], outs[stack.OutAppInsightsName], outs[stack.OutAppInsightsID], customerID)
	}
	publishers := map[string]bool{}
	for _, ra := range c.ByType("azure-native:authorization:RoleAssignment") {
		if strings.EqualFold(ra.Inputs["scope"].(string), component) && strings.HasSuffix(ra.Inputs["roleDefinitionId"].(string), "/3913510d-42f4-4e42-8a64-420c390055eb") {
			publishers[ra.Inputs["principalId"].(string)] = true
		}
	}
	for _, slot := range stack.Slots {
		settings := u.appSettingsInCloud(slot)
		if settings["APPLICATIONINSIGHTS_CONNECTION_STRING"] != conn || !strings.HasSuffix(settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"], ";Authorization=AAD") {
			t.Errorf("%s reports to %q (%q), want the team's component with Entra ID", slot, settings["APPLICATIONINSIGHTS_CONNECTION_STRING"], settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"])
		}
		if p, _ := outs[stack.OutIdentityPrincipalID(slot)].(string); !publishers[p] {
			t.Errorf("%s's identity %s is no Monitoring Metrics Publisher on the team's component (publishers %v)", slot, p, publishers)
		}
	}
	if again := u.up("dev"); len(again.Changed()) != 0 {
		t.Errorf("a second up changed %v, want nothing", changedNames(again))
	}

	// The release identity's traffic-only updates read the team's component and workspace.
	u.withARM()
	releaseAz := filepath.Join(t.TempDir(), "az")
	writeAzWith(t, releaseAz, u.sub, releaseToken)
	if err := cloud.Update(func(c *azurefake.Cloud) error {
		c.ServicePrincipals = map[string]string{releaseClientID: releasePrincipal}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	u.clientID = releaseClientID
	asRelease := "PATH=" + releaseAz + ":$PATH "
	if out := u.sh(asRelease + "slotless shift --stack dev --slot blue --to 10 --force"); u.weights().Blue != 10 {
		t.Fatalf("shift as the release identity: got %s\n%s", u.weights(), out)
	}
	if out := u.sh(asRelease + "slotless rollback --stack dev --slot blue"); u.weights().Blue != 0 {
		t.Fatalf("rollback as the release identity: got %s\n%s", u.weights(), out)
	}
	u.clientID = ""

	token := strings.TrimSpace(u.sh("pulumi config get pinToken"))
	svc := withServices(t, u, token, "analysisIntervalSeconds 10", `releaseSteps [{"weight": 50, "bake": "10s"}, {"weight": 100, "bake": "0s"}]`)
	record := filepath.Join(t.TempDir(), "release.json")
	out := u.sh(svc.release("", record))
	t.Log(out)
	rec := readRecord(t, record)
	if rec.Outcome != rollout.OutcomeComplete || len(rec.StepsTaken) == 0 || len(rec.StepsTaken[0].Analyses) == 0 {
		t.Fatalf("release: got %s with steps %+v, want complete after an analysis at 50%%", rec.Outcome, rec.StepsTaken)
	}
	if m := rec.StepsTaken[0].Analyses[0].Metrics; m == nil || m.Canary == nil || m.Canary.Requests < 50 {
		t.Errorf("the analysis at 50%%: metrics %+v, want the canary's requests read from the team's workspace", m)
	}
	asked := svc.workspaces()
	if len(asked) == 0 {
		t.Fatal("the metrics gate asked Log Analytics nothing")
	}
	for _, ws := range asked {
		if ws != customerID {
			t.Errorf("Log Analytics was asked about workspace %s, want the team's %s", ws, customerID)
		}
	}
}
