//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slotless/slotless/e2e/azurefake"
	"github.com/slotless/slotless/internal/rollout"
	"github.com/slotless/slotless/stack"
)

// shopSpec is a Node team's own API: its routes, and the health operation of the contract.
const shopSpec = `openapi: 3.0.3
info: {title: shop, version: "1.0"}
paths:
  /customers:
    get:
      operationId: listCustomers
      responses: {"200": {description: the customers}}
  /customers/{id}:
    get:
      operationId: getCustomer
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      responses: {"200": {description: a customer}}
  /health:
    get:
      operationId: shopHealth
      responses: {"200": {description: healthy}}
`

// TestBringYourOwnNodeApp: a team with a Node app and no Go sample. Its stack runs Node 22 on
// both apps with the API from its own OpenAPI document; slotless deploy puts its package on the
// idle slot, whose health gate then checks the version it answers (and fails on another), and
// refuses the live one; slotless release walks it to GA against an app that
// honours the health contract (no bakes: the bakes and probes are TestReleaseReachesGA's and
// TestProbesCatchAFailingRoute's).
func TestBringYourOwnNodeApp(t *testing.T) {
	parallel(t, 50*time.Second)
	u, svc := releaseUser(t, "bakeMinutes 0")
	if err := os.RemoveAll(filepath.Join(u.dir, "functionapp")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(u.dir, "openapi"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(u.dir, "openapi", "shop.yaml"), []byte(shopSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	u.run("pulumi config set functionRuntime node && pulumi config set functionRuntimeVersion 22 && " +
		"pulumi config set apiSpec openapi/shop.yaml && pulumi config set --path releaseProbes[0].path /customers && " +
		"pulumi config set --path releaseProbes[1].path /customers/1 && pulumi up")

	c, err := u.cloud.Load()
	if err != nil {
		t.Fatal(err)
	}
	// The stack was deployed before the team chose its runtime: the idle slot takes it, the live
	// one keeps what it runs until a release makes it idle (docs/architecture.md).
	runtimes := func(c *azurefake.Cloud) map[string]string {
		got := map[string]string{}
		for _, app := range c.ByType("azure-native:web:WebApp") {
			fc, _ := app.Inputs["functionAppConfig"].(map[string]any)
			rt, _ := fc["runtime"].(map[string]any)
			got[strings.SplitN(app.Name(), "-", 2)[0]] = fmt.Sprint(rt["name"], " ", rt["version"])
		}
		return got
	}
	if got := runtimes(c); got["blue"] != "node 22" || got["green"] == "node 22" {
		t.Errorf("runtimes: got %v, want node 22 on the idle blue only", got)
	}
	apis := c.ByType("azure-native:apimanagement:Api")
	if len(apis) != 1 {
		t.Fatalf("got %d APIs, want 1", len(apis))
	}
	if got, want := c.Operations(apis[0].ID), []string{"GET /customers", "GET /customers/{id}", "GET /health"}; !slices.Equal(got, want) {
		t.Errorf("API operations: got %v, want the team's document's %v", got, want)
	}

	// The deploy ends with the pinned health gate, through the team's API, expecting the
	// version the slot answers with.
	pkg, _ := packageZip(t, "host.json", "package.json", "src/functions/health.js", "src/functions/customers.js")
	deploy := fmt.Sprintf("env SLOTLESS_PIN_TOKEN=%s slotless deploy --stack dev --slot blue --package %s --version 1.1.0 --api-url %s/slotless", svc.pinToken, pkg, svc.health.URL)
	if out := u.sh(deploy); !strings.Contains(out, "status 4 Success") || !strings.Contains(out, "health gate: GET "+svc.health.URL+"/slotless/health as slot blue") {
		t.Errorf("deploy to the idle slot, then its health gate:\n%s", out)
	}
	if out, err := u.trySh(strings.Replace(deploy, "--version 1.1.0", "--version 9.9.9 --health-timeout 5s", 1)); exitCode(err) != 1 || !strings.Contains(out, "wrong-version") {
		t.Errorf("deploy whose slot answers another version: got exit %d, want 1 and the gate's wrong-version\n%s", exitCode(err), out)
	}
	if out, err := u.trySh("slotless deploy --stack dev --slot green --package " + pkg); exitCode(err) != 3 {
		t.Errorf("deploy to the live slot: got exit %d, want 3\n%s", exitCode(err), out)
	}

	record := filepath.Join(t.TempDir(), "release.json")
	out := u.sh(svc.release("", record))
	t.Log(out)
	if w := u.weights(); w.Blue != 100 {
		t.Fatalf("pool: got %s, want blue 100", w)
	}
	rec := readRecord(t, record)
	if rec.Outcome != rollout.OutcomeComplete {
		t.Errorf("release: got %s, want complete", rec.Outcome)
	}
	if outs := u.outputs("dev"); outs[stack.OutLiveSlot] != "blue" {
		t.Errorf("live slot: got %v, want blue", outs[stack.OutLiveSlot])
	}
	// After GA the next up brings the now idle green level.
	u.run("pulumi up")
	if c, err = u.cloud.Load(); err != nil {
		t.Fatal(err)
	}
	if got := runtimes(c); got["blue"] != "node 22" || got["green"] != "node 22" {
		t.Errorf("runtimes after GA and an up: got %v, want node 22 on both", got)
	}
}
