package stack

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// lastWith is a last update's outputs: the deployed blue weight and, when given, the settings
// record (generations and fingerprints by slot).
func lastWith(blue int, gens map[string]int, hashes map[string]string) map[string]any {
	out := map[string]any{OutBlueWeight: float64(blue)}
	if gens != nil {
		g := map[string]any{}
		for k, v := range gens {
			g[k] = float64(v)
		}
		out[OutSettingsGenerations] = g
	}
	if hashes != nil {
		h := map[string]any{}
		for k, v := range hashes {
			h[k] = v
		}
		out[OutSettingsHashes] = h
	}
	return out
}

func TestPlanSettings(t *testing.T) {
	base := &Config{Weights: Weights{Green: 100}, Runtime: Runtime{Name: "node", Version: "22"}, InstanceMemoryMB: 2048, MaximumInstanceCount: 100,
		AppSettings: AppSettings{Values: map[string]string{"Db": "old"}}}
	old := base.appConfig().fingerprint()
	changed := *base
	changed.AppSettings = AppSettings{Values: map[string]string{"Db": "new"}}
	newFP := changed.appConfig().fingerprint()
	withWeights := func(c Config, blue int) *Config { c.Weights = Weights{Green: 100 - blue, Blue: blue}; return &c }
	at := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

	tests := []struct {
		name      string
		cfg       *Config
		last      map[string]any
		allowLive bool
		held      []Slot
		gens      map[string]int
		wantErr   string
		warning   string
		live      string
	}{
		{name: "first deploy: both take generation 1", cfg: base, last: nil,
			gens: map[string]int{"desired": 1, "green": 1, "blue": 1}},
		{name: "nothing changed: the live slot is held on what it has", cfg: base,
			last: lastWith(0, map[string]int{"desired": 1, "green": 1, "blue": 1}, map[string]string{"desired": old, "green": old, "blue": old}),
			held: []Slot{Green}, gens: map[string]int{"desired": 1, "green": 1, "blue": 1}},
		{name: "a change goes to the idle slot; the live one keeps its own", cfg: withWeights(changed, 0),
			last: lastWith(0, map[string]int{"desired": 1, "green": 1, "blue": 1}, map[string]string{"desired": old, "green": old, "blue": old}),
			held: []Slot{Green}, gens: map[string]int{"desired": 2, "green": 1, "blue": 2},
			warning: "green carries traffic, so it keeps settings generation 1 until a release makes it idle; generation 2 goes to blue, which carries none; release it with slotless release"},
		{name: "after GA the old slot is idle and comes level", cfg: withWeights(changed, 100),
			last: lastWith(100, map[string]int{"desired": 2, "green": 1, "blue": 2}, map[string]string{"desired": newFP, "green": old, "blue": newFP}),
			held: []Slot{Blue}, gens: map[string]int{"desired": 2, "green": 2, "blue": 2}},
		{name: "during a release, a change new to both slots lands nowhere", cfg: withWeights(changed, 10),
			last:    lastWith(10, map[string]int{"desired": 1, "green": 1, "blue": 1}, map[string]string{"desired": old, "green": old, "blue": old}),
			held:    []Slot{Green, Blue},
			wantErr: "a release is in progress (green 90% / blue 10%), so the apps' new configuration (settings generation 2"},
		{name: "during a release of the new configuration itself", cfg: withWeights(changed, 10),
			last: lastWith(10, map[string]int{"desired": 2, "green": 1, "blue": 2}, map[string]string{"desired": newFP, "green": old, "blue": newFP}),
			held: []Slot{Green, Blue}, gens: map[string]int{"desired": 2, "green": 1, "blue": 2},
			warning: "green carries traffic, so it keeps settings generation 1"},
		{name: "traffic and configuration at once", cfg: withWeights(changed, 10),
			last:    lastWith(0, map[string]int{"desired": 1, "green": 1, "blue": 1}, map[string]string{"desired": old, "green": old, "blue": old}),
			held:    []Slot{Green, Blue},
			wantErr: "this update moves traffic onto blue (green 100% / blue 0% deployed, green 90% / blue 10% in the config) and changes the apps' configuration (settings generation 2) at once"},
		{name: "forced onto the live slot, and recorded", cfg: withWeights(changed, 0), allowLive: true,
			last: lastWith(0, map[string]int{"desired": 1, "green": 1, "blue": 1}, map[string]string{"desired": old, "green": old, "blue": old}),
			gens: map[string]int{"desired": 2, "green": 2, "blue": 2}, warning: "SLOTLESS_ALLOW_LIVE_CHANGE=true gives generation 2 to green while it carries traffic",
			live: "generation 2 forced onto green, which carried traffic, at 2026-12-06T12:00:00Z (SLOTLESS_ALLOW_LIVE_CHANGE)"},
		{name: "a stack from before the record: the live slot is held, its generation unknown", cfg: withWeights(changed, 0),
			last: lastWith(0, nil, nil), held: []Slot{Green}, gens: map[string]int{"desired": 1, "green": 0, "blue": 1},
			warning: "green carries traffic, so it keeps settings from before generations were recorded"},
		{name: "a stack from before the record, during a release: held, not refused", cfg: withWeights(changed, 50),
			last: lastWith(50, nil, nil), held: []Slot{Green, Blue}, gens: map[string]int{"desired": 1, "green": 0, "blue": 0},
			warning: "blue carries traffic, so it keeps settings from before generations were recorded until a release makes it idle; generation 1 waits until a release makes a slot idle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := PlanSettings(tt.cfg, tt.last, tt.allowLive, at)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrSettingsWait) {
					t.Fatalf("got %v, want a refusal containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var held []Slot
			for _, s := range Slots {
				if p.Held[s] {
					held = append(held, s)
				}
			}
			if !slices.Equal(held, tt.held) {
				t.Errorf("held: got %v, want %v", held, tt.held)
			}
			for k, g := range tt.gens {
				if p.Generations[k] != g {
					t.Errorf("generation of %s: got %d, want %d (all: %v)", k, p.Generations[k], g, p.Generations)
				}
			}
			if got := strings.Join(p.Warnings, "\n"); !strings.Contains(got, tt.warning) || (tt.warning == "" && got != "") {
				t.Errorf("warnings: got %q, want %q", got, tt.warning)
			}
			if p.LiveChange != tt.live {
				t.Errorf("live change record: got %q, want %q", p.LiveChange, tt.live)
			}
			if p.Hashes["desired"] == "" || strings.Contains(p.Hashes["desired"], "new") {
				t.Errorf("the fingerprint %q is empty or shows a value", p.Hashes["desired"])
			}
		})
	}
}

// TestFingerprintCoversTheConfiguration: each part of an app's configuration changes the
// fingerprint, and the order settings were written in does not.
func TestFingerprintCoversTheConfiguration(t *testing.T) {
	base := appConfig{Settings: map[string]string{"A": "1", "B": "2"}, Runtime: "node", RuntimeVersion: "22", InstanceMemoryMB: 2048, MaximumInstanceCount: 100}
	same := appConfig{Settings: map[string]string{"B": "2", "A": "1"}, Runtime: "node", RuntimeVersion: "22", InstanceMemoryMB: 2048, MaximumInstanceCount: 100}
	if base.fingerprint() != same.fingerprint() {
		t.Error("the settings' order changed the fingerprint")
	}
	for name, edit := range map[string]func(*appConfig){
		"a value":   func(a *appConfig) { a.Settings = map[string]string{"A": "1", "B": "3"} },
		"a name":    func(a *appConfig) { a.Settings = map[string]string{"A": "1", "C": "2"} },
		"runtime":   func(a *appConfig) { a.Runtime = "python" },
		"version":   func(a *appConfig) { a.RuntimeVersion = "20" },
		"memory":    func(a *appConfig) { a.InstanceMemoryMB = 4096 },
		"scale-out": func(a *appConfig) { a.MaximumInstanceCount = 200 },
		"subnet": func(a *appConfig) {
			a.Subnet = "/subscriptions/s/resourceGroups/n/providers/Microsoft.Network/virtualNetworks/v/subnets/a"
		},
		"telemetry": func(a *appConfig) {
			a.AppInsights = "/subscriptions/s/resourceGroups/o/providers/Microsoft.Insights/components/ai"
		},
	} {
		c := base
		edit(&c)
		if c.fingerprint() == base.fingerprint() {
			t.Errorf("changing %s kept the fingerprint", name)
		}
	}
}

// TestFingerprintOfAStackWithoutSubnetOrTeamTelemetry: a configuration that names no subnet and
// reports to the stack's own telemetry has the fingerprint it had before either could be set, so
// upgrading slotless does not make a new settings generation of nothing.
func TestFingerprintOfAStackWithoutSubnetOrTeamTelemetry(t *testing.T) {
	c := appConfig{Settings: map[string]string{"A": "1"}, Runtime: "node", RuntimeVersion: "22", InstanceMemoryMB: 2048, MaximumInstanceCount: 100}
	// The configuration as it was recorded before the subnet and telemetry were part of it.
	before := struct {
		Settings             map[string]string `json:"settings,omitempty"`
		Runtime              string            `json:"runtime"`
		RuntimeVersion       string            `json:"runtimeVersion"`
		InstanceMemoryMB     int               `json:"instanceMemoryMB"`
		MaximumInstanceCount int               `json:"maximumInstanceCount"`
	}{c.Settings, c.Runtime, c.RuntimeVersion, c.InstanceMemoryMB, c.MaximumInstanceCount}
	raw, _ := json.Marshal(before)
	sum := sha256.Sum256(raw)
	if got, want := c.fingerprint(), hex.EncodeToString(sum[:]); got != want {
		t.Errorf("fingerprint: got %s, want the one recorded before, %s", got, want)
	}
}
