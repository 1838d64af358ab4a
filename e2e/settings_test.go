//go:build e2e

package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slotless/slotless/e2e/azurefake"
	"github.com/slotless/slotless/internal/rollout"
	"github.com/slotless/slotless/stack"
)

// appSettingsInCloud reads a slot's app settings as ARM holds them, by name.
func (u *user) appSettingsInCloud(slot stack.Slot) map[string]string {
	u.t.Helper()
	c, err := u.cloud.Load()
	if err != nil {
		u.t.Fatal(err)
	}
	names := u.appNames()
	for _, app := range c.ByType("azure-native:web:WebApp") {
		if names[app.Name()] != slot {
			continue
		}
		return appSettingsOf(app)
	}
	u.t.Fatalf("no %s app in the cloud", slot)
	return nil
}

// appSettingsOf is an app's settings as the cloud holds its inputs, by name.
func appSettingsOf(app *azurefake.Resource) map[string]string {
	sc, _ := app.Inputs["siteConfig"].(map[string]any)
	list, _ := sc["appSettings"].([]any)
	out := map[string]string{}
	for _, e := range list {
		m, _ := e.(map[string]any)
		n, _ := m["name"].(string)
		v, _ := m["value"].(string)
		out[n] = v
	}
	return out
}

// kvReference is a Key Vault reference in App Service's syntax.
const kvReference = "@Microsoft.KeyVault(SecretUri=https://orders.vault.azure.net/secrets/db)"

// appProperty reads one input of a slot's app as ARM holds it.
func (u *user) appProperty(slot stack.Slot, key string) string {
	u.t.Helper()
	c, err := u.cloud.Load()
	if err != nil {
		u.t.Fatal(err)
	}
	names := u.appNames()
	for _, app := range c.ByType("azure-native:web:WebApp") {
		if names[app.Name()] == slot {
			v, _ := app.Inputs[key].(string)
			return v
		}
	}
	return ""
}

// appWrites are the updates of a slot's app among calls, with what they noted.
func (u *user) appWrites(calls []azurefake.Call, slot stack.Slot) []azurefake.Call {
	names := u.appNames()
	var out []azurefake.Call
	for _, c := range calls {
		if c.Token == "azure-native:web:WebApp" && c.Op == "update" && !c.Preview && names[azurefakeName(c.Target)] == slot {
			out = append(out, c)
		}
	}
	return out
}

// TestSettingsAreReleased: a team adds a setting to a deployed stack, as its stack file says.
// pulumi up gives it to the idle slot alone: the live slot's site is neither written nor
// restarted, and the outputs say which slot runs which settings generation. A plain up that
// would move traffic onto the slot and change its settings at once is refused with the way
// out, and changes nothing. slotless release takes the new settings to GA, and a rollback puts
// the traffic back on the slot that still has the old ones. The next up brings that slot level.
func TestSettingsAreReleased(t *testing.T) {
	parallel(t, 60*time.Second)
	u, svc := releaseUser(t, "bakeMinutes 0")
	if err := u.cloud.Update(func(c *azurefake.Cloud) error { c.SiteUpdateRestartMs = 3000; return nil }); err != nil {
		t.Fatal(err)
	}

	before := len(u.calls())
	u.run("pulumi config set --path appSettings.FeatureX on && pulumi config set --path appSettings.Db '" + kvReference + "' && pulumi up")
	calls := u.calls()[before:]
	if w := u.appWrites(calls, stack.Green); len(w) > 0 {
		t.Errorf("the live slot's site was written: %+v", w)
	}
	if w := u.appWrites(calls, stack.Blue); len(w) != 1 || !strings.Contains(w[0].Note, "carrying 0%") {
		t.Errorf("the idle slot's site: got %+v, want one update, while it carried no traffic", w)
	}
	if g := u.appSettingsInCloud(stack.Green); g["FeatureX"] != "" || g["Db"] != "" {
		t.Errorf("green, which carries the traffic, got FeatureX=%q, Db=%q", g["FeatureX"], g["Db"])
	}
	if b := u.appSettingsInCloud(stack.Blue); b["FeatureX"] != "on" || b["Db"] != kvReference {
		t.Errorf("blue, the idle slot, has FeatureX=%q, Db=%q; want on and the reference", b["FeatureX"], b["Db"])
	}
	// The reference resolves with blue's own identity.
	if id := u.appProperty(stack.Blue, "keyVaultReferenceIdentity"); !strings.HasSuffix(id, "-blue-id") {
		t.Errorf("blue's keyVaultReferenceIdentity: got %q, want its own identity", id)
	}
	gens, _ := u.outputs("dev")[stack.OutSettingsGenerations].(map[string]any)
	if gens["green"] != 1.0 || gens["blue"] != 2.0 || gens["desired"] != 2.0 {
		t.Errorf("settingsGenerations: got %v, want green 1, blue 2, desired 2", gens)
	}
	if out := u.sh("slotless status --stack dev"); !strings.Contains(out, "settings: green runs generation 1, blue generation 2; the config asks for 2") {
		t.Errorf("slotless status does not say which slot runs which settings:\n%s", out)
	}

	// Traffic onto blue and another change of its settings in one plain update: refused.
	u.sh("pulumi config set --path appSettings.FeatureX off && pulumi config set blueWeight 10")
	before = len(u.calls())
	_, out, err := u.tryUp("dev")
	if err == nil || !strings.Contains(out+err.Error(), "moves traffic onto blue") || !strings.Contains(out+err.Error(), "SLOTLESS_ALLOW_LIVE_CHANGE=true") {
		t.Errorf("a plain up moving traffic onto blue and changing its settings: got %v, want the refusal and the way out\n%s", err, out)
	}
	if w := u.weights(); w.Blue != 0 {
		t.Errorf("after the refused up: got %s, want blue 0", w)
	}
	for _, c := range u.calls()[before:] {
		if c.Token == "azure-native:web:WebApp" && c.Op == "update" && !c.Preview {
			t.Errorf("the refused up wrote %s", azurefakeName(c.Target))
		}
	}
	u.sh("pulumi config set --path appSettings.FeatureX on && pulumi config set blueWeight 0")
	if ch := u.up("dev"); len(ch.Changed()) != 0 {
		t.Errorf("with the config back, an up changed %v; want nothing", changedNames(ch))
	}

	// The release canaries the settings like code.
	record := filepath.Join(t.TempDir(), "release.json")
	out = u.sh(svc.release("", record))
	t.Log(out)
	if rec := readRecord(t, record); rec.Outcome != rollout.OutcomeComplete {
		t.Fatalf("release: got %s, want complete", rec.Outcome)
	}
	if w := u.weights(); w.Blue != 100 {
		t.Fatalf("after the release: got %s, want blue 100", w)
	}
	// Green, now idle, still runs the old settings: that is what a rollback returns to.
	if g := u.appSettingsInCloud(stack.Green); g["FeatureX"] != "" {
		t.Errorf("green after GA: FeatureX=%q, want still unset", g["FeatureX"])
	}
	u.sh("slotless rollback --stack dev --slot blue")
	if w := u.weights(); w.Green != 100 {
		t.Fatalf("after the rollback: got %s, want green 100", w)
	}
	if g := u.appSettingsInCloud(stack.Green); g["FeatureX"] != "" {
		t.Errorf("the rollback's slot has FeatureX=%q, want the old settings", g["FeatureX"])
	}
}
