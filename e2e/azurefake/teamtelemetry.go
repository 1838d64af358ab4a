package azurefake

import (
	"fmt"

	"github.com/google/uuid"
)

// A team's own Log Analytics workspace and Application Insights component, which a stack reuses
// (appInsightsResourceId, logAnalyticsWorkspaceResourceId) and never creates: a test seeds them
// as the team's observability group has them, with what ARM computed for them, and the program
// reads them with getComponent and getWorkspace (invoke.go). Role assignments on them are ARM's:
// their scope is the component, which must exist, and writing one needs
// Microsoft.Authorization/roleAssignments/write there, which Contributor lacks.

// PutWorkspace adds a team's workspace with this id, in a region, and returns its customer id.
func (c *Cloud) PutWorkspace(id, location string) string {
	customer := uuid.NewString()
	c.Put(&Resource{ID: id, Token: "azure-native:operationalinsights:Workspace", Subscription: subscriptionOf(id),
		Inputs: map[string]any{"workspaceName": lastSegment(id), "location": location},
		Properties: map[string]any{"name": lastSegment(id), "type": "Microsoft.OperationalInsights/workspaces", "location": location,
			"customerId": customer, "retentionInDays": 90.0}})
	return customer
}

// PutComponent adds a team's Application Insights component with this id, in a region, sending
// to the workspace workspaceID, or a classic one without a workspace when that is "".
func (c *Cloud) PutComponent(id, location, workspaceID string) {
	key, app := uuid.NewString(), uuid.NewString()
	p := map[string]any{"name": lastSegment(id), "type": "Microsoft.Insights/components", "location": location,
		"kind": "web", "applicationType": "web", "instrumentationKey": key, "appId": app,
		"connectionString": fmt.Sprintf("InstrumentationKey=%s;IngestionEndpoint=https://%s-0.in.applicationinsights.azure.com/;ApplicationId=%s", key, location, app)}
	if workspaceID != "" {
		p["workspaceResourceId"], p["ingestionMode"] = workspaceID, "LogAnalytics"
	}
	c.Put(&Resource{ID: id, Token: "azure-native:applicationinsights:Component", Subscription: subscriptionOf(id),
		Inputs: map[string]any{"resourceName": lastSegment(id), "location": location}, Properties: p})
}
