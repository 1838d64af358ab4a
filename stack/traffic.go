package stack

import (
	"fmt"
	"strings"
)

// Slot is one of the two colours a release alternates between.
type Slot string

// The two slots.
const (
	Green Slot = "green"
	Blue  Slot = "blue"
)

// Slots lists both slots in a fixed order: green first, as in the pool.
var Slots = []Slot{Green, Blue}

// ParseSlot accepts "green" or "blue".
func ParseSlot(s string) (Slot, error) {
	switch Slot(s) {
	case Green, Blue:
		return Slot(s), nil
	}
	return "", fmt.Errorf("%q is not a slot, want green or blue", s)
}

// Other returns the slot that is not s.
func (s Slot) Other() Slot {
	if s == Green {
		return Blue
	}
	return Green
}

// BackendID is the APIM backend id of a slot; current-slot-name holds one of these.
func (s Slot) BackendID() string { return string(s) + "-backend" }

// SlotOfBackendID reads a current-slot-name value back into a slot. Backend ids in a shared
// API Management service carry a per-stack prefix, so the id is matched by its suffix.
func SlotOfBackendID(id string) (Slot, bool) {
	for _, s := range Slots {
		if id == s.BackendID() || strings.HasSuffix(id, "-"+s.BackendID()) {
			return s, true
		}
	}
	return "", false
}

// Weights is the share of API traffic, in percent, that the pool sends to each slot. The two
// always sum to 100; the stack config is the only place they are set.
type Weights struct {
	Green int
	Blue  int
}

// Of returns the weight of one slot.
func (w Weights) Of(s Slot) int {
	if s == Blue {
		return w.Blue
	}
	return w.Green
}

// InProgress reports whether both slots carry traffic, which is what a release looks like
// between its first shift and its completion or rollback.
func (w Weights) InProgress() bool { return w.Blue > 0 && w.Green > 0 }

// Live is the slot serving production. At 0 and 100 it is the slot with all the traffic. While a
// release is in progress (1-99) it is the slot with the larger share, and green on an exact
// 50/50 split: a fixed tie-break keeps it a pure function of the config, so a plan, a preview
// and an up always agree. current-slot-name does not follow it during a release; see
// SlotNameFrozen.
func (w Weights) Live() Slot {
	if w.Blue > w.Green {
		return Blue
	}
	return Green
}

// Idle is the slot with no traffic, the one a release deploys new code to. ok is false while a
// release is in progress: neither slot is idle, and deploying to either would change code that
// is serving users.
func (w Weights) Idle() (slot Slot, ok bool) {
	switch {
	case w.Blue == 0:
		return Blue, true
	case w.Green == 0:
		return Green, true
	}
	return "", false
}

// CurrentSlotName is the value of the current-slot-name named value: the backend id of the
// live slot.
func (w Weights) CurrentSlotName() string { return w.Live().BackendID() }

// SlotNameFrozen reports whether Pulumi should leave current-slot-name as it is. During a
// release the name keeps the slot that was live when the release began, as the seed's script
// did, and changes only when the release completes (100) or rolls back (0). So a shift inside a
// release changes exactly one resource, the pool.
func (w Weights) SlotNameFrozen() bool { return w.InProgress() }

// String renders the weights the way reviewers read them.
func (w Weights) String() string {
	return fmt.Sprintf("green %d%% / blue %d%%", w.Green, w.Blue)
}

// AlwaysReady is how many Flex Consumption always-ready instances slot's app keeps at these
// weights, given alwaysReadyInstances n. At steady state only the live slot is paid warm and the
// idle slot gets 0, as the seed intends; while a release is in progress both slots serve users,
// so both get n. So the apps change at the first step of a release (the release slot 0 → n) and
// at its end (the slot left idle n → 0), and a shift inside a release leaves them alone.
func (w Weights) AlwaysReady(slot Slot, n int) int {
	if n <= 0 {
		return 0
	}
	if w.InProgress() || w.Live() == slot {
		return n
	}
	return 0
}
