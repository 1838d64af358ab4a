//go:build e2e

package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slotless/slotless/internal/deploy/deploytest"
	"github.com/slotless/slotless/stack"
)

// packageZip writes a function app package with the given files.
func packageZip(t *testing.T, files ...string) (path, sum string) {
	t.Helper()
	path = deploytest.Zip(t, "", files...)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(raw)
	return path, hex.EncodeToString(s[:])
}

// TestDeployOnlyToTheIdleSlot: `slotless deploy` as a laptop runs it, against the stand-in's
// Resource Manager and deployment host. The idle slot takes the package: found through ARM,
// uploaded with one deploy, waited for while it builds, restarting an app that carries no
// traffic. The live slot is refused with exit 3, and so is the idle slot once a portal edit
// gives it 10% that the stack does not know of, or while the stack file still lists it in
// sharedHostStorage; a package that is not a zip is refused with exit 2. Nothing refused reaches
// the deployment host.
func TestDeployOnlyToTheIdleSlot(t *testing.T) {
	parallel(t, 15*time.Second)
	u := deployed(t)
	u.withARM()
	apps := map[stack.Slot]string{}
	for name, slot := range u.appNames() {
		apps[slot] = name
	}
	pkg, sum := packageZip(t, "host.json", "health/function.json")

	out := u.sh("slotless deploy --stack dev --slot blue --package " + pkg)
	t.Log(out)
	for _, want := range []string{"blue carries no traffic (stack: green 100% / blue 0%; live pool: green 100% / blue 0%): deploying to " + apps[stack.Blue], "status 1 Building", "status 4 Success", "deployed " + pkg, "warning: no health gate"} {
		if !strings.Contains(out, want) {
			t.Errorf("output: no %q", want)
		}
	}
	c, err := u.cloud.Load()
	if err != nil {
		t.Fatal(err)
	}
	d := c.Deployments[strings.ToLower(apps[stack.Blue])]
	if d == nil || d.SHA256 != sum || d.Status != 4 {
		t.Fatalf("blue's deployment: got %+v, want the package's bytes (%s), deployed", d, sum)
	}
	for _, call := range c.Calls {
		if call.Op == "deploy" && !strings.Contains(call.Note, "carrying 0%") {
			t.Errorf("a deployment restarted an app with traffic: %s", call.Note)
		}
	}

	refused := func(line string, code int, want string) {
		t.Helper()
		before := len(u.calls())
		out, err := u.trySh(line)
		if got := exitCode(err); got != code || !strings.Contains(out, want) {
			t.Errorf("%s: got exit %d\n%s\nwant %d and %q", line, got, out, code, want)
		}
		for _, call := range u.calls()[before:] {
			if call.Op == "deploy" {
				t.Errorf("%s reached the deployment host of %s", line, call.Target)
			}
		}
	}
	refused("slotless deploy --stack dev --slot green --package "+pkg, 3, "green carries 100% of the traffic in stack dev; deploy to the idle slot (blue)")
	notZip := filepath.Join(t.TempDir(), "app.zip")
	if err := os.WriteFile(notZip, []byte("not a zip"), 0o644); err != nil {
		t.Fatal(err)
	}
	refused("slotless deploy --stack dev --slot blue --package "+notZip, 2, "not a zip archive")

	// A slot the stack file still lists in sharedHostStorage may write the whole shared
	// account, green's package included: refused until it has moved.
	if shared, ok := stack.SharedHostStorageOf(u.outputs("dev")); !ok || len(shared) != 0 {
		t.Errorf("the deployed stack's sharedHostStorage: got %v (recorded %v), want none", shared, ok)
	}
	u.sh("pulumi config set --path 'sharedHostStorage[0]' blue")
	refused("slotless deploy --stack dev --slot blue --package "+pkg, 3, "sharedHostStorage: blue is listed (in the stack file Pulumi.dev.yaml)")
	u.sh("pulumi config rm sharedHostStorage")

	// Someone in the portal gives blue 10%; the stack still says 0.
	u.portalEdit(stack.Weights{Green: 90, Blue: 10})
	refused("slotless deploy --stack dev --slot blue --package "+pkg, 3, "blue carries 10% of the traffic in the live pool (API Management), though stack dev says 0%")
}
