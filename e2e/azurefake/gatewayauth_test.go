package azurefake

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestAppProxyReachesTheAppsOwnHosts: through the proxy, https://<app>.azurewebsites.net is
// the app's own host, with a certificate the client verifies against the stand-in's CA: the
// key alone answers 200 until the app requires the gateway's token, then 401. The proxy
// tunnels to no other host.
func TestAppProxyReachesTheAppsOwnHosts(t *testing.T) {
	f, app := gatewayWorld(t, "true")
	ca, err := NewCA()
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewServer(AppProxy{Hosts: AppHost{Store: f.Store}, CA: ca})
	t.Cleanup(proxy.Close)
	u, _ := url.Parse(proxy.URL)
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(u), TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}}}
	get := func(rawURL, key string) (int, error) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, rawURL, nil)
		if key != "" {
			req.Header.Set("x-functions-key", key)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	const health = "https://green.azurewebsites.net/api/health"
	for _, tt := range []struct {
		key  string
		want int
	}{{app.FunctionKey, 200}, {"", 401}, {"wrong", 401}} {
		if got, err := get(health, tt.key); err != nil || got != tt.want {
			t.Errorf("key %q: got %d, %v; want %d", tt.key, got, err, tt.want)
		}
	}
	c, _ := f.Store.Load()
	clientID, _ := gatewayIdentity(t, c)
	requireGateway(t, f, app, clientID)
	if got, err := get(health, app.FunctionKey); err != nil || got != http.StatusUnauthorized {
		t.Errorf("the key alone, the app requiring the gateway's token: got %d, %v; want 401", got, err)
	}
	if _, err := get("https://example.com/", ""); err == nil || !strings.Contains(err.Error(), "Forbidden") {
		t.Errorf("another host: got %v, want the proxy's refusal", err)
	}
}

// TestARMListsANamedValue: POST .../namedValues/{id}/listValue answers a secret named value's
// value to a principal with the listValue action, and 403 AuthorizationFailed naming the
// action to one without it, a Reader included.
func TestARMListsANamedValue(t *testing.T) {
	f := rbacWorld(t)
	mustCreate(t, f, "azure-native:apimanagement:NamedValue", apim(map[string]any{"namedValueId": "green-function-key", "displayName": "green-function-key", "value": "the-key", "secret": true}))
	srv, ca, err := StartARMFor(f, "deployer", map[string]string{"reader-token": "reader", "release-token": releasePrincipal})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}}}
	for _, tt := range []struct {
		name, token, id string
		status          int
		body            string
	}{
		{"the deploying identity", "deployer", "green-function-key", 200, `"value":"the-key"`},
		{"a Reader", "reader-token", "green-function-key", 403, "Microsoft.ApiManagement/service/namedValues/listValue/action"},
		{"no such named value", "deployer", "blue-function-key", 404, "ResourceNotFound"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/subscriptions/"+sub1+svcPath+"/namedValues/"+tt.id+"/listValue?api-version="+ARMAPIVersion, nil)
			req.Header.Set("Authorization", "Bearer "+tt.token)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status || !strings.Contains(string(raw), tt.body) {
				t.Errorf("got %d %s, want %d with %s", resp.StatusCode, raw, tt.status, tt.body)
			}
		})
	}
}
