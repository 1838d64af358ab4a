package deploy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/slotless/slotless/stack"
)

// A slot listed in sharedHostStorage keeps its Functions host's storage in the shared account,
// and so its identity keeps Storage Blob Data Owner, Queue and Table Data Contributor on the
// whole account (stack/colour.go, grantRoles), where both slots' deployment containers are. Code
// deployed to that slot runs untested, with the right to overwrite the other slot's package, and,
// while the other slot is listed too, to read its host keys (docs/security.md, "Each slot
// touches only its own storage"). So a deploy waits until the slot has moved to its own host
// storage, which it does while it carries no traffic.

// SharedHostStorageError refuses a deploy to a slot still listed in sharedHostStorage.
type SharedHostStorageError struct {
	Slot stack.Slot
	// Where are the places that list the slot: the stack file, the deployed stack.
	Where []string
}

func (e *SharedHostStorageError) Error() string {
	other := e.Slot.Other()
	return fmt.Sprintf("sharedHostStorage: %s is listed (in %s), so its identity holds Storage Blob Data Owner on the whole shared account, "+
		"where %s's deployment package is too: code deployed to %s could overwrite it. Move %s's host storage to its own account first: "+
		"while %s carries no traffic, take it out of sharedHostStorage in the stack file and run pulumi up, then deploy "+
		"(docs/security.md#each-slot-touches-only-its-own-storage)",
		e.Slot, strings.Join(e.Where, " and "), other, e.Slot, e.Slot, e.Slot)
}

// CheckHostStorage refuses slot while the stack file (configured) or the last update (deployed)
// lists it in sharedHostStorage: the deployed stack says which roles the slot holds now, the
// stack file which it will hold after the next pulumi up.
func CheckHostStorage(slot stack.Slot, stackName string, configured, deployed []stack.Slot) error {
	var where []string
	if slices.Contains(configured, slot) {
		where = append(where, "the stack file Pulumi."+stackName+".yaml")
	}
	if slices.Contains(deployed, slot) {
		where = append(where, "the deployed stack "+stackName)
	}
	if len(where) == 0 {
		return nil
	}
	return &SharedHostStorageError{Slot: slot, Where: where}
}
