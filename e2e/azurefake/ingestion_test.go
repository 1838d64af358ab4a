package azurefake

import (
	"testing"
)

// TestSendTelemetry: an app's telemetry lands in the component its connection string names,
// whatever it calls itself; with local authentication off only the identity its authentication
// string names may send, and only to a component where that identity holds Monitoring Metrics
// Publisher: a slot's identity cannot write into the other slot's component, even with that
// component's connection string.
func TestSendTelemetry(t *testing.T) {
	const rg = "/subscriptions/" + sub1 + "/resourceGroups/rg"
	comp := func(slot string) string { return rg + "/providers/Microsoft.Insights/components/appi-" + slot }
	c := &Cloud{}
	for _, slot := range []string{"green", "blue"} {
		c.Put(&Resource{ID: comp(slot), Token: "azure-native:applicationinsights:Component", Inputs: map[string]any{"disableLocalAuth": true},
			Properties: map[string]any{"instrumentationKey": "key-" + slot, "connectionString": "InstrumentationKey=key-" + slot + ";IngestionEndpoint=https://westeurope-0.in.applicationinsights.azure.com/"}})
		c.Put(&Resource{ID: rg + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-" + slot, Token: "azure-native:managedidentity:UserAssignedIdentity",
			Properties: map[string]any{"clientId": "client-" + slot, "principalId": "principal-" + slot}})
		c.Put(&Resource{ID: comp(slot) + "/providers/Microsoft.Authorization/roleAssignments/ra-" + slot, Token: "azure-native:authorization:RoleAssignment",
			Inputs: map[string]any{"principalId": "principal-" + slot, "scope": comp(slot), "roleDefinitionId": "/subscriptions/" + sub1 + "/providers/Microsoft.Authorization/roleDefinitions/3913510d-42f4-4e42-8a64-420c390055eb"}})
	}
	c.Put(&Resource{ID: rg + "/providers/Microsoft.Insights/components/open", Token: "azure-native:applicationinsights:Component",
		Properties: map[string]any{"instrumentationKey": "key-open", "connectionString": "InstrumentationKey=key-open"}})
	app := func(key, auth string) *Resource {
		settings := []any{map[string]any{"name": "APPLICATIONINSIGHTS_CONNECTION_STRING", "value": "InstrumentationKey=" + key + ";IngestionEndpoint=https://westeurope-0.in.applicationinsights.azure.com/"}}
		if auth != "" {
			settings = append(settings, map[string]any{"name": "APPLICATIONINSIGHTS_AUTHENTICATION_STRING", "value": auth})
		}
		return &Resource{ID: rg + "/providers/Microsoft.Web/sites/app-blue", Token: "azure-native:web:WebApp", Inputs: map[string]any{"siteConfig": map[string]any{"appSettings": settings}}}
	}
	for _, tt := range []struct {
		name    string
		app     *Resource
		to      string
		want    string
		wantErr string
	}{
		{"to its own component", app("key-blue", "ClientId=client-blue;Authorization=AAD"), "", comp("blue"), ""},
		{"the other slot's connection string", app("key-blue", "ClientId=client-blue;Authorization=AAD"), c.ConnectionStringOf(comp("green")), "", "Forbidden"},
		{"its settings naming the other slot's component", app("key-green", "ClientId=client-blue;Authorization=AAD"), "", "", "Forbidden"},
		{"without a token", app("key-blue", ""), "", "", "Unauthorized"},
		{"an identity that does not exist", app("key-blue", "ClientId=nobody;Authorization=AAD"), "", "", "Unauthorized"},
		{"a component with local authentication on", app("key-open", ""), "", rg + "/providers/Microsoft.Insights/components/open", ""},
		{"an unknown key", app("key-none", ""), "", "", "InvalidInstrumentationKey"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.SendTelemetry(tt.app, tt.to)
			if tt.wantErr != "" {
				if !errMatches(err, tt.wantErr) {
					t.Fatalf("got %q, %v; want %s", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
