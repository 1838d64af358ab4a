package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/slotless/slotless/internal/plan"
	"github.com/slotless/slotless/internal/release"
	"github.com/slotless/slotless/internal/review"
	"github.com/slotless/slotless/stack"
)

type againstArgs struct {
	dir, stack, ref      string
	head                 plan.StackConfig
	asJSON, markdown     bool
	allowJump, allowLive bool
}

// errGuardRail makes the command exit 3, a guard-rail refusal, after printing a report with
// findings.
var errGuardRail = errors.New("guard rails broken")

// againstCmd plans the base (a stack file, or the stack file at a git revision) and the head,
// and prints the review.
func againstCmd(stdout io.Writer, a againstArgs) error {
	base, history, err := baseConfig(a)
	if err != nil {
		return err
	}
	basePlan, err := plan.Run(a.stack, base)
	if err != nil {
		return fmt.Errorf("base %s: %w", a.ref, err)
	}
	headPlan, err := plan.Run(a.stack, a.head)
	if err != nil {
		return err
	}
	headCfg, err := stack.Parse(a.head.Source())
	if err != nil {
		return err
	}
	from := stack.Weights{Green: basePlan.Traffic.Green, Blue: basePlan.Traffic.Blue}
	origin, why := release.Origin(from, history)
	r := review.Review(basePlan, headPlan, review.Options{
		MaxStep: headCfg.MaxStep, AllowJump: a.allowJump, AllowLiveChange: a.allowLive, Origin: origin, OriginWhy: why,
	})
	switch {
	case a.asJSON:
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(r); err != nil {
			return err
		}
	case a.markdown:
		r.Markdown(stdout)
	default:
		r.Text(stdout)
	}
	if !r.OK() {
		return fmt.Errorf("%w: %d finding(s)", errGuardRail, len(r.Findings))
	}
	return nil
}

// baseConfig reads the base side: a file path if one exists, else a git revision. The project
// defaults come from the working tree's Pulumi.yaml, since the program compared is the current
// one.
func baseConfig(a againstArgs) (plan.StackConfig, func() (stack.Slot, bool), error) {
	stackFile := "Pulumi." + a.stack + ".yaml"
	var raw []byte
	var history func() (stack.Slot, bool)
	if _, err := os.Stat(a.ref); err == nil {
		if raw, err = os.ReadFile(a.ref); err != nil {
			return plan.StackConfig{}, nil, err
		}
	} else {
		var gitErr error
		raw, gitErr = release.ShowFile(a.dir, a.ref, "./"+stackFile)
		if gitErr != nil {
			return plan.StackConfig{}, nil, fmt.Errorf("--against %q is neither a file nor a git revision holding %s: %v", a.ref, stackFile, gitErr)
		}
		history = func() (stack.Slot, bool) { return release.OriginFromGit(a.dir, a.ref, stackFile) }
	}
	base, err := plan.ProjectDefaults(a.dir)
	if err != nil {
		return plan.StackConfig{}, nil, err
	}
	if err := base.MergeStack(raw); err != nil {
		return plan.StackConfig{}, nil, fmt.Errorf("base %s: %w", a.ref, err)
	}
	return base, history, nil
}
