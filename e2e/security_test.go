//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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

// TestOnlyTheGatewayReachesTheApps: on the README's dev stack each app answers a direct call
// to its own host with its function key. After `pulumi config set gatewayAudience ... &&
// pulumi up`, the same call is refused with 401 by the app's built-in authentication, while
// requests pinned to each slot through API Management (which the gates, probes and warm-up
// send) still reach it: the gateway sends the token its policy gets with its identity. The
// policy changed before any app began to require the token.
func TestOnlyTheGatewayReachesTheApps(t *testing.T) {
	parallel(t, 20*time.Second)
	u := deployed(t)
	s := newServices(t, strings.TrimSpace(u.sh("pulumi config get pinToken")))
	s.cloud, s.sub, s.apps = &u.cloud, u.sub, map[string]string{}
	for app, slot := range u.appNames() {
		s.apps[string(slot)] = app
	}
	hosts := httptest.NewServer(azurefake.AppHost{Store: u.cloud})
	t.Cleanup(hosts.Close)
	get := func(url, host string, header map[string]string) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if host != "" {
			req.Host = host
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// direct is a call around the gateway, to the app's own host, with its function key.
	direct := func(slot string) int {
		c, err := u.cloud.Load()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range c.ByType("azure-native:web:WebApp") {
			if r.Name() == s.apps[slot] {
				return get(hosts.URL+"/api/health", r.Properties["defaultHostName"].(string), map[string]string{"x-functions-key": r.FunctionKey})
			}
		}
		t.Fatalf("no app of %s", slot)
		return 0
	}
	pinned := func(slot string) int {
		return get(s.health.URL+"/slotless/health", "", map[string]string{"X-Slotless-Slot": slot, "X-Slotless-Token": s.pinToken})
	}
	for _, slot := range []string{"green", "blue"} {
		if got := direct(slot); got != http.StatusOK {
			t.Fatalf("before gatewayAudience, a direct call to %s with its key: got %d, want 200 (the shape this closes)", slot, got)
		}
		if got := pinned(slot); got != http.StatusOK {
			t.Fatalf("before gatewayAudience, a pinned request to %s: got %d, want 200", slot, got)
		}
	}

	n := len(u.calls())
	u.run("pulumi config set gatewayAudience " + gatewayAudience + " && pulumi up")
	for _, slot := range []string{"green", "blue"} {
		if got := direct(slot); got != http.StatusUnauthorized {
			t.Errorf("a direct call to %s with its key: got %d, want 401", slot, got)
		}
		if got := pinned(slot); got != http.StatusOK {
			t.Errorf("a pinned request to %s through API Management: got %d, want 200", slot, got)
		}
	}
	policies, auth := u.callsSince(n, "update", "azure-native:apimanagement:ApiPolicy"), u.callsSince(n, "create", "azure-native:web:WebAppAuthSettingsV2")
	if len(policies) != 1 || len(auth) != 2 {
		t.Fatalf("got the policy updated at %v and authentication settings created at %v, want one update and two creates", policies, auth)
	}
	for _, i := range auth {
		if i < policies[0] {
			t.Errorf("an app required the token (call %d) before the gateway sent it (call %d)", i, policies[0])
		}
	}
	if ch := u.preview("dev"); ch.Counts["update"]+ch.Counts["create"]+ch.Counts["delete"]+ch.Counts["replace"] != 0 {
		t.Errorf("a preview after gatewayAudience changes %v, want nothing", ch.Steps)
	}

	// Turning it off, as docs/security.md warns: the policy stops sending the token before the
	// apps' authentication is deleted at the end of the update.
	n = len(u.calls())
	u.run("pulumi config rm gatewayAudience && pulumi up")
	policies, deleted := u.callsSince(n, "update", "azure-native:apimanagement:ApiPolicy"), u.callsSince(n, "delete", "azure-native:web:WebAppAuthSettingsV2")
	if len(policies) != 1 || len(deleted) != 2 || deleted[0] < policies[0] {
		t.Errorf("turning gatewayAudience off: policy updated at %v, authentication deleted at %v; want the policy first, then both deleted", policies, deleted)
	}
	for _, slot := range []string{"green", "blue"} {
		if got := direct(slot); got != http.StatusOK {
			t.Errorf("after gatewayAudience is removed, a direct call to %s with its key: got %d, want 200", slot, got)
		}
	}
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
