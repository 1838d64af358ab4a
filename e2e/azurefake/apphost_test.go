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
	c, _ = f.Store.Load()
	r, _ := c.Get(app)
	return f, r
}

// requireGateway gives the app built-in authentication accepting audience aud-1 from clientID.
func requireGateway(t *testing.T, f *Fake, app *Resource, clientID string) {
	t.Helper()
	mustCreate(t, f, "azure-native:web:WebAppAuthSettingsV2", map[string]any{"resourceGroupName": "rg", "name": app.Name(),
		"platform":         map[string]any{"enabled": true},
		"globalValidation": map[string]any{"requireAuthentication": true, "unauthenticatedClientAction": "Return401"},
		"identityProviders": map[string]any{"azureActiveDirectory": map[string]any{"enabled": true,
			"registration": map[string]any{"clientId": "aud-1"},
			"validation":   map[string]any{"allowedAudiences": []any{"api://aud-1"}, "defaultAuthorizationPolicy": map[string]any{"allowedApplications": []any{clientID}}}}},
	})
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
	other, _ := c.IssueToken(clientID, "another-audience")
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
