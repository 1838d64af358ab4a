package azurefake

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// TestInvokes: each function the program calls answers as Azure does: a 404 (ResourceNotFound)
// for what does not exist yet, the Functions host's failure while it is down, and the values
// otherwise; every call is recorded, so the engine suite can tell what a preview asked.
func TestInvokes(t *testing.T) {
	const (
		hostKeys = "azure-native:web:listWebAppHostKeys"
		getSvc   = "azure-native:apimanagement:getApiManagementService"
		listNV   = "azure-native:apimanagement:listNamedValue"
		getBE    = "azure-native:apimanagement:getBackend"
		getAI    = "azure-native:applicationinsights:getComponent"
		getWS    = "azure-native:operationalinsights:getWorkspace"
	)
	f := apimWorld(t, "Consumption")
	mustCreate(t, f, "azure-native:web:WebApp", map[string]any{"resourceGroupName": "rg", "name": "green-app1a2b3c4d"})
	mustCreate(t, f, "azure-native:web:WebApp", map[string]any{"resourceGroupName": "rg", "name": "blue-app1a2b3c4d"})
	mustCreate(t, f, "azure-native:apimanagement:NamedValue", apim(map[string]any{"namedValueId": "plain", "displayName": "plain", "value": "green-backend"}))
	if err := f.Store.Update(func(c *Cloud) error { c.HostsDown = []string{"blue-app1a2b3c4d"}; return nil }); err != nil {
		t.Fatal(err)
	}
	ws := mustCreate(t, f, "azure-native:operationalinsights:Workspace", map[string]any{"resourceGroupName": "rg", "workspaceName": "team-logs", "location": "westeurope"})
	ai := mustCreate(t, f, "azure-native:applicationinsights:Component", map[string]any{"resourceGroupName": "rg", "resourceName": "team-ai", "kind": "web", "applicationType": "web", "location": "westeurope", "workspaceResourceId": ws})
	c, _ := f.Store.Load()
	green, _ := c.Get("/subscriptions/" + sub1 + "/resourceGroups/rg/providers/Microsoft.Web/sites/green-app1a2b3c4d")
	team, _ := c.Get(ai)
	logs, _ := c.Get(ws)

	tests := []struct {
		name, token string
		args        map[string]any
		want        string // the error, or "" for an answer
		check       func(t *testing.T, out resource.PropertyMap)
		// reaches Azure: recorded as a call (bad arguments fail in the provider)
		reaches bool
	}{
		{"host keys of an app that does not exist yet", hostKeys, map[string]any{"resourceGroupName": "rg", "name": "green-app00000000"}, "ResourceNotFound", nil, true},
		{"host keys while the host is down", hostKeys, map[string]any{"resourceGroupName": "rg", "name": "blue-app1a2b3c4d"}, "ServiceUnavailable", nil, true},
		{"host keys of a running app", hostKeys, map[string]any{"resourceGroupName": "rg", "name": "green-app1a2b3c4d"}, "", func(t *testing.T, out resource.PropertyMap) {
			if got := out["functionKeys"].ObjectValue()["default"].StringValue(); got != green.FunctionKey {
				t.Errorf("functionKeys.default: got %q, want the app's key %q", got, green.FunctionKey)
			}
		}, true},
		{"a service that does not exist yet", getSvc, map[string]any{"resourceGroupName": "rg", "serviceName": "apim00000000"}, "ResourceNotFound", nil, true},
		{"an existing service", getSvc, map[string]any{"resourceGroupName": "rg", "serviceName": "svc"}, "", func(t *testing.T, out resource.PropertyMap) {
			if out["gatewayUrl"].StringValue() != "https://svc.azure-api.net" || out["id"].StringValue() != "/subscriptions/"+sub1+svcPath {
				t.Errorf("got gatewayUrl %v id %v", out["gatewayUrl"], out["id"])
			}
		}, true},
		{"a named value that does not exist yet", listNV, apim(map[string]any{"namedValueId": "blue-key"}), "ResourceNotFound", nil, true},
		{"a secret named value", listNV, apim(map[string]any{"namedValueId": "green-key"}), "", func(t *testing.T, out resource.PropertyMap) {
			if out["value"].StringValue() != "k" {
				t.Errorf("value: got %v, want the secret k, which GET never returns", out["value"])
			}
		}, true},
		{"a plain named value", listNV, apim(map[string]any{"namedValueId": "plain"}), "", func(t *testing.T, out resource.PropertyMap) {
			if out["value"].StringValue() != "green-backend" {
				t.Errorf("value: got %v, want green-backend", out["value"])
			}
		}, true},
		{"a backend that does not exist yet", getBE, apim(map[string]any{"backendId": "pool"}), "ResourceNotFound", nil, true},
		{"an existing backend", getBE, apim(map[string]any{"backendId": "green"}), "", func(t *testing.T, out resource.PropertyMap) {
			if out["url"].StringValue() != "https://green.azurewebsites.net/api" || out["id"].StringValue() != backendID("green") {
				t.Errorf("got url %v id %v", out["url"], out["id"])
			}
		}, true},
		{"an Application Insights that does not exist", getAI, map[string]any{"resourceGroupName": "rg", "resourceName": "other-ai"}, "The Resource 'Microsoft.Insights/components/other-ai' under resource group 'rg' was not found", nil, true},
		{"a team's Application Insights", getAI, map[string]any{"resourceGroupName": "rg", "resourceName": "team-ai"}, "", func(t *testing.T, out resource.PropertyMap) {
			if out["id"].StringValue() != ai || out["connectionString"].StringValue() != team.Properties["connectionString"] || out["workspaceResourceId"].StringValue() != ws {
				t.Errorf("got id %v connectionString %v workspaceResourceId %v, want the component's", out["id"], out["connectionString"], out["workspaceResourceId"])
			}
		}, true},
		{"a workspace that does not exist", getWS, map[string]any{"resourceGroupName": "rg", "workspaceName": "other-logs"}, "The Resource 'Microsoft.OperationalInsights/workspaces/other-logs' under resource group 'rg' was not found", nil, true},
		{"a team's workspace", getWS, map[string]any{"resourceGroupName": "rg", "workspaceName": "team-logs"}, "", func(t *testing.T, out resource.PropertyMap) {
			if out["id"].StringValue() != ws || out["customerId"].StringValue() != logs.Properties["customerId"] {
				t.Errorf("got id %v customerId %v, want the workspace's", out["id"], out["customerId"])
			}
		}, true},
		{"missing argument", listNV, map[string]any{"namedValueId": "green-key", "serviceName": "svc"}, "missing required property 'resourceGroupName'", nil, false},
		{"unknown function", "azure-native:web:listWebAppFunctionKeys", map[string]any{}, "invoke type azure-native:web:listWebAppFunctionKeys not found", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := f.Store.Load()
			out, err := f.Invoke(tt.token, pm(tt.args))
			switch {
			case tt.want != "" && !errMatches(err, tt.want):
				t.Fatalf("got %v, %v; want an error with %q", out, err, tt.want)
			case tt.want == "" && err != nil:
				t.Fatalf("got %v, want an answer", err)
			case tt.check != nil:
				tt.check(t, out)
			}
			after, _ := f.Store.Load()
			recorded := len(after.Calls) == len(before.Calls)+1 && after.Calls[len(after.Calls)-1].Token == tt.token
			if recorded != tt.reaches {
				t.Errorf("recorded %v, want %v: %+v", recorded, tt.reaches, after.Calls[len(before.Calls):])
			}
		})
	}
}

// TestHostStartLag: a new app's host answers its first HostStartCalls key requests as a host
// that has not started does, then with the key.
func TestHostStartLag(t *testing.T) {
	f := apimWorld(t, "Consumption")
	mustCreate(t, f, "azure-native:web:WebApp", map[string]any{"resourceGroupName": "rg", "name": "green-app1a2b3c4d"})
	if err := f.Store.Update(func(c *Cloud) error { c.HostStartCalls = 2; return nil }); err != nil {
		t.Fatal(err)
	}
	args := pm(map[string]any{"resourceGroupName": "rg", "name": "green-app1a2b3c4d"})
	for call := 1; call <= 3; call++ {
		_, err := f.Invoke("azure-native:web:listWebAppHostKeys", args)
		if got, want := err != nil, call <= 2; got != want {
			t.Errorf("call %d: got error %v, want failing=%v", call, err, want)
		}
		if err != nil && !errMatches(err, "ServiceUnavailable") {
			t.Errorf("call %d: got %v, want the host runtime's ServiceUnavailable", call, err)
		}
	}
}
