//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/slotless/slotless/e2e/azurefake"
	"github.com/slotless/slotless/stack"
)

// Data actions the slots' hosts and deployments perform (MicrosoftDocs azure-docs,
// role-based-access-control/permissions/storage.md).
const (
	blobWrite    = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write"
	blobRead     = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"
	queueMessage = "Microsoft.Storage/storageAccounts/queueServices/queues/messages/add/action"
)

// slotStorage is what the cloud holds of one slot's storage and keys.
type slotStorage struct {
	principal string // the slot identity's object id
	app       *azurefake.Resource
	container string // its deployment container's id
	host      string // the name of the account its host storage is in
	heldKey   string // the key API Management sends it
}

// storageOf reads each slot's identity, app, deployment container, host storage and held key.
func (u *user) storageOf() (map[stack.Slot]slotStorage, *azurefake.Cloud) {
	u.t.Helper()
	c, err := u.cloud.Load()
	if err != nil {
		u.t.Fatal(err)
	}
	apps := u.appNames()
	out := map[stack.Slot]slotStorage{}
	for _, slot := range stack.Slots {
		var s slotStorage
		for _, r := range c.ByType("azure-native:managedidentity:UserAssignedIdentity") {
			if r.Subscription == u.sub && strings.HasSuffix(r.Name(), "-"+string(slot)+"-id") {
				s.principal, _ = r.Properties["principalId"].(string)
			}
		}
		for _, r := range c.ByType("azure-native:web:WebApp") {
			if r.Subscription == u.sub && apps[r.Name()] == slot {
				s.app = r
				s.host = azurefake.HostStorageOf(r.Inputs)
			}
		}
		for _, r := range c.ByType("azure-native:storage:BlobContainer") {
			if r.Subscription == u.sub && r.Name() == "app-package-"+string(slot) {
				s.container = r.ID
			}
		}
		for _, r := range c.ByType("azure-native:apimanagement:NamedValue") {
			if r.Subscription == u.sub && r.Name() == string(slot)+"-function-key" {
				s.heldKey = r.Secret
			}
		}
		if s.principal == "" || s.app == nil || s.container == "" || s.host == "" || s.heldKey == "" {
			u.t.Fatalf("%s: the cloud lacks part of the slot: %+v", slot, s)
		}
		out[slot] = s
	}
	return out, c
}

// accountID is the id of a storage account of the user's subscription, by name.
func accountID(t *testing.T, c *azurefake.Cloud, sub, name string) string {
	t.Helper()
	for _, r := range c.ByType("azure-native:storage:StorageAccount") {
		if r.Subscription == sub && r.Name() == name {
			return r.ID
		}
	}
	t.Fatalf("no storage account %s", name)
	return ""
}

// TestEachSlotTouchesOnlyItsOwnStorage: on the README's dev stack, each slot's host storage is
// its own account, and the role assignments Azure enforces (the stand-in's RBAC, by the data
// actions of the built-in storage roles) let the blue identity write its own deployment
// container and work in its own host storage, but neither write green's container nor read
// green's host storage, where green's keys are; and the same the other way round.
func TestEachSlotTouchesOnlyItsOwnStorage(t *testing.T) {
	parallel(t, 5*time.Second)
	u := deployed(t)
	slots, c := u.storageOf()
	if slots[stack.Green].host == slots[stack.Blue].host {
		t.Fatalf("both slots' host storage is in %s, want an account each", slots[stack.Green].host)
	}
	for _, slot := range stack.Slots {
		own, other := slots[slot], slots[slot.Other()]
		ownHost, otherHost := accountID(t, c, u.sub, own.host), accountID(t, c, u.sub, other.host)
		secrets := func(account string) string {
			return account + "/blobServices/default/containers/azure-webjobs-secrets/blobs/" + string(slot) + "/host.json"
		}
		for _, tc := range []struct {
			what, action, id string
			allowed          bool
		}{
			{"write its own package", blobWrite, own.container + "/blobs/released-package.zip", true},
			{"write the other slot's package", blobWrite, other.container + "/blobs/released-package.zip", false},
			{"read its own host keys", blobRead, secrets(ownHost), true},
			{"read the other slot's host keys", blobRead, secrets(otherHost), false},
			{"queue in its own host storage", queueMessage, ownHost + "/queueServices/default/queues/q", true},
			{"queue in the other slot's host storage", queueMessage, otherHost + "/queueServices/default/queues/q", false},
		} {
			err := azurefake.AuthorizeData(c, own.principal, tc.action, tc.id)
			if (err == nil) != tc.allowed {
				t.Errorf("the %s identity may %s: got %v, want allowed %v", slot, tc.what, err, tc.allowed)
			}
		}
	}
}

// TestExistingStackMovesEachSlotWhileIdle: a stack whose slots keep their host storage in the
// shared account, as every stack did before each slot had its own (sharedHostStorage lists
// both), upgrades as docs/security.md says, and no update moves traffic or restarts a slot that
// carries any:
//   - without the list, the live slot would move: the update is refused before its app changes;
//   - with the live slot listed, the idle slot moves: its host makes new keys there, API
//     Management gets the new key, its shared-account roles are removed;
//   - after a shift makes the other slot live, the list goes, and the now idle slot moves too.
func TestExistingStackMovesEachSlotWhileIdle(t *testing.T) {
	parallel(t, 40*time.Second)
	const sub = "00000000-0000-0000-0000-000000000516"
	cloud := newCloud(t)
	// Every app update restarts the app, and the cloud notes the share of traffic it carried.
	if err := cloud.Update(func(c *azurefake.Cloud) error { c.SiteUpdateRestartMs = 1; return nil }); err != nil {
		t.Fatal(err)
	}
	u := newUser(t, cloud, sub)
	for _, line := range readmeCommands(t, "## Deploying to Azure") {
		if line == "pulumi up" {
			u.run("pulumi config set --path 'sharedHostStorage[0]' green && pulumi config set --path 'sharedHostStorage[1]' blue")
		}
		u.run(line)
	}
	before, c := u.storageOf()
	shared := before[stack.Green].host
	if before[stack.Blue].host != shared {
		t.Fatalf("host storage: green in %s, blue in %s, want both in the shared account", shared, before[stack.Blue].host)
	}
	sharedID := accountID(t, c, sub, shared)

	// restartsUnderTraffic are the app updates since call n that restarted an app carrying traffic.
	restartsUnderTraffic := func(n int) []string {
		var out []string
		for _, call := range u.calls()[n:] {
			if call.Token == "azure-native:web:WebApp" && strings.Contains(call.Note, "restarted while carrying") && !strings.Contains(call.Note, "carrying 0%") {
				out = append(out, call.Target+": "+call.Note)
			}
		}
		return out
	}

	// The upgrade without the list: green carries all traffic, so the update is refused.
	n := len(u.calls())
	u.sh("pulumi config rm sharedHostStorage")
	if _, out, err := u.tryUp("dev"); err == nil || !strings.Contains(out, "sharedHostStorage: green carries 100% of traffic") {
		t.Fatalf("moving the live slot's host storage: got %v, want it refused naming sharedHostStorage\n%s", err, out)
	}
	after, _ := u.storageOf()
	if g := after[stack.Green]; g.host != shared || g.app.FunctionKey != before[stack.Green].app.FunctionKey || g.heldKey != g.app.FunctionKey {
		t.Errorf("green after the refused update: host storage %s, key changed %v, held key current %v; want all as before",
			g.host, g.app.FunctionKey != before[stack.Green].app.FunctionKey, g.heldKey == g.app.FunctionKey)
	}
	if r := restartsUnderTraffic(n); len(r) > 0 {
		t.Errorf("the refused update restarted a slot carrying traffic: %v", r)
	}

	// The documented step: the live slot stays listed, the idle one moves.
	n = len(u.calls())
	u.run("pulumi config set --path 'sharedHostStorage[0]' green && pulumi up")
	after, c = u.storageOf()
	blue := after[stack.Blue]
	if blue.host == shared || blue.app.FunctionKey == before[stack.Blue].app.FunctionKey || blue.heldKey != blue.app.FunctionKey {
		t.Errorf("blue after its move: host storage %s (shared %s), new key %v, API Management sends it %v; want its own account, a new key, sent",
			blue.host, shared, blue.app.FunctionKey != before[stack.Blue].app.FunctionKey, blue.heldKey == blue.app.FunctionKey)
	}
	if g := after[stack.Green]; g.host != shared || g.heldKey != g.app.FunctionKey {
		t.Errorf("green while listed: host storage %s, held key current %v; want the shared account and its key", g.host, g.heldKey == g.app.FunctionKey)
	}
	if w := u.weights(); w.Green != 100 {
		t.Errorf("weights after the move: got %s, want green 100", w)
	}
	if r := restartsUnderTraffic(n); len(r) > 0 {
		t.Errorf("the move restarted a slot carrying traffic: %v", r)
	}
	if err := azurefake.AuthorizeData(c, blue.principal, blobWrite, sharedID+"/blobServices/default/containers/app-package-green/blobs/p.zip"); err == nil {
		t.Error("after its move, blue can still write green's deployment container")
	}

	// A release makes blue live; green, now idle, moves once the list is gone.
	u.run("pulumi config set blueWeight 100 && pulumi up")
	n = len(u.calls())
	u.run("pulumi config rm sharedHostStorage && pulumi up")
	final, c := u.storageOf()
	green := final[stack.Green]
	if green.host == shared || green.host == final[stack.Blue].host || green.heldKey != green.app.FunctionKey || green.app.FunctionKey == before[stack.Green].app.FunctionKey {
		t.Errorf("green after its move: host storage %s, held key current %v; want its own account and its new key", green.host, green.heldKey == green.app.FunctionKey)
	}
	if b := final[stack.Blue]; b.app.FunctionKey != blue.app.FunctionKey || b.heldKey != b.app.FunctionKey {
		t.Error("moving green changed blue's key")
	}
	if r := restartsUnderTraffic(n); len(r) > 0 {
		t.Errorf("green's move restarted a slot carrying traffic: %v", r)
	}
	for _, r := range c.ByType("azure-native:authorization:RoleAssignment") {
		if r.Subscription == sub && strings.EqualFold(r.Inputs["scope"].(string), sharedID) {
			t.Errorf("a role assignment remains on the whole shared account: %v", r.Inputs)
		}
	}
	if ch := u.preview("dev"); ch.Counts["update"]+ch.Counts["create"]+ch.Counts["delete"]+ch.Counts["replace"] != 0 {
		t.Errorf("a preview after the migration changes %v, want nothing", ch.Steps)
	}
}
