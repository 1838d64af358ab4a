package stack

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/slotless/slotless/internal/pin"
)

// OutSlotlessVersion is the output recording the slotless version that last changed the stack.
const OutSlotlessVersion = "slotlessVersion"

// readStackOutputs is the engine's built-in function that reads a stack's outputs from the
// backend (pkg/resource/deploy/builtins.go in pulumi/pulumi; StackReference reads through it).
// Asked for this very stack at the start of an update, it answers with the outputs of the last
// update, since the root resource's outputs are only replaced when the program ends.
const readStackOutputs = "pulumi:pulumi:readStackOutputs"

type readStackOutputsArgs struct {
	Name string `pulumi:"name"`
}

type readStackOutputsResult struct {
	Outputs map[string]any `pulumi:"outputs"`
}

// lastOutputs reads the outputs of the stack's last update, before any resource is registered;
// a stack never deployed has none. The name is the stack's full name in its backend.
func lastOutputs(ctx *pulumi.Context) (map[string]any, error) {
	name := ctx.Project() + "/" + ctx.Stack()
	if org := ctx.Organization(); org != "" {
		name = org + "/" + name
	}
	var res readStackOutputsResult
	// The raw invoke: the outputs hold secrets (settingsHashes), which the program reads back
	// and never exports in plain text; the plain one refuses a secret result.
	if _, err := ctx.InvokePackageRaw(readStackOutputs, &readStackOutputsArgs{Name: name}, &res, ""); err != nil {
		return nil, fmt.Errorf("read the outputs of stack %s: %w", name, err)
	}
	return res.Outputs, nil
}

// versionGuard keeps a plain update from an older slotless off a stack a newer one changed
// (see package pin), before anything is registered. It returns the version the stack records
// after this run. A plain update that only sends every share back to the slot the release in
// progress started from is a rollback, and goes through under skew with a warning: version
// skew never keeps traffic on a failing slot. slotless's own commands check the deployed
// version themselves, with the same rules and the same exception, before they run the program.
func versionGuard(ctx *pulumi.Context, m Mover, w Weights, last map[string]any) (string, error) {
	recorded, _ := last[OutSlotlessVersion].(string)
	if !m.PlainUpdate() {
		return pin.Record(m.Version, recorded), nil
	}
	warnings, err := pin.Check(m.Version, "", recorded)
	if err != nil {
		origin, ok := RollbackTo(last, w)
		if !ok {
			return "", err
		}
		warnings = append(warnings, fmt.Sprintf("%v; this update goes through because it only sends traffic back to %s, where the release in progress started", err, origin))
	}
	for _, msg := range warnings {
		_ = ctx.Log.Warn(msg, nil)
	}
	return pin.Record(m.Version, recorded), nil
}

// RollbackTo reports whether moving a stack whose last outputs are outs to w is a rollback: a
// release is in progress (both slots carry traffic), and w gives everything back to the slot it
// started from, which current-slot-name names while it runs.
func RollbackTo(outs map[string]any, w Weights) (Slot, bool) {
	blue, ok := outs[OutBlueWeight].(float64)
	if !ok || blue <= 0 || blue >= 100 {
		return "", false
	}
	name, _ := outs[OutCurrentSlotName].(string)
	origin, ok := SlotOfBackendID(name)
	if !ok || w.Of(origin) != 100 {
		return "", false
	}
	return origin, true
}
