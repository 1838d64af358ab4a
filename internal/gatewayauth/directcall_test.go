package gatewayauth

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/slotless/slotless/e2e/azurefake"
	"github.com/slotless/slotless/internal/pool"
	"github.com/slotless/slotless/stack"
)

// appHost serves answers in turn at https://example.com (the name httptest's certificate
// carries), reached whatever the URL's host: the app's own host, as DNS would resolve it. It
// records the headers each request came with.
func appHost(t *testing.T, answers ...int) (*http.Client, *[]http.Header) {
	t.Helper()
	var n atomic.Int32
	var seen []http.Header
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		seen = append(seen, r.Header.Clone())
		status := answers[min(i, len(answers)-1)]
		if status == http.StatusFound {
			w.Header().Set("Location", "https://login.example/signin")
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	client := srv.Client()
	tr := client.Transport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
	}
	client.Transport = tr
	return client, &seen
}

// TestDirectCall: the call carries the function key and no token; 401 passes; any other
// answer fails at once naming the app, the status, the URL and the setting to check, a
// redirect included (never followed); an app that does not answer yet (502, 503, 504) is asked
// again until it answers or the check's time is up.
func TestDirectCall(t *testing.T) {
	for _, tt := range []struct {
		name     string
		answers  []int
		wantErr  []string
		wantSent int
		isOpen   bool
	}{
		{"refused", []int{401}, nil, 1, false},
		{"answered", []int{200}, []string{"orders-blue answered 200, want 401", "https://example.com/api/health", "requireAuthentication true, unauthenticatedClientAction Return401", "--resource-group rg-dev"}, 1, true},
		{"forbidden", []int{403}, []string{"answered 403, want 401"}, 1, true},
		{"redirected to a sign-in page", []int{302}, []string{"answered 302, want 401"}, 1, true},
		{"not found", []int{404}, []string{"answered 404, want 401"}, 1, true},
		{"restarting, then refused", []int{503, 502, 401}, nil, 3, false},
		{"restarting, then open", []int{503, 200}, []string{"answered 200"}, 2, true},
		{"never answering", []int{503}, []string{"direct call to orders-blue (https://example.com/api/health): answered 503 after"}, 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			client, seen := appHost(t, tt.answers...)
			var progress bytes.Buffer
			d := DirectCall{App: "orders-blue", ResourceGroup: "rg-dev", Host: "example.com", HealthPath: "/health", FunctionKey: "the-key", Client: client, Timeout: time.Minute, Interval: time.Millisecond}
			if tt.name == "never answering" {
				d.Timeout = 20 * time.Millisecond
			}
			err := d.Check(context.Background(), &progress)
			if len(tt.wantErr) == 0 && err != nil {
				t.Fatalf("got %v, want the check passed", err)
			}
			for _, w := range tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("got %v, want an error with %q", err, w)
				}
			}
			if got := errors.Is(err, ErrAnswersDirectCalls); got != tt.isOpen {
				t.Errorf("errors.Is(ErrAnswersDirectCalls): got %v, want %v", got, tt.isOpen)
			}
			if tt.wantSent > 0 && len(*seen) != tt.wantSent {
				t.Errorf("sent %d requests, want %d", len(*seen), tt.wantSent)
			}
			for _, h := range *seen {
				if h.Get("x-functions-key") != "the-key" || h.Get("Authorization") != "" {
					t.Errorf("sent key %q and Authorization %q, want the key and no token", h.Get("x-functions-key"), h.Get("Authorization"))
				}
			}
			if strings.Contains(progress.String()+errString(err), "the-key") {
				t.Error("the function key was printed")
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestDirectCallAgainstTheStandIn: the call goes to https://<app>.azurewebsites.net as on Azure,
// here through the stand-in's proxy to its app host: an app whose built-in authentication
// requires the gateway's token passes; the same app on a Flex that does not enforce it fails.
func TestDirectCallAgainstTheStandIn(t *testing.T) {
	for _, tt := range []struct {
		name        string
		notEnforced bool
		wantErr     string
	}{
		{"enforced", false, ""},
		{"not enforced", true, "green answered 200, want 401"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			if err := w.fake.Store.Update(func(c *azurefake.Cloud) error { c.BuiltInAuthNotEnforced = tt.notEnforced; return nil }); err != nil {
				t.Fatal(err)
			}
			d := DirectCall{App: "green", ResourceGroup: "rg", Host: "green.azurewebsites.net", HealthPath: "/health", FunctionKey: w.key, Client: w.viaProxy, Timeout: time.Minute, Interval: time.Millisecond}
			err := d.Check(context.Background(), &bytes.Buffer{})
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("got %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestFunctionKey: the key is read from API Management's secret named value with listValue,
// its id following the pool's; a principal without the listValue action is refused by ARM.
func TestFunctionKey(t *testing.T) {
	w := newWorld(t)
	for _, tt := range []struct {
		name, token, poolID string
		want, wantErr       string
	}{
		{"the deploying identity", "arm-token", w.poolID, w.key, ""},
		{"a principal without listValue", "reader-token", w.poolID, "", "AuthorizationFailed"},
		{"not a pool id", "arm-token", "/subscriptions/x", "", "is not the ARM id of an API Management backend"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opts, err := pool.ARMClientOptions(pool.Options{Endpoint: w.arm, Transport: w.http})
			if err != nil {
				t.Fatal(err)
			}
			got, err := FunctionKey(context.Background(), staticToken(tt.token), opts, tt.poolID, stack.Green)
			if got != tt.want || tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("got %q, %v; want %q, %q", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

const sub = "11111111-1111-1111-1111-111111111111"

// staticToken is a credential that hands out one token, as the scripted az CLI does.
type staticToken string

func (s staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(s), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// world is the stand-in with a function app green behind a service's backend, its key in a
// secret named value, the gateway's identity on the service and green requiring its token;
// the ARM facade over it (arm-token the deploying identity, reader-token a principal granted
// nothing) and the proxy to the apps' own hosts.
type world struct {
	fake     *azurefake.Fake
	arm      string
	http     *http.Client
	viaProxy *http.Client
	poolID   string
	key      string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	schema, err := azurefake.LoadSchema(filepath.Join("..", "..", "sdks", "azure-native", "schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	f := &azurefake.Fake{Schema: schema, Store: azurefake.Store{Path: filepath.Join(t.TempDir(), "cloud.json")}, Subscription: sub, Location: "westeurope"}
	create := func(tok string, in map[string]any) string {
		t.Helper()
		id, _, err := f.Create(tok, resource.NewPropertyMapFromMap(in), false)
		if err != nil {
			t.Fatalf("create %s: %v", tok, err)
		}
		return id
	}
	apim := func(in map[string]any) map[string]any {
		in["resourceGroupName"], in["serviceName"] = "rg", "apim1234"
		return in
	}
	create("azure-native:resources:ResourceGroup", map[string]any{"resourceGroupName": "rg", "location": "westeurope"})
	app := create("azure-native:web:WebApp", map[string]any{"resourceGroupName": "rg", "name": "green", "kind": "functionapp,linux"})
	gw := create("azure-native:managedidentity:UserAssignedIdentity", map[string]any{"resourceGroupName": "rg", "resourceName": "gw"})
	create("azure-native:apimanagement:ApiManagementService", map[string]any{
		"resourceGroupName": "rg", "serviceName": "apim1234", "publisherEmail": "ops@example.com", "publisherName": "ops",
		"sku": map[string]any{"name": "Consumption", "capacity": 0.0}, "identity": map[string]any{"type": "UserAssigned", "userAssignedIdentities": []any{gw}},
	})
	c, err := f.Store.Load()
	if err != nil {
		t.Fatal(err)
	}
	a, _ := c.Get(app)
	g, _ := c.Get(gw)
	w := &world{fake: f, key: a.FunctionKey}
	create("azure-native:apimanagement:NamedValue", apim(map[string]any{"namedValueId": "green-function-key", "displayName": "green-function-key", "value": a.FunctionKey, "secret": true}))
	create("azure-native:apimanagement:Backend", apim(map[string]any{"backendId": "green-backend", "url": "https://green.azurewebsites.net/api", "protocol": "http"}))
	w.poolID = create("azure-native:apimanagement:Backend", apim(map[string]any{"backendId": stack.PoolID, "type": "Pool", "pool": map[string]any{"services": []any{
		map[string]any{"id": "/subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.ApiManagement/service/apim1234/backends/green-backend", "weight": 100.0, "priority": 1.0},
	}}}))
	create("azure-native:web:WebAppAuthSettingsV2", map[string]any{"resourceGroupName": "rg", "name": "green",
		"platform":         map[string]any{"enabled": true},
		"globalValidation": map[string]any{"requireAuthentication": true, "unauthenticatedClientAction": "Return401"},
		"identityProviders": map[string]any{"azureActiveDirectory": map[string]any{"enabled": true,
			"registration": map[string]any{"clientId": "aud-1"},
			"validation":   map[string]any{"defaultAuthorizationPolicy": map[string]any{"allowedApplications": []any{g.Properties["clientId"]}}}}},
	})
	srv, ca, err := azurefake.StartARMFor(f, "arm-token", map[string]string{"reader-token": "reader"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	w.arm = srv.URL
	w.http = &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfig(ca)}}
	proxy := httptest.NewServer(azurefake.AppProxy{Hosts: azurefake.AppHost{Store: f.Store}, CA: ca})
	t.Cleanup(proxy.Close)
	w.viaProxy = &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(mustURL(t, proxy.URL)), TLSClientConfig: tlsConfig(ca)}}
	return w
}
