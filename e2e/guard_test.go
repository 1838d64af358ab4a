//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"

	"github.com/slotless/slotless/stack"
)

// TestStaleUpdateIsRefused: slotless moved traffic to 10% then 50% in one checkout; another
// checkout's stack file still says 10. Its pulumi up (a laptop's, Pulumi Deployments' update, a
// remediate-drift run's up --refresh, the infra pipeline's: all run this program) and its
// preview are refused by the program's traffic guard, saying what moved traffic and when, and
// the two ways out. slotless record catches the file up; from then the user's literal
// commands work as written, and a portal edit is not undone by one.
func TestStaleUpdateIsRefused(t *testing.T) {
	parallel(t, 35*time.Second)
	u := deployed(t)
	u.withARM()
	u.sh("slotless shift --stack dev --slot blue --to 10 --force")
	u.sh("slotless shift --stack dev --slot blue --to 50 --force")

	// The stale checkout: its stack file saw the first shift, not the second. (One that says 0
	// sends everything back to where the move began, which is a rollback and never refused.)
	u.sh("pulumi config set blueWeight 10")
	wantRefusal := []string{"traffic guard", "back to green 90% / blue 10%", "slotless shift moved it to green 50% / blue 50% at 20", "slotless record --stack dev"}
	for name, up := range map[string]func() (string, error){
		"pulumi up": func() (string, error) { _, out, err := u.tryUp("dev"); return out, err },
		"pulumi up --refresh (remediate-drift)": func() (string, error) {
			var b bytes.Buffer
			_, err := u.stack("dev").Up(context.Background(), io.MultiWriter(&b, testWriter{t}), optup.Refresh())
			return b.String(), err
		},
		"pulumi preview (a pull request's plan)": func() (string, error) {
			var b bytes.Buffer
			_, err := u.stack("dev").Preview(context.Background(), io.MultiWriter(&b, testWriter{t}))
			return b.String(), err
		},
	} {
		out, err := up()
		if err == nil {
			t.Errorf("%s from the stale checkout: got no error, want the traffic guard's refusal", name)
			continue
		}
		for _, want := range wantRefusal {
			if !strings.Contains(out+err.Error(), want) {
				t.Errorf("%s: the refusal does not say %q:\n%v", name, want, err)
			}
		}
		if w := u.weights(); w.Blue != 50 {
			t.Fatalf("after the refused %s: got %s, want blue still 50", name, w)
		}
	}

	out := u.sh("slotless record --stack dev")
	if !strings.Contains(out, "recorded green 50% / blue 50%") || !strings.Contains(out, "the live pool") {
		t.Errorf("slotless record: got %q, want the live pool's weights recorded", out)
	}
	if ch := u.up("dev"); len(ch.Changed()) != 0 {
		t.Errorf("the up after slotless record changed %v, want nothing", changedNames(ch))
	}

	// A weight no slotless move superseded is the user's choice: the literal command works.
	u.run("pulumi config set blueWeight 90 && pulumi up")
	if w := u.weights(); w.Blue != 90 {
		t.Fatalf("after the literal shift to 90: got %s", w)
	}
	// Traffic last set from the stack file: any weight, 0 included.
	u.run("pulumi config set blueWeight 0 && pulumi up")
	if w := u.weights(); w.Blue != 0 {
		t.Fatalf("after the literal rollback to 0: got %s", w)
	}

	// Someone gives blue 20% in the portal during an incident; the next plain up would undo it.
	u.portalEdit(stack.Weights{Green: 80, Blue: 20})
	u.sh("pulumi config set blueWeight 30")
	if _, out, err := u.tryUp("dev"); err == nil || !strings.Contains(out+err.Error(), "changed outside Pulumi and slotless") {
		t.Errorf("a plain up over a portal edit: got %v, want it refused", err)
	}
	if w := u.weights(); w.Blue != 20 {
		t.Errorf("after the refused up: got %s, want the portal's blue 20 kept", w)
	}
	// slotless moves it on its own guard rails.
	u.sh("slotless rollback --stack dev --slot blue")
	if w := u.weights(); w.Blue != 0 {
		t.Errorf("after the rollback: got %s, want blue 0", w)
	}
}

// TestReleaseStopsWhenTrafficMovesBehindIt: during the bake at 10%, someone puts the pool back
// to 0% in the portal. The release reads the live pool at its next analysis, stops there with
// exit 1 and says so, and never reports the release complete.
func TestReleaseStopsWhenTrafficMovesBehindIt(t *testing.T) {
	parallel(t, 30*time.Second)
	// The release stops at the analysis after the edit; the bake is long enough that it never
	// ends first.
	u, svc := releaseUser(t, "analysisIntervalSeconds 10", `releaseSteps [{"weight": 10, "bake": "60s"}, 50, 100]`)
	record := t.TempDir() + "/release.json"
	cmd, out := u.start(svc.release("--until 50", record))
	// In the bake, after the first analysis read the pool at 10%.
	u.waitFor(out, "analysis 1/6 at 10%: pass")
	u.portalEdit(stack.Weights{Green: 100})
	err := cmd.Wait()
	t.Log(out.String())
	if code := exitCode(err); code != 1 {
		t.Errorf("exit: got %d, want 1", code)
	}
	for _, want := range []string{"traffic moved behind the release's back", "the live pool now gives it 0%"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output has no %q", want)
		}
	}
	if strings.Contains(out.String(), "release complete") || strings.Contains(out.String(), "stopped at 50%") {
		t.Error("the release reported a step it no longer holds")
	}
	if w := u.weights(); w.Blue != 0 {
		t.Errorf("pool: got %s, want the portal's blue 0 left alone", w)
	}
}

// TestReleaseShiftDuringASlowInfraUp: an infrastructure update from a checkout whose stack file
// says blue 0 is running, held open in its app update (a slow site update), when the release
// reaches its first shift. The shift waits for the stack instead of failing; the infra update,
// whose traffic guard read the pool before the shift, changes the apps and not the pool; the
// release then shifts and stops at 10% with the pool at 10%, as it checks at the end.
func TestReleaseShiftDuringASlowInfraUp(t *testing.T) {
	parallel(t, 40*time.Second)
	u, svc := releaseUser(t, "bakeMinutes 0")
	// The infrastructure pipeline's checkout: the same stack, its own copy of the files.
	other := *u
	other.dir = t.TempDir()
	for _, f := range []string{"Pulumi.yaml", "Pulumi.dev.yaml"} {
		raw, err := os.ReadFile(filepath.Join(u.dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(other.dir, f), raw, 0o644); err != nil {
			t.Fatal(err)
		}
		if f == "Pulumi.dev.yaml" {
			copyAPISpec(t, raw, other.dir)
		}
	}
	other.sh("pulumi config set maximumInstanceCount 200 --stack dev")
	u.hold("azure-native:web:WebApp")
	infra := make(chan error, 1)
	go func() {
		_, out, err := other.tryUp("dev")
		if err != nil {
			err = fmt.Errorf("%w\n%s", err, out)
		}
		infra <- err
	}()
	u.waitHeld()

	record := t.TempDir() + "/release.json"
	cmd, out := u.start(svc.release("--until 10", record))
	u.waitFor(out, "another update holds the stack; waiting for it")
	u.release()
	if err := <-infra; err != nil {
		t.Fatalf("the infra update: %v", err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("release: %v\n%s", err, out.String())
	}
	if w := u.weights(); w.Blue != 10 {
		t.Errorf("pool: got %s, want blue 10", w)
	}
	if !strings.Contains(out.String(), "stopped at 10% as asked") {
		t.Errorf("release output does not say it stopped at 10%%:\n%s", out.String())
	}
}
