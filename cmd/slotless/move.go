package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/slotless/slotless/internal/engine"
	"github.com/slotless/slotless/internal/gate"
	"github.com/slotless/slotless/internal/history"
	"github.com/slotless/slotless/internal/notify"
	"github.com/slotless/slotless/internal/plan"
	"github.com/slotless/slotless/internal/pool"
	projectfile "github.com/slotless/slotless/internal/project"
	"github.com/slotless/slotless/internal/release"
	"github.com/slotless/slotless/internal/rollout"
	"github.com/slotless/slotless/stack"
)

// openStack is how shift, promote, rollback and record reach Pulumi.
func openStack(ctx context.Context, dir, name, by string) (release.Stack, error) {
	if err := needPulumi(); err != nil {
		return nil, err
	}
	return release.OpenStack(ctx, dir, name, by)
}

// releaseOptions are the flags of shift, promote and rollback.
type moveOptions struct {
	d                deps
	stack, dir, slot string
	to               int
	force, writeOnly bool
	allowOther       bool
	retries          int
	retryInterval    time.Duration
	wait             time.Duration
	apiURL, url      string
	healthTimeout    time.Duration
	// historyURL is --history-url; leaseWait how long a shift or promote waits for the lease.
	historyURL string
	leaseWait  time.Duration
}

// moveHelp is a traffic command's help: what it does and an example.
type moveHelp struct{ use, short, long, example string }

// newMoveCmd builds shift, promote or rollback: one traffic move, three guard-rail policies.
func newMoveCmd(d deps, name string, h moveHelp) *cobra.Command {
	o := moveOptions{d: d}
	cmd := &cobra.Command{
		Use:     h.use,
		Short:   h.short,
		Long:    h.long,
		Example: h.example,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case name == "promote":
				o.to = 100
			case name == "rollback":
				o.to = 0
			case !cmd.Flags().Changed("to"):
				return usageError{"shift: --to: required, the slot's new share of traffic, 0..100"}
			case o.to < 0 || o.to > 100:
				return usagef("shift: --to: %d is out of range 0..100", o.to)
			}
			return o.run(cmd.Context(), cmd, name)
		},
	}
	f := cmd.Flags()
	stackFlags(cmd, &o.stack, &o.dir, "stack to change")
	slotFlag(cmd, &o.slot, "the slot whose share changes: green or blue (required)")
	if name == "shift" {
		f.IntVar(&o.to, "to", 0, "the slot's new share of traffic, 0..100 (required)")
	}
	f.BoolVar(&o.writeOnly, "write-only", false, "only edit Pulumi.<stack>.yaml, for GitOps; do not run pulumi up")
	historyFlag(cmd, &o.historyURL)
	if name == "rollback" {
		f.IntVar(&o.retries, "retries", release.DefaultRollbackAttempts, "attempts while another update holds the stack")
		f.DurationVar(&o.retryInterval, "retry-interval", release.DefaultRollbackInterval, "wait between those attempts")
	}
	if name != "rollback" {
		f.BoolVar(&o.force, "force", false, "lift the step limit and skip the health gate")
		f.BoolVar(&o.allowOther, "allow-other-changes", false, "apply pending changes other than traffic with this shift, instead of refusing")
		f.StringVar(&o.apiURL, "api-url", "", "the API's URL (stack output apiUrl), for the health gate through APIM; default $"+envAPIURL)
		f.StringVar(&o.url, "url", "", "a full health URL, overriding --api-url")
		f.DurationVar(&o.healthTimeout, "health-timeout", 5*time.Minute, "how long the health gate may take")
		f.DurationVar(&o.wait, "wait", 2*time.Minute, "how long to wait for another update that holds the stack before failing (0s: fail at once)")
		f.DurationVar(&o.leaseWait, "lease-wait", defaultLeaseWait, "how long to wait for the stack's lease while another holds it (a release, the watcher) before exiting 3 (0s: at once)")
	}
	return cmd
}

// run carries out shift, promote and rollback: promote is a shift to 100, rollback a shift to 0.
func (o moveOptions) run(ctx context.Context, cmd *cobra.Command, name string) error {
	stdout := cmd.OutOrStdout()
	slot, err := parseSlotFlag(o.slot)
	if err != nil {
		return usagef("%s: %v", name, err)
	}
	cfg, err := plan.LoadConfig(o.dir, o.stack)
	if err != nil {
		return err
	}
	parsed, err := stack.ParseAll(cfg.Source())
	switch {
	case err != nil && name == "rollback" && !o.writeOnly:
		// A stack file written for a newer slotless must not stop a rollback: the Pulumi path
		// will fail on it, and the break-glass path needs only where the pool is.
		fmt.Fprintf(stdout, "warning: the stack config does not validate with this slotless (%s); rolling back all the same\n", oneLine(err))
	case err != nil:
		return fmt.Errorf("invalid stack config:\n%w", err)
	}

	stackFile := "Pulumi." + o.stack + ".yaml"
	proj, err := projectfile.Load(o.dir)
	if err != nil {
		return err
	}
	req := release.ShiftRequest{
		Slot: slot, To: o.to, Force: o.force, WriteOnly: o.writeOnly, MaxStep: parsed.MaxStep,
		Rollback: name == "rollback", AllowOtherChanges: o.allowOther,
		Attempts: o.retries, Interval: o.retryInterval, Wait: o.wait,
		Running: o.d.version, Pinned: proj.Version,
	}
	if name != "rollback" {
		if h, err := healthGate(o.apiURL, parsed.API.HealthPath, o.url, o.healthTimeout, os.Getenv, cmd); err != nil {
			return err
		} else if h != nil {
			req.Health = h
		}
	}

	if name == "rollback" && !o.writeOnly {
		return o.rollback(ctx, stdout, cmd.ErrOrStderr(), cfg, parsed, req, os.Getenv)
	}
	var st release.Stack
	if o.writeOnly {
		st = release.FileStack{Path: filepath.Join(o.dir, stackFile)}
	} else if st, err = o.d.openStack(ctx, o.dir, o.stack, "slotless "+name); err != nil {
		return err
	}
	if n := parsed.AlwaysReadyInstances; n > 0 && !o.writeOnly {
		// The apps' always-ready counts follow the weights, so the move may change an app too:
		// exactly the counts it explains are part of the traffic change.
		d, err := st.Deployed(ctx)
		if err != nil {
			return err
		}
		changes := release.AlwaysReadyChanges(d.Weights, weightsGiving(slot, o.to), n)
		for _, c := range changes {
			fmt.Fprintf(stdout, "with the traffic: %s (alwaysReadyInstances %d)\n", c, n)
		}
		req.Traffic = release.TrafficWith(changes)
	}
	var mv *moveRun
	if !o.writeOnly {
		outs, _ := stackOutputsOf(ctx, st)
		if mv, err = startMove(ctx, name, o.historyURL, outs, o.stack, o.leaseWait, os.Getenv, stdout, cmd.ErrOrStderr()); err != nil {
			return err
		}
	}
	started := time.Now().UTC()
	m, err := release.Shift(ctx, st, req, stdout)
	if mv != nil && !(err == nil && m.Kind == release.NoMove) {
		mv.finish(ctx, name, history.MoveRecord(name, string(slot), o.to, sharesOf(m.From), sharesOf(m.To), "", started, time.Now().UTC(), "", err))
	}
	return err
}

// stackOutputsOf reads an opened stack's outputs, where the history is found.
func stackOutputsOf(ctx context.Context, st release.Stack) (map[string]any, error) {
	if o, ok := st.(interface {
		Outputs(context.Context) (map[string]any, error)
	}); ok {
		return o.Outputs(ctx)
	}
	return nil, errors.New("the stack is not open")
}

func sharesOf(w stack.Weights) rollout.Shares { return rollout.Shares{Green: w.Green, Blue: w.Blue} }

// rollback takes the slot to 0% through release.RollbackSlot: the live pool read first, the
// Pulumi update, and the break-glass write through ARM when that update cannot go through.
func (o moveOptions) rollback(ctx context.Context, stdout, stderr io.Writer, raw plan.StackConfig, cfg *stack.Config, req release.ShiftRequest, getenv func(string) string) error {
	rule := release.TrafficOnly
	req.Traffic = func(s engine.Step) bool { return rule(s) }
	var opened release.Stack
	// The lease: one short attempt once the history is known (from --history-url or
	// SLOTLESS_HISTORY_URL at once, else from the outputs once the stack opens), never a wait.
	var mv *moveRun
	begin := func(outs map[string]any) {
		if mv == nil {
			mv, _ = startMove(ctx, "rollback", o.historyURL, outs, o.stack, 0, getenv, stdout, stderr)
		}
	}
	if url, _ := historyURL(o.historyURL, getenv, nil); url != "" {
		begin(nil)
	}
	started := time.Now().UTC()
	open := func(ctx context.Context) (release.Stack, error) {
		st, err := o.d.openStack(ctx, o.dir, o.stack, "slotless rollback")
		if err != nil {
			return nil, err
		}
		opened = st
		if outs, err := stackOutputsOf(ctx, st); err == nil {
			begin(outs)
		}
		if n := cfg.AlwaysReadyInstances; n > 0 {
			d, err := st.Deployed(ctx)
			if err != nil {
				return nil, err
			}
			changes := release.AlwaysReadyChanges(d.Weights, weightsGiving(req.Slot, 0), n)
			for _, c := range changes {
				fmt.Fprintf(stdout, "with the traffic: %s (alwaysReadyInstances %d)\n", c, n)
			}
			rule = release.TrafficWith(changes)
		}
		return st, nil
	}
	outputs := func(ctx context.Context) (map[string]any, error) {
		if o, ok := opened.(interface {
			Outputs(context.Context) (map[string]any, error)
		}); ok {
			return o.Outputs(ctx)
		}
		return nil, errors.New("the stack is not open")
	}
	var live release.LivePool
	if lp, err := newLivePool(raw, cfg, o.stack, outputs, getenv); err != nil {
		fmt.Fprintf(stdout, "warning: no ARM client for the live pool (%v): the rollback goes through Pulumi alone\n", err)
	} else {
		live = lp
	}
	file := release.FileStack{Path: filepath.Join(o.dir, "Pulumi."+o.stack+".yaml")}
	res, err := release.RollbackSlot(ctx, open, live, file, req, stdout)
	if mv == nil {
		// Never opened (the backend down): recorded all the same when the history is known.
		mv = recordOnly(ctx, "rollback", o.historyURL, nil, o.stack, getenv, stderr)
	}
	kind, reason := history.KindRollback, ""
	if res.BreakGlass {
		kind, reason = history.KindBreakGlass, "through ARM (break-glass) because the Pulumi update could not go through: "+res.Reason
	}
	mv.finish(ctx, kind, history.MoveRecord("rollback", string(req.Slot), 0, rollout.Shares{}, sharesOf(weightsGiving(req.Slot, 0)), "", started, time.Now().UTC(), reason, err))
	if err != nil {
		return err
	}
	if res.BreakGlass {
		o.tellBreakGlass(ctx, raw, opened, req.Slot, res.Reason, getenv, stdout, stderr)
		return fmt.Errorf("%w: %s is at 0%%, but the Pulumi update could not go through (%s). Pulumi state lags Azure until the next pulumi up, which converges it without moving traffic. If a job that died holds the stack's lock, check that no update is running, then clear it with pulumi cancel (Pulumi Cloud) or by deleting the lock file under .pulumi/locks (a file or cloud-storage backend)",
			release.ErrBreakGlass, req.Slot, res.Reason)
	}
	return nil
}

// tellBreakGlass tells the stack's notify webhooks of a break-glass write, after it: through the
// stack the rollback opened, else one opened now, since the webhook URLs are the stack's secrets
// and only its secrets provider decrypts them. When the backend is what kept the update from
// going through, that may fail too: it says so, and the rollback stands.
func (o moveOptions) tellBreakGlass(ctx context.Context, raw plan.StackConfig, opened release.Stack, slot stack.Slot, reason string, getenv func(string) string, stdout, stderr io.Writer) {
	if _, set := raw.Source()("notify"); !set {
		return
	}
	// The write is done; a Ctrl-C since does not take the telling of it away.
	ctx = context.WithoutCancel(ctx)
	st := opened
	if st == nil {
		octx, cancel := context.WithTimeout(ctx, notifyReadTimeout)
		var err error
		st, err = o.d.openStack(octx, o.dir, o.stack, "slotless rollback")
		cancel()
		if err != nil {
			fmt.Fprintf(stderr, "warning: nobody was told of the break-glass write: the stack's notify webhooks are its secrets, and the stack cannot be opened to decrypt them (%s)\n", oneLine(err))
			return
		}
	}
	told := newNotifier(ctx, raw, o.stack, st, "slotless rollback", getenv, stdout, stderr)
	told.BreakGlass(slot, pool.BreakGlassBy, reason)
	for _, n := range told.Close() {
		if n.Outcome == notify.OutcomeSent {
			fmt.Fprintf(stdout, "notify[%d] (%s) told of the break-glass write\n", n.Target, n.Kind)
		}
	}
}

// healthGate builds the health check an advance must pass, or nil when no target is given. It
// sends what gate health sends to the same target: never the function key to the gateway.
func healthGate(apiURL, healthPath, url string, timeout time.Duration, getenv func(string) string, cmd *cobra.Command) (release.HealthCheck, error) {
	target, err := newHealthTarget(url, apiURL, healthPath, getenv)
	if err != nil || target == nil {
		return nil, err
	}
	progress := cmd.OutOrStdout()
	return func(ctx context.Context, slot stack.Slot) error {
		cfg := target.config(slot)
		cfg.Timeout = timeout
		_, err := gate.Health(ctx, cfg, progress)
		return err
	}, nil
}
