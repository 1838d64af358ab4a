//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slotless/slotless/e2e/azurefake"
	"github.com/slotless/slotless/internal/engine"
	"github.com/slotless/slotless/stack"
)

// deployedSub is the subscription of every deployed user.
const deployedSub = "00000000-0000-0000-0000-00000000b0b0"

// golden is one dev stack the README's deploy section brought up, deployed once for the suite:
// its project folder, file backend and cloud, which deployed copies for each test.
var golden struct {
	once                sync.Once
	dir, backend, cloud string
	// pinToken is the stack's pinToken, read once: each read decrypts it, which derives the
	// passphrase's key, and every copy holds the same.
	pinToken string
	err      error
}

// deployed is a user whose dev stack the README's deploy section has brought up. The deploy
// runs once (TestDeploy and the other deploy scenarios run it from scratch, and check it); each
// caller gets its own copy of the project folder, the backend and the cloud, so it is as if it
// had deployed alone, without paying the engine's CPU for it again on a 2-core machine.
func deployed(t testing.TB) *user {
	t.Helper()
	golden.once.Do(func() {
		base, err := os.MkdirTemp(suiteTmp, "golden-")
		if err != nil {
			golden.err = err
			return
		}
		g := &user{t: t, dir: filepath.Join(base, "project"), backend: filepath.Join(base, "backend"), sub: deployedSub,
			cloud: azurefake.Store{Path: filepath.Join(base, "cloud", "cloud.json")}}
		for _, d := range []string{g.dir, g.backend, filepath.Dir(g.cloud.Path)} {
			if golden.err = os.MkdirAll(d, 0o755); golden.err != nil {
				return
			}
		}
		fresh := newUser(t, g.cloud, deployedSub)
		if golden.err = os.CopyFS(g.dir, os.DirFS(fresh.dir)); golden.err != nil {
			return
		}
		deploy(t, g)
		golden.pinToken = strings.TrimSpace(g.sh("pulumi config get pinToken"))
		golden.dir, golden.backend, golden.cloud = g.dir, g.backend, filepath.Dir(g.cloud.Path)
	})
	if golden.err != nil || golden.dir == "" {
		t.Fatalf("the suite's deployed dev stack: %v (see the first test that deployed it)", golden.err)
	}
	u := &user{t: t, dir: t.TempDir(), backend: t.TempDir(), sub: deployedSub, cloud: newCloud(t)}
	for _, c := range []struct{ from, to string }{{golden.dir, u.dir}, {golden.backend, u.backend}, {golden.cloud, filepath.Dir(u.cloud.Path)}} {
		if err := os.CopyFS(c.to, os.DirFS(c.from)); err != nil {
			t.Fatalf("copy the deployed dev stack: %v", err)
		}
	}
	// The selected stack lives in PULUMI_HOME, keyed by the project's folder.
	u.sh("pulumi stack select dev")
	return u
}

// weights reads the pool's weights as APIM holds them.
func (u *user) weights() stack.Weights {
	u.t.Helper()
	c, err := u.cloud.Load()
	if err != nil {
		u.t.Fatal(err)
	}
	for _, r := range c.ByType("azure-native:apimanagement:Backend") {
		if r.Subscription != u.sub || r.Inputs["type"] != "Pool" {
			continue
		}
		var w stack.Weights
		pool, _ := r.Inputs["pool"].(map[string]any)
		services, _ := pool["services"].([]any)
		for _, s := range services {
			m := s.(map[string]any)
			slot, _ := stack.SlotOfBackendID(azurefakeName(m["id"].(string)))
			weight := int(m["weight"].(float64))
			if slot == stack.Blue {
				w.Blue = weight
			} else {
				w.Green = weight
			}
		}
		return w
	}
	u.t.Fatal("no pool in the cloud")
	return stack.Weights{}
}

// currentSlotName reads the current-slot-name named value as APIM holds it.
func (u *user) currentSlotName() string {
	u.t.Helper()
	c, err := u.cloud.Load()
	if err != nil {
		u.t.Fatal(err)
	}
	for _, r := range c.ByType("azure-native:apimanagement:NamedValue") {
		if r.Subscription == u.sub && strings.HasSuffix(r.Name(), stack.CurrentSlotNamedValue) {
			v, _ := r.Inputs["value"].(string)
			return v
		}
	}
	u.t.Fatal("no current-slot-name in the cloud")
	return ""
}

func azurefakeName(id string) string { return id[strings.LastIndex(id, "/")+1:] }

// changedNames lists the logical names of the resources an update changed, sorted.
func changedNames(c engine.Changes) []string {
	var names []string
	for _, s := range c.Changed() {
		names = append(names, s.Op+" "+s.Name)
	}
	slices.Sort(names)
	return names
}

// TestShiftIsTrafficOnly is the mission's shift, as a user types it: `pulumi config set
// blueWeight N && pulumi up`. Each step inside a release changes the pool and nothing else (past
// 50% too, where blue has the larger share but current-slot-name stays frozen); the
// completion and the rollback change the pool and current-slot-name; the same command twice
// changes nothing.
func TestShiftIsTrafficOnly(t *testing.T) {
	parallel(t, 40*time.Second)
	u := deployed(t)
	pool := "update " + stack.PoolID
	slotName := "update " + stack.CurrentSlotNamedValue
	for _, tc := range []struct {
		blue    int
		want    []string
		current string
	}{
		{10, []string{pool}, "green-backend"},
		{50, []string{pool}, "green-backend"},
		// Blue has the larger share now, yet current-slot-name stays frozen on the origin.
		{90, []string{pool}, "green-backend"},
		{100, []string{slotName, pool}, "blue-backend"},
		{0, []string{slotName, pool}, "green-backend"},
	} {
		line := fmt.Sprintf("pulumi config set blueWeight %d && pulumi up", tc.blue)
		t.Run(line, func(t *testing.T) {
			u.t = t
			got := changedNames(u.run(line))
			if !slices.Equal(got, tc.want) {
				t.Errorf("changed: got %v, want %v (no create, delete or replace)", got, tc.want)
			}
			if w := u.weights(); w.Blue != tc.blue || w.Green != 100-tc.blue {
				t.Errorf("pool in APIM: got %s, want blue %d", w, tc.blue)
			}
			if got := u.currentSlotName(); got != tc.current {
				t.Errorf("current-slot-name: got %q, want %q", got, tc.current)
			}
			again := u.run("pulumi up")
			if changed := changedNames(again); len(changed) != 0 {
				t.Errorf("the same up again changed %v, want nothing", changed)
			}
		})
	}
}

// TestSlotlessShiftTouchesOnlyTraffic runs the slotless binary as a release stage does. A
// shift refuses, with exit code 3 and the config left as it was, when something besides
// traffic is pending; a rollback is never refused and applies the traffic resources alone,
// leaving the pending change for a later up.
func TestSlotlessShiftTouchesOnlyTraffic(t *testing.T) {
	parallel(t, 35*time.Second)
	u := deployed(t)
	u.withWatcher()
	u.up("dev")
	// A plan key set since the last pulumi up, as a team tunes its next release: the watcher's
	// settings (the plan it judges by) change with it, and the shift applies them after the
	// traffic instead of refusing.
	u.sh("pulumi config set bakeMinutes 1")
	out := u.sh("slotless shift --stack dev --slot blue --to 10 --force")
	if !strings.Contains(out, "applied: green 90% / blue 10%") {
		t.Errorf("shift output: got\n%s\nwant it to say what it applied", out)
	}
	if w := u.weights(); w.Blue != 10 {
		t.Fatalf("pool: got %s, want blue 10", w)
	}
	settings := u.watcherSettingsInCloud()
	if plan := settings[stack.EnvWatcherConfig]; !strings.Contains(plan, `"bakeMinutes":"1"`) {
		t.Errorf("the watcher's plan after the shift: got %s, want the bakeMinutes just set", plan)
	}
	// The API requires a key (the default): the watcher's is its own subscription's, active.
	if sub := u.watcherSubscriptionInCloud(); sub.Secret == "" || settings[stack.EnvWatcherSubscriptionKey] != sub.Secret || sub.Properties["state"] != "active" {
		t.Errorf("the watcher's subscription key: setting set %v, equal to its subscription's %v, subscription state %v; want its active subscription's key",
			settings[stack.EnvWatcherSubscriptionKey] != "", settings[stack.EnvWatcherSubscriptionKey] == sub.Secret, sub.Properties["state"])
	}

	// An app change waiting mid-release can land on neither slot: the program refuses it and
	// says what to do, and the shift puts the config back.
	u.sh("pulumi config set maximumInstanceCount 200")
	out, err := u.trySh("slotless shift --stack dev --slot blue --to 50 --force")
	if err == nil || !strings.Contains(out, "a release is in progress") || !strings.Contains(out, "SLOTLESS_ALLOW_LIVE_CHANGE") {
		t.Errorf("shift with a pending app change mid-release: got %v, want the program's refusal with the way out\n%s", err, out)
	}
	if got := strings.TrimSpace(u.sh("pulumi config get blueWeight")); got != "10" {
		t.Errorf("blueWeight after the program refused: got %s, want 10 (put back)", got)
	}

	// A change that is not traffic, and not the apps', is waiting, e.g. from a merged pull
	// request.
	u.sh("pulumi config rm maximumInstanceCount && pulumi config set apiDisplayName Orders")
	out, err = u.trySh("slotless shift --stack dev --slot blue --to 50 --force")
	if code := exitCode(err); code != 3 {
		t.Fatalf("shift with a pending API change: exit %d, want 3 (refused)\n%s", code, out)
	}
	for _, want := range []string{"api", "--allow-other-changes"} {
		if !strings.Contains(out, want) {
			t.Errorf("refusal: got\n%s\nwant it to name %s", out, want)
		}
	}
	if got := strings.TrimSpace(u.sh("pulumi config get blueWeight")); got != "10" {
		t.Errorf("blueWeight after a refused shift: got %s, want 10 (put back)", got)
	}
	if w := u.weights(); w.Blue != 10 {
		t.Errorf("pool after a refused shift: got %s, want blue 10", w)
	}

	out = u.sh("slotless rollback --stack dev --slot blue")
	if !strings.Contains(out, "a rollback applies the traffic resources alone") {
		t.Errorf("rollback output: got\n%s\nwant it to say it left the other changes", out)
	}
	if w := u.weights(); w.Blue != 0 {
		t.Errorf("pool after rollback: got %s, want blue 0", w)
	}
	if got := apiDisplayName(t, u); got != "slotless" {
		t.Errorf("API display name after rollback: got %q, want slotless (the pending change left alone)", got)
	}
	// The pending change is still there for a normal up.
	if names := changedNames(u.up("dev")); !slices.Contains(names, "update api") {
		t.Errorf("up after the rollback changed %v, want the pending app change", names)
	}
}

// TestRollbackFromEveryStage: a release that reached GA, or stopped anywhere before it, rolls
// back with `slotless rollback`, with the default maxStep and no health gate.
func TestRollbackFromEveryStage(t *testing.T) {
	parallel(t, 50*time.Second)
	u := deployed(t)
	for _, blue := range []int{1, 51, 100} {
		t.Run(fmt.Sprintf("from blue %d", blue), func(t *testing.T) {
			u.t = t
			u.run(fmt.Sprintf("pulumi config set blueWeight %d && pulumi up", blue))
			out, err := u.trySh("slotless rollback --stack dev --slot blue")
			if err != nil {
				t.Fatalf("rollback from blue %d: %v\n%s", blue, err, out)
			}
			if w := u.weights(); w.Blue != 0 {
				t.Errorf("pool: got %s, want blue 0", w)
			}
			if got := u.currentSlotName(); got != "green-backend" {
				t.Errorf("current-slot-name: got %q, want green-backend", got)
			}
		})
	}
}

// TestSlotHostDown: a slot whose Functions host does not start must not block the traffic
// change that takes its traffic away, nor any other shift.
func TestSlotHostDown(t *testing.T) {
	parallel(t, 35*time.Second)
	u := deployed(t)
	outs, err := u.stack("dev").PlainOutputs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	blueApp := outs[stack.OutAppName(stack.Blue)].(string)
	if err := u.cloud.Update(func(c *azurefake.Cloud) error { c.HostsDown = append(c.HostsDown, blueApp); return nil }); err != nil {
		t.Fatal(err)
	}
	u.sh("slotless shift --stack dev --slot blue --to 10 --force")
	u.run("pulumi config set blueWeight 50 && pulumi up")
	if out, err := u.trySh("slotless rollback --stack dev --slot blue"); err != nil {
		t.Fatalf("rollback with blue's host down: %v\n%s", err, out)
	}
	if w := u.weights(); w.Blue != 0 {
		t.Errorf("pool: got %s, want blue 0", w)
	}
	for _, c := range u.calls() {
		if c.Token == "azure-native:web:listWebAppHostKeys" && c.Error != "" {
			t.Errorf("a traffic change asked a host for its keys: %s: %s", c.Target, c.Error)
		}
	}
}

// TestStatus reads where a release stands from the deployed stack, mid-release and after GA,
// whatever the local stack file says.
func TestStatus(t *testing.T) {
	parallel(t, 15*time.Second)
	u := deployed(t)
	type status struct {
		Weights struct {
			Green, Blue int
		} `json:"weights"`
		LiveSlot          string `json:"liveSlot"`
		IdleSlot          string `json:"idleSlot"`
		ReleaseInProgress bool   `json:"releaseInProgress"`
		CurrentSlotName   string `json:"currentSlotName"`
		Origin            string `json:"origin"`
		ReleaseSlot       string `json:"releaseSlot"`
	}
	read := func() status {
		var s status
		out := u.sh("slotless status --stack dev --json")
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatalf("status --json: %v\n%s", err, out)
		}
		return s
	}
	u.run("pulumi config set blueWeight 50 && pulumi up")
	u.sh("pulumi config set blueWeight 0") // a stale local file
	mid := read()
	if mid.Weights.Blue != 50 || !mid.ReleaseInProgress || mid.IdleSlot != "" || mid.CurrentSlotName != "green-backend" || mid.Origin != "green" || mid.ReleaseSlot != "blue" {
		t.Errorf("mid-release: got %+v, want blue 50 in progress from green (current-slot-name green-backend), no idle slot", mid)
	}
	u.run("pulumi config set blueWeight 100 && pulumi up")
	ga := read()
	if ga.Weights.Blue != 100 || ga.ReleaseInProgress || ga.LiveSlot != "blue" || ga.IdleSlot != "green" || ga.CurrentSlotName != "blue-backend" {
		t.Errorf("after GA: got %+v, want blue live with all traffic, green idle, current-slot-name blue-backend", ga)
	}
}

func apiDisplayName(t *testing.T, u *user) string {
	t.Helper()
	c, err := u.cloud.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range c.ByType("azure-native:apimanagement:Api") {
		if r.Subscription == u.sub {
			name, _ := r.Inputs["displayName"].(string)
			return name
		}
	}
	t.Fatal("no API in the cloud")
	return ""
}

// TestConcurrentUpdate: while another update holds the stack (a Pulumi Deployments run on a
// commit, say), a shift waits for it up to --wait, then fails and says to run it again, with the
// config put back; a
// rollback waits it out, within its bound, and applies. The other update is held open by
// construction: the stand-in holds its app update until the test lets go, so how long an
// update takes on this machine plays no part.
func TestConcurrentUpdate(t *testing.T) {
	parallel(t, 75*time.Second)
	u := deployed(t)
	u.run("pulumi config set blueWeight 10 && pulumi up")
	u.hold("azure-native:apimanagement:Api")
	u.sh("pulumi config set apiDisplayName Orders")
	done := make(chan error, 1)
	go func() {
		_, out, err := u.tryUp("dev")
		if err != nil {
			err = fmt.Errorf("%w\n%s", err, out)
		}
		done <- err
	}()
	u.waitHeld()

	// The other update is held until the test lets go, so the shift fails whatever its speed;
	// 45 s leaves room for at least one try after its first (5 s apart) on a slow machine.
	out, err := u.trySh("slotless shift --stack dev --slot blue --to 50 --force --allow-other-changes --wait 45s")
	if err == nil || !strings.Contains(out, "run the shift again") || !strings.Contains(out, "did not let go within 45s") || !strings.Contains(out, "waiting for it") {
		t.Errorf("shift during another update: got %v\n%s\nwant it to wait its 45 s, then fail and say to run it again", err, out)
	}
	if got := strings.TrimSpace(u.sh("pulumi config get blueWeight")); got != "10" {
		t.Errorf("blueWeight after the refused shift: got %s, want 10", got)
	}

	// The rollback tries while the other update still holds the stack, and only then is the
	// other update let go.
	cmd, rb := u.start("slotless rollback --stack dev --slot blue --retry-interval 1s --retries 600")
	u.waitFor(rb, "another update holds the stack; rollback attempt 1")
	u.release()
	if err := cmd.Wait(); err != nil {
		t.Errorf("rollback: %v\n%s", err, rb.String())
	}
	if err := <-done; err != nil {
		t.Errorf("the other update: %v", err)
	}
	if w := u.weights(); w.Blue != 0 {
		t.Errorf("pool: got %s, want blue 0", w)
	}
}

// hold makes the stand-in hold every create and update of resources of a type open until
// release is called.
func (u *user) hold(token string) {
	u.t.Helper()
	if err := u.cloud.Update(func(c *azurefake.Cloud) error { c.Hold, c.Held = token, false; return nil }); err != nil {
		u.t.Fatal(err)
	}
}

// waitHeld waits until an operation is held, so the update it belongs to holds the stack.
func (u *user) waitHeld() {
	u.t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		if c, err := u.cloud.Load(); err == nil && c.Held {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	u.t.Fatal("no operation was held")
}

// waitHolderGone waits until the provider process whose operation is held has exited. A killed
// update's provider exits when it notices its engine is gone, on its next poll; letting go
// before then would let the held write land after the test moved on.
func (u *user) waitHolderGone() {
	u.t.Helper()
	c, err := u.cloud.Load()
	if err != nil {
		u.t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for running(c.HeldBy) {
		if time.Now().After(deadline) {
			u.t.Fatalf("the held operation's provider (pid %d) is still running", c.HeldBy)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// running says whether a process exists and has not exited (a zombie has: it waits only to be
// reaped, and nobody may reap it here).
func running(pid int) bool {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(raw, ')')
	return i < 0 || i+2 >= len(raw) || (raw[i+2] != 'Z' && raw[i+2] != 'X')
}

// release lets held operations go on.
func (u *user) release() {
	u.t.Helper()
	if err := u.cloud.Update(func(c *azurefake.Cloud) error { c.Hold = ""; return nil }); err != nil {
		u.t.Fatal(err)
	}
}

// waitFor waits until a running command has printed want.
func (u *user) waitFor(out *lockedBuffer, want string) {
	u.t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		if strings.Contains(out.String(), want) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	u.t.Fatalf("never printed %q:\n%s", want, out.String())
}

// watcherSettingsInCloud reads the watcher app's settings as ARM holds them, by name.
func (u *user) watcherSettingsInCloud() map[string]string {
	u.t.Helper()
	c, err := u.cloud.Load()
	if err != nil {
		u.t.Fatal(err)
	}
	name, _ := u.outputs("dev")[stack.OutWatcherAppName].(string)
	for _, app := range c.ByType("azure-native:web:WebApp") {
		if app.Name() != name {
			continue
		}
		return appSettingsOf(app)
	}
	u.t.Fatalf("no watcher app %q in the cloud", name)
	return nil
}

// watcherSubscriptionInCloud is the watcher's API Management subscription as the cloud holds it.
func (u *user) watcherSubscriptionInCloud() *azurefake.Resource {
	u.t.Helper()
	c, err := u.cloud.Load()
	if err != nil {
		u.t.Fatal(err)
	}
	subs := c.ByType("azure-native:apimanagement:Subscription")
	if len(subs) != 1 {
		u.t.Fatalf("got %d API Management subscriptions in the cloud, want the watcher's", len(subs))
	}
	return subs[0]
}
