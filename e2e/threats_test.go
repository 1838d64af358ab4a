//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slotless/slotless/e2e/azurefake"
	"github.com/slotless/slotless/internal/pool"
	"github.com/slotless/slotless/internal/rollout"
	"github.com/slotless/slotless/stack"
)

// The scenarios of docs/security.md's threats 7, 9 and 12 that the engine suite shows end to
// end (the rows name them).

// TestHostStorageMoveReadsTheLivePool (threat 7): blue was promoted by a plain update, then
// rolled back to green by a break-glass write through ARM that nobody recorded in the stack
// file, which still says blue 100. An update from that file that puts green's host storage in
// the shared account (sharedHostStorage) sees green at 0% in its config and in the last
// update, but green carries all the users in the pool API Management holds: it is refused
// before green's app changes, naming where green's share was read. Moving it would have given
// green new function keys while API Management still sent the old one: 401 for every user.
// What the users get through the gateway is recorded after every write (WatchUsers).
func TestHostStorageMoveReadsTheLivePool(t *testing.T) {
	parallel(t, 10*time.Second)
	u := deployed(t)
	a := u.withARM()
	u.run("pulumi config set blueWeight 100 && pulumi up")

	// The break-glass rollback, written as slotless writes it, its stack file never updated.
	client, err := pool.NewClient(staticCredential(armToken), pool.Options{Endpoint: a.url, Transport: tlsClient(a.pool)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, target, to := context.Background(), u.poolTarget(), stack.Weights{Green: 100}
	live, err := client.Read(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	note := stack.NextRecord(live.Weights, live.Description, to, stack.Mover{By: pool.BreakGlassBy, At: time.Now()}).String()
	if _, err := client.Write(ctx, target, to, to.CurrentSlotName(), note, &bytes.Buffer{}); err != nil {
		t.Fatalf("the break-glass write: %v", err)
	}
	if err := u.cloud.Update(func(c *azurefake.Cloud) error { c.WatchUsers = true; return nil }); err != nil {
		t.Fatal(err)
	}
	before, _ := u.storageOf()

	u.sh("pulumi config set --path 'sharedHostStorage[0]' green")
	_, out, err := u.tryUp("dev")
	if want := "sharedHostStorage: green carries 100% of traffic (in the pool as API Management holds it)"; err == nil || !strings.Contains(out, want) {
		t.Errorf("moving the host storage of green, live in the pool but at 0%% in the stack file: got %v, want it refused with %q\n%s", err, want, out)
	}
	after, _ := u.storageOf()
	if g, was := after[stack.Green], before[stack.Green]; g.host != was.host || g.app.FunctionKey != was.app.FunctionKey || g.heldKey != g.app.FunctionKey {
		t.Errorf("green after the update: host storage %s (was %s), key changed %v, API Management sends its key %v; want all as before",
			g.host, was.host, g.app.FunctionKey != was.app.FunctionKey, g.heldKey == g.app.FunctionKey)
	}
	if w := u.weights(); w.Green != 100 {
		t.Errorf("pool after the update: got %s, want the break-glass rollback's green 100 kept", w)
	}
	c, err := u.cloud.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, saw := range c.UsersSaw {
		if saw.Share > 0 && saw.Status != http.StatusOK {
			call := c.Calls[saw.Call]
			t.Errorf("users of %s (%d%%) got %d (%s) after %s %s", saw.App, saw.Share, saw.Status, saw.Reason, call.Op, call.Target[strings.LastIndex(call.Target, "/providers/")+1:])
		}
	}
}

// TestACanaryRefusingTheGatewayIsRolledBackForItsShare (threat 9): with the gateway's token
// required (gatewayAudience, gatewayAuthPhase require), someone changes the canary's
// authentication in the portal: its registration names another application, and its health
// endpoint is left out of authentication (excludedPaths) so the platform's health checks reach
// it. Its built-in authentication then answers every user's request 401 before the Functions
// host, so Application Insights records none of them, while its health endpoint still answers
// the release's pinned checks. On a stack without releaseProbes, the metrics gate's share check
// sees that the canary recorded far less than its pool weight of the users' requests and the
// release rolls it back in its first step, naming the lost share, not passing it as
// inconclusive.
func TestACanaryRefusingTheGatewayIsRolledBackForItsShare(t *testing.T) {
	parallel(t, 45*time.Second)
	u, svc := releaseUser(t, "analysisIntervalSeconds 10", `releaseSteps [{"weight": 10, "bake": "30s"}, 50, 100]`,
		"gatewayAudience "+gatewayAudience)
	u.sh("pulumi config rm releaseProbes")
	if err := u.cloud.Update(func(c *azurefake.Cloud) error { c.CreateServicePrincipal(gatewayAudience); return nil }); err != nil {
		t.Fatal(err)
	}
	u.up("dev")
	u.run("pulumi config set gatewayAuthPhase require && pulumi up")

	const other = "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"
	blue := svc.apps["blue"]
	if err := u.cloud.Update(func(c *azurefake.Cloud) error {
		for _, r := range c.ByType("azure-native:web:WebAppAuthSettingsV2") {
			if r.Subscription != u.sub || !strings.Contains(strings.ToLower(r.ID), "/sites/"+strings.ToLower(blue)+"/") {
				continue
			}
			r.Inputs["globalValidation"].(map[string]any)["excludedPaths"] = []any{"/api/health"}
			aad := r.Inputs["identityProviders"].(map[string]any)["azureActiveDirectory"].(map[string]any)
			aad["registration"].(map[string]any)["clientId"] = other
			aad["validation"].(map[string]any)["allowedAudiences"] = []any{other, "api://" + other}
			c.Put(r)
			return nil
		}
		return fmt.Errorf("no authentication settings of %s", blue)
	}); err != nil {
		t.Fatal(err)
	}
	c, err := u.cloud.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, app := range c.ByType("azure-native:web:WebApp") {
		if app.Name() == blue {
			if a := c.ThroughGatewayAt(u.sub, app, "/api/orders"); a.Status != http.StatusUnauthorized {
				t.Fatalf("the stand-in: a user's request to the canary got %d (%s), want its authentication's 401", a.Status, a.Reason)
			}
		}
	}
	svc.mu.Lock()
	svc.usersThroughGateway = true
	svc.mu.Unlock()

	record := filepath.Join(t.TempDir(), "release.json")
	out, err := u.trySh(svc.release("", record))
	t.Log(out)
	if code := exitCode(err); code != 4 {
		t.Errorf("exit: got %d, want 4 (rolled back)", code)
	}
	rec := readRecord(t, record)
	if rec.Outcome != rollout.OutcomeRolledBack || rec.Rollback == nil || len(rec.StepsTaken) != 1 || rec.StepsTaken[0].To != 10 {
		t.Fatalf("record: got %s after %d steps, rollback %+v; want rolled back in the first step, at 10%%", rec.Outcome, len(rec.StepsTaken), rec.Rollback)
	}
	for _, want := range []string{"metrics gate: sample-ratio", "canary share 0.00%", "pool weight 10%", "its app's authentication refusing the gateway"} {
		if !strings.Contains(rec.Rollback.Reason, want) {
			t.Errorf("rollback reason: got %q, want %q in it", rec.Rollback.Reason, want)
		}
	}
	if strings.Contains(rec.Rollback.Reason, "inconclusive") {
		t.Errorf("rollback reason: got %q, want the lost share, not inconclusive", rec.Rollback.Reason)
	}
	for _, an := range rec.StepsTaken[0].Analyses {
		if an.Health.Verdict != rollout.VerdictPass {
			t.Errorf("analysis at %s: health %s (%s), want the excluded health endpoint answering", an.At.Format(time.TimeOnly), an.Health.Verdict, an.Health.Detail)
		}
	}
	if w := u.weights(); w.Blue != 0 {
		t.Errorf("pool: got %s, want blue 0", w)
	}
}

// TestHealthGateFollowsNoRedirect (threat 12): the idle slot's health endpoint, and every
// request pinned to it, answers 302 to another host (its app sending callers to a login page
// there). After a deployment, `slotless deploy`'s health gate sends its pinned requests with the
// pinning token and the API Management subscription key; a receiver at the redirect's target
// records what reaches it. Nothing does: the gate follows no redirect, so neither secret leaves
// for that host, and it counts the 302 as unhealthy: the deploy fails, naming it.
func TestHealthGateFollowsNoRedirect(t *testing.T) {
	parallel(t, 8*time.Second)
	u := deployed(t)
	u.withARM()
	svc := newServices(t, golden.pinToken)
	const subscriptionKey = "subscription-key-5d1e0c7a"
	var mu sync.Mutex
	var reached []string
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		reached = append(reached, fmt.Sprintf("%s %s (pin token %v, subscription key %v)", r.Method, r.URL.Path,
			r.Header.Get("X-Slotless-Token") != "", r.Header.Get("Ocp-Apim-Subscription-Key") != ""))
		w.Header().Set("X-Slot", "blue")
		fmt.Fprint(w, `{"status":"ok","slot":"blue","version":"1.1.0"}`)
	}))
	t.Cleanup(receiver.Close)
	// Another host: the receiver by name, where the API is reached by address.
	target, err := url.Parse(receiver.URL)
	if err != nil {
		t.Fatal(err)
	}
	target.Host = "localhost:" + target.Port()
	svc.mu.Lock()
	svc.redirect = map[string]string{"blue": target.String() + "/login"}
	svc.mu.Unlock()

	pkg, _ := packageZip(t, "host.json", "health/function.json")
	out, err := u.trySh(fmt.Sprintf("env SLOTLESS_PIN_TOKEN=%s SLOTLESS_SUBSCRIPTION_KEY=%s slotless deploy --stack dev --slot blue --package %s --api-url %s/slotless --health-timeout 3s",
		golden.pinToken, subscriptionKey, pkg, svc.health.URL))
	t.Log(out)
	mu.Lock()
	got := append([]string(nil), reached...)
	mu.Unlock()
	if len(got) > 0 {
		t.Errorf("the redirect's target got %d requests, want none: %s", len(got), strings.Join(got, "; "))
	}
	if want := "blue is deployed but its health gate failed"; exitCode(err) == 0 || !strings.Contains(out, want) || !strings.Contains(out, "HTTP 302") {
		t.Errorf("deploy: got exit %d, want a failure saying %q and naming the 302:\n%s", exitCode(err), want, out)
	}
}
