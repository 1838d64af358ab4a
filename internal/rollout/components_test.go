package rollout

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/monitor/azquery"

	"github.com/slotless/slotless/stack"
)

// recordingLogs keeps the KQL it is sent and answers an empty summary.
type recordingLogs struct{ kql []string }

func (l *recordingLogs) QueryWorkspace(_ context.Context, _ string, body azquery.Body, _ *azquery.LogsClientQueryWorkspaceOptions) (azquery.LogsClientQueryWorkspaceResponse, error) {
	l.kql = append(l.kql, *body.Query)
	var cols []*azquery.Column
	for _, name := range []string{"AppRoleName", "Kind", "Rows", "Requests", "Failed", "ClientErrors", "Late", "P95DurationMs", "Settled", "SettledRows"} {
		n := name
		cols = append(cols, &azquery.Column{Name: &n})
	}
	return azquery.LogsClientQueryWorkspaceResponse{Results: azquery.Results{Tables: []*azquery.Table{{Columns: cols}}}}, nil
}

// TestGateMetricsSelectsEachSlotsComponent: the release's metrics gate takes each app's rows
// from the component its slot reports to (Components, the stack output telemetryComponentIds),
// the canary's and the stable slot's by slot, whichever slot is the canary, by component alone
// when each is its slot's own (OwnComponents); without them it
// selects by AppRoleName alone; a component that is not a component's id is refused before any
// query.
func TestGateMetricsSelectsEachSlotsComponent(t *testing.T) {
	const (
		green = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Insights/components/appi-Green"
		blue  = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Insights/components/appi-blue"
	)
	apps := map[stack.Slot]string{stack.Green: "app-green", stack.Blue: "app-blue"}
	for _, tt := range []struct {
		name       string
		components map[stack.Slot]string
		own        bool
		canary     stack.Slot
		want       string
		wantErr    string
	}{
		{"blue canary", map[stack.Slot]string{stack.Green: green, stack.Blue: blue}, false, stack.Blue,
			`| where (AppRoleName =~ "app-blue" and _ResourceId =~ "` + strings.ToLower(blue) + `") or (AppRoleName =~ "app-green" and _ResourceId =~ "` + strings.ToLower(green) + `")`, ""},
		{"components of their own", map[stack.Slot]string{stack.Green: green, stack.Blue: blue}, true, stack.Blue,
			`| where _ResourceId in~ ("` + strings.ToLower(blue) + `", "` + strings.ToLower(green) + `")` + "\n" + `| extend AppRoleName = case(_ResourceId =~ "` + strings.ToLower(blue) + `", "app-blue", "app-green")`, ""},
		{"green canary", map[stack.Slot]string{stack.Green: green, stack.Blue: blue}, false, stack.Green,
			`| where (AppRoleName =~ "app-green" and _ResourceId =~ "` + strings.ToLower(green) + `") or (AppRoleName =~ "app-blue" and _ResourceId =~ "` + strings.ToLower(blue) + `")`, ""},
		{"a stack without the output", nil, false, stack.Blue, `| where AppRoleName in~ ("app-blue", "app-green")`, ""},
		{"not a component", map[stack.Slot]string{stack.Green: green, stack.Blue: `x") or true or ("`}, true, stack.Blue, "", "canary component"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			logs := &recordingLogs{}
			g := GateMetrics{Client: logs, WorkspaceID: "ws", Apps: apps, Components: tt.components, OwnComponents: tt.own, HealthPath: "/health", Lag: time.Minute}
			now := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
			_, _, err := g.Figures(context.Background(), tt.canary, tt.canary.Other(), Window{ArrivedFrom: now.Add(-time.Minute), ArrivedTo: now, ServedFrom: now.Add(-2 * time.Minute)})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || len(logs.kql) != 0 {
					t.Fatalf("got %v after %d queries, want %q before any", err, len(logs.kql), tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(logs.kql) != 1 || !strings.Contains(logs.kql[0], tt.want+"\n") {
				t.Errorf("query:\n%v\nwant the line %s", logs.kql, tt.want)
			}
		})
	}
}
