// Package release moves traffic between the slots: it classifies a change of weights as an
// advance or a rollback, applies the guard rails, and carries the change out by editing the
// stack config and running `pulumi up` through the Pulumi Automation API. The CLI's shift,
// promote and rollback commands and the plan's --against findings share it.
package release

import (
	"fmt"

	"github.com/slotless/slotless/stack"
)

// Kind is what a change of weights means for a release.
type Kind string

// The kinds of move.
const (
	// NoMove leaves the weights as they are.
	NoMove Kind = "none"
	// Advance moves traffic towards the release slot, away from the slot that was live.
	Advance Kind = "advance"
	// Rollback moves traffic back towards the slot that was live when the release began.
	Rollback Kind = "rollback"
)

// Move is a change of weights, read against the slot that was live when the release began.
type Move struct {
	From, To stack.Weights
	// Origin is the slot that carried all traffic when the release began.
	Origin stack.Slot
	Kind   Kind
	// Step is how many percentage points the release slot gains (advance) or loses (rollback).
	Step int
}

// ReleaseSlot is the slot being released: not the origin.
func (m Move) ReleaseSlot() stack.Slot { return m.Origin.Other() }

// Classify reads a change of weights. origin is the slot live when the release began; when
// from has an idle slot, the live slot is the origin whatever is passed.
func Classify(from, to stack.Weights, origin stack.Slot) Move {
	if _, idle := from.Idle(); idle {
		origin = from.Live()
	}
	m := Move{From: from, To: to, Origin: origin}
	release := m.ReleaseSlot()
	switch delta := to.Of(release) - from.Of(release); {
	case delta > 0:
		m.Kind, m.Step = Advance, delta
	case delta < 0:
		m.Kind, m.Step = Rollback, -delta
	default:
		m.Kind = NoMove
	}
	return m
}

// String says what the move does in the words a reviewer reads.
func (m Move) String() string {
	r := m.ReleaseSlot()
	switch m.Kind {
	case Advance:
		return fmt.Sprintf("advance: %s %d%% → %d%% (+%d)", r, m.From.Of(r), m.To.Of(r), m.Step)
	case Rollback:
		return fmt.Sprintf("rollback: %s %d%% → %d%%, back towards %s", r, m.From.Of(r), m.To.Of(r), m.Origin)
	}
	return "no traffic change"
}

// Finding is a broken guard rail.
type Finding struct {
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

// Rules names the guard rails, for flags and JSON.
const (
	RuleMaxStep    = "max-step"
	RuleLiveChange = "live-slot-change"
	RuleHealth     = "health-gate"
)

// CheckStep applies the maximum step to a move. A rollback is never blocked, and allowJump
// lifts the limit for an advance.
func CheckStep(m Move, maxStep int, allowJump bool) []Finding {
	if m.Kind != Advance || allowJump || m.Step <= maxStep {
		return nil
	}
	return []Finding{{Rule: RuleMaxStep, Message: fmt.Sprintf(
		"%s gains %d%% in one step (%d%% → %d%%), more than maxStep %d; shift in smaller steps, raise maxStep, or pass --allow-jump",
		m.ReleaseSlot(), m.Step, m.From.Of(m.ReleaseSlot()), m.To.Of(m.ReleaseSlot()), maxStep)}}
}
