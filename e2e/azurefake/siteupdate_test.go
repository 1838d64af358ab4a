package azurefake

import (
	"strings"
	"testing"
)

// TestSiteUpdateRestartsTheApp: with SiteUpdateRestartMs, an update of a function app restarts
// it: it does not answer for that long, and the call notes the share of traffic it carried.
func TestSiteUpdateRestartsTheApp(t *testing.T) {
	f := apimWorld(t, "Consumption")
	app := map[string]any{"resourceGroupName": "rg", "name": "green", "kind": "functionapp,linux"}
	id := mustCreate(t, f, "azure-native:web:WebApp", app)
	// The world's green backend points at https://green.azurewebsites.net/api; the pool gives
	// it 90%.
	mustCreate(t, f, "azure-native:apimanagement:Backend", pool(nil))
	if err := f.Store.Update(func(c *Cloud) error { c.SiteUpdateRestartMs = 60000; return nil }); err != nil {
		t.Fatal(err)
	}
	c, _ := f.Store.Load()
	r, _ := c.Get(id)
	app["httpsOnly"] = true
	if _, err := f.Update("azure-native:web:WebApp", id, pm(r.Inputs), pm(app), false); err != nil {
		t.Fatal(err)
	}
	c, _ = f.Store.Load()
	last := c.Calls[len(c.Calls)-1]
	if !strings.Contains(last.Note, "restarted while carrying 90% of the traffic") {
		t.Errorf("note: got %q, want the restart under 90%%", last.Note)
	}
	if r, _ := c.Get(id); r.RestartedUntilMs == 0 {
		t.Error("the app was not marked restarting")
	}
}
