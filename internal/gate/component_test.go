package gate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/monitor/azquery"

	"github.com/slotless/slotless/e2e/azurefake"
)

// standIn runs the gate's queries against azurefake.Telemetry, which evaluates the KQL over its
// rows (the columns as Log Analytics has them, _ResourceId included), in-process.
type standIn struct{ table *azurefake.Telemetry }

func (s standIn) QueryWorkspace(_ context.Context, workspaceID string, body azquery.Body, _ *azquery.LogsClientQueryWorkspaceOptions) (azquery.LogsClientQueryWorkspaceResponse, error) {
	raw, _ := json.Marshal(map[string]string{"query": *body.Query, "timespan": string(*body.Timespan)})
	req := httptest.NewRequest(http.MethodPost, "/v1/workspaces/"+workspaceID+"/query", bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+s.table.Token)
	rec := httptest.NewRecorder()
	s.table.ServeHTTP(rec, req)
	var resp azquery.LogsClientQueryWorkspaceResponse
	if rec.Code != http.StatusOK {
		return resp, fmt.Errorf("query answered %d: %s", rec.Code, rec.Body)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &resp.Results); err != nil {
		return resp, err
	}
	return resp, nil
}

// TestQuerySelectsEachAppFromItsOwnComponent: with the slots' components known, a row counts
// for an app only when it came from that app's component (_ResourceId, which ingestion sets
// from where the data was sent, compared without regard to case as Log Analytics stores it
// lower case); the canary's rows named as the stable app, written into the canary's own
// component, do not count as the stable slot's. When each component is its slot's own, the
// component alone decides: rows named alike on both slots are told apart, and the canary's
// rows under the stable app's name count as the canary's. Without the components (a stack deployed
// before they were exported) the role name alone decides, and the forgery counts.
func TestQuerySelectsEachAppFromItsOwnComponent(t *testing.T) {
	const (
		canaryComp = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-orders/providers/Microsoft.Insights/components/appi-orders-blue"
		stableComp = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-orders/providers/Microsoft.Insights/components/appi-orders-green"
		shared     = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-orders/providers/Microsoft.Insights/components/appi-orders"
	)
	start := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	row := func(app, comp string, code, n int) azurefake.Row {
		return azurefake.Row{App: app, Component: comp, Operation: "orders", Url: "https://" + app + ".azurewebsites.net/api/orders",
			Generated: start.Add(10 * time.Second), Ingested: start.Add(20 * time.Second), ResultCode: code, Success: true, DurationMs: 5, Count: n, ItemCount: 1}
	}
	for _, tt := range []struct {
		name                       string
		rows                       []azurefake.Row
		canaryComp, stableComp     string
		own                        bool
		wantCanary, wantStable     int64
		wantCanaryFailed, wantFail int64
	}{
		{name: "each app from its own component",
			rows:       []azurefake.Row{row("app-blue", canaryComp, 200, 80), row("app-blue", canaryComp, 500, 20), row("app-green", stableComp, 200, 100)},
			canaryComp: canaryComp, stableComp: stableComp, wantCanary: 100, wantCanaryFailed: 20, wantStable: 100},
		{name: "the canary's rows named as the stable app, in the canary's component, are not the stable slot's",
			rows: []azurefake.Row{row("app-blue", canaryComp, 200, 80), row("app-blue", canaryComp, 500, 20), row("app-green", stableComp, 200, 100),
				row("app-green", canaryComp, 200, 5000)},
			canaryComp: canaryComp, stableComp: stableComp, wantCanary: 100, wantCanaryFailed: 20, wantStable: 100},
		{name: "the stable app's rows in the canary's component are not the canary's either",
			rows:       []azurefake.Row{row("app-blue", canaryComp, 500, 20), row("app-blue", stableComp, 200, 5000), row("app-green", stableComp, 200, 100)},
			canaryComp: canaryComp, stableComp: stableComp, wantCanary: 20, wantCanaryFailed: 20, wantStable: 100},
		{name: "ids compared without regard to case",
			rows:       []azurefake.Row{row("app-blue", canaryComp, 200, 10), row("app-green", stableComp, 200, 30)},
			canaryComp: strings.ToUpper(canaryComp), stableComp: stableComp, wantCanary: 10, wantStable: 30},
		{name: "a live slot still on the shared component during the upgrade",
			rows:       []azurefake.Row{row("app-blue", canaryComp, 200, 10), row("app-green", shared, 200, 30), row("app-green", canaryComp, 200, 900)},
			canaryComp: canaryComp, stableComp: shared, wantCanary: 10, wantStable: 30},
		{name: "one team component for both: the role name decides",
			rows:       []azurefake.Row{row("app-blue", shared, 200, 10), row("app-green", shared, 200, 30)},
			canaryComp: shared, stableComp: shared, wantCanary: 10, wantStable: 30},
		{name: "components of their own: both slots' telemetry named alike still told apart",
			rows:       []azurefake.Row{row("orders", canaryComp, 200, 80), row("orders", canaryComp, 500, 20), row("orders", stableComp, 200, 100)},
			canaryComp: canaryComp, stableComp: stableComp, own: true, wantCanary: 100, wantCanaryFailed: 20, wantStable: 100},
		{name: "components of their own: the canary's rows named as the stable app are the canary's",
			rows: []azurefake.Row{row("app-blue", canaryComp, 200, 80), row("app-blue", canaryComp, 500, 20), row("app-green", stableComp, 200, 100),
				row("app-green", canaryComp, 500, 250), row("app-green", shared, 200, 900)},
			canaryComp: canaryComp, stableComp: stableComp, own: true, wantCanary: 350, wantCanaryFailed: 270, wantStable: 100},
		{name: "components of their own, but one component for both: the role name decides",
			rows:       []azurefake.Row{row("app-blue", shared, 200, 10), row("app-green", shared, 200, 30), row("orders", shared, 200, 900)},
			canaryComp: shared, stableComp: strings.ToUpper(shared), own: true, wantCanary: 10, wantStable: 30},
		{name: "not their own: a row must carry its app's name",
			rows:       []azurefake.Row{row("orders", canaryComp, 200, 80), row("app-green", stableComp, 200, 100)},
			canaryComp: canaryComp, stableComp: stableComp, wantCanary: 0, wantStable: 100},
		{name: "no components known: the role name alone, so the forgery counts",
			rows:       []azurefake.Row{row("app-blue", canaryComp, 500, 20), row("app-green", stableComp, 200, 100), row("app-green", canaryComp, 200, 5000)},
			wantCanary: 20, wantCanaryFailed: 20, wantStable: 5100},
	} {
		t.Run(tt.name, func(t *testing.T) {
			table := &azurefake.Telemetry{Now: func() time.Time { return start.Add(time.Hour) }, Token: "t"}
			table.Add(tt.rows...)
			q := Query{CanaryApp: "app-blue", StableApp: "app-green", CanaryComponent: tt.canaryComp, StableComponent: tt.stableComp, OwnComponents: tt.own,
				ArrivedTo: start.Add(time.Minute), ServedFrom: start, HealthPath: "/health", Late: time.Minute}
			c, s, kql, err := QueryFigures(context.Background(), standIn{table}, "ws", q)
			if err != nil {
				t.Fatalf("query:\n%s\n%v", kql, err)
			}
			if c.Requests != tt.wantCanary || c.Failed != tt.wantCanaryFailed || s.Requests != tt.wantStable || s.Failed != tt.wantFail {
				t.Errorf("canary %d requests (%d failed), stable %d (%d failed); want %d (%d), %d (%d)\n%s",
					c.Requests, c.Failed, s.Requests, s.Failed, tt.wantCanary, tt.wantCanaryFailed, tt.wantStable, tt.wantFail, kql)
			}
		})
	}
}

// TestValidateComponents: the ids are spliced into the query, so anything but a component's
// ARM id is refused, naming what is allowed; both empty is the fallback.
func TestValidateComponents(t *testing.T) {
	const ok = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/microsoft.insights/components/appi-x"
	for _, tt := range []struct {
		canary, stable string
		want           string
	}{
		{"", "", ""},
		{ok, ok, ""},
		{ok, "", `stable component "": want an Application Insights component's resource id`},
		{ok + `" or true or "`, ok, "canary component"},
		{"/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/w", ok, "canary component"},
	} {
		err := ValidateComponents(tt.canary, tt.stable)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("ValidateComponents(%q, %q) = %v, want %q", tt.canary, tt.stable, err, tt.want)
		}
	}
}
