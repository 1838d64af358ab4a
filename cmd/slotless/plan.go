package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/spf13/cobra"

	"github.com/slotless/slotless/internal/plan"
)

type planOptions struct {
	stack, dir, against  string
	sets                 []string
	asJSON, markdown     bool
	allowJump, allowLive bool
}

func newPlanCmd() *cobra.Command {
	var o planOptions
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Print the desired state of a stack, offline, or review a config change",
		Long: `Plan runs the real program under Pulumi's mock runtime with the stack's config (Pulumi.yaml
defaults, then Pulumi.<stack>.yaml, then any --set) and prints the traffic split and every
resource with its inputs; secrets show as [secret]. No Azure, Pulumi CLI or login is needed.
Invalid config fails with one line per bad key, as pulumi up would.

With --against REV|FILE it plans the stack config of a git revision (or a stack file) as
well, and prints the traffic before and after, the resources whose inputs differ, and the
guard rails the change breaks: a step above maxStep, or a change to a slot's app while it
carries traffic. A broken guard rail exits 3.`,
		Example: `  slotless plan --stack dev
  slotless plan --set blueWeight=10 --json
  slotless plan --stack dev --against origin/main --markdown`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.OutOrStdout()) },
	}
	f := cmd.Flags()
	stackFlags(cmd, &o.stack, &o.dir, "stack whose Pulumi.<stack>.yaml to read")
	f.StringArrayVar(&o.sets, "set", nil, "override one config value, key=value (repeatable)")
	f.BoolVar(&o.asJSON, "json", false, "print JSON for machines")
	f.StringVar(&o.against, "against", "", "compare with the stack config of a git revision or a stack file")
	f.BoolVar(&o.markdown, "markdown", false, "with --against: print a pull-request comment")
	f.BoolVar(&o.allowJump, "allow-jump", false, "with --against: accept a traffic step larger than maxStep")
	f.BoolVar(&o.allowLive, "allow-live-change", false, "with --against: accept changes to a slot's app while it carries traffic")
	return cmd
}

func (o planOptions) run(stdout io.Writer) error {
	if o.against == "" && (o.markdown || o.allowJump || o.allowLive) {
		return usageError{"plan: --markdown, --allow-jump and --allow-live-change go with --against"}
	}
	cfg, err := plan.LoadConfig(o.dir, o.stack)
	if err != nil {
		return err
	}
	for _, s := range o.sets {
		if err := cfg.Set(s); err != nil {
			return usageError{err.Error()}
		}
	}
	if o.against != "" {
		return againstCmd(stdout, againstArgs{dir: o.dir, stack: o.stack, ref: o.against, head: cfg,
			asJSON: o.asJSON, markdown: o.markdown, allowJump: o.allowJump, allowLive: o.allowLive})
	}
	p, err := plan.Run(o.stack, cfg)
	if err != nil {
		return err
	}
	if o.asJSON {
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
	for _, a := range p.Assumptions {
		fmt.Fprintf(w, "assumes: %s\n", a)
	}
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

// stackFlags adds --stack and --dir, with completion of --stack from the stack files in --dir.
func stackFlags(cmd *cobra.Command, stackName, dir *string, stackHelp string) {
	cmd.Flags().StringVar(stackName, "stack", "dev", stackHelp)
	cmd.Flags().StringVar(dir, "dir", ".", "project directory holding Pulumi.yaml")
	_ = cmd.RegisterFlagCompletionFunc("stack", func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		d, _ := cmd.Flags().GetString("dir")
		names, _ := plan.Stacks(d)
		return names, cobra.ShellCompDirectiveNoFileComp
	})
}

// slotFlag adds --slot, completing green and blue.
func slotFlag(cmd *cobra.Command, slot *string, help string) {
	cmd.Flags().StringVar(slot, "slot", "", help)
	_ = cmd.RegisterFlagCompletionFunc("slot", cobra.FixedCompletions([]string{"green", "blue"}, cobra.ShellCompDirectiveNoFileComp))
}
