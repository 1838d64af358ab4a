//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"

	"github.com/slotless/slotless/e2e/azurefake"
	"github.com/slotless/slotless/internal/history"
	"github.com/slotless/slotless/internal/rollout"
	"github.com/slotless/slotless/stack"
)

// The watcher's identity as the history's second writer holds it: the stack grants it the same
// role on the container as the release identity (stack.History.GrantWriter).
const (
	watcherPrincipal = "2c4e6a8b-1d3f-4b5a-9c7e-8f0a1b2c3d4e"
	watcherToken     = "watcher-identity-token"
)

// historyWorld is a user's stack with the Blob service behind the HTTPS proxy, as Azure's
// storage is reached: the stack's history container, written by the release identity and the
// watcher's.
type historyWorld struct {
	u        *user
	endpoint *azurefake.BlobEndpoint
	url      string
	// env is what a command line needs to reach it: HTTPS_PROXY (the CA is the ARM facade's,
	// which the commands already trust).
	env string
}

// withHistory serves the user's storage accounts' blobs. The release stages' scripted az CLI
// (e2eToken) signs in as the release identity, whose writer role on the container the stack
// grants with releasePrincipalId (TestReleaseIdentityMovesTrafficAndNothingElse checks that
// grant through pulumi up); here it is assigned as that update leaves it, without one more
// update.
func withHistory(t *testing.T, u *user) *historyWorld {
	t.Helper()
	h := historyOf(t, u)
	if err := u.cloud.Update(func(c *azurefake.Cloud) error {
		id, _ := historyContainer(t, c, u.sub)
		c.Assign(u.sub, releasePrincipal, azurefake.StorageBlobDataContributor, id)
		c.Assign(u.sub, watcherPrincipal, azurefake.StorageBlobDataContributor, id)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return h
}

// historyOf serves the user's storage accounts' blobs, with no grant but the stack's own.
func historyOf(t *testing.T, u *user) *historyWorld {
	t.Helper()
	a := u.arm
	if a == nil {
		a = u.withARM()
	}
	svc := &azurefake.BlobService{Store: &u.cloud, Principals: map[string]string{
		e2eToken: releasePrincipal, releaseToken: releasePrincipal, watcherToken: watcherPrincipal, strangerToken: strangerPrincipal}}
	e := azurefake.StartBlobEndpoint(svc, nil, a.pool)
	t.Cleanup(e.Close)
	c, err := u.cloud.Load()
	if err != nil {
		t.Fatal(err)
	}
	_, account := historyContainer(t, c, u.sub)
	url := "https://" + account + azurefake.BlobHostSuffix + "/" + stack.HistoryContainerName
	return &historyWorld{u: u, endpoint: e, url: url, env: "HTTPS_PROXY=" + e.Proxy.URL + " "}
}

// historyContainer is the id of the stack's history container and its account's name.
func historyContainer(t *testing.T, c *azurefake.Cloud, sub string) (id, account string) {
	t.Helper()
	for _, r := range c.ByType("azure-native:storage:BlobContainer") {
		if r.Subscription == sub && r.Name() == stack.HistoryContainerName {
			account, _ = r.Inputs["accountName"].(string)
			return r.ID, account
		}
	}
	t.Fatal("the stack has no history container")
	return "", ""
}

// store opens the history signed in with a token, from the test itself.
func (h *historyWorld) store(t *testing.T, token string) *history.Store {
	t.Helper()
	s, err := history.Open(h.url, staticCredential(token), &azblob.ClientOptions{ClientOptions: policy.ClientOptions{
		Transport: h.endpoint.Client(), Retry: policy.RetryOptions{MaxRetries: -1}}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// entries is `slotless history --json`.
func (h *historyWorld) entries(t *testing.T) []history.Entry {
	t.Helper()
	out := h.u.sh(h.env + "slotless history --stack dev --json 2>/dev/null")
	var es []history.Entry
	if err := json.Unmarshal([]byte(out), &es); err != nil {
		t.Fatalf("slotless history --json: %v\n%s", err, out)
	}
	return es
}

// TestHistoryListsTheRunsAndStatusShowsTheReleaseInFlight: the history Azure keeps. A release
// started while the watcher holds the stack's lease waits, says who holds it, and exits 3 having
// moved nothing. Once the lease is free, a release stops at --until 10; `slotless status` shows
// it in flight (its step, weight and last analysis) and the lease free again, and `slotless
// history --json` lists it with the report's headline as its reason. Then a rollback: the
// history lists both, newest first; `slotless report --id` draws the rollback from the history.
// A slot's own identity, which holds a blob data role on its deployment container, cannot write
// the history (403).
func TestHistoryListsTheRunsAndStatusShowsTheReleaseInFlight(t *testing.T) {
	parallel(t, 45*time.Second)
	u, svc := releaseUser(t, "analysisIntervalSeconds 10", `releaseSteps [{"weight": 10, "bake": "10s"}, 50, 100]`)
	u.withWatcher()
	u.up("dev")
	h := withHistory(t, u)
	ctx := context.Background()

	// The watcher holds the lease for one tick, by construction: until the test lets go.
	tick, err := h.store(t, watcherToken).Acquire(ctx, history.Holder{Kind: history.HolderWatcher, ID: "tick-under-test", By: "the watcher"}, history.Infinite)
	if err != nil {
		t.Fatal(err)
	}
	out, err := u.trySh(h.env + svc.release("--until 10 --lease-wait 1s", filepath.Join(t.TempDir(), "held.json")))
	if code := exitCode(err); code != 3 || !strings.Contains(out, "held by watcher tick-under-test by the watcher") || !strings.Contains(out, "waiting up to 1s") {
		t.Fatalf("a release while the watcher holds the lease: exit %d, want 3 naming the holder after waiting\n%s", code, out)
	}
	if w := u.weights(); w.Blue != 0 {
		t.Fatalf("after the refused release: got %s, want blue 0", w)
	}
	// Before anything else, the release found no heartbeat of the watcher and deployed itself
	// to it, and noted the deploy.
	if !strings.Contains(out, "it has never run") || !strings.Contains(out, "deploying slotless") {
		t.Errorf("the first release: want it to deploy the watcher, which never ran\n%s", out)
	}
	if err := tick.Release(ctx); err != nil {
		t.Fatal(err)
	}

	record := filepath.Join(t.TempDir(), "release.json")
	out = u.sh(h.env + svc.release("--until 10", record))
	// Its own deploy of a moment ago: the watcher's first tick is due, no second deploy.
	if !strings.Contains(out, "its first tick is due") || strings.Contains(out, "deploying slotless") {
		t.Errorf("the second release: want no second deploy of the watcher\n%s", out)
	}
	if rec := readRecord(t, record); rec.Outcome != rollout.OutcomePaused || u.weights().Blue != 10 {
		t.Fatalf("release --until 10: got %s, blue %d", rec.Outcome, u.weights().Blue)
	}
	st := u.sh(h.env + "slotless status --stack dev")
	for _, want := range []string{"in flight: release ", "of blue 1.1.0", "step 1/3 at 10%", "paused at 10%", "last analysis: pass at ", "lease: free", "watcher: no heartbeat: it has never run"} {
		if !strings.Contains(st, want) {
			t.Errorf("status: want %q in\n%s", want, st)
		}
	}
	es := h.entries(t)
	if len(es) != 1 || es[0].Kind != history.KindRelease || !es[0].InFlight || es[0].Outcome != "paused" || !strings.HasPrefix(es[0].Reason, "The release of blue 1.1.0 is paused at 10%") {
		t.Fatalf("history after the release: got %+v, want the release in flight with its headline", es)
	}
	release := es[0].ID

	u.sh(h.env + "slotless rollback --stack dev --slot blue")
	es = h.entries(t)
	if len(es) != 2 || es[0].Kind != history.KindRollback || es[1].ID != release || !strings.HasPrefix(es[0].Reason, "slotless rollback took blue to 0%") {
		t.Fatalf("history after the rollback: got %+v, want the rollback, then the release", es)
	}
	md := u.sh(h.env + "slotless report --stack dev --id " + es[0].ID)
	if !strings.Contains(md, es[0].Reason) {
		t.Errorf("report --id %s: want its headline %q in\n%s", es[0].ID, es[0].Reason, md)
	}

	h.refuses(t, h.appToken(t, stack.Blue), "the blue app's identity")
}

// releaseAloneWritesTheHistory: with releasePrincipalId, the stack makes the release identity
// the history's writer, on that container alone; a principal the stack grants nothing and a
// slot's own identity are refused.
func releaseAloneWritesTheHistory(t *testing.T, u *user) {
	t.Helper()
	h := historyOf(t, u)
	ctx := context.Background()
	if err := h.store(t, releaseToken).Put(ctx, history.Entry{ID: history.NewID(history.KindShift, time.Now()), Kind: history.KindShift, Stack: "dev"}); err != nil {
		t.Errorf("the release identity writing the history: %v", err)
	}
	h.refuses(t, strangerToken, "a principal the stack grants nothing")
	h.refuses(t, h.appToken(t, stack.Green), "the green app's identity")
}

// refuses checks that the history refuses a write signed in with token.
func (h *historyWorld) refuses(t *testing.T, token, who string) {
	t.Helper()
	err := h.store(t, token).Put(context.Background(), history.Entry{ID: history.NewID(history.KindRollback, time.Now()), Kind: history.KindRollback, Stack: "dev"})
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != 403 || re.ErrorCode != "AuthorizationPermissionMismatch" {
		t.Errorf("%s writing the history: got %v, want 403 AuthorizationPermissionMismatch", who, err)
	}
}

// appToken is a token Entra issues a slot's identity for Azure Storage, as its app gets one: its
// data roles are its host storage's and its own deployment container's.
func (h *historyWorld) appToken(t *testing.T, slot stack.Slot) string {
	t.Helper()
	u := h.u
	var client, token string
	if err := u.cloud.Update(func(c *azurefake.Cloud) error {
		c.CreateServicePrincipal("https://storage.azure.com") // Azure Storage, in every tenant
		for _, r := range c.ByType("azure-native:managedidentity:UserAssignedIdentity") {
			if r.Subscription == u.sub && strings.HasSuffix(r.Name(), "-"+string(slot)+"-id") {
				client, _ = r.Properties["clientId"].(string)
			}
		}
		var err error
		token, err = c.IssueToken(client, "https://storage.azure.com")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return token
}
