package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/slotless/slotless/internal/release"
	"github.com/slotless/slotless/internal/rollout"
)

// watchOptions are the flags of `slotless watch`.
type watchOptions struct {
	d                    deps
	stack, dir           string
	apiURL, logsEndpoint string
	watchFor, window     time.Duration
	asJSON               bool
	historyURL           string
}

const watchLong = `Watch judges a release that stands between two runs (after --until, while an approval
waits) once, and rolls its canary back (exit 4) when it fails, through the same path as a
release's rollback, which is never refused and falls back to a direct write of the pool. Run it
on a schedule (pipelines/ has one for each CI system), so that a canary that starts failing
while nobody is running slotless is still rolled back.

It reads where traffic stands (the live pool when ARM answers, else the deployed stack). With
one slot carrying all traffic there is nothing to watch, and it exits 0. Otherwise the canary
is the slot current-slot-name does not name: the health gate and the stack's releaseProbes
watch it for --for, pinned through APIM, then the metrics gate judges the users' requests that
reached Log Analytics in the --window before it, canary against the stable slot, with the
stack's thresholds. A watch judges one window with no failing windows before it to count, and
runs as long as a pause lasts, so it rolls back only on a window decisive alone (as sure as
metricsFailureLimit failing windows together); too little traffic never fails a watch. The
release's own bake judges the rest when it resumes.

A failure to judge (the Log Analytics query failing, say) exits 1 and leaves traffic alone, so
the scheduled run shows red. It needs what release needs: SLOTLESS_PIN_TOKEN (and
SLOTLESS_SUBSCRIPTION_KEY when the API requires one), Azure credentials for Log Analytics and
ARM, and the Pulumi CLI for the rollback. A rollback, once written, is told to the stack's
notify webhooks; a canary left alone tells nobody.`

func newWatchCmd(d deps) *cobra.Command {
	o := watchOptions{d: d}
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Judge a paused release's canary once, and roll it back if it fails (run on a schedule)",
		Long:  watchLong,
		Example: `  SLOTLESS_PIN_TOKEN=... slotless watch --stack dev
  SLOTLESS_PIN_TOKEN=... slotless watch --stack dev --for 1m --window 5m --json > watch.json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), cmd, os.Getenv)
		},
	}
	f := cmd.Flags()
	stackFlags(cmd, &o.stack, &o.dir, "stack to watch")
	f.DurationVar(&o.watchFor, "for", time.Minute, "how long the health gate and the probes watch the canary")
	f.DurationVar(&o.window, "window", 5*time.Minute, "the stretch of arrivals the metrics gate judges: the requests that reached Log Analytics this long before the query; the schedule's interval, so every request is judged once")
	f.BoolVar(&o.asJSON, "json", false, "print the record as JSON on stdout; progress goes to stderr")
	f.StringVar(&o.apiURL, "api-url", "", "the API's URL for the health gate and the probes; default $"+envAPIURL+", else the stack output apiUrl")
	f.StringVar(&o.logsEndpoint, "logs-endpoint", "", "the Log Analytics query API (default: Azure's public cloud)")
	historyFlag(cmd, &o.historyURL)
	return cmd
}

func (o watchOptions) run(ctx context.Context, cmd *cobra.Command, getenv func(string) string) error {
	if o.watchFor <= 0 || o.window <= 0 {
		return usagef("watch: --for %s and --window %s: want both above 0", o.watchFor, o.window)
	}
	if err := checkEndpoints("watch", o.apiURL, o.logsEndpoint); err != nil {
		return err
	}
	cfg, parsed, err := loadStackConfig(o.dir, o.stack)
	if err != nil {
		return err
	}
	p, err := rollout.NewPlan(parsed)
	if err != nil {
		return err
	}
	progress := progressOut(cmd, o.asJSON)
	// The watch is built as a release is, without a version to expect: it judges whatever the
	// canary serves.
	// The stack it opens is kept, for when its last update ended (watchStood).
	var opened releaseStack
	d := o.d
	d.openReleaseStack = func(ctx context.Context, dir, name string) (releaseStack, error) {
		st, err := o.d.openReleaseStack(ctx, dir, name)
		opened = st
		return st, err
	}
	ro := releaseRunOptions{d: d, stack: o.stack, dir: o.dir, apiURL: o.apiURL, logsEndpoint: o.logsEndpoint, watching: true}
	ctl, told, outs, err := ro.controller(ctx, cfg, parsed, p, progress, cmd.ErrOrStderr(), getenv)
	if err != nil {
		return err
	}
	// A release or the in-Azure watcher that holds the stack's lease judges the canary itself.
	run, skip := startWatch(ctx, o.historyURL, outs, o.stack, getenv, progress, cmd.ErrOrStderr())
	if skip {
		return nil
	}
	rec, err := ctl.Watch(ctx, p, rollout.WatchOptions{For: o.watchFor, Window: o.window, Stood: watchStood(ctx, opened, outs, p, progress)})
	// A rollback is told once it is written; a healthy canary, or one the watch could not judge,
	// tells nobody. Neither changes err.
	told.Watched(rec)
	rec.Notifications = told.Close()
	run.finish(ctx, rec)
	return writeRecord(cmd, o.asJSON, rec, err)
}

// updateHistory is a stack whose update history can be read (release.AutoStack).
type updateHistory interface {
	LastUpdateEnded(ctx context.Context) (time.Time, bool, error)
}

// watchStood is from when the watch counts the canary's weight as standing
// (rollout.StoodSince): Pulumi state's weights from the outputs, the end of the stack's last
// update from its history, and the live pool's record from the status the watch read. A watch
// keeps no cursor, so without these it would count the share over a window served mostly
// before a pause, while the canary had less or nothing, and roll back a healthy canary.
func watchStood(ctx context.Context, st releaseStack, outs map[string]any, p rollout.Plan, progress io.Writer) func(rollout.Status) time.Time {
	return func(s rollout.Status) time.Time {
		var w rollout.Written
		if d, err := release.DeployedFromOutputs(outs); err == nil {
			w.State, w.StateKnown = d.Weights, true
		}
		if h, ok := st.(updateHistory); ok {
			end, ok, err := h.LastUpdateEnded(ctx)
			switch {
			case err != nil:
				fmt.Fprintf(progress, "warning: %v; the canary's share counts from this watch\n", err)
			case ok:
				w.LastUpdate = end
			}
		}
		at, why := rollout.StoodSince(s, w, time.Now(), p)
		fmt.Fprintf(progress, "the canary's share and latency count from %s, the plan's initial delay after: %s\n", at.UTC().Format(time.RFC3339), why)
		return at
	}
}
