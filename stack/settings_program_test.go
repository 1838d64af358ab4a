package stack_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/slotless/slotless/internal/plan"
	"github.com/slotless/slotless/stack"
)

// appSettingsOf reads an app's settings from the plan, by name.
func appSettingsOf(t *testing.T, p *plan.Plan, slot stack.Slot) (map[string]string, []string) {
	t.Helper()
	app := find(t, p, "azure-native:web:WebApp", string(slot)+"-app")
	flat := plan.Flatten(app.Inputs)
	settings := map[string]string{}
	var order []string
	for i := 0; ; i++ {
		name, ok := flat["siteConfig.appSettings["+itoa(i)+"].name"]
		if !ok {
			break
		}
		n := strings.Trim(name, `"`)
		order = append(order, n)
		settings[n] = strings.Trim(flat["siteConfig.appSettings["+itoa(i)+"].value"], `"`)
	}
	return settings, order
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestAppSettingsOnBothApps: the team's settings join the stack's on both apps, in one sorted
// list; a Key Vault reference shows as itself, and a secret setting is never shown.
func TestAppSettingsOnBothApps(t *testing.T) {
	const kv = "@Microsoft.KeyVault(SecretUri=https://orders.vault.azure.net/secrets/db)"
	for _, tt := range []struct {
		name   string
		secret bool
	}{{"plain", false}, {"with a secret", true}} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config(t, map[string]string{"appSettings": `{"FeatureX": "on", "DbConnection": "` + kv + `", "Retries": "3"}`})
			if tt.secret {
				cfg.Secrets = append(cfg.Secrets, "slotless:appSettings")
			}
			p, err := plan.Run("test", cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, slot := range stack.Slots {
				settings, order := appSettingsOf(t, p, slot)
				if !slices.IsSorted(order) {
					t.Errorf("%s: settings not sorted by name: %v", slot, order)
				}
				want := map[string]string{"FeatureX": "on", "DbConnection": kv, "Retries": "3", "SLOT_NAME": string(slot)}
				for k, v := range want {
					if tt.secret && k != "SLOT_NAME" {
						v = plan.SecretPlaceholder
					}
					if settings[k] != v {
						t.Errorf("%s %s: got %q, want %q", slot, k, settings[k], v)
					}
				}
			}
		})
	}
}

// TestALiveSlotKeepsItsConfiguration: the whole program under the mock engine, with the last
// update's record saying green carries all traffic on settings generation 1. A new setting goes
// to blue; green's app is registered with its configuration inputs ignored, so it keeps what it
// runs; its always-ready count is not among them, since it follows the traffic.
func TestALiveSlotKeepsItsConfiguration(t *testing.T) {
	last := map[string]any{
		stack.OutBlueWeight:          0.0,
		stack.OutSettingsGenerations: map[string]any{"desired": 1.0, "green": 1.0, "blue": 1.0},
		stack.OutSettingsHashes:      map[string]any{"desired": "old", "green": "old", "blue": "old"},
	}
	// The fingerprints are a secret output, which the engine hands back as a secret.
	m := &plan.Mocks{LastOutputs: last, LastSecrets: []string{stack.OutSettingsHashes}}
	cfg := config(t, map[string]string{"appSettings": `{"FeatureX": "on"}`, "alwaysReadyInstances": "2"})
	err := pulumi.RunErr(stack.ProgramBy(stack.Mover{By: stack.ByPulumiUp}), pulumi.WithMocks("slotless", "test", m), func(info *pulumi.RunInfo) {
		info.Config = cfg.Values
		info.ConfigSecretKeys = cfg.Secrets
	})
	if err != nil {
		t.Fatal(err)
	}
	ignored := map[string][]string{}
	for _, r := range m.Recorded {
		if r.Type == "azure-native:web:WebApp" {
			ignored[r.Name] = r.Ignore
		}
	}
	if g := ignored["green-app"]; !slices.Contains(g, "siteConfig") || !slices.Contains(g, "functionAppConfig.runtime") {
		t.Errorf("green, which carries the traffic, ignores %v; want its configuration held", g)
	}
	for _, p := range ignored["green-app"] {
		if strings.Contains(p, "alwaysReady") || p == "functionAppConfig" || p == "functionAppConfig.scaleAndConcurrency" {
			t.Errorf("green holds %s, which covers the always-ready count the traffic moves", p)
		}
	}
	if b := ignored["blue-app"]; len(b) > 0 {
		t.Errorf("blue, which carries no traffic, ignores %v; want the new configuration applied", b)
	}
}

// TestHeldAppInputs: every input of the app that a plain update can change is held on a slot
// that carries traffic, but the always-ready count; what is never changed after creation (the
// name, the plan, the identity, the place) needs no hold.
func TestHeldAppInputs(t *testing.T) {
	p := runPlan(t, map[string]string{"alwaysReadyInstances": "2", "appSettings": `{"A": "1"}`})
	never := []string{"kind", "location", "name", "resourceGroupName", "serverFarmId", "identity", "functionAppConfig.scaleAndConcurrency.alwaysReady"}
	held := stack.HeldAppInputs()
	for path := range plan.Flatten(find(t, p, "azure-native:web:WebApp", "green-app").Inputs) {
		covered := func(prefix string) bool {
			return path == prefix || strings.HasPrefix(path, prefix+".") || strings.HasPrefix(path, prefix+"[")
		}
		if !slices.ContainsFunc(held, covered) && !slices.ContainsFunc(never, covered) {
			t.Errorf("the app's input %s is neither held on a slot that carries traffic nor one that never changes", path)
		}
	}
}

// TestKeyVaultReferencesResolveWithTheSlotsIdentity: with a Key Vault reference among the
// team's settings, each app resolves it as its own identity; without one, the apps name none.
func TestKeyVaultReferencesResolveWithTheSlotsIdentity(t *testing.T) {
	for _, tt := range []struct {
		name, settings string
		want           bool
	}{
		{"a reference", `{"Db": "@Microsoft.KeyVault(SecretUri=https://orders.vault.azure.net/secrets/db)"}`, true},
		{"plain settings", `{"FeatureX": "on"}`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := runPlan(t, map[string]string{"appSettings": tt.settings})
			for _, slot := range stack.Slots {
				flat := plan.Flatten(find(t, p, "azure-native:web:WebApp", string(slot)+"-app").Inputs)
				got, ok := flat["keyVaultReferenceIdentity"]
				if !tt.want {
					if ok {
						t.Errorf("%s names keyVaultReferenceIdentity %s without a reference", slot, got)
					}
					continue
				}
				if own := "-" + string(slot) + "-id"; !strings.Contains(got, own) || !strings.Contains(got, "userAssignedIdentities") {
					t.Errorf("%s resolves references as %s, want its own identity (…%s)", slot, got, own)
				}
			}
		})
	}
}
