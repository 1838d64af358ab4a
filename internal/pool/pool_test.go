package pool

import (
	"bytes"
	"context"
	"crypto/tls"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/slotless/slotless/e2e/azurefake"
	"github.com/slotless/slotless/stack"
)

const (
	sub   = "11111111-1111-1111-1111-111111111111"
	token = "arm-token"
)

// staticToken is a credential that hands out one token, as the scripted az CLI does.
type staticToken string

func (s staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(s), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// world is a cloud with a stack's APIM traffic resources, green 90 / blue 10, and the ARM
// facade over it.
type world struct {
	fake     *azurefake.Fake
	client   *Client
	target   Target
	http     *http.Client
	endpoint string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	schema, err := azurefake.LoadSchema(filepath.Join("..", "..", "sdks", "azure-native", "schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	f := &azurefake.Fake{Schema: schema, Store: azurefake.Store{Path: filepath.Join(t.TempDir(), "cloud.json")}, Subscription: sub, Location: "westeurope"}
	create := func(tok string, in map[string]any) {
		t.Helper()
		if _, _, err := f.Create(tok, resource.NewPropertyMapFromMap(in), false); err != nil {
			t.Fatalf("create %s: %v", tok, err)
		}
	}
	apim := func(in map[string]any) map[string]any {
		in["resourceGroupName"], in["serviceName"] = "rg", "apim1234"
		return in
	}
	create("azure-native:resources:ResourceGroup", map[string]any{"resourceGroupName": "rg", "location": "westeurope"})
	create("azure-native:apimanagement:ApiManagementService", map[string]any{
		"resourceGroupName": "rg", "serviceName": "apim1234", "publisherEmail": "ops@example.com", "publisherName": "ops",
		"sku": map[string]any{"name": "Consumption", "capacity": 0.0}, "tags": map[string]any{"app": "slotless", "stack": "dev"},
	})
	create("azure-native:apimanagement:ApiManagementService", map[string]any{
		"resourceGroupName": "rg", "serviceName": "other5678", "publisherEmail": "ops@example.com", "publisherName": "ops",
		"sku": map[string]any{"name": "Consumption", "capacity": 0.0}, "tags": map[string]any{"app": "slotless", "stack": "prod"},
	})
	// Another project's dev stack in the same group: its service is not this project's.
	create("azure-native:apimanagement:ApiManagementService", map[string]any{
		"resourceGroupName": "rg", "serviceName": "orders9012", "publisherEmail": "ops@example.com", "publisherName": "ops",
		"sku": map[string]any{"name": "Consumption", "capacity": 0.0}, "tags": map[string]any{"app": "orders", "stack": "dev"},
	})
	ids := map[stack.Slot]string{}
	for _, s := range stack.Slots {
		create("azure-native:apimanagement:Backend", apim(map[string]any{"backendId": s.BackendID(), "url": "https://" + string(s) + ".azurewebsites.net/api", "protocol": "http"}))
		ids[s] = "/subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.ApiManagement/service/apim1234/backends/" + s.BackendID()
	}
	create("azure-native:apimanagement:Backend", apim(map[string]any{"backendId": stack.PoolID, "type": "Pool", "description": "the program's", "pool": map[string]any{"services": []any{
		map[string]any{"id": ids[stack.Green], "weight": 90.0, "priority": 1.0},
		map[string]any{"id": ids[stack.Blue], "weight": 10.0, "priority": 1.0},
	}}}))
	create("azure-native:apimanagement:NamedValue", apim(map[string]any{"namedValueId": stack.CurrentSlotNamedValue, "displayName": stack.CurrentSlotNamedValue, "value": "green-backend", "secret": false}))

	srv, ca, err := azurefake.StartARM(f, token)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	httpClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}}}
	c, err := NewClient(staticToken(token), Options{Endpoint: srv.URL, Transport: httpClient, PollEvery: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	target, err := TargetFromPoolID("/subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.ApiManagement/service/apim1234/backends/" + stack.PoolID)
	if err != nil {
		t.Fatal(err)
	}
	return &world{fake: f, client: c, target: target, http: httpClient, endpoint: srv.URL}
}

func TestReadTheLivePool(t *testing.T) {
	w := newWorld(t)
	live, err := w.client.Read(context.Background(), w.target)
	if err != nil {
		t.Fatal(err)
	}
	if want := (stack.Weights{Green: 90, Blue: 10}); live.Weights != want || live.CurrentSlotName != "green-backend" || live.MarkedByBreakGlass() {
		t.Errorf("got %+v, want %s, current-slot-name green-backend, no mark", live, want)
	}
}

// TestWriteTheLivePool: the weights, the description and current-slot-name (a long-running
// operation) land in the cloud the provider reads, members and priorities kept.
func TestWriteTheLivePool(t *testing.T) {
	w := newWorld(t)
	var out bytes.Buffer
	to := stack.Weights{Green: 100, Blue: 0}
	if _, err := w.client.Write(context.Background(), w.target, to, "green-backend", stack.PoolRecord{Weights: to, By: BreakGlassBy}.String(), &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	live, err := w.client.Read(context.Background(), w.target)
	if err != nil {
		t.Fatal(err)
	}
	if live.Weights != to || !live.MarkedByBreakGlass() {
		t.Errorf("got %+v, want %s with the break-glass mark", live, to)
	}
	// current-slot-name already green: no named value write.
	if strings.Contains(out.String(), "named value") {
		t.Errorf("wrote current-slot-name although it held the value:\n%s", out.String())
	}
	out.Reset()
	if _, err := w.client.Write(context.Background(), w.target, stack.Weights{Blue: 100}, "blue-backend", "promoted", &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if live, _ = w.client.Read(context.Background(), w.target); live.CurrentSlotName != "blue-backend" || live.Weights.Blue != 100 {
		t.Errorf("got %+v, want blue 100 and current-slot-name blue-backend after the long-running operation", live)
	}
	c, _ := w.fake.Store.Load()
	for _, r := range c.ByType("azure-native:apimanagement:Backend") {
		if r.Name() != stack.PoolID {
			continue
		}
		for _, m := range r.Properties["pool"].(map[string]any)["services"].([]any) {
			if m.(map[string]any)["priority"] != 1.0 {
				t.Errorf("member %v lost its priority", m)
			}
		}
	}
}

// TestWriteRetriesThrottlingAndReadsAgainOnAChangedPool: ARM's 429s are retried (azcore), and
// a pool changed between the read and the write (412 on If-Match) is read again, not
// overwritten unseen.
func TestWriteRetriesThrottlingAndReadsAgainOnAChangedPool(t *testing.T) {
	w := newWorld(t)
	if err := w.fake.Store.Update(func(c *azurefake.Cloud) error { c.Throttle = 2; return nil }); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := w.client.Write(context.Background(), w.target, stack.Weights{Green: 100}, "", "n", &out); err != nil {
		t.Fatalf("throttled twice: %v\n%s", err, out.String())
	}
	// Someone edits the pool in the portal after the client read it: the hook edits the cloud
	// right before the PATCH, by construction.
	hook := &hookTransport{next: w.http, beforePatch: func() {
		_ = w.fake.Store.Update(func(c *azurefake.Cloud) error {
			for _, r := range c.ByType("azure-native:apimanagement:Backend") {
				if r.Name() == stack.PoolID {
					r.Properties["description"] = "edited in the portal"
				}
			}
			return nil
		})
	}}
	c, err := NewClient(staticToken(token), Options{Endpoint: w.endpoint, Transport: hook})
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if _, err := c.Write(context.Background(), w.target, stack.Weights{Green: 100}, "", "n", &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "changed since it was read") {
		t.Errorf("got\n%s\nwant the 412 noticed and the pool read again", out.String())
	}
}

// hookTransport runs beforePatch once, right before the first PATCH it sends.
type hookTransport struct {
	next        policy.Transporter
	beforePatch func()
}

func (h *hookTransport) Do(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPatch && h.beforePatch != nil {
		f := h.beforePatch
		h.beforePatch = nil
		f()
	}
	return h.next.Do(req)
}

func TestFindServiceByTags(t *testing.T) {
	w := newWorld(t)
	tests := []struct {
		project, stack string
		want           string
		wantErr        string
	}{
		{"slotless", "dev", "apim1234", ""},
		{"orders", "dev", "orders9012", ""},
		{"slotless", "test", "", "apim1234, orders9012, other5678"},
		{"shop", "dev", "", "no API Management service in rg is tagged app=shop, stack=dev"},
	}
	for _, tt := range tests {
		got, err := w.client.FindService(context.Background(), sub, "rg", tt.project, tt.stack)
		if tt.wantErr == "" && (err != nil || got != tt.want) {
			t.Errorf("%s/%s: got %q, %v; want %s", tt.project, tt.stack, got, err, tt.want)
		}
		if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%s/%s: got %q, %v; want an error containing %q", tt.project, tt.stack, got, err, tt.wantErr)
		}
	}
}

func TestTargetFromPoolID(t *testing.T) {
	got, err := TargetFromPoolID("/subscriptions/s/resourceGroups/g/providers/Microsoft.ApiManagement/service/svc/backends/orders-" + stack.PoolID)
	want := Target{Subscription: "s", ResourceGroup: "g", Service: "svc", PoolID: "orders-" + stack.PoolID, CurrentSlotID: "orders-" + stack.CurrentSlotNamedValue}
	if err != nil || got != want {
		t.Errorf("got %+v, %v; want %+v", got, err, want)
	}
	if _, err := TargetFromPoolID("/subscriptions/s/resourceGroups/g"); err == nil {
		t.Error("a resource group id was read as a pool")
	}
}
