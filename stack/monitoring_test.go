package stack

import (
	"maps"
	"strings"
	"testing"
)

// TestPlanTelemetry: each slot reports to the component of the configuration it runs: the
// config's when it takes the config's fingerprint, what the record says (or the stack's own,
// before there was a record) when it keeps its own. The stack's own component stays while any
// slot reports there.
func TestPlanTelemetry(t *testing.T) {
	const team = "/subscriptions/s/resourceGroups/o/providers/Microsoft.Insights/components/orders-ai"
	const other = "/subscriptions/s/resourceGroups/o/providers/Microsoft.Insights/components/old-ai"
	level := SettingsPlan{Hashes: map[string]string{desiredKey: "new", "green": "new", "blue": "new"}}
	greenBehind := SettingsPlan{Hashes: map[string]string{desiredKey: "new", "green": "old", "blue": "new"}}
	for _, tt := range []struct {
		name     string
		desired  string
		last     map[string]any
		settings SettingsPlan
		want     map[string]string
		own      bool
		warns    []string
	}{
		{"a new stack of its own", ownTelemetry, nil, level,
			map[string]string{desiredKey: ownTelemetry, "green": ownTelemetry, "blue": ownTelemetry}, true, nil},
		{"a new stack reusing the team's", team, nil, level,
			map[string]string{desiredKey: team, "green": team, "blue": team}, false, nil},
		{"switching, green live and kept, no record yet", team, map[string]any{OutBlueWeight: 0.0}, greenBehind,
			map[string]string{desiredKey: team, "green": ownTelemetry, "blue": team}, true, []string{"telemetry: green keeps reporting to the stack's own Application Insights"}},
		{"switching, recorded", team, map[string]any{OutTelemetryComponents: map[string]any{"green": ownTelemetry, "blue": team, desiredKey: team}}, greenBehind,
			map[string]string{desiredKey: team, "green": ownTelemetry, "blue": team}, true, []string{"green keeps reporting"}},
		{"switched: both level", team, map[string]any{OutTelemetryComponents: map[string]any{"green": ownTelemetry, "blue": team}}, level,
			map[string]string{desiredKey: team, "green": team, "blue": team}, false, nil},
		{"from one team component to another", team, map[string]any{OutTelemetryComponents: map[string]any{"green": other, "blue": other}}, greenBehind,
			map[string]string{desiredKey: team, "green": other, "blue": team}, false, []string{"green keeps reporting to " + other}},
		{"back to its own", ownTelemetry, map[string]any{OutTelemetryComponents: map[string]any{"green": team, "blue": team}}, greenBehind,
			map[string]string{desiredKey: ownTelemetry, "green": team, "blue": ownTelemetry}, true, []string{"green keeps reporting to " + team}},
		{"a slot behind on the same component", team, map[string]any{OutTelemetryComponents: map[string]any{"green": strings.ToUpper(team), "blue": team}}, greenBehind,
			map[string]string{desiredKey: team, "green": strings.ToUpper(team), "blue": team}, false, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := PlanTelemetry(tt.desired, tt.last, tt.settings)
			if !maps.Equal(got.Components, tt.want) {
				t.Errorf("components: got %v, want %v", got.Components, tt.want)
			}
			if got.Own() != tt.own {
				t.Errorf("own: got %v, want %v", got.Own(), tt.own)
			}
			if len(got.Warnings) != len(tt.warns) {
				t.Fatalf("warnings: got %q, want %d", got.Warnings, len(tt.warns))
			}
			for i, w := range tt.warns {
				if !strings.Contains(got.Warnings[i], w) {
					t.Errorf("warning %d: got %q, want it to contain %q", i, got.Warnings[i], w)
				}
			}
		})
	}
}
