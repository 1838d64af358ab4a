package azurefake

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// TestSubscriptionKeys: a subscription created without a state is submitted; its keys are made
// on create, kept by an update, never in what ARM answers for it, and listed by listSecrets
// alone, which a principal without the action is refused.
func TestSubscriptionKeys(t *testing.T) {
	f := rbacWorld(t)
	in := func(state string) map[string]any {
		m := apim(map[string]any{"sid": "watcher", "displayName": "watcher", "scope": "/apis/orders"})
		if state != "" {
			m["state"] = state
		}
		return m
	}
	id, outs, err := f.Create(subscriptionToken, pm(in("")), false)
	if err != nil {
		t.Fatal(err)
	}
	if got := outs["state"].StringValue(); got != "submitted" {
		t.Errorf("state without one given: got %q, want submitted", got)
	}
	for _, k := range []string{"primaryKey", "secondaryKey"} {
		if outs.HasValue(resource.PropertyKey(k)) {
			t.Errorf("ARM answered %s on create", k)
		}
	}
	list := func(g *Fake) (map[string]string, error) {
		res, err := g.Invoke("azure-native:apimanagement:listSubscriptionSecrets", pm(apim(map[string]any{"sid": "watcher"})))
		if err != nil {
			return nil, err
		}
		return map[string]string{"primary": res["primaryKey"].StringValue(), "secondary": res["secondaryKey"].StringValue()}, nil
	}
	first, err := list(f)
	if err != nil || len(first["primary"]) < 32 || first["primary"] == first["secondary"] {
		t.Fatalf("listSecrets: got %v, %v; want two generated keys", first, err)
	}
	c, _ := f.Store.Load()
	old, _ := c.Get(id)
	outs, err = f.Update(subscriptionToken, id, nil, pm(in("active")), false)
	if err != nil {
		t.Fatal(err)
	}
	if got := outs["state"].StringValue(); got != "active" {
		t.Errorf("state after the update: got %q, want active", got)
	}
	if _, _, found, err := f.Read(subscriptionToken, id, nil, pm(old.Inputs)); err != nil || !found {
		t.Fatalf("read: %v %v", found, err)
	}
	again, err := list(f)
	if err != nil || again["primary"] != first["primary"] {
		t.Errorf("keys after an update: got %v, %v; want the same keys", again, err)
	}
	if _, err := f.Invoke("azure-native:apimanagement:listSubscriptionSecrets", pm(apim(map[string]any{"sid": "nobody"}))); err == nil || !strings.Contains(err.Error(), "ResourceNotFound") {
		t.Errorf("listSecrets of no subscription: got %v, want ResourceNotFound", err)
	}
	if err := f.Store.Update(func(c *Cloud) error {
		c.ServicePrincipals = map[string]string{"release-client": releasePrincipal}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	asRelease := *f
	asRelease.ClientID = "release-client"
	if _, err := list(&asRelease); err == nil || !strings.Contains(err.Error(), "subscriptions/listSecrets/action") {
		t.Errorf("listSecrets without the action: got %v, want AuthorizationFailed naming it", err)
	}
}
