package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/slotless/slotless/internal/plan"
	"github.com/slotless/slotless/internal/release"
	"github.com/slotless/slotless/stack"
)

// recordOptions are the flags of slotless record.
type recordOptions struct {
	d          deps
	stack, dir string
}

const recordLong = `Record writes where traffic stands into Pulumi.<stack>.yaml: blueWeight (and greenWeight,
when the file sets it) as the pool in API Management has them, read through ARM, or, when
ARM cannot be reached, as the deployed stack's outputs say. Commit the file, through a pull
request where main is protected.

It is one of the two ways out of the traffic guard: a pulumi up whose stack file lags a move
slotless made (a release, a shift, a break-glass rollback) is refused until the file records
it. It changes nothing in Azure or in Pulumi state.`

func newRecordCmd(d deps) *cobra.Command {
	o := recordOptions{d: d}
	cmd := &cobra.Command{
		Use:     "record",
		Short:   "Write the deployed weights into the stack file, so it catches up with a release",
		Long:    recordLong,
		Example: "  slotless record --stack dev && git commit -m 'dev: record traffic' Pulumi.dev.yaml",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), cmd.OutOrStdout(), os.Getenv)
		},
	}
	stackFlags(cmd, &o.stack, &o.dir, "stack to record")
	return cmd
}

func (o recordOptions) run(ctx context.Context, out io.Writer, getenv func(string) string) error {
	raw, err := plan.LoadConfig(o.dir, o.stack)
	if err != nil {
		return err
	}
	cfg, err := stack.Parse(raw.Source())
	if err != nil {
		return fmt.Errorf("invalid stack config:\n%w", err)
	}
	st, err := o.d.openStack(ctx, o.dir, o.stack, "slotless record")
	if err != nil {
		return err
	}
	outputs := func(ctx context.Context) (map[string]any, error) {
		if s, ok := st.(interface {
			Outputs(context.Context) (map[string]any, error)
		}); ok {
			return s.Outputs(ctx)
		}
		return nil, fmt.Errorf("the stack's outputs cannot be read")
	}
	var w stack.Weights
	from := "the live pool, through ARM"
	lp, err := newLivePool(raw, cfg, o.stack, outputs, getenv)
	if err == nil {
		qctx, cancel := context.WithTimeout(ctx, livePoolTimeout)
		live, rerr := lp.Read(qctx)
		cancel()
		err = rerr
		w = live.Weights
	}
	if err != nil {
		d, derr := st.Deployed(ctx)
		if derr != nil {
			return fmt.Errorf("record: neither the live pool (%v) nor the deployed stack (%w) can be read", err, derr)
		}
		w, from = d.Weights, "the deployed stack's outputs (the live pool could not be read: "+oneLine(err)+")"
	}
	file := filepath.Join(o.dir, "Pulumi."+o.stack+".yaml")
	if err := release.RecordWeights(ctx, release.FileStack{Path: file}, w); err != nil {
		return err
	}
	fmt.Fprintf(out, "recorded %s in %s, from %s; commit it\n", w, file, from)
	return nil
}
