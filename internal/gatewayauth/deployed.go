package gatewayauth

import (
	"fmt"

	"github.com/slotless/slotless/stack"
)

// Deployed is the gateway's authentication as the stack's last update left it, read from its
// outputs: the phase, and with gatewayAudience the audience and the gateway identity's
// principal id.
type Deployed struct {
	Phase               stack.AuthPhase
	Audience, Principal string
}

// FromOutputs reads Deployed from a stack's outputs. A stack deployed before the phase was
// recorded has no gatewayAuthPhase output, and its phase is not known: then the error says so.
func FromOutputs(outs map[string]any) (Deployed, error) {
	phase, ok := outs[stack.OutGatewayAuthPhase].(string)
	if !ok {
		return Deployed{}, fmt.Errorf("the stack has no %s output: it was last updated by a slotless that did not record it; run pulumi up with this one", stack.OutGatewayAuthPhase)
	}
	d := Deployed{Phase: stack.AuthPhase(phase)}
	d.Audience, _ = outs[stack.OutGatewayAudience].(string)
	d.Principal, _ = outs[stack.OutGatewayPrincipalID].(string)
	if d.Phase != stack.AuthOff && (d.Audience == "" || d.Principal == "") {
		return Deployed{}, fmt.Errorf("the stack's %s is %s but it has no %s or %s output", stack.OutGatewayAuthPhase, phase, stack.OutGatewayAudience, stack.OutGatewayPrincipalID)
	}
	return d, nil
}
