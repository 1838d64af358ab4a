package history

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
)

const (
	sub      = "00000000-0000-0000-0000-0000000000a1"
	account  = "storagehist01"
	writer   = "6f1f2a8e-3c1b-4b8e-9a51-2d7c4e0b9f10" // the release identity
	watcher  = "7a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d" // the watcher's identity
	appIdent = "8b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e" // a function app's identity
)

// tokenCred is a credential that always answers one token: the stand-in's Blob service maps it
// to a principal.
type tokenCred string

func (c tokenCred) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(c), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// world is a storage account with the history container, writable by the release identity
// and the watcher (Storage Blob Data Contributor on the container only), and an app identity
// that holds the same role on another container of the account.
type world struct {
	cloud    azurefake.Store
	endpoint *azurefake.BlobEndpoint
}

func newWorld(t *testing.T) *world {
	t.Helper()
	cloud := azurefake.Store{Path: filepath.Join(t.TempDir(), "cloud.json")}
	if err := cloud.Update(func(c *azurefake.Cloud) error {
		ids := c.PutStorage(sub, "rg", account, ContainerName, "deploy-green")
		c.Assign(sub, writer, azurefake.StorageBlobDataContributor, ids[0])
		c.Assign(sub, watcher, azurefake.StorageBlobDataContributor, ids[0])
		c.Assign(sub, appIdent, azurefake.StorageBlobDataContributor, ids[1])
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	ca, err := azurefake.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	svc := &azurefake.BlobService{Store: &cloud, Principals: map[string]string{"writer": writer, "watcher": watcher, "app": appIdent, "owner": ""}}
	e := azurefake.StartBlobEndpoint(svc, nil, ca)
	t.Cleanup(e.Close)
	return &world{cloud: cloud, endpoint: e}
}

// open is the history store signed in with token.
func (w *world) open(t *testing.T, token string) *Store {
	t.Helper()
	s, err := Open("https://"+account+".blob.core.windows.net/"+ContainerName, tokenCred(token), &azblob.ClientOptions{
		ClientOptions: policy.ClientOptions{Transport: w.endpoint.Client(), Retry: policy.RetryOptions{MaxRetries: -1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (w *world) do(t *testing.T, fn func(c *azurefake.Cloud)) {
	t.Helper()
	if err := w.cloud.Update(func(c *azurefake.Cloud) error { fn(c); return nil }); err != nil {
		t.Fatal(err)
	}
}

func entry(kind string, at time.Time, outcome string) Entry {
	return Entry{ID: NewID(kind, at), Kind: kind, Started: at, Finished: at.Add(time.Minute), By: "slotless " + kind + " (ci: octocat)",
		Stack: "dev", Slot: "blue", Version: "1.2.3", Outcome: outcome, Reason: kind + " " + outcome,
		Record: json.RawMessage(`{"kind":"slotless.release","outcome":"` + outcome + `"}`)}
}

func TestEntriesAreListedNewestFirst(t *testing.T) {
	w := newWorld(t)
	s := w.open(t, "writer")
	ctx := context.Background()
	t0 := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	release := entry(KindRelease, t0, "paused")
	release.InFlight, release.Step = true, &InFlight{Step: 1, Steps: []int{10, 50, 100}, Weight: 10, BakeStarted: t0, Bake: 10 * time.Minute, LastAnalysis: t0.Add(time.Minute), Verdict: "pass"}
	rollback := entry(KindRollback, t0.Add(time.Hour), "rolled-back")
	watch := entry(KindWatcher, t0.Add(30*time.Minute), "watched")
	for _, e := range []Entry{release, rollback, watch} {
		if err := s.Put(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	// The release writes its entry again as it goes: the last write stands.
	release.Step.Verdict = "fail"
	if err := s.Put(ctx, release); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name  string
		limit int
		want  []string
	}{
		{"all", 0, []string{rollback.ID, watch.ID, release.ID}},
		{"the newest two", 2, []string{rollback.ID, watch.ID}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.List(ctx, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, e := range got {
				ids = append(ids, e.ID)
				if e.Record != nil {
					t.Errorf("List returned %s with its record", e.ID)
				}
			}
			if strings.Join(ids, " ") != strings.Join(tt.want, " ") {
				t.Fatalf("got %v, want %v", ids, tt.want)
			}
		})
	}

	got, err := s.Get(ctx, release.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Step == nil || got.Step.Verdict != "fail" || got.Step.Bake != 10*time.Minute || !got.InFlight || string(got.Record) != string(release.Record) {
		t.Fatalf("Get: got %+v (step %+v), want the last write with its record", got, got.Step)
	}
	missing := NewID(KindRelease, t0)
	if _, err := s.Get(ctx, missing); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), missing) {
		t.Fatalf("Get of a missing id: got %v, want ErrNotFound naming it", err)
	}
	for _, bad := range []Entry{{ID: "../lease", Kind: KindRelease}, {ID: NewID("release", t0), Kind: "deploy"}} {
		if err := s.Put(ctx, bad); err == nil {
			t.Errorf("Put(%q, kind %q): got nil, want a refusal", bad.ID, bad.Kind)
		}
	}
	if _, err := s.Get(ctx, "lease"); err == nil || !strings.Contains(err.Error(), "slotless history") {
		t.Errorf("Get of a blob that is not an entry: got %v, want the id's shape refused", err)
	}
}

// TestOnlyTheWritersMayWrite: the container's data role is the release identity's and the
// watcher's; an app identity with the same role on another container, and the deploying Owner
// (no data actions), are refused with 403 AuthorizationPermissionMismatch.
func TestOnlyTheWritersMayWrite(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	for _, tt := range []struct {
		token string
		ok    bool
	}{
		{"writer", true}, {"watcher", true}, {"app", false}, {"owner", false},
	} {
		t.Run(tt.token, func(t *testing.T) {
			err := w.open(t, tt.token).Put(ctx, entry(KindRelease, time.Now(), "complete"))
			if tt.ok && err != nil {
				t.Fatalf("got %v, want the write", err)
			}
			if !tt.ok && (err == nil || !strings.Contains(err.Error(), "AuthorizationPermissionMismatch")) {
				t.Fatalf("got %v, want 403 AuthorizationPermissionMismatch", err)
			}
			_, _, herr := w.open(t, tt.token).Holder(ctx)
			if !tt.ok && herr == nil {
				t.Errorf("reading the lease as %s: got nil, want a refusal", tt.token)
			}
		})
	}
}

func TestTheLeaseHasOneHolder(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	rel, wat := w.open(t, "writer"), w.open(t, "watcher")
	if _, held, err := rel.Holder(ctx); err != nil || held {
		t.Fatalf("before any lease: held %v, %v", held, err)
	}
	releaseHolder := Holder{Kind: HolderRelease, ID: NewID(KindRelease, time.Now()), By: "slotless release (ci: octocat)"}
	l, err := rel.Acquire(ctx, releaseHolder, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	h, held, err := wat.Holder(ctx)
	if err != nil || !held || h.ID != releaseHolder.ID || h.Since.IsZero() {
		t.Fatalf("Holder: got %+v %v %v, want the release", h, held, err)
	}
	watcherHolder := Holder{Kind: HolderWatcher, ID: NewID(KindWatcher, time.Now()), By: "watcher"}
	_, err = wat.Acquire(ctx, watcherHolder, 30*time.Second)
	if got, ok := IsHeld(err); !ok || got.ID != releaseHolder.ID || !strings.Contains(err.Error(), releaseHolder.By) {
		t.Fatalf("the watcher's acquire while the release holds it: got %v, want HeldError naming the release", err)
	}
	if err := l.Renew(ctx); err != nil {
		t.Fatalf("Renew: %v", err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, held, _ := wat.Holder(ctx); held {
		t.Fatal("after Release: still held")
	}
	wl, err := wat.Acquire(ctx, watcherHolder, Infinite)
	if err != nil {
		t.Fatalf("the watcher's acquire after the release let go: %v", err)
	}
	// Time never ends an infinite lease.
	w.do(t, func(c *azurefake.Cloud) { c.ExpireLeases() })
	if h, held, _ := rel.Holder(ctx); !held || h.Kind != HolderWatcher {
		t.Fatalf("an infinite lease after time passed: got %+v %v, want the watcher", h, held)
	}
	if err := wl.Release(ctx); err != nil {
		t.Fatal(err)
	}
	for _, d := range []time.Duration{14 * time.Second, 61 * time.Second, 1500 * time.Millisecond, 0} {
		if _, err := rel.Acquire(ctx, releaseHolder, d); err == nil || !strings.Contains(err.Error(), "15s to 1m0s") {
			t.Errorf("Acquire for %s: got %v, want the allowed durations named", d, err)
		}
	}
}

// TestADeadHoldersLeaseExpires: a holder that stops renewing loses the lease when it expires;
// another takes it, and the first one's renewal fails naming the new holder. Had nobody taken
// it, the first could renew it (Azure keeps an expired lease's id until the blob is written or
// leased again).
func TestADeadHoldersLeaseExpires(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	rel, wat := w.open(t, "writer"), w.open(t, "watcher")
	l, err := rel.Acquire(ctx, Holder{Kind: HolderRelease, ID: NewID(KindRelease, time.Now()), By: "release"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	w.do(t, func(c *azurefake.Cloud) { c.ExpireLeases() })
	if err := l.Renew(ctx); err != nil {
		t.Fatalf("renewing an expired lease nobody took: %v", err)
	}
	w.do(t, func(c *azurefake.Cloud) { c.ExpireLeases() })
	if _, held, _ := wat.Holder(ctx); held {
		t.Fatal("an expired lease reads as held")
	}
	watcherHolder := Holder{Kind: HolderWatcher, ID: NewID(KindWatcher, time.Now()), By: "watcher"}
	if _, err := wat.Acquire(ctx, watcherHolder, 30*time.Second); err != nil {
		t.Fatalf("taking over an expired lease: %v", err)
	}
	if err := l.Renew(ctx); err == nil || !strings.Contains(err.Error(), watcherHolder.ID) {
		t.Fatalf("renewing a lease taken over: got %v, want the new holder named", err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatalf("releasing a lease already lost: got %v, want nil (not ours to give)", err)
	}
	if h, held, _ := rel.Holder(ctx); !held || h.ID != watcherHolder.ID {
		t.Fatalf("after the old holder's release: got %+v %v, want the watcher still holding it", h, held)
	}
}

// TestKeepRenewsUntilStopped drives Keep's ticker by hand: each tick renews; stop reports a
// lease lost meanwhile. Two ticks sent on an unbuffered channel mean the first renewal ended.
func TestKeepRenewsUntilStopped(t *testing.T) {
	for _, tt := range []struct {
		name     string
		takeOver bool
	}{
		{"kept", false},
		{"lost to another", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			ctx := context.Background()
			rel, wat := w.open(t, "writer"), w.open(t, "watcher")
			l, err := rel.Acquire(ctx, Holder{Kind: HolderRelease, ID: NewID(KindRelease, time.Now()), By: "release"}, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			ticks := make(chan time.Time)
			l.tick = func(time.Duration) (<-chan time.Time, func()) { return ticks, func() {} }
			if tt.takeOver {
				w.do(t, func(c *azurefake.Cloud) { c.ExpireLeases() })
				if _, err := wat.Acquire(ctx, Holder{Kind: HolderWatcher, ID: NewID(KindWatcher, time.Now()), By: "watcher"}, 30*time.Second); err != nil {
					t.Fatal(err)
				}
			}
			stop := l.Keep(ctx, 20*time.Second)
			ticks <- time.Now()
			ticks <- time.Now()
			err = stop()
			c, lerr := w.cloud.Load()
			if lerr != nil {
				t.Fatal(lerr)
			}
			renewals := 0
			for _, call := range c.Calls {
				if call.Op == "blob lease renew" {
					renewals++
				}
			}
			if renewals < 1 {
				t.Fatalf("got %d renewals, want at least one per tick received", renewals)
			}
			if tt.takeOver && (err == nil || !strings.Contains(err.Error(), "lost it to watcher")) {
				t.Fatalf("stop: got %v, want the lost lease reported", err)
			}
			if !tt.takeOver && err != nil {
				t.Fatalf("stop: %v", err)
			}
			if h, held, _ := rel.Holder(ctx); !tt.takeOver && (!held || h.Kind != HolderRelease) {
				t.Fatalf("after Keep: got %+v %v, want the release still holding it", h, held)
			}
		})
	}
}

func TestTheCursorMovesOnceAndForward(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	a, b := w.open(t, "watcher"), w.open(t, "watcher")
	c0, err := a.Cursor(ctx, "canary")
	if err != nil || !c0.At.IsZero() {
		t.Fatalf("a cursor never written: got %v %v, want zero", c0.At, err)
	}
	t1 := time.Date(2026, 12, 7, 3, 1, 0, 0, time.UTC)
	if err := a.AdvanceCursor(ctx, c0, t1); err != nil {
		t.Fatal(err)
	}
	// Another run that read the cursor before: its advance is refused, from nothing or from t1.
	if err := b.AdvanceCursor(ctx, c0, t1.Add(time.Minute)); !errors.Is(err, ErrCursorMoved) {
		t.Fatalf("advancing a cursor moved since it was read (first write): got %v, want ErrCursorMoved", err)
	}
	c1a, _ := a.Cursor(ctx, "canary")
	c1b, _ := b.Cursor(ctx, "canary")
	if !c1a.At.Equal(t1) {
		t.Fatalf("got %v, want %v", c1a.At, t1)
	}
	t2 := t1.Add(time.Minute)
	// What the owner saw beside the cursor is kept with it, and read back.
	c1a.Mark, c1a.Stood = "green 90% / blue 10%", t1.Add(30*time.Second)
	if err := a.AdvanceCursor(ctx, c1a, t2); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.Cursor(ctx, "canary"); got.Mark != c1a.Mark || !got.Stood.Equal(c1a.Stood) {
		t.Fatalf("the cursor's mark: got %q since %v, want %q since %v", got.Mark, got.Stood, c1a.Mark, c1a.Stood)
	}
	if err := b.AdvanceCursor(ctx, c1b, t2.Add(time.Minute)); !errors.Is(err, ErrCursorMoved) {
		t.Fatalf("advancing a cursor moved since it was read: got %v, want ErrCursorMoved", err)
	}
	c2, _ := a.Cursor(ctx, "canary")
	if err := a.AdvanceCursor(ctx, c2, t1); err == nil || !strings.Contains(err.Error(), "never goes back") {
		t.Fatalf("moving a cursor back: got %v", err)
	}
	if _, err := a.Cursor(ctx, "../lease"); err == nil {
		t.Fatal("a cursor name that is a path: got nil")
	}
	if err := a.AdvanceCursor(ctx, Cursor{}, t2); err == nil {
		t.Fatal("advancing a cursor not read from the store: got nil")
	}
}
