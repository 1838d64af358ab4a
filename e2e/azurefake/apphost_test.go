package azurefake

import (
	"archive/zip"
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// gatewayWorld is apimWorld with an app green behind the green backend, which sends its key
// by reference, and an identity gw attached to the service, and an API whose policy gets a
// token for audience with gw (ignore-error as given).
func gatewayWorld(t *testing.T, ignoreError string) (*Fake, *Resource) {
	t.Helper()
	f := apimWorld(t, "Consumption")
	app := mustCreate(t, f, "azure-native:web:WebApp", map[string]any{"resourceGroupName": "rg", "name": "green", "kind": "functionapp,linux"})
	gw := mustCreate(t, f, "azure-native:managedidentity:UserAssignedIdentity", map[string]any{"resourceGroupName": "rg", "resourceName": "gw"})
	c, _ := f.Store.Load()
	key, _ := c.Get(app)
	g, _ := c.Get(gw)
	mustCreate(t, f, "azure-native:apimanagement:NamedValue", apim(map[string]any{"namedValueId": "green-function-key", "displayName": "green-function-key", "value": key.FunctionKey, "secret": true}))
	mustCreate(t, f, "azure-native:apimanagement:NamedValue", apim(map[string]any{"namedValueId": "gateway-client-id", "displayName": "gateway-client-id", "value": g.Properties["clientId"]}))
	svc := "/subscriptions/" + sub1 + svcPath
	s, _ := c.Get(svc)
	in := s.Inputs
	in["identity"] = map[string]any{"type": "UserAssigned", "userAssignedIdentities": map[string]any{gw: map[string]any{}}}
	if _, err := f.Update("azure-native:apimanagement:ApiManagementService", svc, pm(s.Inputs), pm(in), false); err != nil {
		t.Fatal(err)
	}
	b := single("green")
	b["credentials"] = map[string]any{"header": map[string]any{"x-functions-key": []any{"{{green-function-key}}"}}}
	c, _ = f.Store.Load()
	old, _ := c.Get(backendID("green"))
	if _, err := f.Update("azure-native:apimanagement:Backend", backendID("green"), pm(old.Inputs), pm(b), false); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, f, "azure-native:apimanagement:Api", apim(map[string]any{"apiId": "api", "path": "api", "displayName": "api", "protocols": []any{"https"}}))
	mustCreate(t, f, "azure-native:apimanagement:ApiPolicy", apim(map[string]any{"apiId": "api", "policyId": "policy", "format": "xml",
		"value": `<policies><inbound><base /><set-backend-service backend-id="green" /><authentication-managed-identity resource="aud-1" client-id="{{gateway-client-id}}" ignore-error="` + ignoreError + `" /></inbound><backend><base /></backend><outbound><base /></outbound><on-error><base /></on-error></policies>`}))
	// `az ad sp create --id aud-1`: the audience's registration has a service principal.
	if err := f.Store.Update(func(c *Cloud) error { c.CreateServicePrincipal("aud-1"); return nil }); err != nil {
		t.Fatal(err)
	}
	c, _ = f.Store.Load()
	r, _ := c.Get(app)
	return f, r
}

// requireGateway gives the app built-in authentication requiring audience aud-1 from clientID.
func requireGateway(t *testing.T, f *Fake, app *Resource, clientID string) {
	t.Helper()
	gatewayAuth(t, f, app, clientID, map[string]any{"requireAuthentication": true, "unauthenticatedClientAction": "Return401"})
}

// gatewayAuth gives the app built-in authentication validating audience aud-1 from clientID,
// with the given global validation.
func gatewayAuth(t *testing.T, f *Fake, app *Resource, clientID string, global map[string]any) {
	t.Helper()
	mustCreate(t, f, "azure-native:web:WebAppAuthSettingsV2", map[string]any{"resourceGroupName": "rg", "name": app.Name(),
		"platform":         map[string]any{"enabled": true},
		"globalValidation": global,
		"identityProviders": map[string]any{"azureActiveDirectory": map[string]any{"enabled": true,
			"registration": map[string]any{"clientId": "aud-1"},
			"validation":   map[string]any{"allowedAudiences": []any{"api://aud-1"}, "defaultAuthorizationPolicy": map[string]any{"allowedApplications": []any{clientID}}}}},
	})
}

// gatewayIdentity is the client and principal id of the identity the world's service has.
func gatewayIdentity(t *testing.T, c *Cloud) (clientID, principalID string) {
	t.Helper()
	for _, r := range c.ByType("azure-native:managedidentity:UserAssignedIdentity") {
		clientID, _ = r.Properties["clientId"].(string)
		principalID, _ = r.Properties["principalId"].(string)
	}
	if clientID == "" || principalID == "" {
		t.Fatal("no gateway identity")
	}
	return clientID, principalID
}

// TestGatewayReachesAnAppThatRequiresIt: the gateway sends the key and, from its policy, a
// token got with its attached identity; an app requiring that token answers the gateway and
// refuses a direct call with the key alone, a token for another audience or from another
// application, and a token the tenant did not sign.
func TestGatewayReachesAnAppThatRequiresIt(t *testing.T) {
	f, app := gatewayWorld(t, "true")
	c, _ := f.Store.Load()
	fwd, err := c.Forward(sub1, "green.azurewebsites.net")
	if err != nil || fwd.FunctionKey != app.FunctionKey || !strings.HasPrefix(fwd.Authorization, "Bearer ") {
		t.Fatalf("forward: got %+v, %v; want the app's key and a bearer token", fwd, err)
	}
	var clientID string
	for _, r := range c.ByType("azure-native:managedidentity:UserAssignedIdentity") {
		clientID, _ = r.Properties["clientId"].(string)
	}
	if status, _ := c.AppAnswer(app, "", fwd.FunctionKey); status != http.StatusOK {
		t.Fatalf("before the app requires a token, the key alone: got %d, want 200", status)
	}
	requireGateway(t, f, app, clientID)
	c, _ = f.Store.Load()
	app, _ = c.Get(app.ID)
	c.CreateServicePrincipal("another-audience")
	other, err := c.IssueToken(clientID, "another-audience")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, authorization, key string
		want                     int
	}{
		{"the gateway's request", fwd.Authorization, fwd.FunctionKey, http.StatusOK},
		{"the key alone", "", fwd.FunctionKey, http.StatusUnauthorized},
		{"a token for another audience", "Bearer " + other, fwd.FunctionKey, http.StatusUnauthorized},
		{"a token from another application", "Bearer " + signToken(Claims{Aud: "aud-1", AppID: "someone-else", Exp: time.Now().Add(time.Hour).Unix()}, tenantKey), fwd.FunctionKey, http.StatusForbidden},
		{"a token the tenant did not sign", "Bearer " + ForgeToken(Claims{Aud: "aud-1", AppID: clientID, Exp: time.Now().Add(time.Hour).Unix()}), fwd.FunctionKey, http.StatusUnauthorized},
		{"the token without the key", fwd.Authorization, "", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, reason := c.AppAnswer(app, tc.authorization, tc.key); got != tc.want {
				t.Errorf("got %d (%s), want %d", got, reason, tc.want)
			}
		})
	}

	// The app's own host, as a caller around the gateway reaches it.
	srv := httptest.NewServer(AppHost{Store: f.Store})
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/orders?code="+app.FunctionKey, nil)
	req.Host = "green.azurewebsites.net"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a direct call with the key: got %d, want 401", resp.StatusCode)
	}
}

// TestGatewayWithoutItsIdentity: a policy naming an identity the service does not have gets no
// token: with ignore-error="true" the request goes on without one, else the gateway fails it.
func TestGatewayWithoutItsIdentity(t *testing.T) {
	for _, tc := range []struct {
		ignore  string
		wantErr bool
	}{{"true", false}, {"false", true}} {
		f, _ := gatewayWorld(t, tc.ignore)
		svc := "/subscriptions/" + sub1 + svcPath
		c, _ := f.Store.Load()
		s, _ := c.Get(svc)
		in := map[string]any{}
		for k, v := range s.Inputs {
			in[k] = v
		}
		delete(in, "identity")
		if _, err := f.Update("azure-native:apimanagement:ApiManagementService", svc, pm(s.Inputs), pm(in), false); err != nil {
			t.Fatal(err)
		}
		c, _ = f.Store.Load()
		fwd, err := c.Forward(sub1, "green.azurewebsites.net")
		if (err != nil) != tc.wantErr || fwd.Authorization != "" {
			t.Errorf("ignore-error=%s: got %+v, %v; want no token and an error %v", tc.ignore, fwd, err, tc.wantErr)
		}
	}
}

// TestAppHostServesUnderTheRoutePrefix: an app's host serves its HTTP functions under the route
// prefix of the package it runs (host.json's extensions.http.routePrefix, "api" before any
// package or when host.json sets none): a path outside it answers 404 whatever the key, one
// inside it the function's answer; and the gateway finds the backend of an app whose URL has no
// path (the empty prefix).
func TestAppHostServesUnderTheRoutePrefix(t *testing.T) {
	f := apimWorld(t, "Consumption")
	mustCreate(t, f, "azure-native:web:WebApp", map[string]any{"resourceGroupName": "rg", "name": "green", "kind": "functionapp,linux"})
	srv := httptest.NewServer(AppHost{Store: f.Store})
	t.Cleanup(srv.Close)
	deployed := func(hostJSON string) {
		t.Helper()
		if err := f.Store.Update(func(c *Cloud) error {
			if hostJSON == "" {
				delete(c.Deployments, "green")
				return nil
			}
			c.Deployments = map[string]*Deployment{"green": {App: "green", Status: 4, RoutePrefix: packageRoutePrefix(zipOf(t, map[string]string{"host.json": hostJSON}))}}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, hostJSON, path string
		want                 int
	}{
		{"no package yet: the default prefix", "", "/api/health", http.StatusOK},
		{"no package yet: outside it", "", "/health", http.StatusNotFound},
		{"no http section: the default prefix", `{"version": "2.0"}`, "/api/health", http.StatusOK},
		{"an empty prefix: the root", `{"extensions": {"http": {"routePrefix": ""}}}`, "/health", http.StatusOK},
		{"a nested prefix, in another case", `{"extensions": {"http": {"routePrefix": "v1/fn"}}}`, "/V1/Fn/orders/7", http.StatusOK},
		{"a nested prefix: the default is outside it", `{"extensions": {"http": {"routePrefix": "v1/fn"}}}`, "/api/health", http.StatusNotFound},
		{"a prefix is not a prefix of a longer segment", `{"extensions": {"http": {"routePrefix": "api"}}}`, "/apis/health", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			deployed(tt.hostJSON)
			c, _ := f.Store.Load()
			app, _ := c.Get("/subscriptions/" + sub1 + "/resourceGroups/rg/providers/Microsoft.Web/sites/green")
			for _, key := range []string{app.FunctionKey, "wrong"} {
				req, _ := http.NewRequest(http.MethodGet, srv.URL+tt.path, nil)
				req.Host = "green.azurewebsites.net"
				req.Header.Set("x-functions-key", key)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				want := tt.want
				if key == "wrong" && want == http.StatusOK {
					want = http.StatusUnauthorized
				}
				if resp.StatusCode != want {
					t.Errorf("%s with key %q: got %d, want %d", tt.path, key[:5], resp.StatusCode, want)
				}
			}
		})
	}

	// A backend without a path: the gateway sends its key, and its share counts.
	b := single("green")
	b["url"] = "https://green.azurewebsites.net"
	c, _ := f.Store.Load()
	old, _ := c.Get(backendID("green"))
	if _, err := f.Update("azure-native:apimanagement:Backend", backendID("green"), pm(old.Inputs), pm(b), false); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, f, "azure-native:apimanagement:Backend", pool(nil))
	c, _ = f.Store.Load()
	if fwd, err := c.Forward(sub1, "green.azurewebsites.net"); err != nil || fwd.URL != "https://green.azurewebsites.net" {
		t.Errorf("forward to a backend without a path: got %+v, %v", fwd, err)
	}
	if share := c.Share("green.azurewebsites.net"); share != 90 {
		t.Errorf("share of a backend without a path: got %d, want 90", share)
	}
}

// zipOf is a zip holding files with their content.
func zipOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for name, body := range files {
		fw, err := w.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestTokensNeedAServicePrincipal: Entra issues the gateway's identity a token for an
// audience only once the audience's registration has a service principal, by its application
// id or its api:// URI; before, the request fails with AADSTS500011 naming the resource, and
// the gateway goes on without a token under ignore-error="true", or fails the request with
// Entra's reason under "false".
func TestTokensNeedAServicePrincipal(t *testing.T) {
	for _, tt := range []struct {
		name, resource, ignoreError string
		sp                          bool
		wantToken                   bool
		wantErr                     string
	}{
		{"with a service principal", "aud-1", "false", true, true, ""},
		{"its api:// URI", "api://aud-1", "false", true, true, ""},
		{"without, ignore-error false", "aud-1", "false", false, false, "AADSTS500011: The resource principal named aud-1 was not found in the tenant named"},
		{"without, ignore-error true", "aud-1", "true", false, false, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, _ := gatewayWorld(t, tt.ignoreError)
			if err := f.Store.Update(func(c *Cloud) error {
				if !tt.sp {
					delete(c.ServicePrincipals, "aud-1")
				}
				for _, p := range c.ByType("azure-native:apimanagement:ApiPolicy") {
					p.Inputs["value"] = strings.Replace(p.Inputs["value"].(string), `resource="aud-1"`, `resource="`+tt.resource+`"`, 1)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			c, _ := f.Store.Load()
			clientID, _ := gatewayIdentity(t, c)
			if _, err := c.IssueToken(clientID, tt.resource); (err == nil) != tt.sp {
				t.Errorf("IssueToken: got %v, want a token %v", err, tt.sp)
			}
			fwd, err := c.Forward(sub1, "green.azurewebsites.net")
			if got := strings.HasPrefix(fwd.Authorization, "Bearer "); got != tt.wantToken {
				t.Errorf("forward: token %v, want %v (%+v)", got, tt.wantToken, fwd)
			}
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("forward: got %v, want error %q", err, tt.wantErr)
			}
		})
	}
}

// TestBuiltInAuthenticationPhases: an app that validates the gateway's tokens passes the
// gateway's principal to its code on a request that carries one, whether it requires them
// (Return401) or not (AllowAnonymous); without a valid token it answers 401 when it requires
// one and lets the request through without a principal when it does not; a token from another
// application is refused with 403 either way. An app on a Flex that does not enforce built-in
// authentication answers everything as if it had none, and passes no principal on.
func TestBuiltInAuthenticationPhases(t *testing.T) {
	observe := map[string]any{"requireAuthentication": false, "unauthenticatedClientAction": "AllowAnonymous"}
	require := map[string]any{"requireAuthentication": true, "unauthenticatedClientAction": "Return401"}
	for _, tt := range []struct {
		name        string
		global      map[string]any
		notEnforced bool
		// want is the status and whether the code sees the gateway's principal, for: the
		// gateway's request, the key alone, a token from another application, a forged token.
		want [4]int
		sees [4]bool
	}{
		{"observe", observe, false, [4]int{200, 200, 403, 200}, [4]bool{true, false, false, false}},
		{"require", require, false, [4]int{200, 401, 403, 401}, [4]bool{true, false, false, false}},
		{"require, not enforced", require, true, [4]int{200, 200, 200, 200}, [4]bool{false, false, false, false}},
		{"observe, not enforced", observe, true, [4]int{200, 200, 200, 200}, [4]bool{false, false, false, false}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, app := gatewayWorld(t, "true")
			c, _ := f.Store.Load()
			clientID, principalID := gatewayIdentity(t, c)
			gatewayAuth(t, f, app, clientID, tt.global)
			if err := f.Store.Update(func(c *Cloud) error { c.BuiltInAuthNotEnforced = tt.notEnforced; return nil }); err != nil {
				t.Fatal(err)
			}
			c, _ = f.Store.Load()
			app, _ = c.Get(app.ID)
			fwd, err := c.Forward(sub1, "green.azurewebsites.net")
			if err != nil {
				t.Fatal(err)
			}
			exp := time.Now().Add(time.Hour).Unix()
			for i, auth := range []string{
				fwd.Authorization,
				"",
				"Bearer " + signToken(Claims{Aud: "aud-1", AppID: "someone-else", Oid: "someone", Exp: exp}, tenantKey),
				"Bearer " + ForgeToken(Claims{Aud: "aud-1", AppID: clientID, Oid: principalID, Exp: exp}),
			} {
				a := c.AppSees(app, auth, fwd.FunctionKey)
				if a.Status != tt.want[i] || (a.Principal == principalID) != tt.sees[i] || !tt.sees[i] && a.Principal != "" {
					t.Errorf("request %d: got %d, principal %q (%s); want %d, the gateway's principal %v", i, a.Status, a.Principal, a.Reason, tt.want[i], tt.sees[i])
				}
			}
		})
	}
}

// TestExcludedPathsAreNotRefused: an app requiring authentication whose registration names
// another audience than the gateway's token answers the gateway's request to its routes 401,
// before the Functions host, but a path listed in globalValidation.excludedPaths (any case)
// reaches the host without a principal, where the function key still decides.
func TestExcludedPathsAreNotRefused(t *testing.T) {
	f, app := gatewayWorld(t, "true")
	c, _ := f.Store.Load()
	clientID, _ := gatewayIdentity(t, c)
	mustCreate(t, f, "azure-native:web:WebAppAuthSettingsV2", map[string]any{"resourceGroupName": "rg", "name": app.Name(),
		"platform":         map[string]any{"enabled": true},
		"globalValidation": map[string]any{"requireAuthentication": true, "unauthenticatedClientAction": "Return401", "excludedPaths": []any{"/api/health"}},
		"identityProviders": map[string]any{"azureActiveDirectory": map[string]any{"enabled": true,
			"registration": map[string]any{"clientId": "another-app"},
			"validation":   map[string]any{"allowedAudiences": []any{"api://another-app"}, "defaultAuthorizationPolicy": map[string]any{"allowedApplications": []any{clientID}}}}},
	})
	c, _ = f.Store.Load()
	app, _ = c.Get(app.ID)
	for _, tt := range []struct {
		path      string
		key       bool
		want      int
		reasonHas string
	}{
		{"", true, http.StatusUnauthorized, "the token's audience aud-1 is not allowed"},
		{"/api/orders", true, http.StatusUnauthorized, "the token's audience aud-1 is not allowed"},
		{"/api/health", true, http.StatusOK, ""},
		{"/API/Health", true, http.StatusOK, ""},
		{"/api/health", false, http.StatusUnauthorized, "no valid function key"},
	} {
		a := c.ThroughGatewayAt(sub1, app, tt.path)
		if !tt.key {
			fwd, _ := c.Forward(sub1, "green.azurewebsites.net")
			a = c.AppSeesAt(app, tt.path, fwd.Authorization, "")
		}
		if a.Status != tt.want || !strings.Contains(a.Reason, tt.reasonHas) || a.Principal != "" {
			t.Errorf("%q (key %v): got %d %q, principal %q; want %d %q and no principal", tt.path, tt.key, a.Status, a.Reason, a.Principal, tt.want, tt.reasonHas)
		}
	}
}
