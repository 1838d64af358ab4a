//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slotless/slotless/internal/pool"
	"github.com/slotless/slotless/internal/release"
	"github.com/slotless/slotless/stack"
)

// The rollback scenarios: a rollback reaches 0% whatever Pulumi state says and whatever holds
// the stack. Each reads the pool as APIM holds it through the stand-in's ARM facade.

// poolDescription reads the pool's description as APIM holds it.
func (u *user) poolDescription() string {
	u.t.Helper()
	c, err := u.cloud.Load()
	if err != nil {
		u.t.Fatal(err)
	}
	for _, r := range c.ByType("azure-native:apimanagement:Backend") {
		if r.Subscription == u.sub && r.Inputs["type"] == "Pool" {
			d, _ := r.Properties["description"].(string)
			return d
		}
	}
	u.t.Fatal("no pool in the cloud")
	return ""
}

// TestRollbackOfAPortalEdit: state and the stack file say blue 0, but during an incident
// someone gave blue 10% in the portal. The rollback sees the live pool, refreshes, and writes
// 0; it never answers "nothing to do".
func TestRollbackOfAPortalEdit(t *testing.T) {
	parallel(t, 20*time.Second)
	u := deployed(t)
	u.withARM()
	u.portalEdit(stack.Weights{Green: 90, Blue: 10})
	if w := u.weights(); w.Blue != 10 {
		t.Fatalf("after the portal edit: got %s, want blue 10", w)
	}
	if st := u.sh("slotless status --stack dev"); !strings.Contains(st, "live pool: green 90% / blue 10%") || !strings.Contains(st, "differs from Pulumi state") {
		t.Errorf("status after the portal edit: got\n%s\nwant the live pool and a warning that it differs from state", st)
	}
	start := time.Now()
	out := u.sh("slotless rollback --stack dev --slot blue")
	took := time.Since(start)
	t.Log(out)
	if w := u.weights(); w.Blue != 0 {
		t.Fatalf("after the rollback: got %s, want blue 0", w)
	}
	for _, want := range []string{"live pool: green 90% / blue 10%", "differs from Pulumi state", "pulumi refresh, traffic resources only"} {
		if !strings.Contains(out, want) {
			t.Errorf("rollback output has no %q", want)
		}
	}
	if strings.Contains(out, "nothing to do") || strings.Contains(out, "written through ARM") {
		t.Errorf("the rollback said nothing to do or left Pulumi:\n%s", out)
	}
	t.Logf("MEASURED normal rollback (portal edit, refresh included): command %s", took.Round(100*time.Millisecond))
}

// TestBreakGlassRollbackOfALockedStack: a shift is killed (kill -9) while its update holds
// the stack, as a cancelled CI job's is, leaving the lock behind. The rollback tries Pulumi
// with its default retries, then writes the pool through ARM: exit 6, blue at 0%, the stack
// file records it. Once the dead lock is cleared, a pulumi up converges state and moves no
// traffic.
func TestBreakGlassRollbackOfALockedStack(t *testing.T) {
	parallel(t, 35*time.Second)
	u := deployed(t)
	u.withARM()
	u.run("pulumi config set blueWeight 10 && pulumi up")

	u.hold("azure-native:apimanagement:Backend")
	cmd, out := u.start("slotless shift --stack dev --slot blue --to 50 --force")
	u.waitHeld()
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	u.waitHolderGone()
	u.release()
	locks := u.locks()
	if len(locks) == 0 {
		t.Fatalf("the killed update left no lock:\n%s", out.String())
	}
	if w := u.weights(); w.Blue != 10 {
		t.Fatalf("before the rollback: got %s, want blue 10 (the killed shift never applied)", w)
	}

	start := time.Now()
	zero := make(chan time.Time, 1)
	go func() {
		at, _ := u.untilBlueIs(0, 5*time.Minute)
		zero <- at
	}()
	rb, err := u.trySh("slotless rollback --stack dev --slot blue")
	t.Log(rb)
	if code := exitCode(err); code != 6 {
		t.Fatalf("exit: got %d, want 6 (break-glass)", code)
	}
	at := <-zero
	if at.IsZero() {
		t.Fatal("blue never reached 0")
	}
	t.Logf("MEASURED break-glass rollback with the stack locked: %s to 0%% (default: %d attempts %s apart first)", at.Sub(start).Round(100*time.Millisecond), release.DefaultRollbackAttempts, release.DefaultRollbackInterval)
	for _, want := range []string{"rollback attempt 1 of 2", "break-glass: the Pulumi update cannot go through", "ARM: PATCH pool", "pulumi cancel"} {
		if !strings.Contains(rb, want) {
			t.Errorf("rollback output has no %q", want)
		}
	}
	if got := u.currentSlotName(); got != "green-backend" {
		t.Errorf("current-slot-name: got %q, want green-backend", got)
	}
	if rec, ok := stack.ParsePoolRecord(u.poolDescription()); !ok || rec.By != pool.BreakGlassBy || rec.Weights.Blue != 0 || !slices.Contains(rec.Superseded, 10) {
		t.Errorf("pool description: got %q, want the record of the break-glass write superseding blue 10", u.poolDescription())
	}
	if got := strings.TrimSpace(u.sh("pulumi config get blueWeight")); got != "0" {
		t.Errorf("stack file: got blueWeight %s, want 0", got)
	}

	// The lock's holder is dead: clear it as the message says, then converge.
	for _, l := range locks {
		if err := os.Remove(l); err != nil {
			t.Fatal(err)
		}
	}
	before := len(u.calls())
	ch := u.up("dev")
	if w := u.weights(); w.Blue != 0 {
		t.Errorf("after the converging up: got %s, want blue still 0", w)
	}
	for _, c := range u.calls()[before:] {
		if c.Op != "invoke" && !strings.Contains(c.Target, "/backends/"+stack.PoolID) && !strings.Contains(c.Target, "/namedValues/") {
			t.Errorf("the converging up changed %s %s, want the pool alone", c.Op, c.Target)
		}
	}
	// The record keeps its history: the weights were last moved by the break-glass write.
	if rec, ok := stack.ParsePoolRecord(u.poolDescription()); !ok || rec.By != pool.BreakGlassBy || rec.Weights.Blue != 0 {
		t.Errorf("after the converging up: got pool description %q, want the break-glass record kept", u.poolDescription())
	}
	t.Logf("converging up: %s", ch)
	if again := u.up("dev"); len(again.Changed()) != 0 {
		t.Errorf("a second up changed %v, want nothing", changedNames(again))
	}
}

// locks lists the lock files of the user's file backend.
func (u *user) locks() []string {
	var out []string
	_ = filepath.Walk(filepath.Join(u.backend, ".pulumi", "locks"), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && strings.HasSuffix(p, ".json") {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// TestBreakGlassRollbackWithTheBackendDown: the Pulumi backend cannot be reached at all, so
// neither state nor outputs can be read. The rollback finds the pool from the config alone
// (the resource group the program derives, the service by its tags, the subscription az login
// selected) and writes it through ARM: exit 6, blue at 0%.
func TestBreakGlassRollbackWithTheBackendDown(t *testing.T) {
	parallel(t, 10*time.Second)
	u := deployed(t)
	u.withARM()
	u.run("pulumi config set blueWeight 10 && pulumi up")

	// A backend whose path cannot exist: every pulumi command fails to reach it.
	blocker := filepath.Join(t.TempDir(), "not-a-directory")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	rb, err := u.trySh("PULUMI_BACKEND_URL=file://" + blocker + "/backend slotless rollback --stack dev --slot blue")
	took := time.Since(start)
	t.Log(rb)
	if code := exitCode(err); code != 6 {
		t.Fatalf("exit: got %d, want 6 (break-glass)", code)
	}
	if w := u.weights(); w.Blue != 0 {
		t.Fatalf("after the rollback: got %s, want blue 0", w)
	}
	if !strings.Contains(rb, "the stack cannot be opened") || !strings.Contains(rb, "written through ARM") {
		t.Errorf("rollback output does not say the stack could not be opened and the pool was written directly")
	}
	t.Logf("MEASURED break-glass rollback with the backend down: command %s", took.Round(100*time.Millisecond))
	c, err := u.cloud.Load()
	if err != nil {
		t.Fatal(err)
	}
	var armWrites int
	for _, call := range c.Calls {
		if strings.HasPrefix(call.Op, "arm ") && call.Error == "" {
			armWrites++
		}
	}
	if armWrites == 0 {
		t.Error("no write went through the ARM facade")
	}
}
