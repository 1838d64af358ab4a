//go:build e2e

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi-azure-native-sdk/resources/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/slotless/slotless/internal/engine"
	"github.com/slotless/slotless/stack"
)

// TestRollbackSurvivesVersionSkew: the stack was deployed by a newer slotless, with a resource
// and an output this binary does not declare and a config key it does not know; the rollback
// with this binary applies the traffic resources alone and leaves the newer parts as they are.
// When the stack file holds a value this binary does not allow at all, the Pulumi path fails
// on it and the rollback still reaches 0% through ARM.
func TestRollbackSurvivesVersionSkew(t *testing.T) {
	parallel(t, 35*time.Second)
	u := deployed(t)
	u.withARM()
	// The newer slotless's program, run by a plain pulumi up, or by its own shift.
	newerBy := func(by string) pulumi.RunFunc {
		return func(ctx *pulumi.Context) error {
			if err := stack.ProgramIn(u.dir, stack.Mover{By: by})(ctx); err != nil {
				return err
			}
			return newerParts(ctx)
		}
	}
	newer := newerBy(stack.ByPulumiUp)
	u.sh("pulumi config set newerKey on && pulumi config set blueWeight 10")
	s, err := engine.Open(context.Background(), engine.Options{Dir: u.dir, Stack: "dev", Env: u.env(), PulumiRoot: pulumiRoot, Program: newer})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Up(context.Background(), testWriter{t}); err != nil {
		t.Fatalf("the newer program's up: %v", err)
	}

	out := u.sh("slotless rollback --stack dev --slot blue")
	t.Log(out)
	if w := u.weights(); w.Blue != 0 {
		t.Fatalf("after the rollback: got %s, want blue 0", w)
	}
	if strings.Contains(out, "written through ARM") {
		t.Errorf("an unknown key sent the rollback round Pulumi:\n%s", out)
	}
	c, err := u.cloud.Load()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Get("/subscriptions/" + u.sub + "/resourceGroups/slotless-dev-newer-rg"); !ok {
		t.Error("the rollback deleted the resource only the newer program declares")
	}

	// A value a newer slotless allows and this one does not, set as that slotless's shift
	// would set traffic (a plain up back to the weight the rollback superseded is refused by
	// the traffic guard).
	u.sh("pulumi config set blueWeight 10")
	shift, err := engine.Open(context.Background(), engine.Options{Dir: u.dir, Stack: "dev", Env: u.env(), PulumiRoot: pulumiRoot, Program: newerBy("slotless shift")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := shift.Up(context.Background(), testWriter{t}); err != nil {
		t.Fatalf("the newer slotless's shift: %v", err)
	}
	u.sh("pulumi config set instanceMemoryMB 8192")
	rb, err := u.trySh("slotless rollback --stack dev --slot blue")
	t.Log(rb)
	if code := exitCode(err); code != 6 {
		t.Errorf("exit: got %d, want 6 (through ARM)", code)
	}
	if w := u.weights(); w.Blue != 0 {
		t.Errorf("after the rollback: got %s, want blue 0", w)
	}
	if !strings.Contains(rb, "does not validate with this slotless") {
		t.Errorf("the rollback did not say the config does not validate")
	}
}

// newerParts are what only a newer slotless declares: a resource and an output.
func newerParts(ctx *pulumi.Context) error {
	if _, err := resources.NewResourceGroup(ctx, "newer-rg", &resources.ResourceGroupArgs{
		ResourceGroupName: pulumi.String("slotless-dev-newer-rg"), Location: pulumi.String("westeurope"),
	}); err != nil {
		return err
	}
	ctx.Export("newerOutput", pulumi.String("only a newer slotless declares this"))
	return nil
}
