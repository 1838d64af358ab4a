package azurefake

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestARMFacade: the facade answers as ARM does for the calls slotless makes, the
// inconvenient answers included.
func TestARMFacade(t *testing.T) {
	f := apimWorld(t, "Consumption")
	mustCreate(t, f, "azure-native:apimanagement:Backend", pool(nil))
	mustCreate(t, f, "azure-native:apimanagement:NamedValue", apim(map[string]any{"namedValueId": "current", "displayName": "current", "value": "green-backend"}))
	srv, ca, err := StartARM(f, "tok")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}}}
	base := srv.URL + "/subscriptions/" + sub1 + svcPath
	do := func(method, path, version, token string, header map[string]string, body any) (*http.Response, string) {
		t.Helper()
		var r io.Reader
		if body != nil {
			raw, _ := json.Marshal(body)
			r = bytes.NewReader(raw)
		}
		req, _ := http.NewRequest(method, base+path+"?api-version="+version, r)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp, string(raw)
	}
	const v = ARMAPIVersion
	weights := map[string]any{"properties": map[string]any{"pool": map[string]any{"services": []any{
		map[string]any{"id": backendID("green"), "weight": 100, "priority": 1},
		map[string]any{"id": backendID("blue"), "weight": 0, "priority": 1},
	}}}}

	if resp, body := do("GET", "/backends/pool", v, "", nil, nil); resp.StatusCode != 401 || !strings.Contains(body, "InvalidAuthenticationToken") {
		t.Errorf("no token: got %d %s, want 401", resp.StatusCode, body)
	}
	if resp, body := do("GET", "/backends/pool", "2021-08-01", "tok", nil, nil); resp.StatusCode != 400 || !strings.Contains(body, "InvalidApiVersionParameter") {
		t.Errorf("another api-version: got %d %s, want 400", resp.StatusCode, body)
	}
	resp, body := do("GET", "/backends/pool", v, "tok", nil, nil)
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || etag == "" || !strings.Contains(body, `"type":"Pool"`) || !strings.Contains(body, `"properties"`) {
		t.Fatalf("GET pool: got %d %s (ETag %q), want ARM's shape with an ETag", resp.StatusCode, body, etag)
	}
	if resp, body := do("PATCH", "/backends/pool", v, "tok", nil, weights); resp.StatusCode != 400 || !strings.Contains(body, "If-Match") {
		t.Errorf("PATCH without If-Match: got %d %s, want 400", resp.StatusCode, body)
	}
	if resp, body := do("PATCH", "/backends/pool", v, "tok", map[string]string{"If-Match": `"stale"`}, weights); resp.StatusCode != 412 {
		t.Errorf("PATCH with a stale ETag: got %d %s, want 412", resp.StatusCode, body)
	}
	bad := map[string]any{"properties": map[string]any{"pool": map[string]any{"services": []any{map[string]any{"id": backendID("green"), "weight": 101}}}}}
	if resp, body := do("PATCH", "/backends/pool", v, "tok", map[string]string{"If-Match": "*"}, bad); resp.StatusCode != 400 {
		t.Errorf("PATCH with weight 101: got %d %s, want the pool refused", resp.StatusCode, body)
	}
	if err := f.Store.Update(func(c *Cloud) error { c.Throttle = 1; return nil }); err != nil {
		t.Fatal(err)
	}
	if resp, _ := do("PATCH", "/backends/pool", v, "tok", map[string]string{"If-Match": etag}, weights); resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("throttled PATCH: got %d, want 429 with Retry-After", resp.StatusCode)
	}
	if resp, body := do("PATCH", "/backends/pool", v, "tok", map[string]string{"If-Match": etag}, weights); resp.StatusCode != 200 {
		t.Fatalf("PATCH: got %d %s", resp.StatusCode, body)
	}
	c, _ := f.Store.Load()
	r, _ := c.Get(backendID("pool"))
	if w := r.Inputs["pool"].(map[string]any)["services"].([]any)[1].(map[string]any)["weight"]; w != 0.0 {
		t.Errorf("blue's weight in the cloud: got %v, want 0", w)
	}

	// A named value update is long-running: 202, in progress once, then done.
	resp, _ = do("PATCH", "/namedValues/current", v, "tok", map[string]string{"If-Match": "*"}, map[string]any{"properties": map[string]any{"value": "blue-backend"}})
	loc := resp.Header.Get("Location")
	if resp.StatusCode != 202 || loc == "" {
		t.Fatalf("PATCH named value: got %d, Location %q; want 202 with a Location", resp.StatusCode, loc)
	}
	value := func() string {
		c, _ := f.Store.Load()
		r, _ := c.Get("/subscriptions/" + sub1 + svcPath + "/namedValues/current")
		return r.Properties["value"].(string)
	}
	poll := func() int {
		req, _ := http.NewRequest("GET", loc, nil)
		req.Header.Set("Authorization", "Bearer tok")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := poll(); got != 202 || value() != "green-backend" {
		t.Errorf("first poll: got %d with value %s, want 202 and the old value", got, value())
	}
	if got := poll(); got != 200 || value() != "blue-backend" {
		t.Errorf("second poll: got %d with value %s, want 200 and the new value", got, value())
	}

	list := srv.URL + "/subscriptions/" + sub1 + "/resourceGroups/rg/providers/Microsoft.ApiManagement/service?api-version=" + v
	req, _ := http.NewRequest("GET", list, nil)
	req.Header.Set("Authorization", "Bearer tok")
	lresp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(lresp.Body)
	lresp.Body.Close()
	if lresp.StatusCode != 200 || !strings.Contains(string(raw), `"name":"svc"`) {
		t.Errorf("list services: got %d %s", lresp.StatusCode, raw)
	}
}

// TestReadCarriesLiveEditsIntoInputs: after a write outside Pulumi (the facade's PATCH), a
// refresh's inputs hold the new weights, so the next update's diff puts back the program's.
func TestReadCarriesLiveEditsIntoInputs(t *testing.T) {
	f := apimWorld(t, "Consumption")
	id := mustCreate(t, f, "azure-native:apimanagement:Backend", pool(nil))
	c, _ := f.Store.Load()
	r, _ := c.Get(id)
	oldOutputs, oldInputs := pm(r.Properties), pm(r.Inputs)
	if err := f.Store.Update(func(c *Cloud) error {
		r, _ := c.Get(id)
		apply(r, map[string]any{"pool": map[string]any{"services": []any{
			map[string]any{"id": backendID("green"), "weight": 50.0, "priority": 1.0},
			map[string]any{"id": backendID("blue"), "weight": 50.0, "priority": 1.0},
		}}})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_, inputs, ok, err := f.Read("azure-native:apimanagement:Backend", id, oldOutputs, oldInputs)
	if err != nil || !ok {
		t.Fatalf("read: %v %v", ok, err)
	}
	got := inputs["pool"].ObjectValue()["services"].ArrayValue()[1].ObjectValue()["weight"].NumberValue()
	if got != 50 {
		t.Errorf("blue's weight in the refreshed inputs: got %v, want the live 50", got)
	}
	if inputs["backendId"].StringValue() != "pool" {
		t.Errorf("inputs the live edit did not touch changed: %v", inputs["backendId"])
	}
	// A second refresh, with nothing changed since the first, leaves the inputs as they are.
	outputs, _, _, _ := f.Read("azure-native:apimanagement:Backend", id, oldOutputs, oldInputs)
	_, again, _, _ := f.Read("azure-native:apimanagement:Backend", id, outputs, inputs)
	if !again.DeepEquals(inputs) {
		t.Errorf("a refresh with nothing changed moved the inputs: got %v, want %v", again, inputs)
	}
}
