//go:build e2e

package e2e

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/slotless/slotless/e2e/azurefake"
	"github.com/slotless/slotless/internal/deploy/deploytest"
	"github.com/slotless/slotless/stack"
)

// readerRole is Azure's built-in Reader.
const readerRole = "acdd72a7-3385-48ef-bd42-f606fba81ae7"

// TestProductLinkAndRoutePrefixReachTheApp: the README's dev stack, fitted to a team's API
// Management as the stack file says. The service the stack created refuses a Reader's read of
// the pin token through an API version older than 2019-12-01. With `apimProductIds: [partners]`
// (a product the service's owner made), `routePrefix: ""` (an app whose host.json serves its
// functions at the root) and `corsMethods: [GET, POST]`, an up updates the policy's CORS, adds
// the API to the product after it, through the stand-in's ARM, and points both backends at the
// apps' roots. `slotless deploy` refuses a
// package still under /api and deploys one under the root to the idle slot; a request as API
// Management sends it (the backend's URL and the operation's path, with the backend's key)
// reaches that app's host and its function, while the slot still running no package, served
// under /api, answers 404. A product the service lacks fails the up, naming it.
func TestProductLinkAndRoutePrefixReachTheApp(t *testing.T) {
	parallel(t, 15*time.Second)
	u := deployed(t)
	arm := u.withARM()
	outs := u.outputs("dev")
	svc := "/subscriptions/" + u.sub + "/resourceGroups/" + outs[stack.OutAPIMResourceGroup].(string) +
		"/providers/Microsoft.ApiManagement/service/" + outs[stack.OutAPIMName].(string)

	// Secrets through old API versions: someone with Reader on the service asks for the pin token.
	if err := u.cloud.Update(func(c *azurefake.Cloud) error {
		c.Put(&azurefake.Resource{ID: svc + "/providers/Microsoft.Authorization/roleAssignments/3d2c1b0a-9f8e-4d7c-8b6a-5f4e3d2c1b0a", Token: "azure-native:authorization:RoleAssignment", Subscription: u.sub,
			Inputs:     map[string]any{"scope": svc, "principalId": strangerPrincipal, "roleDefinitionId": "/subscriptions/" + u.sub + "/providers/Microsoft.Authorization/roleDefinitions/" + readerRole},
			Properties: map[string]any{}})
		c.PutProduct(svc, "partners")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	pin := strings.TrimSpace(u.sh("pulumi config get pinToken"))
	status, body := armGet(t, arm, svc+"/properties/"+stack.PinTokenNamedValue+"?api-version=2019-01-01", strangerToken)
	if status != http.StatusBadRequest || !strings.Contains(body, "InvalidApiVersionParameter") || strings.Contains(body, pin) {
		t.Errorf("a Reader's read of the pin token through 2019-01-01: got %d %s, want 400 InvalidApiVersionParameter and no token", status, body)
	}

	n := len(u.calls())
	u.run(`pulumi config set --path 'apimProductIds[0]' partners && pulumi config set routePrefix "" && ` +
		`pulumi config set --path 'corsMethods[0]' GET && pulumi config set --path 'corsMethods[1]' POST && pulumi up`)
	c, err := u.cloud.Load()
	if err != nil {
		t.Fatal(err)
	}
	link, ok := c.Get(svc + "/products/partners/apis/" + stack.APIID)
	if !ok {
		t.Fatalf("no link of the API to the product partners in the cloud")
	}
	if link.Properties["type"] != "Microsoft.ApiManagement/service/apis" || link.Properties["path"] != "slotless" {
		t.Errorf("the product link answers %v, want the API's contract (its path slotless)", link.Properties)
	}
	policy, created := u.callsSince(n, "update", "azure-native:apimanagement:ApiPolicy"), u.callsSince(n, "create", "azure-native:apimanagement:ProductApi")
	if len(policy) != 1 || len(created) != 1 || created[0] < policy[0] {
		t.Errorf("policy updated at %v, product link created at %v: want one of each, the link after the policy", policy, created)
	}
	for _, p := range c.ByType("azure-native:apimanagement:ApiPolicy") {
		if v, _ := p.Properties["value"].(string); !strings.Contains(v, "<method>POST</method>") || strings.Contains(v, "<method>OPTIONS</method>") {
			t.Errorf("the policy's CORS methods are not corsMethods [GET, POST]:\n%s", v)
		}
	}
	hosts := map[stack.Slot]string{}
	for _, b := range c.ByType("azure-native:apimanagement:Backend") {
		for _, slot := range stack.Slots {
			if b.Name() == slot.BackendID() {
				hosts[slot] = strings.TrimPrefix(b.Properties["url"].(string), "https://")
			}
		}
	}
	for _, slot := range stack.Slots {
		if h := hosts[slot]; h == "" || strings.Contains(h, "/") {
			t.Errorf("%s backend url: got https://%s, want the app's root", slot, h)
		}
	}
	if got := u.outputs("dev")[stack.OutRoutePrefix]; got != "" {
		t.Errorf("output routePrefix: got %q, want empty", got)
	}

	// The apps' packages: one still under /api is refused before anything is uploaded.
	underAPI := deploytest.ZipFiles(t, "", map[string]string{"host.json": `{"version": "2.0", "extensions": {"http": {"routePrefix": "api"}}}`, "health/function.json": "{}"})
	n = len(u.calls())
	out, err := u.trySh("slotless deploy --stack dev --slot blue --package " + underAPI)
	if exitCode(err) != 2 || !strings.Contains(out, `host.json's extensions.http.routePrefix is "api", the stack's routePrefix is ""`) {
		t.Errorf("deploying a package under /api: got exit %d\n%s\nwant 2 and the two prefixes named", exitCode(err), out)
	}
	if len(u.callsSince(n, "deploy", "azure-native:web:WebApp")) != 0 {
		t.Error("the refused package reached the deployment host")
	}
	atRoot := deploytest.ZipFiles(t, "", map[string]string{"host.json": `{"version": "2.0", "extensions": {"http": {"routePrefix": ""}}}`, "health/function.json": "{}"})
	u.sh("slotless deploy --stack dev --slot blue --package " + atRoot)

	// A request as API Management sends it: the backend's URL, the health operation's path, the
	// backend's key; the apps' own hosts answer.
	appHosts := httptest.NewServer(azurefake.AppHost{Store: u.cloud})
	t.Cleanup(appHosts.Close)
	c, err = u.cloud.Load()
	if err != nil {
		t.Fatal(err)
	}
	for slot, want := range map[stack.Slot]int{stack.Blue: http.StatusOK, stack.Green: http.StatusNotFound} {
		fwd, err := c.Forward(u.sub, hosts[slot])
		if err != nil {
			t.Fatal(err)
		}
		target := strings.TrimPrefix(fwd.URL, "https://"+hosts[slot]) + "/health"
		req, _ := http.NewRequest(http.MethodGet, appHosts.URL+target, nil)
		req.Host = hosts[slot]
		req.Header.Set("x-functions-key", fwd.FunctionKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: the gateway's request to %s: got %d %s, want %d", slot, target, resp.StatusCode, raw, want)
		}
		if want == http.StatusOK && !strings.Contains(string(raw), `"path":"/health"`) {
			t.Errorf("%s answered %s, want its function at /health", slot, raw)
		}
	}

	if ch := u.preview("dev"); ch.Counts["update"]+ch.Counts["create"]+ch.Counts["delete"]+ch.Counts["replace"] != 0 {
		t.Errorf("a preview after the up changes %v, want nothing", ch.Steps)
	}
	u.sh("pulumi config set --path 'apimProductIds[1]' internal")
	if _, out, err := u.tryUp("dev"); err == nil || !strings.Contains(out, svc+"/products/internal") {
		t.Errorf("an up naming a product the service lacks: got %v\n%s\nwant it refused, naming the product", err, out)
	}
}

// armGet is a GET through the stand-in's Resource Manager with a principal's token.
func armGet(t *testing.T, arm *armFacade, path, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, arm.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := tlsClient(arm.pool).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}
