package azurefake

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// The schema the program's SDK is generated from, read once.
var loadTestSchema = sync.OnceValues(func() (*Schema, error) {
	return LoadSchema(filepath.Join("..", "..", "sdks", "azure-native", "schema.json"))
})

func testSchema(t *testing.T) *Schema {
	t.Helper()
	s, err := loadTestSchema()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const (
	sub1 = "11111111-1111-1111-1111-111111111111"
	sub2 = "22222222-2222-2222-2222-222222222222"
)

// newFake is the stand-in configured for a subscription, in a fresh cloud.
func newFake(t *testing.T, sub string) *Fake {
	t.Helper()
	return &Fake{Schema: testSchema(t), Store: Store{Path: filepath.Join(t.TempDir(), "cloud.json")}, Subscription: sub, Location: "westeurope"}
}

// in the same cloud, another subscription.
func (f *Fake) in(sub string) *Fake {
	g := *f
	g.Subscription = sub
	return &g
}

func pm(m map[string]any) resource.PropertyMap { return resource.NewPropertyMapFromMap(m) }

// mustCreate creates a resource that the test needs to exist.
func mustCreate(t *testing.T, f *Fake, token string, in map[string]any) string {
	t.Helper()
	id, _, err := f.Create(token, pm(in), false)
	if err != nil {
		t.Fatalf("create %s: %v", token, err)
	}
	return id
}

// The APIM world most rules are tested in: resource group rg, service svc (of a tier), single
// backends green and blue, a secret named value green-key.
const svcPath = "/resourceGroups/rg/providers/Microsoft.ApiManagement/service/svc"

func apimWorld(t *testing.T, sku string) *Fake {
	t.Helper()
	f := newFake(t, sub1)
	mustCreate(t, f, "azure-native:resources:ResourceGroup", map[string]any{"resourceGroupName": "rg", "location": "westeurope"})
	mustCreate(t, f, "azure-native:apimanagement:ApiManagementService", map[string]any{
		"resourceGroupName": "rg", "serviceName": "svc", "publisherEmail": "ops@example.com", "publisherName": "ops",
		"sku": map[string]any{"name": sku, "capacity": 0.0},
	})
	mustCreate(t, f, "azure-native:apimanagement:NamedValue", apim(map[string]any{"namedValueId": "green-key", "displayName": "green-key", "value": "k", "secret": true}))
	for _, slot := range []string{"green", "blue"} {
		mustCreate(t, f, "azure-native:apimanagement:Backend", apim(single(slot)))
	}
	return f
}

// apim adds the service's coordinates to a child's inputs.
func apim(in map[string]any) map[string]any {
	in["resourceGroupName"], in["serviceName"] = "rg", "svc"
	return in
}

func single(id string) map[string]any {
	return apim(map[string]any{"backendId": id, "url": "https://" + id + ".azurewebsites.net/api", "protocol": "http"})
}

func backendID(id string) string { return "/subscriptions/" + sub1 + svcPath + "/backends/" + id }

// pool is a valid weighted pool over green and blue, changed by edit.
func pool(edit func(p map[string]any)) map[string]any {
	p := apim(map[string]any{"backendId": "pool", "type": "Pool", "pool": map[string]any{"services": []any{
		map[string]any{"id": backendID("green"), "weight": 90.0, "priority": 1.0},
		map[string]any{"id": backendID("blue"), "weight": 10.0, "priority": 1.0},
	}}})
	if edit != nil {
		edit(p)
	}
	return p
}

func member(p map[string]any, i int) map[string]any {
	return p["pool"].(map[string]any)["services"].([]any)[i].(map[string]any)
}

var breaker = map[string]any{"rules": []any{map[string]any{"name": "5xx", "tripDuration": "PT1M",
	"failureCondition": map[string]any{"count": 5.0, "interval": "PT1M", "statusCodeRanges": []any{map[string]any{"min": 500.0, "max": 599.0}}}}}}

// errMatches reports whether err is an error whose text holds want.
func errMatches(err error, want string) bool {
	return err != nil && strings.Contains(err.Error(), want)
}

// TestCheckFillsWhatAzureNativeFills: the location from azure-native:location and the API
// version of the resource's module, as azure-native's Check does; an explicit value stays.
func TestCheckFillsWhatAzureNativeFills(t *testing.T) {
	f := newFake(t, sub1)
	got, failures, err := f.Check("azure-native:web:AppServicePlan", "green-plan", nil, pm(map[string]any{"resourceGroupName": "rg", "name": "p"}), []byte("seed"))
	if err != nil || len(failures) > 0 {
		t.Fatalf("got %v %v, want no failures", err, failures)
	}
	if got["location"].StringValue() != "westeurope" || got["azureApiVersion"].StringValue() != "2025-05-01" {
		t.Errorf("got location %v, azureApiVersion %v; want westeurope, 2025-05-01", got["location"], got["azureApiVersion"])
	}
	got, _, _ = f.Check("azure-native:web:AppServicePlan", "green-plan", nil, pm(map[string]any{"resourceGroupName": "rg", "name": "p", "location": "northeurope"}), []byte("seed"))
	if got["location"].StringValue() != "northeurope" {
		t.Errorf("got location %v, want the explicit northeurope", got["location"])
	}
}

// TestAutoname: a resource without its name input is named as azure-native names it (the
// logical name plus eight hex characters, flagged create-before-delete; a GUID for a role
// assignment; "policy" for an API policy), different for another random seed (another stack),
// and kept from the old inputs on every later Check, whatever the seed; an explicit name stays.
func TestAutoname(t *testing.T) {
	f := newFake(t, sub1)
	tests := []struct {
		token, logical, key string
		in                  map[string]any
		shape               *regexp.Regexp
		random              bool
	}{
		{"azure-native:storage:StorageAccount", "storage", "accountName", map[string]any{"resourceGroupName": "rg", "kind": "StorageV2", "sku": map[string]any{"name": "Standard_LRS"}},
			regexp.MustCompile(`^storage[0-9a-f]{8}$`), true},
		{"azure-native:web:WebApp", "green-app", "name", map[string]any{"resourceGroupName": "rg"},
			regexp.MustCompile(`^green-app[0-9a-f]{8}$`), true},
		{"azure-native:apimanagement:ApiManagementService", "apim", "serviceName", map[string]any{"resourceGroupName": "rg", "publisherEmail": "a@b.c", "publisherName": "a", "sku": map[string]any{"name": "Consumption", "capacity": 0.0}},
			regexp.MustCompile(`^apim[0-9a-f]{8}$`), true},
		{"azure-native:authorization:RoleAssignment", "green-blob-owner", "roleAssignmentName", map[string]any{"principalId": "p", "roleDefinitionId": "r", "scope": "/subscriptions/" + sub1},
			regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`), true},
		{"azure-native:apimanagement:ApiPolicy", "api-policy", "policyId", apim(map[string]any{"apiId": "a", "value": "<policies />"}),
			regexp.MustCompile(`^policy$`), false},
	}
	for _, tt := range tests {
		t.Run(tt.token, func(t *testing.T) {
			first, failures, err := f.Check(tt.token, tt.logical, nil, pm(tt.in), []byte("seed of stack one"))
			if err != nil || len(failures) > 0 {
				t.Fatalf("check: %v %v", err, failures)
			}
			name := first[resource.PropertyKey(tt.key)]
			if !name.IsString() || !tt.shape.MatchString(name.StringValue()) {
				t.Fatalf("%s: got %v, want a name matching %s", tt.key, name, tt.shape)
			}
			if got := first.HasValue(createBeforeDeleteKey); got != tt.random {
				t.Errorf("%s: got %v, want %v", createBeforeDeleteKey, got, tt.random)
			}
			other, _, _ := f.Check(tt.token, tt.logical, nil, pm(tt.in), []byte("seed of stack two"))
			if differs := !other[resource.PropertyKey(tt.key)].DeepEquals(name); differs != tt.random {
				t.Errorf("another stack's name %v against %v: differs %v, want %v", other[resource.PropertyKey(tt.key)], name, differs, tt.random)
			}
			again, _, _ := f.Check(tt.token, tt.logical, first, pm(tt.in), []byte("a new seed on the next update"))
			if !again[resource.PropertyKey(tt.key)].DeepEquals(name) || again.HasValue(createBeforeDeleteKey) != tt.random {
				t.Errorf("with olds: got %v (%s %v), want %v kept", again[resource.PropertyKey(tt.key)], createBeforeDeleteKey, again[createBeforeDeleteKey], name)
			}
			explicit := pm(tt.in)
			explicit[resource.PropertyKey(tt.key)] = resource.NewStringProperty("chosen")
			kept, _, _ := f.Check(tt.token, tt.logical, first, explicit, []byte("seed"))
			if kept[resource.PropertyKey(tt.key)].StringValue() != "chosen" {
				t.Errorf("explicit name: got %v, want chosen", kept[resource.PropertyKey(tt.key)])
			}
		})
	}
}

// TestCheckValidatesAgainstTheSchema: each kind of bad input fails, naming the property path,
// and the corrected input passes.
func TestCheckValidatesAgainstTheSchema(t *testing.T) {
	storage := func(edit func(m map[string]any)) map[string]any {
		m := map[string]any{"resourceGroupName": "rg", "kind": "StorageV2", "sku": map[string]any{"name": "Standard_LRS"}, "allowSharedKeyAccess": false}
		edit(m)
		return m
	}
	app := func(edit func(m map[string]any)) map[string]any {
		m := map[string]any{"resourceGroupName": "rg", "httpsOnly": true, "siteConfig": map[string]any{"appSettings": []any{
			map[string]any{"name": "SLOT_NAME", "value": "green"}, map[string]any{"name": "B", "value": "b"}}}}
		edit(m)
		return m
	}
	tests := []struct {
		name, token string
		good, bad   map[string]any
		want        string
	}{
		{"unknown property", "azure-native:storage:StorageAccount", storage(func(map[string]any) {}),
			storage(func(m map[string]any) { m["allowSharedKeyAcess"] = false }), "unknown property 'allowSharedKeyAcess'"},
		{"unknown nested property", "azure-native:storage:StorageAccount", storage(func(map[string]any) {}),
			storage(func(m map[string]any) { m["sku"].(map[string]any)["tier"] = "Standard" }), "unknown property 'sku.tier'"},
		{"wrong type", "azure-native:web:WebApp", app(func(map[string]any) {}),
			app(func(m map[string]any) { m["httpsOnly"] = "true" }), "'httpsOnly' should be of type 'boolean' but got a string"},
		{"wrong type in a list", "azure-native:web:WebApp", app(func(map[string]any) {}),
			app(func(m map[string]any) {
				m["siteConfig"].(map[string]any)["appSettings"].([]any)[1].(map[string]any)["value"] = 1.0
			}), "'siteConfig.appSettings[1].value' should be of type 'string' but got a number"},
		{"not an integer", "azure-native:apimanagement:Backend", pool(nil),
			pool(func(p map[string]any) { member(p, 1)["weight"] = 10.5 }), "'pool.services[1].weight' must be an integer but got 10.5"},
		{"missing required", "azure-native:storage:StorageAccount", storage(func(map[string]any) {}),
			storage(func(m map[string]any) { delete(m, "sku") }), "missing required property 'sku'"},
		{"missing required nested", "azure-native:storage:StorageAccount", storage(func(map[string]any) {}),
			storage(func(m map[string]any) { m["sku"] = map[string]any{} }), "missing required property 'sku.name'"},
		{"bad enum", "azure-native:apimanagement:Backend", single("green"),
			func() map[string]any { m := single("green"); m["protocol"] = "https"; return m }(), `'protocol': "https" is not an allowed value, want one of http, soap`},
		{"bad enum in a list", "azure-native:apimanagement:Api", apim(map[string]any{"path": "p", "protocols": []any{"https"}}),
			apim(map[string]any{"path": "p", "protocols": []any{"https", "ftp"}}), `'protocols[1]': "ftp" is not an allowed value`},
	}
	f := newFake(t, sub1)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, failures, err := f.Check(tt.token, "r", nil, pm(tt.bad), []byte("seed"))
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(failures, "; "); !strings.Contains(got, tt.want) {
				t.Errorf("bad input: got failures %q, want %q", got, tt.want)
			}
			if _, failures, _ := f.Check(tt.token, "r", nil, pm(tt.good), []byte("seed")); len(failures) > 0 {
				t.Errorf("good input: got failures %v, want none", failures)
			}
		})
	}

	// Values not known yet (preview) and secrets are checked for what they can be.
	in := pm(storage(func(map[string]any) {}))
	in["resourceGroupName"] = resource.MakeComputed(resource.NewStringProperty(""))
	in["allowSharedKeyAccess"] = resource.MakeSecret(resource.NewStringProperty("false"))
	if _, failures, _ := f.Check("azure-native:storage:StorageAccount", "storage", nil, in, []byte("seed")); len(failures) != 1 || !strings.Contains(failures[0], "'allowSharedKeyAccess' should be of type 'boolean'") {
		t.Errorf("got %v, want only the secret's wrong type reported", failures)
	}
	if _, _, err := f.Check("azure-native:storage:Nope", "x", nil, pm(nil), nil); !errMatches(err, "resource type azure-native:storage:Nope not found") {
		t.Errorf("unknown type: got %v", err)
	}
}

// TestPreviewOutputs: at preview, Create returns azure-native's PreviewOutputs: every output
// property with a same-named input takes it (a web app's name is known), every other one is
// unknown (its id-derived and computed properties, and a storage account's name, whose input is
// accountName); nothing reaches the cloud. An update's preview keeps what ARM computed before.
func TestPreviewOutputs(t *testing.T) {
	f := newFake(t, sub1)
	id, out, err := f.Create("azure-native:web:WebApp", pm(map[string]any{"resourceGroupName": "rg", "name": "green-app1a2b3c4d", "httpsOnly": true, "kind": "functionapp,linux"}), true)
	if err != nil || id != "" {
		t.Fatalf("got id %q, err %v; want no id and no error", id, err)
	}
	for k, want := range map[string]any{"name": "green-app1a2b3c4d", "httpsOnly": true, "kind": "functionapp,linux"} {
		if got := out[resource.PropertyKey(k)]; got.IsComputed() || got.V != want {
			t.Errorf("%s: got %v, want the input %v", k, got, want)
		}
	}
	for _, k := range []string{"defaultHostName", "state", "type", "location"} {
		if !out[resource.PropertyKey(k)].IsComputed() {
			t.Errorf("%s: got %v, want unknown", k, out[resource.PropertyKey(k)])
		}
	}
	_, out, _ = f.Create("azure-native:storage:StorageAccount", pm(map[string]any{"resourceGroupName": "rg", "accountName": "storage1a2b3c4d", "kind": "StorageV2"}), true)
	if !out["name"].IsComputed() || !out["primaryEndpoints"].IsComputed() || out["kind"].StringValue() != "StorageV2" {
		t.Errorf("storage: got name %v, primaryEndpoints %v, kind %v; want name and endpoints unknown, kind echoed", out["name"], out["primaryEndpoints"], out["kind"])
	}
	olds := pm(map[string]any{"defaultHostName": "green-app1a2b3c4d.azurewebsites.net", "httpsOnly": false})
	out, _ = f.Update("azure-native:web:WebApp", "x", olds, pm(map[string]any{"httpsOnly": true}), true)
	if out["defaultHostName"].StringValue() != "green-app1a2b3c4d.azurewebsites.net" || !out["httpsOnly"].BoolValue() {
		t.Errorf("update preview: got %v, %v; want the old host name and the new httpsOnly", out["defaultHostName"], out["httpsOnly"])
	}
	c, _ := f.Store.Load()
	if len(c.Resources) != 0 || len(c.Calls) != 0 {
		t.Errorf("a preview changed the cloud: %d resources, %d calls", len(c.Resources), len(c.Calls))
	}
}

// TestDiffReplacesOnPathChange: inputs against inputs, as azure-native diffs; a change of the
// name or of a parent in the ARM path replaces, anything else updates in place.
func TestDiffReplacesOnPathChange(t *testing.T) {
	f := newFake(t, sub1)
	old := pm(single("green"))
	tests := []struct {
		key      string
		value    any
		replaces bool
	}{
		{"url", "https://other/api", false},
		{"backendId", "green2", true},
		{"serviceName", "svc2", true},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			news := old.Copy()
			news[resource.PropertyKey(tt.key)] = resource.NewPropertyValue(tt.value)
			changed, replaces := f.Diff("azure-native:apimanagement:Backend", old, news)
			if fmt.Sprint(changed) != "["+tt.key+"]" || (len(replaces) == 1) != tt.replaces {
				t.Errorf("got changed %v replaces %v, want [%s] replacing=%v", changed, replaces, tt.key, tt.replaces)
			}
		})
	}
	if changed, _ := f.Diff("azure-native:apimanagement:Backend", old, old.Copy()); len(changed) != 0 {
		t.Errorf("no change: got %v", changed)
	}
}
