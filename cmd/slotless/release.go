package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/slotless/slotless/internal/apiurl"
	"github.com/slotless/slotless/internal/credential"
	"github.com/slotless/slotless/internal/gate"
	"github.com/slotless/slotless/internal/ncrontab"
	"github.com/slotless/slotless/internal/notify"
	"github.com/slotless/slotless/internal/plan"
	"github.com/slotless/slotless/internal/pool"
	projectfile "github.com/slotless/slotless/internal/project"
	"github.com/slotless/slotless/internal/release"
	"github.com/slotless/slotless/internal/report"
	"github.com/slotless/slotless/internal/rollout"
	"github.com/slotless/slotless/stack"
)

// releaseStack is what slotless release needs of a deployed stack: the traffic path of
// shift and rollback, the outputs that name the API, the apps and the workspace, and the
// environment of later updates (for a fresh federated token).
type releaseStack interface {
	release.Stack
	Outputs(ctx context.Context) (map[string]any, error)
	SetEnv(key, value string)
}

// openReleaseStack is how slotless release reaches Pulumi.
func openReleaseStack(ctx context.Context, dir, name string) (releaseStack, error) {
	if err := needPulumi(); err != nil {
		return nil, err
	}
	return release.OpenStack(ctx, dir, name, "slotless release")
}

// releaseRunOptions are the flags of slotless release.
type releaseRunOptions struct {
	d                         deps
	stack, dir, slot, version string
	until                     int
	dryRun, asJSON            bool
	apiURL, logsEndpoint      string
	reportDir                 string
	// watching marks slotless watch, which only judges and rolls back: version skew never
	// stops it.
	watching bool
	// historyURL is --history-url; leaseWait how long a release waits for the stack's lease.
	historyURL string
	leaseWait  time.Duration
}

const releaseLong = `Release walks the slot from where the deployed stack stands to GA (or to --until), watching
it the whole way, and rolls it back by itself at the first failing analysis. The plan is the
stack config: releaseSteps, bakeMinutes, analysisIntervalSeconds, the metrics thresholds,
warmupRequests, warmupLatencyMs and alwaysReadyInstances (see docs/configuration.md).

It reads where the release stands from the deployed stack (the weights and the frozen
current-slot-name), never from the local file, and refuses to start (exit 3) unless the slot
is idle, or mid-release in a release that started from the other slot, and the pinned health
gate passes with the slot serving --version. Then, for each remaining step: it warms the slot
with pinned requests to its health endpoint, shifts through the guarded, traffic-only path of
shift (pool weights, current-slot-name at 100, and with alwaysReadyInstances the apps'
always-ready count, nothing else), and bakes for the step's bake (its own from releaseSteps,
else bakeMinutes), running the health gate and the metrics gate every
analysisIntervalSeconds, and releaseProbes every 2 s. The first failing analysis rolls the
slot back to 0% at once (exit 4); a rollback is never refused and is not cut short by Ctrl-C.
A health check blames the slot only for its own answer, or for no answer while the stable
slot answers through the same gateway: two analyses in a row that could not observe the slot
(the gateway unreachable, a changed pinning token, Log Analytics failing) stop the release
where it stands, without moving traffic (exit 1).

--until N stops after the step that reaches N, so an approval can sit between runs. A second
run resumes from the deployed weights, after a crash, a cancel or an approval, and never
starts again from 0: it first bakes again the step it stands on.

Before the first shift, when the stack declares the watcher, it reads the watcher's heartbeat
and deploys this slotless to it (as slotless watcher deploy does) when it never ran, has not run
for more than three periods, or runs another version, so the canary a paused run leaves is
watched by the same verdicts; a deploy that fails is a warning, never a failed release.

--dry-run prints the plan (each step, its bake and analyses, the gates and what each shift
changes in the stack) and changes nothing: no gate, warm-up, shift or rollback runs. It reads
the deployed weights when the stack can be read, and otherwise plans from the weights in
Pulumi.<stack>.yaml, saying so: like plan, it needs no Azure and no login.

A run needs what shift and gate need: the Pulumi CLI and a logged-in backend, the API's URL
(--api-url, SLOTLESS_API_URL, else the stack output apiUrl), SLOTLESS_PIN_TOKEN (and
SLOTLESS_SUBSCRIPTION_KEY when the API requires one), and Azure credentials for the Log
Analytics query API (the workspace and app names come from the stack outputs). Those
credentials are checked with one query before anything moves.

With the stack's notify config, each webhook is told of the start, every shift and passed bake,
GA, a rollback (once written) and a stop, in the background: a webhook that fails or never
answers costs a warning on stderr and a line of the record's notifications, never a delay or
the exit code (docs/releases.md#notifications).`

func newReleaseRunCmd(d deps) *cobra.Command {
	o := releaseRunOptions{d: d}
	cmd := &cobra.Command{
		Use:   "release",
		Short: "Walk a release to GA (or --until a step): warm, shift, bake with gates, roll back on failure",
		Long:  releaseLong,
		Example: `  slotless release --slot blue --version 1.1.0 --dry-run
  SLOTLESS_PIN_TOKEN=... slotless release --stack dev --slot blue --version 1.1.0 --until 10
  SLOTLESS_PIN_TOKEN=... slotless release --stack dev --slot blue --version 1.1.0 --json > release.json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), cmd, os.Getenv)
		},
	}
	f := cmd.Flags()
	stackFlags(cmd, &o.stack, &o.dir, "stack to release")
	slotFlag(cmd, &o.slot, "the release slot, the one taking traffic: green or blue (required)")
	f.StringVar(&o.version, "version", "", "the version the release slot must serve, before the first shift and at every analysis (required)")
	f.IntVar(&o.until, "until", 0, "stop after the step that reaches this share, one of releaseSteps (default: 100)")
	f.BoolVar(&o.dryRun, "dry-run", false, "print the plan and change nothing")
	f.BoolVar(&o.asJSON, "json", false, "print a record of every step as JSON on stdout; progress goes to stderr")
	f.StringVar(&o.apiURL, "api-url", "", "the API's URL for the health gate and the warm-up; default $"+envAPIURL+", else the stack output apiUrl")
	f.StringVar(&o.logsEndpoint, "logs-endpoint", "", "the Log Analytics query API, e.g. https://api.loganalytics.us/v1 in Azure Government (default: Azure's public cloud)")
	f.StringVar(&o.reportDir, "report-dir", "", "after the run, whatever its outcome, write release.json, release.html and release.md (see slotless report) into this folder")
	historyFlag(cmd, &o.historyURL)
	f.DurationVar(&o.leaseWait, "lease-wait", defaultLeaseWait, "how long to wait for the stack's lease while another holds it (the watcher, for one tick) before exiting 3 (0s: at once)")
	return cmd
}

func (o releaseRunOptions) run(ctx context.Context, cmd *cobra.Command, getenv func(string) string) error {
	slot, err := parseSlotFlag(o.slot)
	if err != nil {
		return usagef("release: %v", err)
	}
	if strings.TrimSpace(o.version) == "" {
		return usageError{"release: --version: required, the version the release slot must serve"}
	}
	if err := checkEndpoints("release", o.apiURL, o.logsEndpoint); err != nil {
		return err
	}
	cfg, parsed, err := loadStackConfig(o.dir, o.stack)
	if err != nil {
		return err
	}
	if o.until != 0 && !slices.Contains(parsed.Release.Steps, o.until) {
		return usagef("release: --until: %d is not a step, want one of releaseSteps %s", o.until, joinSteps(parsed.Release.Steps))
	}
	p, err := rollout.NewPlan(parsed)
	if err != nil {
		return err
	}

	if o.reportDir != "" {
		// Made before anything moves, so a run never ends unable to write its report.
		if err := os.MkdirAll(o.reportDir, 0o755); err != nil {
			return usagef("release: --report-dir: %v", err)
		}
	}
	progress := progressOut(cmd, o.asJSON)
	opts := rollout.Options{Slot: slot, Version: o.version, Until: o.until, DryRun: o.dryRun}
	var ctl *rollout.Controller
	var told *notify.Notifier
	var run *historyRun
	if o.dryRun {
		ctl = rollout.New(nil, o.dryRunTraffic(ctx, progress), nil, nil, nil, progress)
	} else {
		var outs map[string]any
		if ctl, told, outs, err = o.controller(ctx, cfg, parsed, p, progress, cmd.ErrOrStderr(), getenv); err != nil {
			return err
		}
		// The watcher runs this slotless before anything moves, so a canary this run leaves
		// paused is watched by the same verdicts.
		if !o.watching {
			ensureWatcher(ctx, o.d, outs, o.historyURL, watcherPeriod(parsed), getenv, cmd.ErrOrStderr())
		}
		// The lease and the history: the last thing before anything moves.
		if run, err = startRelease(ctx, o.historyURL, outs, o.stack, slot, o.version, o.leaseWait, p, getenv, progress, cmd.ErrOrStderr()); err != nil {
			return err
		}
		ctl.WithProgress(func(pr rollout.Progress) {
			told.Progress(pr)
			run.progress(pr)
		}).WithAnalysed(run.progress)
	}
	rec, err := ctl.Run(ctx, p, opts)
	run.finish(ctx, rec)
	// How the run ended is told once Run has returned, after any rollback's write; the messages
	// still in flight are waited for (at most one message's time) only so the record can say how
	// each ended. Neither changes err.
	told.Released(rec)
	rec.Notifications = told.Close()
	if o.reportDir != "" {
		if rerr := writeReportDir(o.reportDir, rec); rerr != nil {
			err = errors.Join(err, rerr)
		} else {
			fmt.Fprintf(progress, "report: %s\n", filepath.Join(o.reportDir, "release.html"))
		}
	}
	return writeRecord(cmd, o.asJSON, rec, err)
}

// writeReportDir writes a run's record and both its reports into dir.
func writeReportDir(dir string, rec rollout.Record) error {
	raw, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return fmt.Errorf("report: the record: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, "release.json"), append(raw, '\n')); err != nil {
		return err
	}
	return writeReports(rec, filepath.Join(dir, "release.html"), filepath.Join(dir, "release.md"), report.ChartMermaid, io.Discard)
}

// dryRunTraffic is where a dry run reads the weights: the deployed stack when it can be read,
// else the stack file, which works offline but may lag what is deployed.
func (o releaseRunOptions) dryRunTraffic(ctx context.Context, progress io.Writer) rollout.Traffic {
	st, err := o.d.openReleaseStack(ctx, o.dir, o.stack)
	if err == nil {
		if _, err = st.Deployed(ctx); err == nil {
			fmt.Fprintf(progress, "dry run: reading where the release stands from the deployed stack %s\n", o.stack)
			return stackTraffic{st: st}
		}
	}
	file := "Pulumi." + o.stack + ".yaml"
	fmt.Fprintf(progress, "dry run: the deployed stack %s could not be read (%s); planning from the weights in %s, which may lag the deployed ones\n", o.stack, oneLine(err), file)
	return fileTraffic{path: filepath.Join(o.dir, file)}
}

// controller wires a real run: the deployed stack, the gates and the warm-up against the API,
// and the metrics gate against Log Analytics, checked once before anything moves; and the
// stack's notify webhooks, told of the run's moments and of a break-glass write (nil without
// them). It returns the stack's outputs too, where the history is found.
func (o releaseRunOptions) controller(ctx context.Context, raw plan.StackConfig, cfg *stack.Config, p rollout.Plan, progress, warn io.Writer, getenv func(string) string) (*rollout.Controller, *notify.Notifier, map[string]any, error) {
	token := getenv(envPinToken)
	if token == "" {
		return nil, nil, nil, usagef("release: the health gate and the warm-up pin each request to the slot through API Management and need the pinning token (stack config pinToken) in %s", envPinToken)
	}
	st, err := o.d.openReleaseStack(ctx, o.dir, o.stack)
	if err != nil {
		return nil, nil, nil, err
	}
	outs, err := st.Outputs(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	// Version skew refuses the release before anything moves or warms; its own rollbacks are
	// never refused.
	proj, err := projectfile.Load(o.dir)
	if err != nil {
		return nil, nil, nil, err
	}
	if !o.watching {
		deployed, _ := release.DeployedFromOutputs(outs)
		warnings, err := release.CheckVersion(o.d.version, proj.Version, deployed)
		if err != nil {
			return nil, nil, nil, err
		}
		for _, w := range warnings {
			fmt.Fprintf(progress, "warning: %s\n", w)
		}
	}
	output, _ := outs[stack.OutAPIURL].(string)
	apiURL, source := apiurl.Resolve(o.apiURL, getenv(envAPIURL), output)
	if apiURL == "" {
		return nil, nil, nil, fmt.Errorf("release: no API URL: pass --api-url or set %s, or deploy the stack so it has an apiUrl output", envAPIURL)
	}
	if err := checkAPIURL(source, apiURL); err != nil {
		return nil, nil, nil, fmt.Errorf("release: %w", err)
	}
	var missing []string
	workspace, _ := outs[stack.OutWorkspaceID].(string)
	apps := map[stack.Slot]string{}
	for _, k := range []string{stack.OutWorkspaceID, stack.OutAppName(stack.Green), stack.OutAppName(stack.Blue)} {
		if v, _ := outs[k].(string); v == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return nil, nil, nil, fmt.Errorf("release: the stack has no %s output, which the metrics gate needs: deploy it with this program (pulumi up)", strings.Join(missing, ", "))
	}
	for _, s := range stack.Slots {
		apps[s], _ = outs[stack.OutAppName(s)].(string)
	}

	headers := map[string]string{}
	if key := getenv(envSubscriptionKey); key != "" {
		headers[headerSubscriptionKey] = key
	}
	healthURL := strings.TrimSuffix(apiURL, "/") + cfg.API.HealthPath
	gh := rollout.NewGateHealth(healthURL, headers, token, o.version, nil)
	// The start gate may poll for minutes, so it shows its polls; an analysis prints its own
	// line, so its gate stays quiet.
	start := gh
	start.Progress = indent(progress)
	health := startAndAnalysis{start: start, analysis: gh}

	client, credName, err := o.d.logsQuerier(o.logsEndpoint, getenv)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("release: metrics gate: %w", err)
	}
	metrics := rollout.NewGateMetrics(client, workspace, apps, p)
	components, own, warning := stack.TelemetryComponentsOf(outs)
	if warning != "" {
		fmt.Fprintf(progress, "warning: %s\n", warning)
	}
	metrics.Components, metrics.OwnComponents = components, own
	if err := preflightMetrics(ctx, metrics, credName, progress); err != nil {
		return nil, nil, nil, err
	}
	warmer := &rollout.HTTPWarmer{URL: healthURL, PinToken: token, Headers: headers}
	refresh, err := credential.ARMTokenRefresher(getenv)
	if err != nil {
		return nil, nil, nil, err
	}
	if refresh != nil {
		fmt.Fprintln(progress, "updates: azure-native gets a fresh federated token from Azure Pipelines before each shift and rollback")
	}
	traffic := stackTraffic{st: st, maxStep: cfg.MaxStep, running: o.d.version, pinned: proj.Version, alwaysReady: cfg.AlwaysReadyInstances, out: indent(progress), refresh: refresh,
		file: release.FileStack{Path: filepath.Join(o.dir, "Pulumi."+o.stack+".yaml")}}
	traffic.live = preflightLivePool(ctx, raw, cfg, o.stack, outs, getenv, progress)
	// Raising the release slot's always-ready count restarts it (a Flex site update) after the
	// warm-up: the shift waits for it to answer and warms it again before the traffic moves.
	traffic.readyAfterRestart = func(ctx context.Context, slot stack.Slot) error {
		if _, err := health.Ready(ctx, slot); err != nil {
			return err
		}
		_, err := warmer.Warmup(ctx, slot, p.WarmupRequests, p.WarmupLatency)
		return err
	}
	by := "slotless release"
	if o.watching {
		by = "slotless watch"
	}
	told := newNotifier(ctx, raw, o.stack, st, by, getenv, progress, warn)
	traffic.breakGlass = told.BreakGlass
	ctrl := rollout.New(nil, traffic, health, metrics, warmer, progress).WithProgress(told.Progress)
	if len(p.Probes) > 0 {
		ctrl.WithProber(rollout.HTTPProber{APIURL: apiURL, Headers: headers, PinToken: token, Probes: p.Probes})
		fmt.Fprintf(progress, "probes: %d releaseProbes through %s, pinned to each slot every %s during each bake\n", len(p.Probes), apiURL, rollout.HealthWatchEvery)
	}
	return ctrl, told, outs, nil
}

// preflightLivePool reads the live pool once through ARM. When it answers, the release reads
// traffic from it at every analysis and a rollback has the break-glass path; when it does not,
// the release says so and goes on with Pulumi state alone.
func preflightLivePool(ctx context.Context, raw plan.StackConfig, cfg *stack.Config, stackName string, outs map[string]any, getenv func(string) string, progress io.Writer) release.LivePool {
	lp, err := newLivePool(raw, cfg, stackName, func(context.Context) (map[string]any, error) { return outs, nil }, getenv)
	if err == nil {
		qctx, cancel := context.WithTimeout(ctx, livePoolTimeout)
		var l pool.Live
		l, err = lp.Read(qctx)
		cancel()
		if err == nil {
			fmt.Fprintf(progress, "live pool: %s through ARM; read at every analysis, and written directly if a rollback cannot go through Pulumi\n", l.Weights)
			return lp
		}
	}
	fmt.Fprintf(progress, "warning: the live pool cannot be read through ARM (%s): the release reads traffic from Pulumi state, and a rollback that cannot go through Pulumi has no break-glass path\n", oneLine(err))
	return nil
}

// releaseShiftWait is how long a release's shift waits for another update holding the stack
// (an infrastructure up, say) before it stops: a step should not fail, nor a canary be rolled
// back, because another update happened to run.
const releaseShiftWait = 10 * time.Minute

// livePoolTimeout bounds one read of the live pool during a release.
const livePoolTimeout = 30 * time.Second

// preflightMetrics runs one metrics query before anything moves, so missing credentials or a
// wrong workspace refuse the release up front instead of rolling back its first step.
func preflightMetrics(ctx context.Context, m rollout.GateMetrics, credName string, progress io.Writer) error {
	qctx, cancel := context.WithTimeout(ctx, metricsQueryTimeout)
	defer cancel()
	end := time.Now().Add(-time.Minute)
	_, _, err := m.Figures(qctx, stack.Blue, stack.Green, rollout.Window{ArrivedFrom: end.Add(-time.Minute), ArrivedTo: end, ServedFrom: end.Add(-2 * time.Minute)})
	if err != nil {
		return fmt.Errorf("release: the metrics gate cannot query Log Analytics (workspace %s, credential: %s), so every analysis would fail; nothing was moved: %w", m.WorkspaceID, credName, err)
	}
	fmt.Fprintf(progress, "metrics gate: Log Analytics workspace %s answers (credential: %s)\n", m.WorkspaceID, credName)
	return nil
}

// startAndAnalysis is the health gate in its two tempers, each with its own progress.
type startAndAnalysis struct{ start, analysis rollout.GateHealth }

func (h startAndAnalysis) Ready(ctx context.Context, slot stack.Slot) (gate.HealthResult, error) {
	return h.start.Ready(ctx, slot)
}

func (h startAndAnalysis) Check(ctx context.Context, slot stack.Slot) (gate.HealthResult, error) {
	return h.analysis.Check(ctx, slot)
}

func (h startAndAnalysis) Control(ctx context.Context, slot stack.Slot) (gate.HealthResult, error) {
	return h.analysis.Control(ctx, slot)
}

// stackTraffic is rollout.Traffic over the deployed stack and release.Shift: the guarded,
// traffic-only path of shift and rollback.
type stackTraffic struct {
	st          releaseStack
	maxStep     int
	alwaysReady int
	out         io.Writer
	// refresh, when set, returns environment for the next update, such as a fresh federated
	// token for azure-native, because a release outlives the token its runner started with.
	refresh func(ctx context.Context) (map[string]string, error)
	// live is the pool through ARM, nil when it cannot be read; file is the stack file a
	// break-glass rollback records its weights in.
	live release.LivePool
	file release.Stack
	// readyAfterRestart waits for the release slot after its site update; nil waits for nothing.
	readyAfterRestart func(context.Context, stack.Slot) error
	// breakGlass, when set, is told of a rollback written through ARM, once it is written.
	breakGlass func(slot stack.Slot, by, reason string)
	// running is this slotless's version and pinned the version the project pins, which each
	// shift checks again.
	running, pinned string
}

// Status reads where traffic stands: the live pool when it can be read, since that is what
// requests follow, else the deployed weights and current-slot-name.
func (t stackTraffic) Status(ctx context.Context) (rollout.Status, error) {
	if t.live != nil {
		qctx, cancel := context.WithTimeout(ctx, livePoolTimeout)
		l, err := t.live.Read(qctx)
		cancel()
		if err == nil {
			return rollout.Status{Weights: l.Weights, CurrentSlotName: l.CurrentSlotName, Source: "the live pool", Record: l.Description}, nil
		}
		fmt.Fprintf(t.out, "warning: could not read the live pool (%v); reading the deployed stack\n", err)
	}
	d, err := t.st.Deployed(ctx)
	if err != nil {
		return rollout.Status{}, err
	}
	return rollout.Status{Weights: d.Weights, CurrentSlotName: d.CurrentSlotName}, nil
}

// Shift moves slot to `to` percent. The controller ran the pinned health gate and the
// warm-up right before, so the shift's own gate is not run again; maxStep still applies.
func (t stackTraffic) Shift(ctx context.Context, slot stack.Slot, to int) error {
	req, err := t.request(ctx, slot, to)
	if err != nil {
		return err
	}
	req.MaxStep = t.maxStep
	req.Wait = releaseShiftWait
	req.Health = func(context.Context, stack.Slot) error { return nil }
	req.ReadyAfterRestart = t.readyAfterRestart
	_, err = release.Shift(ctx, t.st, req, t.out)
	return err
}

// Rollback moves slot to 0%: never refused, retried while another update holds the stack.
func (t stackTraffic) Rollback(ctx context.Context, slot stack.Slot) error {
	req, err := t.request(ctx, slot, 0)
	if err != nil {
		return err
	}
	res, err := release.RollbackSlot(ctx, func(context.Context) (release.Stack, error) { return t.st, nil }, t.live, t.file, req, t.out)
	if err == nil && res.BreakGlass {
		fmt.Fprintf(t.out, "rolled back through ARM (break-glass) because the Pulumi update could not go through (%s); Pulumi state lags until the next pulumi up\n", res.Reason)
		if t.breakGlass != nil {
			t.breakGlass(slot, pool.BreakGlassBy, res.Reason)
		}
	}
	return err
}

// request builds the shift of slot to `to` percent, with the apps whose always-ready count
// the move changes admitted as part of the traffic change, and fresh credentials for it.
func (t stackTraffic) request(ctx context.Context, slot stack.Slot, to int) (release.ShiftRequest, error) {
	req := release.ShiftRequest{Slot: slot, To: to, Running: t.running, Pinned: t.pinned}
	if t.refresh != nil {
		// A failed refresh does not stop the update, a rollback least of all: the token the
		// job started with may still be valid, and the update says so if it is not.
		if env, err := t.refresh(ctx); err != nil {
			fmt.Fprintf(t.out, "warning: no fresh federated token for this update (%v); trying with the one the job started with\n", err)
		} else {
			for k, v := range env {
				t.st.SetEnv(k, v)
			}
		}
	}
	if t.alwaysReady > 0 {
		d, err := t.st.Deployed(ctx)
		if err != nil {
			return req, err
		}
		changes := release.AlwaysReadyChanges(d.Weights, weightsGiving(slot, to), t.alwaysReady)
		for _, c := range changes {
			fmt.Fprintf(t.out, "with the traffic: %s (alwaysReadyInstances %d)\n", c, t.alwaysReady)
		}
		req.Traffic = release.TrafficWith(changes)
	}
	return req, nil
}

// weightsGiving are the weights that give slot pct percent.
func weightsGiving(slot stack.Slot, pct int) stack.Weights {
	if slot == stack.Blue {
		return stack.Weights{Green: 100 - pct, Blue: pct}
	}
	return stack.Weights{Green: pct, Blue: 100 - pct}
}

// fileTraffic reads the weights of a stack file, for a dry run that cannot reach the deployed
// stack. Which slot a release in progress started from comes from the file's git history, or
// is the larger share when there is none.
type fileTraffic struct{ path string }

func (f fileTraffic) Status(ctx context.Context) (rollout.Status, error) {
	d, err := release.FileStack{Path: f.path}.Deployed(ctx)
	if err != nil {
		return rollout.Status{}, err
	}
	name := d.CurrentSlotName
	if _, idle := d.Weights.Idle(); idle || name == "" {
		name = d.Weights.CurrentSlotName()
	}
	return rollout.Status{Weights: d.Weights, CurrentSlotName: name, Source: "in " + filepath.Base(f.path)}, nil
}

func (fileTraffic) Shift(context.Context, stack.Slot, int) error {
	return errors.New("a dry run from the stack file cannot shift")
}

func (fileTraffic) Rollback(context.Context, stack.Slot) error {
	return errors.New("a dry run from the stack file cannot roll back")
}

// indentWriter prefixes every line it writes, so the engine's and the gates' output reads as
// detail under the release's own progress lines.
type indentWriter struct {
	mu  sync.Mutex
	w   io.Writer
	mid bool // in the middle of a line
}

func indent(w io.Writer) io.Writer { return &indentWriter{w: w} }

func (iw *indentWriter) Write(p []byte) (int, error) {
	iw.mu.Lock()
	defer iw.mu.Unlock()
	var b bytes.Buffer
	for _, c := range p {
		if !iw.mid {
			b.WriteString("           | ")
			iw.mid = true
		}
		b.WriteByte(c)
		if c == '\n' {
			iw.mid = false
		}
	}
	if _, err := iw.w.Write(b.Bytes()); err != nil {
		return 0, err
	}
	return len(p), nil
}

// oneLine is the first line of an error, for a note.
func oneLine(err error) string {
	if err == nil {
		return "no error"
	}
	return pulumiMessage(err)
}

func joinSteps(steps []int) string {
	parts := make([]string, len(steps))
	for i, s := range steps {
		parts[i] = fmt.Sprint(s)
	}
	return strings.Join(parts, ", ")
}

// watcherPeriod is the longest stretch the stack's watcherSchedule leaves between two ticks.
func watcherPeriod(cfg *stack.Config) time.Duration {
	if s, err := ncrontab.Parse(cfg.WatcherSchedule); err == nil {
		return s.Period()
	}
	return time.Minute
}
