//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slotless/slotless/e2e/azurefake"
	"github.com/slotless/slotless/stack"
)

// readmeCommands returns the pulumi commands of the first sh block under a README heading, in
// order: the lines a user copies. Other commands (make, az) are not the engine's.
func readmeCommands(t testing.TB, heading string) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	i := strings.Index(text, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("README has no %q section", heading)
	}
	text = text[i:]
	start := strings.Index(text, "```sh\n")
	if start < 0 {
		t.Fatalf("README section %q has no sh block", heading)
	}
	block := text[start+len("```sh\n"):]
	block = block[:strings.Index(block, "```")]
	var cmds []string
	for _, l := range strings.Split(block, "\n") {
		if strings.HasPrefix(l, "pulumi ") && !strings.Contains(l, "$(pulumi stack output") {
			cmds = append(cmds, strings.TrimSpace(l))
		}
	}
	if len(cmds) == 0 {
		t.Fatalf("README section %q has no pulumi commands", heading)
	}
	return cmds
}

// deploy runs the README's deploy section for a user: preview, then up, as a careful user does.
func deploy(t testing.TB, u *user) {
	t.Helper()
	for _, line := range readmeCommands(t, "## Deploying to Azure") {
		if line == "pulumi up" {
			u.preview("dev")
			u.up("dev")
			continue
		}
		u.run(line)
	}
}

// TestDeploy is the README's deploy section on a fresh dev stack: the committed Pulumi.yaml and
// Pulumi.dev.yaml plus the README's config lines. Preview and up succeed, the preview asks
// nothing of resources that do not exist yet, and a second up changes nothing. It runs into a
// resource group the stack creates, and into one that already exists (resourceGroupName), where
// every name the program derives is known at preview.
func TestDeploy(t *testing.T) {
	parallel(t, 35*time.Second)
	const sub = "00000000-0000-0000-0000-0000000a11ce"
	for _, tc := range []struct {
		name  string
		extra []string
		seed  func(c *azurefake.Cloud)
		// slowHosts: the new apps' hosts answer their first key requests as hosts that have
		// not started; the up waits for them and says so.
		slowHosts bool
		// watcher: the stack as a team gets it, the watcher included; the other cases are
		// about where the stack goes, and leave it out (e2e/harness_test.go says why).
		watcher bool
	}{
		{name: "new resource group", watcher: true},
		{name: "hosts that start late", slowHosts: true, seed: func(c *azurefake.Cloud) { c.HostStartCalls = 2 }},
		{
			name:  "existing resource group",
			extra: []string{"pulumi config set resourceGroupName team-rg"},
			seed: func(c *azurefake.Cloud) {
				c.Put(&azurefake.Resource{ID: "/subscriptions/" + sub + "/resourceGroups/team-rg", Token: "azure-native:resources:ResourceGroup", Subscription: sub,
					Properties: map[string]any{"name": "team-rg", "location": "westeurope"}})
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cloud := newCloud(t)
			if tc.seed != nil {
				if err := cloud.Update(func(c *azurefake.Cloud) error { tc.seed(c); return nil }); err != nil {
					t.Fatal(err)
				}
			}
			u := newUser(t, cloud, sub)
			if tc.watcher {
				u.withWatcher()
			}
			for _, line := range readmeCommands(t, "## Deploying to Azure") {
				if line != "pulumi up" {
					u.run(line)
					continue
				}
				for _, extra := range tc.extra {
					u.run(extra)
				}
				pre := u.preview("dev")
				if n := pre.Counts["create"]; n < 20 {
					t.Errorf("preview plans %d creates, want the whole stack (at least 20): %v", n, pre.Steps)
				}
				for _, c := range u.calls() {
					// Anything the preview asked of Azure ran against resources that do not exist yet.
					if c.Op == "invoke" {
						t.Errorf("preview of a new stack invoked %s on %s (error %q); it must not depend on resources that do not exist yet", c.Token, c.Target, c.Error)
					}
				}
				got, out, err := u.tryUp("dev")
				if err != nil {
					t.Fatalf("pulumi up: %v\n%s", err, out)
				}
				if waited := strings.Contains(out, "waiting for the function key of"); waited != tc.slowHosts {
					t.Errorf("up printed progress while waiting for a function key: got %v, want %v", waited, tc.slowHosts)
				}
				if got.Counts["create"] != pre.Counts["create"] {
					t.Errorf("up created %d resources, preview planned %d", got.Counts["create"], pre.Counts["create"])
				}
			}

			outs, err := u.stack("dev").PlainOutputs(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{stack.OutGatewayURL, stack.OutAPIURL, stack.OutAppName(stack.Green), stack.OutAppName(stack.Blue), stack.OutHostname(stack.Green), stack.OutStorageAccount, stack.OutWorkspaceID} {
				if v, _ := outs[k].(string); v == "" {
					t.Errorf("output %s is empty after up", k)
				}
			}
			if outs[stack.OutLiveSlot] != "green" || outs[stack.OutIdleSlot] != "blue" {
				t.Errorf("live/idle = %v/%v, want green/blue", outs[stack.OutLiveSlot], outs[stack.OutIdleSlot])
			}

			// The API's operations are the dev stack's apiSpec, imported by API Management.
			c, err := cloud.Load()
			if err != nil {
				t.Fatal(err)
			}
			apis := c.ByType("azure-native:apimanagement:Api")
			if len(apis) != 1 {
				t.Fatalf("got %d APIs, want 1", len(apis))
			}
			if got, want := c.Operations(apis[0].ID), []string{"GET /health", "GET /orders", "GET /orders/{id}"}; !slices.Equal(got, want) {
				t.Errorf("API operations: got %v, want those of functionapp/openapi.yaml, %v", got, want)
			}

			hardened(t, c, tc.watcher)

			again := u.up("dev")
			if changed := again.Changed(); len(changed) != 0 {
				t.Errorf("a second up with no config change changed %v, want nothing", changed)
			}
		})
	}
}

// hardened checks what the deployed stack closes, as Azure holds it: every storage account
// refuses cross-tenant replication and copies from other tenants, the deployment containers'
// blob service keeps deleted and overwritten packages, the slots' apps and the watcher's refuse
// basic-auth publishing to their deployment host and FTP, and the workspace refuses its shared
// keys.
func hardened(t *testing.T, c *azurefake.Cloud, watcher bool) {
	t.Helper()
	apps := 2
	if watcher {
		apps = 3
	}
	accounts := c.ByType("azure-native:storage:StorageAccount")
	if len(accounts) != apps+1 {
		t.Errorf("got %d storage accounts, want the shared one and one per app (the watcher %v)", len(accounts), watcher)
	}
	for _, a := range accounts {
		if a.Properties["allowCrossTenantReplication"] != false || a.Properties["allowedCopyScope"] != "AAD" {
			t.Errorf("storage account %s: allowCrossTenantReplication %v, allowedCopyScope %v; want false and AAD", a.Name(), a.Properties["allowCrossTenantReplication"], a.Properties["allowedCopyScope"])
		}
	}
	services := c.ByType("azure-native:storage:BlobServiceProperties")
	if len(services) != 1 {
		t.Fatalf("got %d blob services written, want the shared account's alone", len(services))
	}
	p := services[0].Properties
	for _, key := range []string{"deleteRetentionPolicy", "containerDeleteRetentionPolicy"} {
		if r, _ := p[key].(map[string]any); r["enabled"] != true || r["days"] != float64(stack.PackageRetentionDays) {
			t.Errorf("blob service %s: got %v, want enabled for %d days", key, p[key], stack.PackageRetentionDays)
		}
	}
	if p["isVersioningEnabled"] != true {
		t.Errorf("blob service: versioning %v, want on", p["isVersioningEnabled"])
	}
	for _, token := range []string{"azure-native:web:WebAppScmAllowed", "azure-native:web:WebAppFtpAllowed"} {
		policies := c.ByType(token)
		if len(policies) != apps {
			t.Errorf("got %d %s, want one per app (the watcher %v)", len(policies), token, watcher)
		}
		for _, r := range policies {
			if r.Properties["allow"] != false {
				t.Errorf("%s: allow %v, want false", r.ID, r.Properties["allow"])
			}
		}
	}
	for _, w := range c.ByType("azure-native:operationalinsights:Workspace") {
		if f, _ := w.Properties["features"].(map[string]any); f["disableLocalAuth"] != true {
			t.Errorf("workspace %s: features %v, want disableLocalAuth", w.Name(), w.Properties["features"])
		}
	}
}
