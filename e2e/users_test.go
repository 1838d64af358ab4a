//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slotless/slotless/e2e/azurefake"
	"github.com/slotless/slotless/stack"
)

// Two people's subscriptions in one Azure.
const (
	subAlice = "00000000-0000-0000-0000-0000000a11ce"
	subBob   = "00000000-0000-0000-0000-000000000b0b"
)

// outputs are a stack's plain outputs after an update.
func (u *user) outputs(stackName string) map[string]any {
	u.t.Helper()
	outs, err := u.stack(stackName).PlainOutputs(u.t.Context())
	if err != nil {
		u.t.Fatal(err)
	}
	return outs
}

// TestTwoUsersDeployTheDevStack: two people, each with a subscription and a backend of their
// own, deploy this repository's dev stack as the README says, into one Azure. Storage account
// names, *.azurewebsites.net host names and API Management service names are global across
// Azure, so names derived from the project and stack alone (the same for both) would collide:
// the second deploy would be refused. Both deploys succeed, and every global name differs.
func TestTwoUsersDeployTheDevStack(t *testing.T) {
	parallel(t, 25*time.Second)
	cloud := newCloud(t)
	alice := newUser(t, cloud, subAlice)
	bob := newUser(t, cloud, subBob)
	deploy(t, alice)
	deploy(t, bob)

	a, b := alice.outputs("dev"), bob.outputs("dev")
	for _, k := range []string{stack.OutStorageAccount, stack.OutAppName(stack.Green), stack.OutAppName(stack.Blue), stack.OutAPIMName, stack.OutGatewayURL} {
		av, _ := a[k].(string)
		bv, _ := b[k].(string)
		if av == "" || bv == "" || strings.EqualFold(av, bv) {
			t.Errorf("output %s: alice %q, bob %q; want two different, non-empty names", k, av, bv)
		}
	}

	// Each user's resources are in their own subscription, and a second up changes nothing for
	// either: the generated names are kept in state.
	c, err := cloud.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range c.ByType("azure-native:storage:StorageAccount") {
		if !strings.Contains(r.ID, "/subscriptions/"+r.Subscription+"/") {
			t.Errorf("storage account %s is recorded in subscription %s", r.ID, r.Subscription)
		}
	}
	if n := len(c.ByType("azure-native:web:WebApp")); n != 4 {
		t.Errorf("got %d function apps in the cloud, want 4 (two per user)", n)
	}
	for _, u := range []*user{alice, bob} {
		if changed := u.up("dev").Changed(); len(changed) != 0 {
			t.Errorf("a second up changed %v, want nothing", changed)
		}
	}
}

// TestSecondStackReusesTheAPIM: a second stack (the same user's "orders" stack, in the same
// subscription) reuses the API Management service the dev stack created, with its own API path,
// as a team sharing one service does. Backends, the pool, named values (ids and display names)
// and the API live in one namespace per service, so the second stack's must not be the first's:
// it deploys without refusal, leaves every resource of the dev stack as it was, and a preview of
// the dev stack afterwards shows no change.
func TestSecondStackReusesTheAPIM(t *testing.T) {
	parallel(t, 25*time.Second)
	cloud := newCloud(t)
	u := newUser(t, cloud, subAlice)
	deploy(t, u)
	dev := u.outputs("dev")
	before := snapshot(t, cloud)

	svc, _ := dev[stack.OutAPIMName].(string)
	svcRG, _ := dev[stack.OutAPIMResourceGroup].(string)
	for _, line := range []string{
		"pulumi stack init orders",
		"pulumi config set azure-native:location westeurope",
		"pulumi config set apimName " + svc,
		"pulumi config set apimResourceGroupName " + svcRG,
		"pulumi config set apiPath orders",
		`pulumi config set --secret pinToken "$(openssl rand -hex 24)"`,
	} {
		u.run(line)
	}
	u.preview("orders")
	created := u.up("orders")
	if n := created.Counts["create"]; n < 20 {
		t.Errorf("the orders stack created %d resources, want its whole stack but the service (at least 20)", n)
	}

	after := snapshot(t, cloud)
	for id, was := range before {
		now, ok := after[id]
		switch {
		case !ok:
			t.Errorf("the dev stack's %s is gone after the orders stack's up", id)
		case !reflect.DeepEqual(was, now):
			t.Errorf("the orders stack changed the dev stack's %s:\nbefore %s\nafter  %s", id, was, now)
		}
	}
	if changed := u.preview("dev").Changed(); len(changed) != 0 {
		t.Errorf("a preview of the dev stack after the orders stack's up changes %v, want nothing", changed)
	}

	// Both APIs route to their own pool, and send their own function keys.
	c, err := cloud.Load()
	if err != nil {
		t.Fatal(err)
	}
	policies := c.ByType("azure-native:apimanagement:ApiPolicy")
	if len(policies) != 2 {
		t.Fatalf("got %d API policies in the shared service, want 2", len(policies))
	}
	pools := map[string]bool{}
	for _, p := range policies {
		v, _ := p.Properties["value"].(string)
		for _, m := range backendIDs(v) {
			if strings.HasSuffix(m, stack.PoolID) {
				pools[m] = true
			}
		}
	}
	if len(pools) != 2 {
		t.Errorf("the two policies route to pools %v, want two different pools", pools)
	}
	// Each of the four single backends sends, by reference, the key of the app it points at.
	keys := map[string]string{}
	for _, app := range c.ByType("azure-native:web:WebApp") {
		keys[app.Properties["defaultHostName"].(string)] = app.FunctionKey
	}
	singles := 0
	for _, b := range c.ByType("azure-native:apimanagement:Backend") {
		if _, isPool := b.Properties["pool"]; isPool {
			continue
		}
		singles++
		host := strings.TrimSuffix(strings.TrimPrefix(fmt.Sprint(b.Properties["url"]), "https://"), "/api")
		raw, _ := json.Marshal(b.Properties["credentials"])
		m := namedValueRef.FindStringSubmatch(string(raw))
		if m == nil {
			t.Errorf("backend %s sends no named value: credentials %s", b.Name(), raw)
			continue
		}
		ref := m[1]
		var held string
		for _, nv := range c.ByType("azure-native:apimanagement:NamedValue") {
			if nv.Properties["displayName"] == ref {
				held = nv.Secret
			}
		}
		if held == "" || held != keys[host] {
			t.Errorf("backend %s sends {{%s}}, which does not hold the key of %s", b.Name(), ref, host)
		}
	}
	if singles != 4 {
		t.Errorf("got %d single backends in the shared service, want 4 (two per stack)", singles)
	}
}

// namedValueRef is a {{name}} reference to a named value.
var namedValueRef = regexp.MustCompile(`\{\{([^{}]+)\}\}`)

// snapshot is every resource in the cloud with what ARM holds for it, secrets included.
func snapshot(t *testing.T, cloud azurefake.Store) map[string]string {
	t.Helper()
	c, err := cloud.Load()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for id, r := range c.Resources {
		raw, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		out[id] = string(raw)
	}
	return out
}

// backendIDs are the backend-id attributes of a policy document.
func backendIDs(policy string) []string {
	var out []string
	for _, part := range strings.Split(policy, `backend-id="`)[1:] {
		out = append(out, part[:strings.Index(part, `"`)])
	}
	return out
}

// TestReleaseRolesOfTwoSubscriptions: two teams in one tenant each deploy a stack named dev, in
// subscriptions of their own, each granting its release identity the release role. A custom
// role's name is unique in the tenant, so a name made of the resource group alone (the same
// for both: slotless-dev-rg) would make the second deploy fail with
// RoleDefinitionWithSameNameExists. Both deploys succeed, each with its own roles.
func TestReleaseRolesOfTwoSubscriptions(t *testing.T) {
	parallel(t, 25*time.Second)
	cloud := newCloud(t)
	alice := newUser(t, cloud, subAlice)
	bob := newUser(t, cloud, subBob)
	for _, u := range []*user{alice, bob} {
		u.withWatcher()
		u.configure("releasePrincipalId " + releasePrincipal)
		deploy(t, u)
	}
	c, err := cloud.Load()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, r := range c.ByType("azure-native:authorization:RoleDefinition") {
		name, _ := r.Inputs["roleName"].(string)
		if other, dup := names[name]; dup {
			t.Errorf("two release roles named %q: %s and %s", name, other, r.ID)
		}
		names[name] = r.ID
	}
	// Three release roles each (the main one, traffic, keys), and two of the watcher's (its
	// reads, its traffic).
	count := map[string]int{}
	for name := range names {
		count[strings.Fields(name)[1]]++
	}
	if count["release"] != 6 || count["watcher"] != 2 || count["watcher-traffic"] != 2 {
		t.Errorf("got roles %v, want three release roles and two of the watcher's per subscription", names)
	}
}
