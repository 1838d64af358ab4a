package azurefake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/monitor/azquery"

	"github.com/slotless/slotless/internal/gate"
)

// queryWorld is a cloud with a workspace in group rg and these principals: the release
// principal with a role holding the gate's table alone (as the stack's release role does), one
// with every table (query/*/read), a Reader of the workspace, one that may read AppRequests but
// run no query, and one with no role. It returns the API with their tokens and the workspace's
// customer id.
func queryWorld(t *testing.T) (*Telemetry, string) {
	t.Helper()
	f := newFake(t, sub1)
	mustCreate(t, f, "azure-native:resources:ResourceGroup", map[string]any{"resourceGroupName": "rg", "location": "westeurope"})
	ws := mustCreate(t, f, "azure-native:operationalinsights:Workspace", map[string]any{"resourceGroupName": "rg", "workspaceName": "logs", "location": "westeurope"})
	roles := map[string][]any{
		"release": {"Microsoft.OperationalInsights/workspaces/read", "Microsoft.OperationalInsights/workspaces/query/read", "Microsoft.OperationalInsights/workspaces/query/AppRequests/read"},
		"wide":    {"Microsoft.OperationalInsights/workspaces/query/read", "Microsoft.OperationalInsights/workspaces/query/*/read"},
		"noquery": {"Microsoft.OperationalInsights/workspaces/query/AppRequests/read"},
	}
	guids := map[string]string{"release": "2d8e5c4a-3b6f-4e7d-9c0a-9f8b7a6e5d4c", "wide": "3e9f6d5b-4c7a-4f8e-8d1b-0a9c8b7f6e5d", "noquery": "4fa07e6c-5d8b-4a9f-9e2c-1b0d9c8a7f6e"}
	assignment := 0
	assign := func(principal, scope, role string) {
		assignment++
		mustCreate(t, f, "azure-native:authorization:RoleAssignment", map[string]any{
			"roleAssignmentName": fmt.Sprintf("00000000-0000-4000-8000-%012d", assignment),
			"scope":              scope, "principalId": principal, "roleDefinitionId": "/subscriptions/" + sub1 + "/providers/Microsoft.Authorization/roleDefinitions/" + role,
		})
	}
	for name, actions := range roles {
		role := mustCreate(t, f, "azure-native:authorization:RoleDefinition", map[string]any{
			"roleDefinitionId": guids[name], "scope": rgID, "roleName": name, "roleType": "CustomRole", "assignableScopes": []any{rgID},
			"permissions": []any{map[string]any{"actions": actions}},
		})
		assign(name, rgID, lastSegment(role))
	}
	assign("reader", ws, "acdd72a7-3385-48ef-bd42-f606fba81ae7")
	c, err := f.Store.Load()
	if err != nil {
		t.Fatal(err)
	}
	r, _ := c.Get(ws)
	tel := &Telemetry{Token: "deployer", Access: &QueryAccess{Store: &f.Store, Principals: map[string]string{
		"release-token": "release", "wide-token": "wide", "reader-token": "reader", "noquery-token": "noquery", "stranger-token": "stranger",
	}}}
	return tel, r.Properties["customerId"].(string)
}

// TestQueryAccessByTable: the query API authorizes a caller's query by the tables it reads. The
// release role, which holds AppRequests alone, runs the metrics gate's own query, and is refused
// a query of another table, or one that unions or joins another table into AppRequests; a role
// with every table, or Reader, may read any (and the stand-in's KQL then refuses what it cannot
// evaluate); reading a table without the right to query, or holding no role, is refused.
func TestQueryAccessByTable(t *testing.T) {
	tel, workspace := queryWorld(t)
	t0 := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	tel.Now = func() time.Time { return t0.Add(10 * time.Minute) }
	gateQuery := gate.BuildQuery(gate.Query{CanaryApp: "app-blue", StableApp: "app-green", ServedFrom: t0, ArrivedFrom: t0, ArrivedTo: t0.Add(5 * time.Minute), HealthPath: "/health"})
	const traces = "AppTraces | summarize n = count() by AppRoleName"
	for _, tt := range []struct {
		name, token, workspace, query string
		status                        int
		want                          string
	}{
		{"the release role runs the gate's query", "release-token", workspace, gateQuery, http.StatusOK, ""},
		{"the release role may not read another table", "release-token", workspace, traces, http.StatusForbidden, "InsufficientAccessError"},
		{"nor union one in", "release-token", workspace, "AppRequests | union AppTraces, AppExceptions", http.StatusForbidden, "workspaces/query/AppTraces/read"},
		{"nor join one in", "release-token", workspace, "AppRequests | join kind=inner (AppExceptions) on OperationId", http.StatusForbidden, "workspaces/query/AppExceptions/read"},
		{"every table: past access, then outside the KQL subset", "wide-token", workspace, traces, http.StatusBadRequest, "the query must read AppRequests"},
		{"Reader reads every table", "reader-token", workspace, traces, http.StatusBadRequest, "the query must read AppRequests"},
		{"a table without the right to query", "noquery-token", workspace, gateQuery, http.StatusForbidden, "workspaces/query/read"},
		{"no role at all", "stranger-token", workspace, gateQuery, http.StatusForbidden, "InsufficientAccessError"},
		{"a token the API does not know", "forged", workspace, gateQuery, http.StatusUnauthorized, "InvalidAuthenticationToken"},
		{"the deploying identity", "deployer", workspace, traces, http.StatusBadRequest, "the query must read AppRequests"},
		{"a workspace that does not exist", "release-token", "0b1c2d3e-0000-4000-8000-000000000000", gateQuery, http.StatusNotFound, "WorkspaceNotFoundError"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body, _ := json.Marshal(map[string]string{"query": tt.query, "timespan": string(azquery.NewTimeInterval(t0, t0.Add(6*time.Minute)))})
			req := httptest.NewRequest(http.MethodPost, "/v1/workspaces/"+tt.workspace+"/query", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tt.token)
			rec := httptest.NewRecorder()
			tel.ServeHTTP(rec, req)
			if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.want) {
				t.Fatalf("got %d %s, want %d with %q", rec.Code, rec.Body.String(), tt.status, tt.want)
			}
		})
	}
}

// TestQueryTables: the tables a query reads, found before it is evaluated.
func TestQueryTables(t *testing.T) {
	for _, tt := range []struct{ query, want string }{
		{"AppRequests | where Success == false", "AppRequests"},
		{"AppRequests | union withsource=T kind=outer AppTraces, AppExceptions | summarize n = count()", "AppRequests AppTraces AppExceptions"},
		{"AppRequests | join kind=leftouter (AppDependencies | where Success == false) on OperationId", "AppRequests AppDependencies"},
		{"AppRequests | lookup AppTraces on OperationId", "AppRequests AppTraces"},
	} {
		got, err := queryTables(tt.query)
		if err != nil || strings.Join(got, " ") != tt.want {
			t.Errorf("%s: got %v (%v), want %s", tt.query, got, err, tt.want)
		}
	}
	if _, err := queryTables("| where x"); err == nil {
		t.Error("a query without a table: got no error")
	}
}
