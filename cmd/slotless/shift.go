package main

import "github.com/spf13/cobra"

// newShiftCmd is `slotless shift`: set one slot's share of traffic, guarded.
func newShiftCmd(d deps) *cobra.Command { return newMoveCmd(d, "shift", shiftHelp) }

var shiftHelp = moveHelp{
	use:   "shift",
	short: "Set one slot's share of traffic, guarded; apply the traffic resources alone",
	long: `Shift sets the slot's share of API traffic to --to percent. It reads where traffic
stands from the deployed stack (its outputs, not the local stack file), edits blueWeight (and
greenWeight, when the stack sets it) in Pulumi.<stack>.yaml, previews, and applies the pool
and current-slot-name alone (pulumi up --target), hosting the program in-process: it needs
the Pulumi CLI and a logged-in backend, no Go toolchain. --write-only only edits the file.
With alwaysReadyInstances above 0, a move that starts or ends a release also applies the
apps whose always-ready count it changes, in that count alone.

Guard rails, each a refusal with exit code 3 that leaves the config as it was: a step
towards the release slot larger than maxStep; an advance whose health gate does not pass or
is not configured (give --api-url or SLOTLESS_API_URL with SLOTLESS_PIN_TOKEN, or --url);
and any pending change besides traffic that the preview shows (it is listed; apply it first
with pulumi up, or pass --allow-other-changes). --force lifts the first two. A move back
towards the slot current-slot-name names (where the release began) is never refused. While
another update holds the stack a shift waits for it, up to --wait, then fails with the
config put back: run it again afterwards.`,
	example: `  SLOTLESS_PIN_TOKEN=... slotless shift --stack dev --slot blue --to 10 \
    --api-url "$(pulumi stack output apiUrl)"
  slotless shift --slot blue --to 50 --write-only --force   # edit Pulumi.dev.yaml only, for GitOps`,
}
