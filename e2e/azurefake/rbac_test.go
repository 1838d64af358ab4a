package azurefake

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

const (
	releasePrincipal = "6f1f2a8e-3c1b-4b8e-9a51-2d7c4e0b9f10"
	rgID             = "/subscriptions/" + sub1 + "/resourceGroups/rg"
)

// rbacWorld is apimWorld with a custom role for the release principal, assigned at the group,
// and a Reader assignment of another principal at the service.
func rbacWorld(t *testing.T) *Fake {
	t.Helper()
	f := apimWorld(t, "Consumption")
	mustCreate(t, f, "azure-native:apimanagement:Backend", pool(nil))
	role := mustCreate(t, f, "azure-native:authorization:RoleDefinition", map[string]any{
		"roleDefinitionId": "2d8e5c4a-3b6f-4e7d-9c0a-9f8b7a6e5d4c", "scope": rgID, "roleName": "slotless release (rg)", "roleType": "CustomRole", "assignableScopes": []any{rgID},
		"permissions": []any{map[string]any{"actions": []any{"Microsoft.ApiManagement/service/backends/*", "Microsoft.Web/sites/read"}}},
	})
	mustCreate(t, f, "azure-native:authorization:RoleAssignment", map[string]any{
		"roleAssignmentName": "0b6c3a2e-1f4d-4c5b-9a8e-7d6f5e4c3b2a",
		"scope":              rgID, "principalId": releasePrincipal, "roleDefinitionId": "/subscriptions/" + sub1 + "/providers/Microsoft.Authorization/roleDefinitions/" + lastSegment(role),
	})
	mustCreate(t, f, "azure-native:authorization:RoleAssignment", map[string]any{
		"roleAssignmentName": "1c7d4b3f-2a5e-4d6c-8b9f-8e7a6f5d4c3b",
		"scope":              rgID + "/providers/Microsoft.ApiManagement/service/svc", "principalId": "reader",
		"roleDefinitionId": "/subscriptions/" + sub1 + "/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7",
	})
	return f
}

func TestAuthorize(t *testing.T) {
	f := rbacWorld(t)
	c, err := f.Store.Load()
	if err != nil {
		t.Fatal(err)
	}
	svc := rgID + "/providers/Microsoft.ApiManagement/service/svc"
	for _, tt := range []struct {
		name, principal, action, id string
		allowed                     bool
	}{
		{"custom role, wildcard action, below the group", releasePrincipal, "Microsoft.ApiManagement/service/backends/write", svc + "/backends/pool", true},
		{"actions match case-insensitively", strings.ToUpper(releasePrincipal), "microsoft.apimanagement/service/BACKENDS/read", svc + "/backends/pool", true},
		{"an action the role lacks", releasePrincipal, "Microsoft.Web/sites/config/write", rgID + "/providers/Microsoft.Web/sites/app/config/appsettings", false},
		{"a scope above the assignment", "reader", "Microsoft.ApiManagement/service/read", rgID, false},
		{"Reader reads below its scope", "reader", "Microsoft.ApiManagement/service/backends/read", svc + "/backends/pool", true},
		{"Reader does not write", "reader", "Microsoft.ApiManagement/service/backends/write", svc + "/backends/pool", false},
		{"a principal with no assignment", "nobody", "Microsoft.ApiManagement/service/backends/read", svc + "/backends/pool", false},
		{"a sibling whose name extends the scope", releasePrincipal, "Microsoft.Web/sites/read", "/subscriptions/" + sub1 + "/resourceGroups/rg2/providers/Microsoft.Web/sites/app", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := authorize(c, tt.principal, tt.action, tt.id)
			if (err == nil) != tt.allowed {
				t.Fatalf("got %v, want allowed %v", err, tt.allowed)
			}
			if err != nil && (!strings.Contains(err.Error(), "AuthorizationFailed") || !strings.Contains(err.Error(), "does not have authorization to perform action '"+tt.action+"' over scope '"+tt.id+"'")) {
				t.Errorf("got %v, want ARM's AuthorizationFailed naming the action and scope", err)
			}
		})
	}
	if err := authorize(c, "anyone", "Microsoft.Authorization/roleAssignments/write", rgID); err == nil {
		t.Error("a principal without roles wrote a role assignment")
	}
}

// TestARMFacadeEnforcesRoles: through the facade, the release principal reads and writes the
// pool but cannot change an app's settings; the deploying identity can.
func TestARMFacadeEnforcesRoles(t *testing.T) {
	f := rbacWorld(t)
	mustCreate(t, f, "azure-native:web:WebApp", map[string]any{"resourceGroupName": "rg", "name": "app-green", "kind": "functionapp,linux"})
	srv, ca, err := StartARMFor(f, "deployer", map[string]string{"release-token": releasePrincipal})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}}}
	do := func(method, path, version, token string, body any) (int, string) {
		t.Helper()
		var r io.Reader
		if body != nil {
			raw, _ := json.Marshal(body)
			r = bytes.NewReader(raw)
		}
		req, _ := http.NewRequest(method, srv.URL+path+"?api-version="+version, r)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("If-Match", "*")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(raw)
	}
	pool := "/subscriptions/" + sub1 + svcPath + "/backends/pool"
	settings := rgID + "/providers/Microsoft.Web/sites/app-green/config/appsettings"
	weights := map[string]any{"properties": map[string]any{"pool": map[string]any{"services": []any{
		map[string]any{"id": backendID("green"), "weight": 100, "priority": 1},
		map[string]any{"id": backendID("blue"), "weight": 0, "priority": 1},
	}}}}
	if code, body := do("PATCH", pool, ARMAPIVersion, "release-token", weights); code != 200 {
		t.Errorf("the release identity's pool write: got %d %s, want 200", code, body)
	}
	if code, body := do("PUT", settings, AppServiceAPIVersion, "release-token", map[string]any{"properties": map[string]any{"A": "1"}}); code != 403 ||
		!strings.Contains(body, `"code":"AuthorizationFailed"`) || !strings.Contains(body, "Microsoft.Web/sites/config/write") {
		t.Errorf("the release identity's app settings write: got %d %s, want 403 AuthorizationFailed for Microsoft.Web/sites/config/write", code, body)
	}
	if code, body := do("PUT", settings, AppServiceAPIVersion, "deployer", map[string]any{"properties": map[string]any{"A": "1"}}); code != 200 || !strings.Contains(body, `"A":"1"`) {
		t.Errorf("the deploying identity's app settings write: got %d %s, want 200", code, body)
	}
	if code, _ := do("GET", pool, ARMAPIVersion, "stranger", nil); code != 401 {
		t.Errorf("an unknown token: got %d, want 401", code)
	}
	c, _ := f.Store.Load()
	app, _ := c.Get(rgID + "/providers/Microsoft.Web/sites/app-green")
	if got := app.Inputs["siteConfig"]; got == nil || !strings.Contains(jsonOf(got), `{"name":"A","value":"1"}`) {
		t.Errorf("app settings after the deployer's write: got %v", got)
	}
}

func jsonOf(v any) string {
	raw, _ := json.Marshal(v)
	return string(raw)
}

func TestRoleDefinitionRules(t *testing.T) {
	f := rbacWorld(t)
	for _, tt := range []struct {
		name string
		in   map[string]any
		want string
	}{
		{"the same name", map[string]any{"scope": rgID, "roleName": "slotless release (rg)", "assignableScopes": []any{rgID}}, "RoleDefinitionWithSameNameExists"},
		{"no assignable scope", map[string]any{"scope": rgID, "roleName": "other"}, "at least one assignable scope"},
		{"created outside its scopes", map[string]any{"scope": rgID, "roleName": "other", "assignableScopes": []any{rgID + "/providers/Microsoft.ApiManagement/service/svc"}}, "not among its assignable scopes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := f.Create("azure-native:authorization:RoleDefinition", pm(tt.in), false); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
}

// TestProviderSignsInAsItsClientID: a provider whose client id the cloud knows as a service
// principal is authorized by that principal's role assignments, for resources and functions;
// one the cloud does not know acts as the deploying identity.
func TestProviderSignsInAsItsClientID(t *testing.T) {
	f := rbacWorld(t)
	if err := f.Store.Update(func(c *Cloud) error {
		c.ServicePrincipals = map[string]string{"release-client": releasePrincipal}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	asRelease := *f
	asRelease.ClientID = "release-client"
	poolID := "/subscriptions/" + sub1 + svcPath + "/backends/pool"
	c, _ := f.Store.Load()
	old, _ := c.Get(poolID)
	if _, err := asRelease.Update("azure-native:apimanagement:Backend", poolID, nil, pm(old.Inputs), false); err != nil {
		t.Errorf("the release identity's pool update: %v", err)
	}
	if _, err := asRelease.Invoke("azure-native:apimanagement:listNamedValue", pm(apim(map[string]any{"namedValueId": "green-key"}))); err == nil || !strings.Contains(err.Error(), "namedValues/listValue/action") {
		t.Errorf("listNamedValue without the action: got %v, want AuthorizationFailed", err)
	}
	if _, _, err := asRelease.Create("azure-native:apimanagement:NamedValue", pm(apim(map[string]any{"namedValueId": "x", "displayName": "x", "value": "v"})), false); err == nil || !strings.Contains(err.Error(), "AuthorizationFailed") {
		t.Errorf("a named value create without the action: got %v, want AuthorizationFailed", err)
	}
	stranger := *f
	stranger.ClientID = "unknown-client"
	if _, _, err := stranger.Create("azure-native:apimanagement:NamedValue", pm(apim(map[string]any{"namedValueId": "y", "displayName": "y", "value": "v"})), false); err != nil {
		t.Errorf("a client the cloud does not know acts as the deploying identity: got %v", err)
	}
}

// TestAuthorizeData: data actions come from the roles' dataActions at or above the data's scope:
// a container-scoped Storage Blob Data Contributor writes that container's blobs only, an
// account-scoped Blob Data Owner every container of the account, and Owner none (it has no data
// actions).
func TestAuthorizeData(t *testing.T) {
	f := rbacWorld(t)
	mustCreate(t, f, "azure-native:storage:StorageAccount", map[string]any{"resourceGroupName": "rg", "accountName": "shared", "kind": "StorageV2", "sku": map[string]any{"name": "Standard_LRS"}})
	for _, slot := range []string{"green", "blue"} {
		mustCreate(t, f, "azure-native:storage:BlobContainer", map[string]any{"resourceGroupName": "rg", "accountName": "shared", "containerName": "app-package-" + slot})
	}
	account := rgID + "/providers/Microsoft.Storage/storageAccounts/shared"
	green, blue := account+"/blobServices/default/containers/app-package-green", account+"/blobServices/default/containers/app-package-blue"
	assign := func(name, scope, principal, role string) {
		mustCreate(t, f, "azure-native:authorization:RoleAssignment", map[string]any{
			"roleAssignmentName": name, "scope": scope, "principalId": principal,
			"roleDefinitionId": "/subscriptions/" + sub1 + "/providers/Microsoft.Authorization/roleDefinitions/" + role,
		})
	}
	assign("2a7d4b3f-2a5e-4d6c-8b9f-8e7a6f5d4c3b", blue, "blue-identity", "ba92f5b4-2d11-453d-a403-e96b0029c9fe")
	assign("3a7d4b3f-2a5e-4d6c-8b9f-8e7a6f5d4c3b", account, "old-green-identity", "b7e6dc6d-f1e8-4753-8033-0f276bb0955b")
	assign("4a7d4b3f-2a5e-4d6c-8b9f-8e7a6f5d4c3b", rgID, "owner", "8e3af657-a8ff-443c-a75c-2fe8c4bcb635")
	c, err := f.Store.Load()
	if err != nil {
		t.Fatal(err)
	}
	const write = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write"
	for _, tt := range []struct {
		name, principal, action, id string
		allowed                     bool
	}{
		{"its own container", "blue-identity", write, blue + "/blobs/released-package.zip", true},
		{"another slot's container", "blue-identity", write, green + "/blobs/released-package.zip", false},
		{"the account's other data", "blue-identity", "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read", account + "/blobServices/default/containers/azure-webjobs-secrets/blobs/host.json", false},
		{"an account-wide owner writes every container", "old-green-identity", write, blue + "/blobs/released-package.zip", true},
		{"Owner has no data actions", "owner", write, green + "/blobs/x.zip", false},
		{"a blob role is not a queue role", "old-green-identity", "Microsoft.Storage/storageAccounts/queueServices/queues/messages/add/action", account + "/queueServices/default/queues/q", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := AuthorizeData(c, tt.principal, tt.action, tt.id)
			if (err == nil) != tt.allowed {
				t.Fatalf("got %v, want allowed %v", err, tt.allowed)
			}
			if err != nil && !strings.Contains(err.Error(), "AuthorizationPermissionMismatch") {
				t.Errorf("got %v, want the storage service's AuthorizationPermissionMismatch", err)
			}
		})
	}
}

// TestSecretsThroughOldAPIVersions: a Reader reads a secret named value's value through an API
// version older than 2019-12-01 (named values were "properties" then, and their GET returned
// the value), never through 2024-05-01's GET; once the service's apiVersionConstraint sets
// minApiVersion 2019-12-01, the old version is refused for everyone.
func TestSecretsThroughOldAPIVersions(t *testing.T) {
	f := rbacWorld(t)
	srv, ca, err := StartARMFor(f, "deployer", map[string]string{"reader-token": "reader", "release-token": releasePrincipal})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}}}
	svc := "/subscriptions/" + sub1 + svcPath
	get := func(path, version, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+svc+path+"?api-version="+version, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(raw)
	}
	constrain := func(min string) {
		t.Helper()
		c, _ := f.Store.Load()
		s, _ := c.Get(svc)
		olds := pm(s.Inputs)
		news := olds.Copy()
		news["apiVersionConstraint"] = resource.NewObjectProperty(pm(map[string]any{"minApiVersion": min}))
		if _, err := f.Update("azure-native:apimanagement:ApiManagementService", svc, olds, news, false); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, path, version, token string
		constraint                 string // minApiVersion set before the request, "" for none
		status                     int
		has, lacks                 string
	}{
		{"Reader, 2019-01-01, no constraint", "/properties/green-key", "2019-01-01", "reader-token", "", 200, `"value":"k"`, ""},
		{"Reader, 2024-05-01", "/namedValues/green-key", ARMAPIVersion, "reader-token", "", 200, `"displayName":"green-key"`, `"value"`},
		{"an identity without a read on named values", "/properties/green-key", "2019-01-01", "release-token", "", 403, "AuthorizationFailed", `"value"`},
		{"a version between the two", "/properties/green-key", "2021-08-01", "reader-token", "", 400, "InvalidApiVersionParameter", `"value"`},
		{"Reader, 2019-01-01, minApiVersion 2019-12-01", "/properties/green-key", "2019-01-01", "reader-token", "2019-12-01", 400, "Supported versions: 2019-12-01", `"value"`},
		{"the deploying identity, 2019-01-01, minApiVersion 2019-12-01", "/properties/green-key", "2019-01-01", "deployer", "2019-12-01", 400, "InvalidApiVersionParameter", `"value"`},
		{"Reader, 2024-05-01, minApiVersion 2019-12-01", "/namedValues/green-key", ARMAPIVersion, "reader-token", "2019-12-01", 200, `"displayName":"green-key"`, `"value"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.constraint != "" {
				constrain(tt.constraint)
			}
			status, body := get(tt.path, tt.version, tt.token)
			if status != tt.status || !strings.Contains(body, tt.has) || (tt.lacks != "" && strings.Contains(body, tt.lacks)) {
				t.Errorf("got %d %s, want %d with %s and without %q", status, body, tt.status, tt.has, tt.lacks)
			}
		})
	}
}

// linkWorld is a cloud where the release principal holds a custom role with actions at the
// group, signed in as the provider's client; it returns the provider as that principal.
func linkWorld(t *testing.T, actions ...string) (asRelease *Fake, deployer *Fake) {
	t.Helper()
	f := apimWorld(t, "Consumption")
	mustCreate(t, f, "azure-native:apimanagement:NamedValue", apim(map[string]any{"namedValueId": "current", "displayName": "current", "value": "green-backend"}))
	role := mustCreate(t, f, "azure-native:authorization:RoleDefinition", map[string]any{
		"roleDefinitionId": "3e9f6d5b-4c7a-4f8e-8d1b-0a9c8b7f6e5d", "scope": rgID, "roleName": "release", "roleType": "CustomRole", "assignableScopes": []any{rgID},
		"permissions": []any{map[string]any{"actions": strsAny(actions)}},
	})
	mustCreate(t, f, "azure-native:authorization:RoleAssignment", map[string]any{
		"roleAssignmentName": "4f0a7e6c-5d8b-4a9f-9e2c-1b0d9c8a7f6e",
		"scope":              rgID, "principalId": releasePrincipal, "roleDefinitionId": "/subscriptions/" + sub1 + "/providers/Microsoft.Authorization/roleDefinitions/" + lastSegment(role),
	})
	if err := f.Store.Update(func(c *Cloud) error {
		c.ServicePrincipals = map[string]string{"release-client": releasePrincipal}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	r := *f
	r.ClientID = "release-client"
	return &r, f
}

func strsAny(in []string) []any {
	out := make([]any, len(in))
	for i, s := range in {
		out[i] = s
	}
	return out
}

// TestLinkedAccess: a site write that names the slot's identity and plan needs, besides
// Microsoft.Web/sites/write, the right to assign the identity and to join the plan, on every
// write that names them; a write the caller may not make at all is AuthorizationFailed first.
func TestLinkedAccess(t *testing.T) {
	identity := rgID + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-green"
	farm := rgID + "/providers/Microsoft.Web/serverfarms/plan-green"
	subnet := rgID + "/providers/Microsoft.Network/virtualNetworks/vnet/subnets/apps"
	site := func(extra map[string]any) map[string]any {
		in := map[string]any{"resourceGroupName": "rg", "name": "app-green", "kind": "functionapp,linux", "serverFarmId": farm, "location": "westeurope",
			"identity": map[string]any{"type": "UserAssigned", "userAssignedIdentities": []any{identity}}}
		for k, v := range extra {
			in[k] = v
		}
		return in
	}
	const (
		write      = "Microsoft.Web/sites/write"
		assign     = "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action"
		join       = "Microsoft.Web/serverFarms/join/action"
		subnetJoin = "Microsoft.Network/virtualNetworks/subnets/join/action"
	)
	for _, tt := range []struct {
		name    string
		actions []string
		extra   map[string]any
		want    string // "" for allowed, else what the error names
	}{
		{"all three", []string{write, assign, join}, nil, ""},
		{"no assign", []string{write, join}, nil, "LinkedAuthorizationFailed"},
		{"no join", []string{write, assign}, nil, "'" + join + "' on the linked scope(s) '" + farm + "'"},
		{"neither", []string{write}, nil, assign + "," + join},
		{"no write at all", []string{assign, join}, nil, "AuthorizationFailed"},
		{"a subnet to join", []string{write, assign, join}, map[string]any{"virtualNetworkSubnetId": subnet}, subnetJoin},
		{"and the right to join it", []string{write, assign, join, subnetJoin}, map[string]any{"virtualNetworkSubnetId": subnet}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			asRelease, deployer := linkWorld(t, tt.actions...)
			if err := deployer.Store.Update(func(c *Cloud) error {
				vnet := rgID + "/providers/Microsoft.Network/virtualNetworks/vnet"
				c.PutVirtualNetwork(vnet, "westeurope")
				c.PutSubnet(vnet, "apps", "10.0.0.0/27", FlexDelegation)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			id, _, err := deployer.Create("azure-native:web:WebApp", pm(site(nil)), false)
			if err != nil {
				t.Fatal(err)
			}
			// The same links as before: ARM checks the request, not a difference.
			_, err = asRelease.Update("azure-native:web:WebApp", id, nil, pm(site(tt.extra)), false)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("got %v, want the update allowed", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got %v, want an error naming %s", err, tt.want)
			}
		})
	}
}

// TestNamedValuePolling: a named value update is long-running, and polling it is its own
// action. Through the provider, a caller that may write but not poll changes the value (ARM
// accepted it) and still sees the update fail; through the Resource Manager, the 202 carries
// an Azure-AsyncOperation the caller polls to Succeeded, refused without the action.
func TestNamedValuePolling(t *testing.T) {
	const nvWrite = "Microsoft.ApiManagement/service/namedValues/*"
	current := "/subscriptions/" + sub1 + svcPath + "/namedValues/current"
	for _, tt := range []struct {
		name    string
		actions []string
		denied  bool
	}{
		{"write without poll", []string{nvWrite}, true},
		{"write and poll", []string{nvWrite, lroPollAction}, false},
	} {
		t.Run("provider: "+tt.name, func(t *testing.T) {
			asRelease, _ := linkWorld(t, tt.actions...)
			c, _ := asRelease.Store.Load()
			old, _ := c.Get(current)
			in := pm(old.Inputs)
			in["value"] = resource.NewStringProperty("blue-backend")
			_, err := asRelease.Update("azure-native:apimanagement:NamedValue", current, nil, in, false)
			if got := err != nil && strings.Contains(err.Error(), lroPollAction); got != tt.denied {
				t.Errorf("update: got %v, want denied %v", err, tt.denied)
			}
			c, _ = asRelease.Store.Load()
			if r, _ := c.Get(current); r.Properties["value"] != "blue-backend" {
				t.Errorf("the value: got %v, want blue-backend either way (ARM accepted the write)", r.Properties["value"])
			}
		})
		t.Run("Resource Manager: "+tt.name, func(t *testing.T) {
			_, deployer := linkWorld(t, tt.actions...)
			srv, ca, err := StartARMFor(deployer, "deployer", map[string]string{"release-token": releasePrincipal})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}}}
			do := func(method, url string, body any) (*http.Response, string) {
				t.Helper()
				var r io.Reader
				if body != nil {
					raw, _ := json.Marshal(body)
					r = bytes.NewReader(raw)
				}
				req, _ := http.NewRequest(method, url, r)
				req.Header.Set("Authorization", "Bearer release-token")
				req.Header.Set("If-Match", "*")
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				raw, _ := io.ReadAll(resp.Body)
				return resp, string(raw)
			}
			resp, body := do("PATCH", srv.URL+current+"?api-version="+ARMAPIVersion, map[string]any{"properties": map[string]any{"value": "blue-backend"}})
			async := resp.Header.Get("Azure-AsyncOperation")
			if resp.StatusCode != 202 || !strings.Contains(async, svcPath+"/tenant/operationResults/") || !strings.Contains(resp.Header.Get("Location"), "asyncId=") {
				t.Fatalf("PATCH: got %d %s, Azure-AsyncOperation %q, Location %q", resp.StatusCode, body, async, resp.Header.Get("Location"))
			}
			var statuses []string
			for range 2 {
				resp, body = do("GET", async, nil)
				if resp.StatusCode != 200 {
					statuses = append(statuses, resp.Status+" "+body)
					break
				}
				var op struct{ Status string }
				_ = json.Unmarshal([]byte(body), &op)
				statuses = append(statuses, op.Status)
			}
			want := "InProgress,Succeeded"
			if tt.denied {
				want = "403 Forbidden"
			}
			if got := strings.Join(statuses, ","); !strings.HasPrefix(got, want) || tt.denied && !strings.Contains(got, lroPollAction) {
				t.Errorf("polls: got %s, want %s", got, want)
			}
		})
	}
}
