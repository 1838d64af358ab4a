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
	if !opts.AllowLiveChange {
		r.Findings = append(r.Findings, liveChanges(r.Changes, from, to)...)
	}
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
func liveChanges(changes []plan.Change, from, to stack.Weights) []release.Finding {
	var out []release.Finding
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
			var paths []string
			for _, p := range c.Properties {
				paths = append(paths, p.Path)
			}
			out = append(out, release.Finding{Rule: release.RuleLiveChange, Message: fmt.Sprintf(
				"%s %s changes (%s) while %s carries %d%% of traffic; change the idle slot, or pass --allow-live-change",
				c.Kind, c.Name, strings.Join(paths, ", "), slot, share)})
		}
	}
	return out
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
