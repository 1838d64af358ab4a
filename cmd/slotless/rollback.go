package main

import "github.com/spf13/cobra"

// newRollbackCmd is `slotless rollback`: the slot goes back to 0%, never refused.
func newRollbackCmd(d deps) *cobra.Command { return newMoveCmd(d, "rollback", rollbackHelp) }

var rollbackHelp = moveHelp{
	use:   "rollback",
	short: "Shift a slot back to 0% of traffic; never refused",
	long: `Rollback takes the slot to 0%: all traffic goes to the other slot, whatever the weights
are, after GA included. No guard rail refuses it: it needs no health gate, is not limited by
maxStep, and applies the pool and current-slot-name alone (pulumi up --target; with
alwaysReadyInstances, also the apps whose always-ready count the move changes) even when
other changes are pending, listing them. It never asks a function host for anything, so a
slot whose host is down can still be rolled back.

It reads the live pool through ARM first, so traffic moved in the portal is rolled back too:
when the live pool differs from Pulumi state it refreshes the traffic resources before the
update, and it always writes the slot's weight, even when state already says 0. While another
update holds the stack it tries again, --retries times, --retry-interval apart. When the
update cannot go through (the stack locked by a job that died, the Pulumi backend
unreachable, another update beyond the retries), it writes the pool's weights and
current-slot-name directly through ARM (break-glass), marks the pool's description, records
the weights in Pulumi.<stack>.yaml and exits 6: traffic is at 0%, and the next pulumi up
converges state without moving traffic. It never runs pulumi cancel: a lock's holder may still
be running. ARM is reached with the release's Azure credential; ARM_RESOURCE_MANAGER_ENDPOINT
names a Resource Manager other than Azure's public cloud. A break-glass write, once made, is
told to the stack's notify webhooks, whose URLs only the stack's secrets provider decrypts:
with the backend down that may fail too, and it says so.`,
	example: `  slotless rollback --stack dev --slot blue
  slotless rollback --slot blue --write-only   # edit Pulumi.dev.yaml only, for GitOps`,
}
