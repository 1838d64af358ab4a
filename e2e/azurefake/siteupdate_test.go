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

// TestHostStorageMoveMakesNewKeys: the host keeps its keys in its host storage, so an update that
// points AzureWebJobsStorage at another account gives the app new keys, and any other update
// keeps them.
func TestHostStorageMoveMakesNewKeys(t *testing.T) {
	f := apimWorld(t, "Consumption")
	settings := func(account string) map[string]any {
		return map[string]any{"appSettings": []any{
			map[string]any{"name": "AzureWebJobsStorage__blobServiceUri", "value": "https://" + account + ".blob.core.windows.net"},
			map[string]any{"name": "SLOT_NAME", "value": "green"},
		}}
	}
	app := map[string]any{"resourceGroupName": "rg", "name": "green", "kind": "functionapp,linux", "siteConfig": settings("shared")}
	id := mustCreate(t, f, "azure-native:web:WebApp", app)
	key := func() string {
		c, _ := f.Store.Load()
		r, _ := c.Get(id)
		return r.FunctionKey
	}
	update := func(change func(map[string]any)) {
		t.Helper()
		c, _ := f.Store.Load()
		r, _ := c.Get(id)
		change(app)
		if _, err := f.Update("azure-native:web:WebApp", id, pm(r.Inputs), pm(app), false); err != nil {
			t.Fatal(err)
		}
	}
	first := key()
	update(func(a map[string]any) { a["httpsOnly"] = true })
	if got := key(); got != first {
		t.Fatalf("an update that keeps the host storage changed the key")
	}
	update(func(a map[string]any) { a["siteConfig"] = settings("hostgreen1") })
	if got := key(); got == first || len(got) != 56 {
		t.Errorf("after the host storage moved: got key %q, want a new 56-character key", got)
	}
	c, _ := f.Store.Load()
	if last := c.Calls[len(c.Calls)-1]; !strings.Contains(last.Note, "host storage moved from shared to hostgreen1: new host keys") {
		t.Errorf("note: got %q, want the move named", last.Note)
	}
}
