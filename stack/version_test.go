package stack_test

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/slotless/slotless/internal/plan"
	"github.com/slotless/slotless/stack"
)

// TestVersionGuard: the whole program under the mock engine, with the stack last changed by
// slotless v1.3.0. A plain update by v1.2.0 is refused before anything is registered, unless it
// only sends traffic back to where the release in progress started; slotless's own commands are
// left to their own check; a stack never deployed, or deployed by an older version, goes through.
func TestVersionGuard(t *testing.T) {
	inRelease := map[string]any{stack.OutSlotlessVersion: "v1.3.0", stack.OutBlueWeight: 10.0, stack.OutCurrentSlotName: "green-backend"}
	tests := []struct {
		name    string
		last    map[string]any
		mover   stack.Mover
		blue    string
		wantErr string
	}{
		{"older plain update", inRelease, stack.Mover{By: stack.ByPulumiUp, Version: "v1.2.0"}, "10",
			"the stack was last changed by slotless v1.3.0 (its output slotlessVersion), and this is slotless v1.2.0"},
		{"older plain update moving on", inRelease, stack.Mover{By: stack.ByPulumiUp, Version: "v1.2.0"}, "50", "install slotless v1.3.0"},
		{"older plain rollback", inRelease, stack.Mover{By: stack.ByPulumiUp, Version: "v1.2.0"}, "0", ""},
		{"older slotless command", inRelease, stack.Mover{By: "slotless shift", Version: "v1.2.0"}, "50", ""},
		{"same version", inRelease, stack.Mover{By: stack.ByPulumiUp, Version: "v1.3.0"}, "50", ""},
		{"newer version", inRelease, stack.Mover{By: stack.ByPulumiUp, Version: "v1.4.0"}, "50", ""},
		{"never deployed", nil, stack.Mover{By: stack.ByPulumiUp, Version: "v1.2.0"}, "0", ""},
		{"deployed before versions were recorded", map[string]any{stack.OutBlueWeight: 0.0}, stack.Mover{By: stack.ByPulumiUp, Version: "v1.2.0"}, "0", ""},
		{"development build", inRelease, stack.Mover{By: stack.ByPulumiUp, Version: "(devel) abc123"}, "50", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &plan.Mocks{LastOutputs: tt.last}
			cfg := config(t, map[string]string{"blueWeight": tt.blue})
			err := pulumi.RunErr(stack.ProgramBy(tt.mover), pulumi.WithMocks("slotless", "test", m), func(info *pulumi.RunInfo) {
				info.Config = cfg.Values
				info.ConfigSecretKeys = cfg.Secrets
			})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("got %v, want the update to go through", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want a refusal containing %q", err, tt.wantErr)
			}
			if len(m.Recorded) > 0 {
				t.Errorf("refused, but %d resources were registered first (%s ...)", len(m.Recorded), m.Recorded[0].Name)
			}
		})
	}
}

func TestRollbackTo(t *testing.T) {
	tests := []struct {
		name string
		outs map[string]any
		to   stack.Weights
		want stack.Slot
	}{
		{"back to green", map[string]any{stack.OutBlueWeight: 50.0, stack.OutCurrentSlotName: "green-backend"}, stack.Weights{Green: 100}, stack.Green},
		{"back to blue", map[string]any{stack.OutBlueWeight: 50.0, stack.OutCurrentSlotName: "blue-backend"}, stack.Weights{Blue: 100}, stack.Blue},
		{"GA is no rollback", map[string]any{stack.OutBlueWeight: 50.0, stack.OutCurrentSlotName: "green-backend"}, stack.Weights{Blue: 100}, ""},
		{"a smaller step is no rollback", map[string]any{stack.OutBlueWeight: 50.0, stack.OutCurrentSlotName: "green-backend"}, stack.Weights{Green: 90, Blue: 10}, ""},
		{"no release in progress", map[string]any{stack.OutBlueWeight: 0.0, stack.OutCurrentSlotName: "green-backend"}, stack.Weights{Green: 100}, ""},
		{"no current slot name", map[string]any{stack.OutBlueWeight: 50.0}, stack.Weights{Green: 100}, ""},
	}
	for _, tt := range tests {
		got, ok := stack.RollbackTo(tt.outs, tt.to)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("%s: got %q %v, want %q", tt.name, got, ok, tt.want)
		}
	}
}
