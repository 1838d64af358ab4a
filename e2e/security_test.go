//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/monitor/azquery"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/apimanagement/armapimanagement/v3"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/appservice/armappservice/v5"

	"github.com/slotless/slotless/e2e/azurefake"
	"github.com/slotless/slotless/internal/gate"
	"github.com/slotless/slotless/internal/pool"
	"github.com/slotless/slotless/stack"
)

// The release identity and a principal the stack grants nothing; the ARM facade knows both
// tokens (withARM) and authorizes them by the cloud's role assignments.
const (
	releaseClientID   = "3e9d8c7b-6a5f-4e4d-8c3b-2a1f0e9d8c7b"
	releasePrincipal  = "6f1f2a8e-3c1b-4b8e-9a51-2d7c4e0b9f10"
	releaseToken      = "release-identity-token"
	strangerPrincipal = "9a3b2c1d-4e5f-4a6b-8c7d-0e1f2a3b4c5d"
	strangerToken     = "stranger-token"
)

// TestReleaseIdentityMovesTrafficAndNothingElse: the README's setup grants the release identity
// its role (`pulumi config set releasePrincipalId ... && pulumi up`). Signed in as that
// identity, through the Resource Manager: the break-glass writer moves traffic, `slotless
// deploy` reaches the idle app's deployment host and `slotless status` reads the live pool;
// but an update of an app's settings, with the same SDK the portal's edits go through, is
// refused with 403 AuthorizationFailed. A principal the stack grants nothing cannot move
// traffic, and neither could the release identity before the grant.
func TestReleaseIdentityMovesTrafficAndNothingElse(t *testing.T) {
	parallel(t, 25*time.Second)
	u := deployed(t)
	a := u.withARM()
	releaseAz := filepath.Join(t.TempDir(), "az")
	writeAzWith(t, releaseAz, u.sub, releaseToken)
	asRelease := "PATH=" + releaseAz + ":$PATH "

	target := u.poolTarget()
	writeAs := func(token string, w stack.Weights) error {
		client, err := pool.NewClient(staticCredential(token), pool.Options{Endpoint: a.url, Transport: tlsClient(a.pool)})
		if err != nil {
			t.Fatal(err)
		}
		// The live slot's named value follows the weights, as a break-glass rollback writes it:
		// a long-running operation whose polling needs its own action.
		_, err = client.Write(context.Background(), target, w, w.CurrentSlotName(), "security test", &bytes.Buffer{})
		return err
	}
	if err := writeAs(releaseToken, stack.Weights{Green: 90, Blue: 10}); !authorizationFailed(err, "Microsoft.ApiManagement/service/backends/") {
		t.Fatalf("the release identity before the grant: got %v, want 403 AuthorizationFailed", err)
	}

	u.run("pulumi config set releasePrincipalId " + releasePrincipal + " && pulumi up")

	if err := writeAs(releaseToken, stack.Weights{Green: 90, Blue: 10}); err != nil {
		t.Fatalf("the release identity's break-glass write: %v", err)
	}
	if w := u.weights(); w.Blue != 10 {
		t.Fatalf("after the release identity's write: got %s, want blue 10", w)
	}
	if err := writeAs(releaseToken, stack.Weights{Blue: 100}); err != nil {
		t.Fatalf("the release identity's break-glass promotion (the live slot's named value too): %v", err)
	}
	if c := u.currentSlotName(); c != "blue-backend" {
		t.Fatalf("after the release identity's promotion: current slot %q, want blue-backend", c)
	}
	if err := writeAs(releaseToken, stack.Weights{Green: 100}); err != nil {
		t.Fatalf("the release identity's rollback write: %v", err)
	}
	if err := writeAs(strangerToken, stack.Weights{Green: 50, Blue: 50}); !authorizationFailed(err, "Microsoft.ApiManagement/service/backends/") {
		t.Errorf("a principal without the role: got %v, want 403 AuthorizationFailed", err)
	}
	if w := u.weights(); w.Blue != 0 {
		t.Fatalf("after the stranger's write: got %s, want blue 0", w)
	}

	// The traffic writes are granted on the pool and current-slot-name only, the key reads on
	// the two key named values only: the release identity cannot point a slot's backend at
	// another URL (API Management would send it the function key and the gateway's token), nor
	// overwrite the pin token or a key, nor read the pin token.
	apimOpts, err := pool.ARMClientOptions(pool.Options{Endpoint: a.url, Transport: tlsClient(a.pool)})
	if err != nil {
		t.Fatal(err)
	}
	backends, err := armapimanagement.NewBackendClient(u.sub, staticCredential(releaseToken), apimOpts)
	if err != nil {
		t.Fatal(err)
	}
	named, err := armapimanagement.NewNamedValueClient(u.sub, staticCredential(releaseToken), apimOpts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, err = backends.Update(ctx, target.ResourceGroup, target.Service, stack.Green.BackendID(), "*", armapimanagement.BackendUpdateParameters{
		Properties: &armapimanagement.BackendUpdateParameterProperties{URL: to.Ptr("https://elsewhere.example.com/api")}}, nil)
	if !authorizationFailed(err, "Microsoft.ApiManagement/service/backends/write") {
		t.Errorf("the release identity pointing green's backend elsewhere: got %v, want 403 AuthorizationFailed", err)
	}
	for _, nv := range []string{stack.PinTokenNamedValue, "green-function-key"} {
		_, err := named.BeginUpdate(ctx, target.ResourceGroup, target.Service, nv, "*", armapimanagement.NamedValueUpdateParameters{
			Properties: &armapimanagement.NamedValueUpdateParameterProperties{Value: to.Ptr("attacker")}}, nil)
		if !authorizationFailed(err, "Microsoft.ApiManagement/service/namedValues/write") {
			t.Errorf("the release identity overwriting %s: got %v, want 403 AuthorizationFailed", nv, err)
		}
	}
	if _, err := named.ListValue(ctx, target.ResourceGroup, target.Service, stack.PinTokenNamedValue, nil); !authorizationFailed(err, "Microsoft.ApiManagement/service/namedValues/listValue/action") {
		t.Errorf("the release identity reading the pin token: got %v, want 403 AuthorizationFailed", err)
	}
	if v, err := named.ListValue(ctx, target.ResourceGroup, target.Service, "green-function-key", nil); err != nil || v.Value == nil || *v.Value == "" {
		t.Errorf("the release identity reading green's key, as every run of the program does: got %v", err)
	}

	releaseQueriesTheGatesTableAlone(t, u)
	releaseAloneWritesTheHistory(t, u)

	if st := u.sh(asRelease + "slotless status --stack dev"); !strings.Contains(st, "live pool: green 100% / blue 0%") {
		t.Errorf("status as the release identity: got\n%s\nwant the live pool read through ARM", st)
	}
	pkg, _ := packageZip(t, "host.json", "health/function.json")
	if out := u.sh(asRelease + "slotless deploy --stack dev --slot blue --package " + pkg); !strings.Contains(out, "status 4 Success") {
		t.Errorf("deploy as the release identity: got\n%s\nwant the idle slot deployed", out)
	}

	apps := map[stack.Slot]string{}
	for name, slot := range u.appNames() {
		apps[slot] = name
	}
	opts, err := pool.ARMClientOptions(pool.Options{Endpoint: a.url, Transport: tlsClient(a.pool)})
	if err != nil {
		t.Fatal(err)
	}
	settings := armappservice.StringDictionary{Properties: map[string]*string{"FEATURE_FLAG": to.Ptr("on")}}
	for _, tc := range []struct {
		who, token string
		refused    bool
	}{{"the release identity", releaseToken, true}, {"the deploying identity", armToken, false}} {
		sites, err := armappservice.NewWebAppsClient(u.sub, staticCredential(tc.token), opts)
		if err != nil {
			t.Fatal(err)
		}
		// The dev stack's API Management service lives in the apps' resource group.
		_, err = sites.UpdateApplicationSettings(context.Background(), target.ResourceGroup, apps[stack.Green], settings, nil)
		if got := authorizationFailed(err, "Microsoft.Web/sites/config/write"); got != tc.refused {
			t.Errorf("%s updating green's app settings: got %v, want refused %v", tc.who, err, tc.refused)
		}
	}
	if out, err := os.ReadFile(filepath.Join(releaseAz, "calls")); err != nil || !strings.Contains(string(out), "account get-access-token") {
		t.Errorf("the release identity's az was not asked for a token (%v): the commands ran as someone else", err)
	}

	// Through Pulumi: azure-native signed in as the release identity (ARM_CLIENT_ID, which
	// Entra knows as its service principal). A shift and a rollback, traffic-only updates,
	// go through; a change to the apps' configuration is refused by Azure.
	if err := u.cloud.Update(func(c *azurefake.Cloud) error {
		c.ServicePrincipals = map[string]string{releaseClientID: releasePrincipal}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	u.clientID = releaseClientID
	if out := u.sh(asRelease + "slotless shift --stack dev --slot blue --to 10 --force"); u.weights().Blue != 10 {
		t.Fatalf("shift as the release identity: got %s\n%s", u.weights(), out)
	}
	if out := u.sh(asRelease + "slotless shift --stack dev --slot blue --to 100 --force"); u.weights().Blue != 100 || u.currentSlotName() != "blue-backend" {
		t.Fatalf("promotion as the release identity (the live slot's named value, a long-running update, too): got %s, current slot %q\n%s", u.weights(), u.currentSlotName(), out)
	}
	if out := u.sh(asRelease + "slotless rollback --stack dev --slot blue"); u.weights().Blue != 0 || strings.Contains(out, "break-glass") {
		t.Fatalf("rollback as the release identity: got %s, want blue 0 through Pulumi\n%s", u.weights(), out)
	}
	u.sh("pulumi config set maximumInstanceCount 200")
	if _, out, err := u.tryUp("dev"); err == nil || !strings.Contains(out, "AuthorizationFailed") || !strings.Contains(out, "Microsoft.Web/sites/write") {
		t.Errorf("pulumi up of the apps' scale-out limit as the release identity: got %v, want 403 AuthorizationFailed for Microsoft.Web/sites/write\n%s", err, out)
	}
	c, err := u.cloud.Load()
	if err != nil {
		t.Fatal(err)
	}
	denied := 0
	for _, call := range c.Calls {
		if call.Op == "update" && call.Token == "azure-native:web:WebApp" && strings.Contains(call.Error, "AuthorizationFailed") {
			denied++
		}
	}
	if denied == 0 {
		t.Error("the cloud recorded no refused app update")
	}
}

// releaseQueriesTheGatesTableAlone: the release role the stack granted reads the table the
// metrics gate queries and no other. Signed in as the release identity, the gate's own query
// (gate.QueryFigures, through the Log Analytics SDK) of the deployed workspace is answered by a
// query API that authorizes it by the cloud's role assignments; a query of another table is
// refused with 403 InsufficientAccessError, and so is the gate's query for a principal the stack
// granted nothing.
func releaseQueriesTheGatesTableAlone(t *testing.T, u *user) {
	t.Helper()
	logs := &azurefake.Telemetry{Now: time.Now, Token: e2eToken, Access: &azurefake.QueryAccess{Store: &u.cloud,
		Principals: map[string]string{releaseToken: releasePrincipal, strangerToken: strangerPrincipal}}}
	srv := httptest.NewTLSServer(logs)
	t.Cleanup(srv.Close)
	workspace, _ := u.outputs("dev")[stack.OutWorkspaceID].(string)
	apps := map[stack.Slot]string{}
	for name, slot := range u.appNames() {
		apps[slot] = name
	}
	client := func(token string) *azquery.LogsClient {
		c, err := azquery.NewLogsClient(staticCredential(token), &azquery.LogsClientOptions{ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{Services: map[cloud.ServiceName]cloud.ServiceConfiguration{azquery.ServiceNameLogs: {Endpoint: srv.URL + "/v1", Audience: srv.URL}}},
			Transport: srv.Client(),
		}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	now := time.Now().UTC()
	q := gate.Query{CanaryApp: apps[stack.Blue], StableApp: apps[stack.Green], ServedFrom: now.Add(-10 * time.Minute), ArrivedFrom: now.Add(-5 * time.Minute), ArrivedTo: now, HealthPath: stack.DefaultHealthPath}
	ctx := context.Background()
	if _, _, kql, err := gate.QueryFigures(ctx, client(releaseToken), workspace, q); err != nil {
		t.Errorf("the metrics gate's query as the release identity: %v\n%s", err, kql)
	}
	if n := len(logs.Queries()); n != 1 {
		t.Errorf("the query API answered %d queries, want the gate's", n)
	}
	ts := q.Timespan()
	for _, tc := range []struct{ who, token, query string }{
		{"the release identity, another table", releaseToken, "AppTraces | summarize n = count() by AppRoleName"},
		{"a principal without the role, the gate's query", strangerToken, gate.BuildQuery(q)},
	} {
		_, err := client(tc.token).QueryWorkspace(ctx, workspace, azquery.Body{Query: &tc.query, Timespan: &ts}, nil)
		var re *azcore.ResponseError
		if !errors.As(err, &re) || re.StatusCode != http.StatusForbidden || re.ErrorCode != "InsufficientAccessError" {
			t.Errorf("%s: got %v, want 403 InsufficientAccessError", tc.who, err)
		}
	}
}

// TestReleaseIdentityShiftsAlwaysReadyApps: with alwaysReadyInstances, a shift writes the apps
// (their always-ready counts) with a site PUT that names each slot's identity and plan, and
// Azure's linked access check asks the release identity for the right to assign the one and
// join the other besides the site write. Signed in as the release identity, through Pulumi, a
// shift to blue and the rollback both move the always-ready instances with the traffic.
func TestReleaseIdentityShiftsAlwaysReadyApps(t *testing.T) {
	parallel(t, 25*time.Second)
	u := deployed(t)
	u.configure("alwaysReadyInstances 2", "releasePrincipalId "+releasePrincipal)
	u.up("dev")
	releaseAz := filepath.Join(t.TempDir(), "az")
	writeAzWith(t, releaseAz, u.sub, releaseToken)
	asRelease := "PATH=" + releaseAz + ":$PATH "
	if err := u.cloud.Update(func(c *azurefake.Cloud) error {
		c.ServicePrincipals = map[string]string{releaseClientID: releasePrincipal}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	u.clientID = releaseClientID

	out, err := u.trySh(asRelease + "slotless shift --stack dev --slot blue --to 10 --force")
	if err != nil || u.weights().Blue != 10 || u.alwaysReady()[stack.Blue] != 2 {
		t.Fatalf("shift as the release identity: got %s, always-ready %v (%v)\n%s", u.weights(), u.alwaysReady(), err, out)
	}
	out, err = u.trySh(asRelease + "slotless rollback --stack dev --slot blue")
	if err != nil || u.weights().Blue != 0 || u.alwaysReady()[stack.Blue] != 0 || strings.Contains(out, "break-glass") {
		t.Fatalf("rollback as the release identity: got %s, always-ready %v (%v), want blue 0 through Pulumi\n%s", u.weights(), u.alwaysReady(), err, out)
	}
	for _, call := range u.calls() {
		if strings.Contains(call.Error, "LinkedAuthorizationFailed") {
			t.Errorf("the cloud refused %s %s: %s", call.Op, call.Target, call.Error)
		}
	}
}

// The infrastructure identity, as pipelines/README.md has a team set it up.
const (
	infraClientID  = "7c2b1a09-8f7e-4d6c-9b5a-3e2d1c0b9a87"
	infraPrincipal = "8d3c2b1a-0f9e-4e7d-8c6b-4f3e2d1c0b9a"
)

// TestInfrastructureIdentityRoles: the infrastructure identity's `pulumi up` of a stack with
// releasePrincipalId creates the release roles, custom role definitions. Contributor with Role
// Based Access Control Administrator cannot (that role writes assignments, not definitions:
// 403 on Microsoft.Authorization/roleDefinitions/write); Contributor with User Access
// Administrator, as pipelines/README.md says, can.
func TestInfrastructureIdentityRoles(t *testing.T) {
	parallel(t, 25*time.Second)
	cloud := newCloud(t)
	u := newUser(t, cloud, subAlice)
	u.configure("releasePrincipalId " + releasePrincipal)
	subscription := "/subscriptions/" + u.sub
	grant := func(roles ...string) {
		t.Helper()
		if err := cloud.Update(func(c *azurefake.Cloud) error {
			c.ServicePrincipals = map[string]string{infraClientID: infraPrincipal}
			for _, ra := range c.ByType("azure-native:authorization:RoleAssignment") {
				if ra.Inputs["principalId"] == infraPrincipal {
					c.Delete(ra.ID)
				}
			}
			for i, role := range roles {
				id := fmt.Sprintf("%s/providers/Microsoft.Authorization/roleAssignments/0000000%d-0000-4000-8000-000000000000", subscription, i)
				c.Put(&azurefake.Resource{ID: id, Token: "azure-native:authorization:RoleAssignment", Subscription: u.sub, Inputs: map[string]any{
					"principalId": infraPrincipal, "scope": subscription, "roleDefinitionId": subscription + "/providers/Microsoft.Authorization/roleDefinitions/" + role,
				}})
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	const (
		contributor = "b24988ac-6180-42a0-ab88-20f7382dd24c"
		rbacAdmin   = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"
		uaa         = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
	)
	for _, line := range readmeCommands(t, "## Deploying to Azure") {
		if line != "pulumi up" {
			u.run(line)
		}
	}
	u.clientID = infraClientID
	grant(contributor, rbacAdmin)
	if _, out, err := u.tryUp("dev"); err == nil || !strings.Contains(out, "Microsoft.Authorization/roleDefinitions/write") {
		t.Fatalf("pulumi up as Contributor and Role Based Access Control Administrator: got %v, want 403 on roleDefinitions/write\n%s", err, out)
	}
	grant(contributor, uaa)
	if _, out, err := u.tryUp("dev"); err != nil {
		t.Fatalf("pulumi up as Contributor and User Access Administrator: %v\n%s", err, out)
	}
	if o := u.outputs("dev"); o[stack.OutPoolID] == nil {
		t.Errorf("outputs after the up: %v", o)
	}
}

// authorizationFailed reports whether err is ARM's 403 for action.
func authorizationFailed(err error, action string) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == 403 && re.ErrorCode == "AuthorizationFailed" && strings.Contains(err.Error(), action)
}

// gatewayAudience is an app registration's client id in the tests' tenant.
const gatewayAudience = "5f0c2b1a-8e7d-4c6b-9a5f-4e3d2c1b0a9f"

// gatewayUser is the README's dev stack with what the gateway-only path's scenarios reach: the
// scripted API behind API Management forwarding each pinned request as the gateway would (its
// policy's token, the backend's key, the app's built-in authentication), the apps' own hosts
// at https://<app>.azurewebsites.net through the stand-in's proxy, and the Resource Manager.
// What the users get through the gateway is recorded after every write of every update
// (azurefake's WatchUsers) and after every change the test makes to Azure (cloudDo), so a
// scenario sees each state an update goes through, not the moments it happens to sample.
type gatewayUser struct {
	*user
	t     *testing.T
	s     *services
	hosts *httptest.Server
	// proxy is HTTPS_PROXY for a command that calls the apps' own hosts.
	proxy string
}

func newGatewayUser(t *testing.T) *gatewayUser {
	t.Helper()
	u := deployed(t)
	a := u.withARM()
	s := newServices(t, strings.TrimSpace(u.sh("pulumi config get pinToken")))
	s.cloud, s.sub, s.apps = &u.cloud, u.sub, map[string]string{}
	for app, slot := range u.appNames() {
		s.apps[string(slot)] = app
	}
	g := &gatewayUser{user: u, t: t, s: s}
	g.hosts = httptest.NewServer(azurefake.AppHost{Store: u.cloud})
	t.Cleanup(g.hosts.Close)
	proxy := httptest.NewServer(azurefake.AppProxy{Hosts: azurefake.AppHost{Store: u.cloud}, CA: a.pool})
	t.Cleanup(proxy.Close)
	g.proxy = proxy.URL
	g.cloudDo(func(c *azurefake.Cloud) { c.WatchUsers = true })
	return g
}

// afterTestChange marks a UserAnswer recorded after a change the test made, not after a write.
const afterTestChange = -1

// cloudDo changes the test's Azure, and records what the users get through the gateway then.
func (g *gatewayUser) cloudDo(fn func(c *azurefake.Cloud)) {
	g.t.Helper()
	if err := g.cloud.Update(func(c *azurefake.Cloud) error {
		fn(c)
		if c.WatchUsers {
			for _, a := range c.GatewayAnswers(g.sub) {
				a.Call = afterTestChange
				c.UsersSaw = append(c.UsersSaw, a)
			}
		}
		return nil
	}); err != nil {
		g.t.Fatal(err)
	}
}

// createServicePrincipal is `az ad sp create --id <gatewayAudience>`, as docs/security.md says.
func (g *gatewayUser) createServicePrincipal() {
	g.cloudDo(func(c *azurefake.Cloud) { c.CreateServicePrincipal(gatewayAudience) })
}

// saw is how many answers the users' view holds so far, to read the ones after it.
func (g *gatewayUser) saw() int {
	g.t.Helper()
	c, err := g.cloud.Load()
	if err != nil {
		g.t.Fatal(err)
	}
	return len(c.UsersSaw)
}

// usersRefused describes each answer since answer n that refused a user: any answer but 200
// from an app carrying traffic, and a 401 from any app (pinned requests, the gates' and the
// probes', reach the idle one). Each names the write after which it was seen.
func (g *gatewayUser) usersRefused(n int) []string {
	g.t.Helper()
	c, err := g.cloud.Load()
	if err != nil {
		g.t.Fatal(err)
	}
	var out []string
	for _, a := range c.UsersSaw[n:] {
		if a.Status == http.StatusOK || a.Share == 0 && a.Status != http.StatusUnauthorized {
			continue
		}
		after := "a change the test made"
		if a.Call != afterTestChange {
			call := c.Calls[a.Call]
			after = fmt.Sprintf("call %d, %s %s %s", a.Call, call.Op, call.Token, call.Target[strings.LastIndex(call.Target, "/providers/")+1:])
		}
		out = append(out, fmt.Sprintf("%s (%d%%) answered %d (%s) after %s", a.App, a.Share, a.Status, a.Reason, after))
	}
	return out
}

// get sends a GET and returns the status and body.
func (g *gatewayUser) get(url, host string, header map[string]string) (int, string) {
	g.t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		g.t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// direct is a call around the gateway, to the app's own host, with its function key and no
// token: the worst case of a caller that holds the key.
func (g *gatewayUser) direct(slot string) int {
	g.t.Helper()
	c, err := g.cloud.Load()
	if err != nil {
		g.t.Fatal(err)
	}
	for _, r := range c.ByType("azure-native:web:WebApp") {
		if r.Name() == g.s.apps[slot] {
			status, _ := g.get(g.hosts.URL+"/api/health", r.Properties["defaultHostName"].(string), map[string]string{"x-functions-key": r.FunctionKey})
			return status
		}
	}
	g.t.Fatalf("no app of %s", slot)
	return 0
}

// pinned is a request through API Management pinned to a slot, as the gates, probes and
// warm-up send it.
func (g *gatewayUser) pinned(slot string) (int, string) {
	g.t.Helper()
	return g.get(g.s.health.URL+"/slotless/health", "", map[string]string{"X-Slotless-Slot": slot, "X-Slotless-Token": g.s.pinToken})
}

// gatewayAuth runs `slotless gateway-auth` as a laptop would, with the pinning token.
func (g *gatewayUser) gatewayAuth() (string, error) {
	return g.trySh(fmt.Sprintf("env SLOTLESS_PIN_TOKEN=%s HTTPS_PROXY=%s slotless gateway-auth --stack dev --api-url %s/slotless", g.s.pinToken, g.proxy, g.s.health.URL))
}

// output is one of the stack's outputs, by the name `pulumi stack output` takes.
func (g *gatewayUser) output(name string) string {
	g.t.Helper()
	return strings.TrimSpace(g.sh("pulumi stack output " + name))
}

// TestGatewayAudienceNeedsAServicePrincipal: the app registration `az ad app create` makes has
// no service principal until `az ad sp create --id <appId>` (docs/security.md's setup), so
// Entra refuses the gateway's token (AADSTS500011). Turning gatewayAudience on costs the users
// nothing at any write of the update: the apps validate tokens without requiring them
// (observe), and `slotless gateway-auth` fails naming the service principal to create. Forced
// to require anyway, the gateway fails each request with Entra's reason (API Management's
// 500), never the apps' 401 to every user that reads as the callers' fault. Once the service
// principal exists, each slot sees the gateway's principal and gateway-auth passes.
func TestGatewayAudienceNeedsAServicePrincipal(t *testing.T) {
	parallel(t, 25*time.Second)
	g := newGatewayUser(t)

	g.run("pulumi config set gatewayAudience " + gatewayAudience + " && pulumi up")
	if refused := g.usersRefused(0); len(refused) > 0 {
		t.Errorf("turning gatewayAudience on without a service principal refused users:\n%s", strings.Join(refused, "\n"))
	}
	for _, slot := range []string{"green", "blue"} {
		if status, body := g.pinned(slot); status != http.StatusOK {
			t.Fatalf("gatewayAudience set, no service principal: a pinned request to %s got %d (%s), want 200: turning it on must not refuse users", slot, status, body)
		}
	}
	out, err := g.gatewayAuth()
	if exitCode(err) != 1 || !strings.Contains(out, "require is not safe yet") || !strings.Contains(out, "blue: its app saw no principal") ||
		!strings.Contains(out, "az ad sp create --id "+gatewayAudience) {
		t.Errorf("gateway-auth without a service principal: got exit %d\n%s\nwant 1, naming the service principal to create", exitCode(err), out)
	}

	n := g.saw()
	g.run("pulumi config set gatewayAuthPhase require && pulumi up")
	for _, refused := range g.usersRefused(n) {
		if strings.Contains(refused, "answered 401") {
			t.Errorf("require without a service principal: an app answered the gateway's request 401: %s", refused)
		}
	}
	for _, slot := range []string{"green", "blue"} {
		status, body := g.pinned(slot)
		if status != http.StatusInternalServerError || !strings.Contains(body, "AADSTS500011") || !strings.Contains(body, "the gateway failed the request") {
			t.Errorf("require without a service principal, a pinned request to %s: got %d %q, want the gateway's 500 with Entra's AADSTS500011, not the app's 401", slot, status, body)
		}
	}

	n = g.saw()
	g.createServicePrincipal()
	if refused := g.usersRefused(n); len(refused) > 0 {
		t.Errorf("after az ad sp create, users are still refused:\n%s", strings.Join(refused, "\n"))
	}
	for _, slot := range []string{"green", "blue"} {
		if status, body := g.pinned(slot); status != http.StatusOK || !strings.Contains(body, `"clientPrincipalId":"`+g.output("gatewayPrincipalId")+`"`) {
			t.Errorf("after az ad sp create, a pinned request to %s: got %d %s, want 200 seeing the gateway's principal", slot, status, body)
		}
	}
	if out, err := g.gatewayAuth(); err != nil || !strings.Contains(out, "only the gateway reaches the apps") {
		t.Errorf("gateway-auth after az ad sp create: %v\n%s\nwant it passed", err, out)
	}
}

// TestDeployRefusesAnAppAnsweringDirectCalls: with the gateway's token required, `slotless
// deploy` checks that the deployed slot's app refuses a direct call (its own host, its
// function key read from API Management, no token). On a Flex that enforces built-in
// authentication the deploy succeeds; on one that does not (as its preview documented), the
// same configuration is accepted by Azure and the deploy fails, naming the app, the status it
// answered and what to check.
func TestDeployRefusesAnAppAnsweringDirectCalls(t *testing.T) {
	parallel(t, 25*time.Second)
	g := newGatewayUser(t)
	g.createServicePrincipal()
	g.run("pulumi config set gatewayAudience " + gatewayAudience + " && pulumi up")
	g.run("pulumi config set gatewayAuthPhase require && pulumi up")
	blue := g.s.apps["blue"]
	pkg, _ := packageZip(t, "host.json", "health/function.json")
	deploy := fmt.Sprintf("env HTTPS_PROXY=%s slotless deploy --stack dev --slot blue --package %s", g.proxy, pkg)

	out, err := g.trySh(deploy)
	if want := blue + " refuses a direct call with its function key and no token (401 at https://" + blue + ".azurewebsites.net/api/health)"; err != nil || !strings.Contains(out, want) {
		t.Errorf("deploy on a Flex that enforces built-in authentication: got %v\n%s\nwant success and %q", err, out, want)
	}

	g.cloudDo(func(c *azurefake.Cloud) { c.BuiltInAuthNotEnforced = true })
	out, err = g.trySh(deploy)
	for _, want := range []string{"status 4 Success", "blue is deployed, but blue: the app answers callers that go around API Management: " + blue + " answered 200, want 401", "az webapp auth show --name " + blue} {
		if exitCode(err) != 1 || !strings.Contains(out, want) {
			t.Errorf("deploy on a Flex that does not enforce it: got exit %d\n%s\nwant 1 and %q", exitCode(err), out, want)
		}
	}
	if got := g.direct("blue"); got != http.StatusOK {
		t.Errorf("the stand-in's own check: a direct call to blue got %d, want 200 (not enforced)", got)
	}
}

// TestGatewayAuthRollsOutInTwoPhases: Entra replicates the gateway identity some time after ARM
// creates it (the stand-in holds it back until the test lets replication finish), which no
// DependsOn can order. On the README's dev stack each app answers a direct call with its
// function key. Requiring the gateway's token in the update that turns it on is refused. With
// gatewayAudience set (observe) the apps still answer direct calls and every request gets
// through without a token; `slotless gateway-auth` says require is not safe while the
// identity gets no token, and safe once each slot sees its principal. With gatewayAuthPhase
// require the same direct call is refused with 401 while requests through API Management
// still reach both slots; the idle slot's app changed first. Turning it off runs in reverse:
// removing gatewayAudience while it is required is refused; observe goes first, then the
// audience, the policy's token before the apps' authentication. At no write of any of these
// updates does a request through the gateway get a 401.
func TestGatewayAuthRollsOutInTwoPhases(t *testing.T) {
	parallel(t, 30*time.Second)
	g := newGatewayUser(t)
	g.createServicePrincipal()
	g.cloudDo(func(c *azurefake.Cloud) { c.EntraLags = true })
	both := func(what string, want int, got func(string) int) {
		t.Helper()
		for _, slot := range []string{"green", "blue"} {
			if status := got(slot); status != want {
				t.Errorf("%s, %s: got %d, want %d", what, slot, status, want)
			}
		}
	}
	pinnedStatus := func(slot string) int { status, _ := g.pinned(slot); return status }
	both("before gatewayAudience, a direct call with the key (the shape this closes)", http.StatusOK, g.direct)
	both("before gatewayAudience, a pinned request", http.StatusOK, pinnedStatus)
	defer func() {
		if refused := g.usersRefused(0); len(refused) > 0 {
			t.Errorf("requests through the gateway refused during the rollout:\n%s", strings.Join(refused, "\n"))
		}
	}()

	g.sh("pulumi config set gatewayAudience " + gatewayAudience + " && pulumi config set gatewayAuthPhase require")
	if _, out, err := g.tryUp("dev"); err == nil || !strings.Contains(out, "gatewayAuthPhase: require, but the last update left the apps without the gateway's authentication (off)") {
		t.Fatalf("require in the update that turns it on: got %v\n%s\nwant it refused", err, out)
	}
	g.sh("pulumi config rm gatewayAuthPhase")

	n := len(g.calls())
	g.run("pulumi up")
	if got := g.output("gatewayAuthPhase"); got != "observe" {
		t.Errorf("gatewayAuthPhase output: got %q, want observe", got)
	}
	both("observe, a direct call with the key", http.StatusOK, g.direct)
	both("observe, a pinned request", http.StatusOK, pinnedStatus)
	policies, auth := g.callsSince(n, "update", "azure-native:apimanagement:ApiPolicy"), g.callsSince(n, "create", "azure-native:web:WebAppAuthSettingsV2")
	if len(policies) != 1 || len(auth) != 2 || auth[0] < policies[0] {
		t.Errorf("observe: policy updated at %v, authentication created at %v; want the policy first, then both apps", policies, auth)
	}
	if out, err := g.gatewayAuth(); exitCode(err) != 1 || !strings.Contains(out, "require is not safe yet") || !strings.Contains(out, "green: its app saw no principal") {
		t.Errorf("gateway-auth in observe, the gateway identity not replicated yet: got exit %d\n%s\nwant 1: require is not safe yet", exitCode(err), out)
	}
	g.cloudDo(func(c *azurefake.Cloud) { c.Replicate() })
	if out, err := g.gatewayAuth(); err != nil || !strings.Contains(out, "require is safe: both slots see the gateway's principal") {
		t.Errorf("gateway-auth in observe, the identity replicated: %v\n%s\nwant require safe", err, out)
	}

	n = len(g.calls())
	g.run("pulumi config set gatewayAuthPhase require && pulumi up")
	both("require, a direct call with the key", http.StatusUnauthorized, g.direct)
	both("require, a pinned request through API Management", http.StatusOK, pinnedStatus)
	if order := g.authUpdates(n); strings.Join(order, ",") != "blue,green" {
		t.Errorf("require: the apps' authentication updated in the order %v, want the idle slot (blue) first", order)
	}
	if policies := g.callsSince(n, "update", "azure-native:apimanagement:ApiPolicy"); len(policies) != 1 {
		t.Errorf("require: the policy updated %d times, want once (ignore-error false)", len(policies))
	}
	if out, err := g.gatewayAuth(); err != nil || !strings.Contains(out, "only the gateway reaches the apps") {
		t.Errorf("gateway-auth in require: %v\n%s", err, out)
	}
	if ch := g.preview("dev"); ch.Counts["update"]+ch.Counts["create"]+ch.Counts["delete"]+ch.Counts["replace"] != 0 {
		t.Errorf("a preview after require changes %v, want nothing", ch.Steps)
	}

	// Turning it off, in reverse.
	n = len(g.calls())
	g.sh("pulumi config rm gatewayAuthPhase && pulumi config rm gatewayAudience")
	if _, out, err := g.tryUp("dev"); err == nil || !strings.Contains(out, "Turn it off in reverse: pulumi config set gatewayAuthPhase observe && pulumi up") {
		t.Errorf("removing gatewayAudience while it is required: got %v\n%s\nwant it refused", err, out)
	}
	// Reads are allowed (the program reads the live pool first, for a watcher's rollback):
	// nothing is written.
	if since := g.writes(g.calls()[n:]); len(since) > 0 {
		t.Errorf("the refused update changed %v, want nothing", since)
	}
	both("still require, a direct call", http.StatusUnauthorized, g.direct)
	g.run("pulumi config set gatewayAudience " + gatewayAudience + " && pulumi config set gatewayAuthPhase observe && pulumi up")
	both("back to observe, a direct call", http.StatusOK, g.direct)
	both("back to observe, a pinned request", http.StatusOK, pinnedStatus)
	n = len(g.calls())
	g.run("pulumi config rm gatewayAuthPhase && pulumi config rm gatewayAudience && pulumi up")
	policies, deleted := g.callsSince(n, "update", "azure-native:apimanagement:ApiPolicy"), g.callsSince(n, "delete", "azure-native:web:WebAppAuthSettingsV2")
	if len(policies) != 1 || len(deleted) != 2 || deleted[0] < policies[0] {
		t.Errorf("turning gatewayAudience off: policy updated at %v, authentication deleted at %v; want the policy first, then both deleted", policies, deleted)
	}
	both("after gatewayAudience is removed, a direct call with the key", http.StatusOK, g.direct)
	if got := g.output("gatewayAuthPhase"); got != "off" {
		t.Errorf("gatewayAuthPhase output: got %q, want off", got)
	}
}

// authUpdates are the slots whose authentication settings were updated, in order, from call n.
func (g *gatewayUser) authUpdates(n int) []string {
	var out []string
	apps := map[string]string{}
	for slot, app := range g.s.apps {
		apps[strings.ToLower(app)] = slot
	}
	for _, call := range g.calls()[n:] {
		if call.Op == "update" && call.Token == "azure-native:web:WebAppAuthSettingsV2" && call.Error == "" {
			for app, slot := range apps {
				if strings.Contains(strings.ToLower(call.Target), "/sites/"+app+"/") {
					out = append(out, slot)
				}
			}
		}
	}
	return out
}

// callsSince are the indexes, counted from call n, of the cloud's successful calls of one
// operation on one resource type.
func (u *user) callsSince(n int, op, token string) []int {
	var out []int
	for i, call := range u.calls()[n:] {
		if call.Op == op && call.Token == token && call.Error == "" {
			out = append(out, i)
		}
	}
	return out
}
