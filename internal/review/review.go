// Package review compares the desired state of a stack under two configs — a pull request's
// and its base — and reports what a reviewer needs: the traffic before and after, the
// resources whose inputs change, and the guard rails the change breaks.
package review

import (
	"fmt"
	"strings"

	"github.com/slotless/slotless/internal/plan"
	"github.com/slotless/slotless/internal/release"
	"github.com/slotless/slotless/stack"
)

// Options are the guard-rail settings of a review.
type Options struct {
	// MaxStep comes from the head config's maxStep.
	MaxStep int
	// AllowJump lifts the step limit.
	AllowJump bool
	// AllowLiveChange accepts changes to a slot's app while it carries traffic.
	AllowLiveChange bool
	// Origin is the slot live when the release in progress at the base began.
	Origin stack.Slot
	// OriginWhy says how Origin was decided.
	OriginWhy string
}

// Report is the result of a review. Its JSON shape is what `plan --against --json` prints.
type Report struct {
	Stack    string            `json:"stack"`
	Before   plan.Traffic      `json:"before"`
	After    plan.Traffic      `json:"after"`
	Move     string            `json:"move"`
	Changes  []plan.Change     `json:"changes"`
	Findings []release.Finding `json:"findings"`
	// Notes say what the change does that a reviewer should know but that breaks no guard
	// rail: a slot that keeps its configuration until a release.
	Notes []string `json:"notes,omitempty"`
}

// OK reports whether no guard rail is broken.
func (r Report) OK() bool { return len(r.Findings) == 0 }

// Review compares head with base.
func Review(base, head *plan.Plan, opts Options) Report {
	from := stack.Weights{Green: base.Traffic.Green, Blue: base.Traffic.Blue}
	to := stack.Weights{Green: head.Traffic.Green, Blue: head.Traffic.Blue}
	m := release.Classify(from, to, opts.Origin)
	r := Report{Stack: head.Stack, Before: base.Traffic, After: head.Traffic, Move: m.String(), Changes: plan.Diff(base, head)}
	if r.Changes == nil {
		r.Changes = []plan.Change{}
	}
	r.Findings = append(r.Findings, release.CheckStep(m, opts.MaxStep, opts.AllowJump)...)
	findings, notes := liveChanges(r.Changes, from, to)
	if !opts.AllowLiveChange {
		r.Findings = append(r.Findings, findings...)
	}
	r.Notes = notes
	if r.Findings == nil {
		r.Findings = []release.Finding{}
	}
	return r
}

// alwaysReadyPath is where an app's Flex always-ready count sits in its inputs.
const alwaysReadyPath = "functionAppConfig.scaleAndConcurrency.alwaysReady"

// liveChanges flags changes to a slot's plan or app while that slot carries traffic before or
// after the change: new code or settings belong on the idle slot. An app whose always-ready
// count alone changes with a move of the weights is not flagged: with alwaysReadyInstances set,
// the count follows the weights (the first and last steps of a release change it), so it is
// part of the shift under review. The same count changed without a move is flagged as usual.
//
// A change to the app's configuration (stack.HeldAppInputs: its settings, runtime, size) on a
// slot that keeps carrying traffic is no finding: `pulumi up` holds it there and gives it to the
// idle slot, and a release takes it live; the note says so. Two cases of it the program refuses,
// and so does the review: the configuration changes on a slot the same change moves traffic
// onto, and during a release, when it could land on neither slot.
func liveChanges(changes []plan.Change, from, to stack.Weights) (findings []release.Finding, notes []string) {
	for _, c := range changes {
		if !strings.HasPrefix(c.Type, "azure-native:web:") {
			continue
		}
		if from != to && onlyAlwaysReady(c) {
			continue
		}
		for _, slot := range stack.Slots {
			if !strings.HasPrefix(c.Name, string(slot)+"-") {
				continue
			}
			share := max(from.Of(slot), to.Of(slot))
			if share == 0 {
				continue
			}
			var heldPaths, otherPaths []string
			for _, p := range c.Properties {
				if c.Type == "azure-native:web:WebApp" && held(p.Path) {
					heldPaths = append(heldPaths, p.Path)
				} else {
					otherPaths = append(otherPaths, p.Path)
				}
			}
			if len(otherPaths) > 0 || c.Kind != plan.Update {
				paths := append(otherPaths, heldPaths...)
				findings = append(findings, release.Finding{Rule: release.RuleLiveChange, Message: fmt.Sprintf(
					"%s %s changes (%s) while %s carries %d%% of traffic; change the idle slot, or pass --allow-live-change",
					c.Kind, c.Name, strings.Join(paths, ", "), slot, share)})
				continue
			}
			switch {
			case from.Of(slot) == 0:
				findings = append(findings, release.Finding{Rule: release.RuleLiveChange, Message: fmt.Sprintf(
					"%s's configuration changes (%s) in the change that moves traffic onto it (%s → %s), so it would take traffic with a configuration nobody has seen run, and pulumi up refuses it; apply the configuration with the weights as they are, then release it",
					slot, strings.Join(heldPaths, ", "), from, to)})
			case to.Of(slot.Other()) > 0 && from.Of(slot.Other()) == 0:
				// The change moves traffic onto the other slot: its own finding says why.
			case to.Of(slot.Other()) > 0:
				findings = append(findings, release.Finding{Rule: release.RuleLiveChange, Message: fmt.Sprintf(
					"the apps' configuration changes (%s) while both slots carry traffic (%s), so it can land on neither slot and pulumi up refuses it; finish or roll back the release first",
					strings.Join(heldPaths, ", "), to)})
			default:
				notes = append(notes, fmt.Sprintf("%s carries %d%% of traffic, so it keeps its configuration until a release makes it idle; pulumi up gives the change (%s) to %s, and slotless release takes it live",
					slot, share, strings.Join(heldPaths, ", "), slot.Other()))
			}
		}
	}
	return findings, notes
}

// held reports whether an app's input path is one a slot that carries traffic keeps.
func held(path string) bool {
	for _, h := range stack.HeldAppInputs() {
		if path == h || strings.HasPrefix(path, h+".") || strings.HasPrefix(path, h+"[") {
			return true
		}
	}
	return false
}

// onlyAlwaysReady reports whether an update changes an app's always-ready setting and nothing
// else.
func onlyAlwaysReady(c plan.Change) bool {
	if c.Kind != plan.Update || len(c.Properties) == 0 {
		return false
	}
	for _, p := range c.Properties {
		if p.Path != alwaysReadyPath && !strings.HasPrefix(p.Path, alwaysReadyPath+"[") && !strings.HasPrefix(p.Path, alwaysReadyPath+".") {
			return false
		}
	}
	return true
}
