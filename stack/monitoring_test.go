package stack

import (
	"maps"
	"strings"
	"testing"
)

// TestPlanTelemetry: a slot that carries no traffic reports to the config's component; one that
// carries traffic keeps what the record says it reports to (before there was a record: the
// config's component when it runs the config's settings, except that the stack's own telemetry
// was one shared component then). The shared component stays while any slot reports there.
func TestPlanTelemetry(t *testing.T) {
	const team = "/subscriptions/s/resourceGroups/o/providers/Microsoft.Insights/components/orders-ai"
	const other = "/subscriptions/s/resourceGroups/o/providers/Microsoft.Insights/components/old-ai"
	level := SettingsPlan{Hashes: map[string]string{desiredKey: "new", "green": "new", "blue": "new"}}
	// greenBehind: green carries traffic and keeps an older configuration; greenLive: green
	// carries traffic and runs the config's.
	greenBehind := SettingsPlan{Hashes: map[string]string{desiredKey: "new", "green": "old", "blue": "new"}, Held: map[Slot]bool{Green: true}}
	greenLive := SettingsPlan{Hashes: map[string]string{desiredKey: "new", "green": "new", "blue": "new"}, Held: map[Slot]bool{Green: true}}
	for _, tt := range []struct {
		name     string
		desired  string
		last     map[string]any
		settings SettingsPlan
		want     map[string]string
		own      bool
		warns    []string
	}{
		{"a new stack of its own", slotTelemetry, nil, level,
			map[string]string{desiredKey: slotTelemetry, "green": slotTelemetry, "blue": slotTelemetry}, false, nil},
		{"upgrading a stack whose slots shared its component, no record, green live and kept", slotTelemetry, map[string]any{OutBlueWeight: 0.0}, greenBehind,
			map[string]string{desiredKey: slotTelemetry, "green": ownTelemetry, "blue": slotTelemetry}, true,
			[]string{"telemetry: green keeps reporting to the stack's shared Application Insights until a release makes it idle, and that component stays until then; it sends to the same workspace, so the metrics gate reads green's requests from it"}},
		{"upgrading, no record, green live on the config's settings", slotTelemetry, map[string]any{OutBlueWeight: 0.0}, greenLive,
			map[string]string{desiredKey: slotTelemetry, "green": ownTelemetry, "blue": slotTelemetry}, true, []string{"telemetry: green keeps reporting to the stack's shared Application Insights"}},
		{"upgrading, a release in progress: both keep the shared one", slotTelemetry, map[string]any{OutBlueWeight: 10.0},
			SettingsPlan{Hashes: map[string]string{desiredKey: "new", "green": "new", "blue": "new"}, Held: map[Slot]bool{Green: true, Blue: true}},
			map[string]string{desiredKey: slotTelemetry, "green": ownTelemetry, "blue": ownTelemetry}, true, []string{"green keeps reporting", "blue keeps reporting"}},
		{"the team's, green live, before the record", team, map[string]any{OutBlueWeight: 0.0}, greenLive,
			map[string]string{desiredKey: team, "green": team, "blue": team}, false, nil},
		{"upgraded, green live, recorded", slotTelemetry, map[string]any{OutTelemetryComponents: map[string]any{"green": slotTelemetry, "blue": slotTelemetry}}, greenLive,
			map[string]string{desiredKey: slotTelemetry, "green": slotTelemetry, "blue": slotTelemetry}, false, nil},
		{"upgrading, recorded as shared", slotTelemetry, map[string]any{OutTelemetryComponents: map[string]any{"green": ownTelemetry, "blue": ownTelemetry, desiredKey: ownTelemetry}}, greenBehind,
			map[string]string{desiredKey: slotTelemetry, "green": ownTelemetry, "blue": slotTelemetry}, true, []string{"green keeps reporting to the stack's shared"}},
		{"upgraded: both on their own", slotTelemetry, map[string]any{OutTelemetryComponents: map[string]any{"green": ownTelemetry, "blue": slotTelemetry}}, level,
			map[string]string{desiredKey: slotTelemetry, "green": slotTelemetry, "blue": slotTelemetry}, false, nil},
		{"from its own to the team's", team, map[string]any{OutTelemetryComponents: map[string]any{"green": slotTelemetry, "blue": slotTelemetry}}, greenBehind,
			map[string]string{desiredKey: team, "green": slotTelemetry, "blue": team}, false, []string{"green keeps reporting to its own Application Insights"}},
		{"a new stack reusing the team's", team, nil, level,
			map[string]string{desiredKey: team, "green": team, "blue": team}, false, nil},
		{"switching, green live and kept, no record yet", team, map[string]any{OutBlueWeight: 0.0}, greenBehind,
			map[string]string{desiredKey: team, "green": ownTelemetry, "blue": team}, true, []string{"telemetry: green keeps reporting to the stack's shared Application Insights"}},
		{"switching, recorded", team, map[string]any{OutTelemetryComponents: map[string]any{"green": ownTelemetry, "blue": team, desiredKey: team}}, greenBehind,
			map[string]string{desiredKey: team, "green": ownTelemetry, "blue": team}, true, []string{"green keeps reporting"}},
		{"switched: both level", team, map[string]any{OutTelemetryComponents: map[string]any{"green": ownTelemetry, "blue": team}}, level,
			map[string]string{desiredKey: team, "green": team, "blue": team}, false, nil},
		{"from one team component to another", team, map[string]any{OutTelemetryComponents: map[string]any{"green": other, "blue": other}}, greenBehind,
			map[string]string{desiredKey: team, "green": other, "blue": team}, false, []string{"green keeps reporting to " + other}},
		{"back to its own", slotTelemetry, map[string]any{OutTelemetryComponents: map[string]any{"green": team, "blue": team}}, greenBehind,
			map[string]string{desiredKey: slotTelemetry, "green": team, "blue": slotTelemetry}, false, []string{"green keeps reporting to " + team}},
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

// TestTelemetryComponentsOf: the gate's per-slot component ids come from telemetryComponentIds;
// a stack deployed before it (or with a slot missing) has none, and the warning names the
// upgrade.
func TestTelemetryComponentsOf(t *testing.T) {
	const g, b = "/subscriptions/s/resourceGroups/r/providers/Microsoft.Insights/components/g", "/subscriptions/s/resourceGroups/r/providers/Microsoft.Insights/components/b"
	for _, tt := range []struct {
		name string
		outs map[string]any
		want map[Slot]string
		own  bool
		warn string
	}{
		{"each its own", map[string]any{OutTelemetryComponentIDs: map[string]any{"green": g, "blue": b}, OutTelemetryComponents: map[string]any{"green": "slot", "blue": "slot", "desired": "slot"}},
			map[Slot]string{Green: g, Blue: b}, true, ""},
		{"green still on the shared component", map[string]any{OutTelemetryComponentIDs: map[string]any{"green": g, "blue": b}, OutTelemetryComponents: map[string]any{"green": "own", "blue": "slot"}},
			map[Slot]string{Green: g, Blue: b}, false, ""},
		{"the team's", map[string]any{OutTelemetryComponentIDs: map[string]any{"green": g, "blue": g}, OutTelemetryComponents: map[string]any{"green": g, "blue": g}},
			map[Slot]string{Green: g, Blue: g}, false, ""},
		{"deployed before", map[string]any{}, nil, false, "the stack has no telemetryComponentIds output (it was last deployed by an older slotless): the metrics gate tells the slots apart by AppRoleName alone"},
		{"one slot", map[string]any{OutTelemetryComponentIDs: map[string]any{"green": g}}, nil, false, "run pulumi up with this slotless, and release once more"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, own, warn := TelemetryComponentsOf(tt.outs)
			if !maps.Equal(got, tt.want) || own != tt.own || (tt.warn == "") != (warn == "") || !strings.Contains(warn, tt.warn) {
				t.Errorf("got %v own %v %q, want %v own %v %q", got, own, warn, tt.want, tt.own, tt.warn)
			}
		})
	}
}
