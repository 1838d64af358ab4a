package azurefake

import (
	"strings"
	"testing"
)

// TestRefusals: each rule of Azure's the stand-in applies refuses the bad input with Azure's
// answer, and accepts the good one, in the APIM world of apimWorld (service svc of the given
// tier, single backends green and blue, secret named value green-key). Bad goes first, so the
// good input is created where the bad one was refused.
func TestRefusals(t *testing.T) {
	policy := func(format, value string) map[string]any {
		return apim(map[string]any{"apiId": "api", "policyId": "policy", "format": format, "value": value})
	}
	withAPI := func(f *Fake) {
		mustCreate(t, f, "azure-native:apimanagement:Api", apim(map[string]any{"apiId": "api", "path": "orders"}))
		mustCreate(t, f, "azure-native:apimanagement:Backend", pool(nil))
	}
	const raw = `@(context.Request.Headers.GetValueOrDefault("X-Slot", "") == "blue")`
	tests := []struct {
		name  string
		sku   string
		setup func(f *Fake)
		token string
		bad   map[string]any // nil: the rule's good case only
		want  string
		good  map[string]any
	}{
		// Pools (Azure/azure-rest-api-specs#35713, Azure/bicep#14097, azure-facts.md).
		{"pool with url", "Consumption", nil, "azure-native:apimanagement:Backend",
			pool(func(p map[string]any) { p["url"] = "https://x" }), "Url is not supported for backend pool", pool(nil)},
		{"pool with protocol", "Consumption", nil, "azure-native:apimanagement:Backend",
			pool(func(p map[string]any) { p["protocol"] = "http" }), "Protocol is not supported for backend pool", pool(nil)},
		{"pool with a circuit breaker", "StandardV2", nil, "azure-native:apimanagement:Backend",
			pool(func(p map[string]any) { p["circuitBreaker"] = breaker }), "Circuit breaker is not supported for backend pool", pool(nil)},
		{"pool weight above 100", "Consumption", nil, "azure-native:apimanagement:Backend",
			pool(func(p map[string]any) { member(p, 0)["weight"] = 101.0 }), "pool.services[0].weight: 101 must be between 0 and 100",
			pool(func(p map[string]any) { member(p, 0)["weight"] = 100.0; member(p, 1)["weight"] = 0.0 })},
		{"pool weight below 0", "Consumption", nil, "azure-native:apimanagement:Backend",
			pool(func(p map[string]any) { member(p, 1)["weight"] = -1.0 }), "pool.services[1].weight: -1 must be between 0 and 100", pool(nil)},
		{"pool priority above 100", "Consumption", nil, "azure-native:apimanagement:Backend",
			pool(func(p map[string]any) { member(p, 1)["priority"] = 101.0 }), "pool.services[1].priority: 101 must be between 0 and 100",
			pool(func(p map[string]any) { member(p, 1)["priority"] = 100.0 })},
		{"pool member missing", "Consumption", nil, "azure-native:apimanagement:Backend",
			pool(func(p map[string]any) { member(p, 1)["id"] = backendID("purple") }), "pool.services[1].id: backend '" + backendID("purple") + "' does not exist in this service", pool(nil)},
		{"pool member is a pool", "Consumption", func(f *Fake) {
			mustCreate(t, f, "azure-native:apimanagement:Backend", pool(func(p map[string]any) { p["backendId"] = "inner" }))
		}, "azure-native:apimanagement:Backend",
			pool(func(p map[string]any) { member(p, 1)["id"] = backendID("inner") }), "pool.services[1].id: a pool can only contain single backends", pool(nil)},
		{"pool without members", "Consumption", nil, "azure-native:apimanagement:Backend",
			pool(func(p map[string]any) { p["pool"] = map[string]any{"services": []any{}} }), "between 1 and 30 services, got 0", pool(nil)},
		{"single backend without url", "Consumption", nil, "azure-native:apimanagement:Backend",
			func() map[string]any { m := single("purple"); delete(m, "url"); return m }(), "Url and Protocol are required for a Single backend", single("purple")},

		// Circuit breakers: on single backends only, not on the Consumption tier.
		{"circuit breaker on Consumption", "Consumption", nil, "azure-native:apimanagement:Backend",
			func() map[string]any { m := single("purple"); m["circuitBreaker"] = breaker; return m }(), "Circuit breaker is not supported in the Consumption tier", single("purple")},
		{"circuit breaker on StandardV2", "StandardV2", nil, "azure-native:apimanagement:Backend",
			nil, "", func() map[string]any { m := single("purple"); m["circuitBreaker"] = breaker; return m }()},

		// Named values and backend ids a policy or a backend refers to must exist.
		{"backend credentials name a missing named value", "Consumption", nil, "azure-native:apimanagement:Backend",
			func() map[string]any {
				m := single("purple")
				m["credentials"] = map[string]any{"header": map[string]any{"x-functions-key": []any{"{{purple-key}}"}}}
				return m
			}(), "One or more named values ['purple-key'] specified are missing",
			func() map[string]any {
				m := single("purple")
				m["credentials"] = map[string]any{"header": map[string]any{"x-functions-key": []any{"{{green-key}}"}}}
				return m
			}()},
		{"policy names a missing named value", "Consumption", withAPI, "azure-native:apimanagement:ApiPolicy",
			policy("xml", `<policies><inbound><set-header name="k" exists-action="override"><value>{{pin}}</value></set-header></inbound></policies>`),
			"One or more named values ['pin'] specified are missing",
			policy("xml", `<policies><inbound><set-header name="k" exists-action="override"><value>{{green-key}}</value></set-header></inbound></policies>`)},
		{"policy names a missing backend", "Consumption", withAPI, "azure-native:apimanagement:ApiPolicy",
			policy("xml", `<policies><inbound><set-backend-service backend-id="green-blue-pool" /></inbound></policies>`),
			"Backend with id 'green-blue-pool' could not be found",
			policy("xml", `<policies><inbound><set-backend-service backend-id="pool" /></inbound></policies>`)},
		{"named value display name is what a reference names", "Consumption", func(f *Fake) {
			withAPI(f)
			mustCreate(t, f, "azure-native:apimanagement:NamedValue", apim(map[string]any{"namedValueId": "token-id", "displayName": "token", "value": "v"}))
		}, "azure-native:apimanagement:ApiPolicy",
			policy("xml", `<policies><inbound><set-header name="k" exists-action="override"><value>{{token-id}}</value></set-header></inbound></policies>`),
			"named values ['token-id'] specified are missing",
			policy("xml", `<policies><inbound><set-header name="k" exists-action="override"><value>{{token}}</value></set-header></inbound></policies>`)},

		// Policy formats (terraform-provider-azurerm#5426, azure-api-management-devops-resource-kit#825).
		{"xml that is not XML", "Consumption", withAPI, "azure-native:apimanagement:ApiPolicy",
			policy("xml", `<policies><inbound><base /></inbound>`), "The policy is not a valid XML document",
			policy("xml", `<policies><inbound><base /></inbound></policies>`)},
		{"rawxml with XML-encoded expressions", "Consumption", withAPI, "azure-native:apimanagement:ApiPolicy",
			policy("rawxml", "<policies><inbound>\n<set-variable name=\"s\" value=\"@(context.Request.Headers.GetValueOrDefault(&quot;X-Slot&quot;, &quot;&quot;))\" />\n</inbound></policies>"),
			"a rawxml policy must not be XML-encoded",
			policy("rawxml", "<policies><inbound>\n<set-variable name=\"s\" value=\""+raw+"\" />\n</inbound></policies>")},
		{"xml with XML-encoded expressions", "Consumption", withAPI, "azure-native:apimanagement:ApiPolicy",
			policy("xml", "<policies><inbound>\n<set-variable name=\"s\" value=\""+raw+"\" />\n</inbound></policies>"), "The policy is not a valid XML document",
			policy("xml", "<policies><inbound>\n<set-variable name=\"s\" value=\"@(context.Request.Headers.GetValueOrDefault(&quot;X-Slot&quot;, &quot;&quot;))\" />\n</inbound></policies>")},
		{"unknown policy format", "Consumption", withAPI, "azure-native:apimanagement:ApiPolicy",
			policy("json", `{}`), "Policy format 'json' is not supported", policy("xml", `<policies />`)},

		// Named values may not be empty; API paths are unique per service, ignoring case.
		{"empty named value", "Consumption", nil, "azure-native:apimanagement:NamedValue",
			apim(map[string]any{"namedValueId": "nv", "displayName": "nv", "value": "  "}), "may not be empty or consist only of whitespace",
			apim(map[string]any{"namedValueId": "nv", "displayName": "nv", "value": "v"})},
		{"duplicate API path", "Consumption", withAPI, "azure-native:apimanagement:Api",
			apim(map[string]any{"apiId": "api2", "path": "Orders"}), "with the same Path 'Orders' as API 'api'",
			apim(map[string]any{"apiId": "api2", "path": "orders2"})},

		// ARM: a parent must exist; azure-native: never create over an existing resource.
		{"resource group missing", "Consumption", nil, "azure-native:web:AppServicePlan",
			map[string]any{"resourceGroupName": "nope", "name": "plan"}, "ResourceGroupNotFound",
			map[string]any{"resourceGroupName": "rg", "name": "plan"}},
		{"parent resource missing", "Consumption", nil, "azure-native:apimanagement:Backend",
			func() map[string]any { m := single("purple"); m["serviceName"] = "svc2"; return m }(), "ParentResourceNotFound", single("purple")},
		{"container of a missing account", "Consumption", func(f *Fake) {
			mustCreate(t, f, "azure-native:storage:StorageAccount", map[string]any{"resourceGroupName": "rg", "accountName": "stone", "kind": "StorageV2", "sku": map[string]any{"name": "Standard_LRS"}})
		}, "azure-native:storage:BlobContainer",
			map[string]any{"resourceGroupName": "rg", "accountName": "sttwo", "containerName": "c"}, "ParentResourceNotFound",
			map[string]any{"resourceGroupName": "rg", "accountName": "stone", "containerName": "c"}},
		{"create over an existing resource", "Consumption", nil, "azure-native:apimanagement:Backend",
			single("green"), "cannot create already existing resource '" + backendID("green") + "'", single("purple")},

		// Names that become host names must be valid ones.
		{"storage account name with a dash", "Consumption", nil, "azure-native:storage:StorageAccount",
			map[string]any{"resourceGroupName": "rg", "accountName": "storage-1a2b3c4d", "kind": "StorageV2"}, "AccountNameInvalid",
			map[string]any{"resourceGroupName": "rg", "accountName": "storage1a2b3c4d", "kind": "StorageV2"}},
		{"storage account name too long", "Consumption", nil, "azure-native:storage:StorageAccount",
			map[string]any{"resourceGroupName": "rg", "accountName": "deploymentstorage1a2b3c4d", "kind": "StorageV2"}, "AccountNameInvalid",
			map[string]any{"resourceGroupName": "rg", "accountName": "deploystore1a2b3c4d", "kind": "StorageV2"}},
		{"app name ending in a dash", "Consumption", nil, "azure-native:web:WebApp",
			map[string]any{"resourceGroupName": "rg", "name": "green-"}, "InvalidSiteName",
			map[string]any{"resourceGroupName": "rg", "name": "green-app1a2b3c4d"}},
		{"service name starting with a digit", "Consumption", nil, "azure-native:apimanagement:ApiManagementService",
			map[string]any{"resourceGroupName": "rg", "serviceName": "1apim", "sku": map[string]any{"name": "Consumption"}}, "InvalidServiceName",
			map[string]any{"resourceGroupName": "rg", "serviceName": "apim1a2b3c4d", "sku": map[string]any{"name": "Consumption"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := apimWorld(t, tt.sku)
			if tt.setup != nil {
				tt.setup(f)
			}
			if tt.bad != nil {
				_, _, err := f.Create(tt.token, pm(tt.bad), false)
				if !errMatches(err, tt.want) {
					t.Errorf("bad input: got %v, want an error with %q", err, tt.want)
				}
			}
			if _, _, err := f.Create(tt.token, pm(tt.good), false); err != nil {
				t.Errorf("good input: got %v, want it created", err)
			}
		})
	}
}

// TestUpdatesAreRefusedToo: the service rules apply to an update as to a create (a shift that
// set a weight of 101 fails), and updating a missing resource is ARM's 404.
func TestUpdatesAreRefusedToo(t *testing.T) {
	f := apimWorld(t, "Consumption")
	id := mustCreate(t, f, "azure-native:apimanagement:Backend", pool(nil))
	if _, err := f.Update("azure-native:apimanagement:Backend", id, pm(pool(nil)), pm(pool(func(p map[string]any) { member(p, 1)["weight"] = 101.0 })), false); !errMatches(err, "must be between 0 and 100") {
		t.Errorf("weight 101: got %v, want refused", err)
	}
	if _, err := f.Update("azure-native:apimanagement:Backend", id, pm(pool(nil)), pm(pool(func(p map[string]any) { member(p, 1)["weight"] = 50.0 })), false); err != nil {
		t.Errorf("weight 50: got %v, want updated", err)
	}
	if _, err := f.Update("azure-native:apimanagement:Backend", backendID("gone"), pm(single("gone")), pm(single("gone")), false); !errMatches(err, "ResourceNotFound") {
		t.Errorf("missing resource: got %v, want ResourceNotFound", err)
	}
	// An API keeps its own path on update.
	api := mustCreate(t, f, "azure-native:apimanagement:Api", apim(map[string]any{"apiId": "api", "path": "orders"}))
	if _, err := f.Update("azure-native:apimanagement:Api", api, nil, pm(apim(map[string]any{"apiId": "api", "path": "orders", "displayName": "Orders"})), false); err != nil {
		t.Errorf("api update with its own path: got %v", err)
	}
}

// TestGlobalNames: storage account, web app and API Management service names are taken across
// Azure: a name another subscription holds is refused, whatever the case, and a free one is
// not. Role assignment names (GUIDs) are taken across the tenant, which a cloud stands for.
func TestGlobalNames(t *testing.T) {
	const guid = "0b5a3c1d-2e4f-4a6b-8c7d-9e0f1a2b3c4d"
	tests := []struct {
		token, key, taken, free, want string
		in                            map[string]any
	}{
		{"azure-native:storage:StorageAccount", "accountName", "storage1a2b3c4d", "storage5e6f7a8b", "StorageAccountAlreadyTaken",
			map[string]any{"kind": "StorageV2", "sku": map[string]any{"name": "Standard_LRS"}}},
		{"azure-native:web:WebApp", "name", "green-app1a2b3c4d", "green-app5e6f7a8b", "Website with given name",
			map[string]any{"kind": "functionapp,linux"}},
		{"azure-native:apimanagement:ApiManagementService", "serviceName", "apim1a2b3c4d", "apim5e6f7a8b", "Api service already exists",
			map[string]any{"publisherEmail": "a@b.c", "publisherName": "a", "sku": map[string]any{"name": "Consumption", "capacity": 0.0}}},
	}
	for _, tt := range tests {
		t.Run(tt.token, func(t *testing.T) {
			alice := newFake(t, sub1)
			bob := alice.in(sub2)
			for _, f := range []*Fake{alice, bob} {
				mustCreate(t, f, "azure-native:resources:ResourceGroup", map[string]any{"resourceGroupName": "rg", "location": "westeurope"})
			}
			in := func(name string) map[string]any {
				m := map[string]any{"resourceGroupName": "rg", tt.key: name}
				for k, v := range tt.in {
					m[k] = v
				}
				return m
			}
			mustCreate(t, alice, tt.token, in(tt.taken))
			taken := tt.taken
			if tt.token != "azure-native:storage:StorageAccount" { // storage names are lower-case only
				taken = strings.ToUpper(taken[:1]) + taken[1:]
			}
			if _, _, err := bob.Create(tt.token, pm(in(taken)), false); !errMatches(err, tt.want) {
				t.Errorf("taken name in another subscription: got %v, want %q", err, tt.want)
			}
			if _, _, err := bob.Create(tt.token, pm(in(tt.free)), false); err != nil {
				t.Errorf("free name: got %v, want created", err)
			}
		})
	}
	t.Run("role assignment", func(t *testing.T) {
		alice := newFake(t, sub1)
		bob := alice.in(sub2)
		ra := func(sub, name string) map[string]any {
			return map[string]any{"roleAssignmentName": name, "scope": "/subscriptions/" + sub + "/resourceGroups/rg", "principalId": "p", "roleDefinitionId": "r"}
		}
		for _, f := range []*Fake{alice, bob} {
			mustCreate(t, f, "azure-native:resources:ResourceGroup", map[string]any{"resourceGroupName": "rg", "location": "westeurope"})
		}
		mustCreate(t, alice, "azure-native:authorization:RoleAssignment", ra(sub1, guid))
		if _, _, err := bob.Create("azure-native:authorization:RoleAssignment", pm(ra(sub2, guid)), false); !errMatches(err, "RoleAssignmentUpdateNotPermitted") {
			t.Errorf("the same name at another scope: got %v, want RoleAssignmentUpdateNotPermitted", err)
		}
		if _, _, err := bob.Create("azure-native:authorization:RoleAssignment", pm(ra(sub2, "9b5a3c1d-2e4f-4a6b-8c7d-9e0f1a2b3c4d")), false); err != nil {
			t.Errorf("another name: got %v, want created", err)
		}
	})
}

// TestCreateRecordsAndComputes: a create stores what ARM computes for the resource (host names,
// identities, keys) and records the call, refused ones too; a secret named value's value is
// held but never returned.
func TestCreateRecordsAndComputes(t *testing.T) {
	f := apimWorld(t, "Consumption")
	app := mustCreate(t, f, "azure-native:web:WebApp", map[string]any{"resourceGroupName": "rg", "name": "green-app1a2b3c4d"})
	_, out, err := f.Create("azure-native:apimanagement:NamedValue", pm(apim(map[string]any{"namedValueId": "s", "displayName": "s", "value": "hush", "secret": true})), false)
	if err != nil {
		t.Fatal(err)
	}
	if out.HasValue("value") {
		t.Errorf("a secret named value's outputs hold its value: %v", out["value"])
	}
	_, _, refused := f.Create("azure-native:web:WebApp", pm(map[string]any{"resourceGroupName": "rg", "name": "green-app1a2b3c4d"}), false)
	c, err := f.Store.Load()
	if err != nil {
		t.Fatal(err)
	}
	r, _ := c.Get(app)
	if r.Properties["defaultHostName"] != "green-app1a2b3c4d.azurewebsites.net" || len(r.FunctionKey) != 56 {
		t.Errorf("app: got host %v, key of %d characters; want its host name and a 56-character key", r.Properties["defaultHostName"], len(r.FunctionKey))
	}
	last := c.Calls[len(c.Calls)-1]
	if refused == nil || last.Op != "create" || last.Error != refused.Error() {
		t.Errorf("last call: got %+v, want the refused create recorded with %v", last, refused)
	}
	nv, _ := c.Get("/subscriptions/" + sub1 + svcPath + "/namedValues/s")
	if nv.Secret != "hush" || nv.Properties["value"] != nil {
		t.Errorf("secret named value: holds %q, returns %v; want held, not returned", nv.Secret, nv.Properties["value"])
	}
	if err := f.Delete("azure-native:apimanagement:ApiManagementService", "/subscriptions/"+sub1+svcPath); err != nil {
		t.Fatal(err)
	}
	c, _ = f.Store.Load()
	for id := range c.Resources {
		if strings.Contains(id, "/service/svc") {
			t.Errorf("deleting the service left %s", id)
		}
	}
}
