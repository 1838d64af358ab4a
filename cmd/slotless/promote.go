package main

import "github.com/spf13/cobra"

// newPromoteCmd is `slotless promote`: the slot takes all the traffic, guarded.
func newPromoteCmd(d deps) *cobra.Command { return newMoveCmd(d, "promote", promoteHelp) }

var promoteHelp = moveHelp{
	use:   "promote",
	short: "Shift a slot to 100% of traffic, guarded; apply the traffic resources alone",
	long: `Promote is shift --to 100: the release slot takes all traffic and becomes live, and
current-slot-name follows it. The same guard rails apply (maxStep, the health gate, pending
changes besides traffic), each a refusal with exit code 3; --force lifts the first two.`,
	example: `  SLOTLESS_PIN_TOKEN=... slotless promote --stack dev --slot blue \
    --api-url "$(pulumi stack output apiUrl)"`,
}
