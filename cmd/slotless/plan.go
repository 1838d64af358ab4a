package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/slotless/slotless/internal/plan"
)

// setFlags collects repeated --set key=value flags.
type setFlags []string

func (s *setFlags) String() string     { return strings.Join(*s, ",") }
func (s *setFlags) Set(v string) error { *s = append(*s, v); return nil }

func planCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	stackName := fs.String("stack", "dev", "stack whose Pulumi.<stack>.yaml to read")
	dir := fs.String("dir", ".", "project directory holding Pulumi.yaml")
	asJSON := fs.Bool("json", false, "print JSON for machines")
	against := fs.String("against", "", "compare with the stack config of a git revision or a stack file")
	markdown := fs.Bool("markdown", false, "with --against: print a pull-request comment")
	allowJump := fs.Bool("allow-jump", false, "with --against: accept a traffic step larger than maxStep")
	allowLive := fs.Bool("allow-live-change", false, "with --against: accept changes to a slot's app while it carries traffic")
	var sets setFlags
	fs.Var(&sets, "set", "override one config value, key=value (repeatable)")
	if err := fs.Parse(args); err != nil {
		return usageError{fmt.Sprintf("plan: %v", err)}
	}
	cfg, err := plan.LoadConfig(*dir, *stackName)
	if err != nil {
		return err
	}
	for _, s := range sets {
		if err := cfg.Set(s); err != nil {
			return usageError{err.Error()}
		}
	}
	if *against != "" {
		return againstCmd(stdout, againstArgs{dir: *dir, stack: *stackName, ref: *against, head: cfg,
			asJSON: *asJSON, markdown: *markdown, allowJump: *allowJump, allowLive: *allowLive})
	}
	if *markdown || *allowJump || *allowLive {
		return usageError{"plan: --markdown, --allow-jump and --allow-live-change go with --against"}
	}
	p, err := plan.Run(*stackName, cfg)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(p)
	}
	printPlan(stdout, p)
	return nil
}

func printPlan(w io.Writer, p *plan.Plan) {
	fmt.Fprintf(w, "stack %s: traffic green %d%% / blue %d%%, live %s\n", p.Stack, p.Traffic.Green, p.Traffic.Blue, p.Traffic.Live)
	fmt.Fprintf(w, "%d resources:\n", len(p.Resources))
	for _, r := range p.Resources {
		fmt.Fprintf(w, "\n  %s  %s\n", r.Type, r.Name)
		flat := plan.Flatten(r.Inputs)
		keys := make([]string, 0, len(flat))
		for k := range flat {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "      %s = %s\n", k, flat[k])
		}
	}
}
