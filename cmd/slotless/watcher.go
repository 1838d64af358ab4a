package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/slotless/slotless/internal/deploy"
	"github.com/slotless/slotless/internal/history"
	"github.com/slotless/slotless/internal/notify"
	"github.com/slotless/slotless/internal/pool"
	"github.com/slotless/slotless/internal/rollout"
	"github.com/slotless/slotless/internal/watcher"
	"github.com/slotless/slotless/stack"
)

const watcherLong = `The watcher is a third Flex Consumption app the stack declares (stack config watcher, on by
default), running this very slotless as a custom handler with one timer-triggered function
(watcherSchedule, every minute by default). Each run judges a canary standing between runs (an
--until pause, an approval) with the release's own health gate, probes and metrics gate, and
rolls it back through ARM alone when it fails: no CI runner, no Pulumi backend and no secret
outside Azure. A release holds the stack's lease while it runs, and the watcher leaves the
canary to it. See docs/releases.md#the-watcher.`

func newWatcherCmd(d deps) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "watcher",
		Short: "The watcher in Azure: its package, its deployment, and the handler it runs",
		Long:  watcherLong,
		Example: `  slotless watcher deploy --stack dev
  slotless watcher package -o watcher.zip`,
		Args: cobra.ArbitraryArgs,
		RunE: needSubcommand,
	}
	cmd.AddCommand(newWatcherServeCmd(d), newWatcherPackageCmd(d), newWatcherDeployCmd(d))
	return cmd
}

func newWatcherServeCmd(d deps) *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Serve the Functions host's timer invocations (the watcher app runs this)",
		Long: `Serve is the custom handler the watcher's Functions host starts: it listens on
FUNCTIONS_CUSTOMHANDLER_PORT, and each POST /watch from the host is one tick, judged from the
app's settings (SLOTLESS_WATCHER_*) as the watcher's managed identity. Not for a laptop.`,
		Example: `  # host.json of the watcher's package runs:
  slotless watcher serve`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			port := d.getenv(watcher.EnvHandlerPort)
			if port == "" {
				return usagef("watcher serve: %s is not set: the Functions host sets it for a custom handler", watcher.EnvHandlerPort)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:"+port)
			if err != nil {
				return fmt.Errorf("watcher serve: %s %s: %w", watcher.EnvHandlerPort, port, err)
			}
			srv := &http.Server{Handler: watcher.Handler(func(ctx context.Context, timer watcher.TimerInfo) ([]string, any, error) {
				return watcherTick(ctx, d.getenv, d.version, timer)
			}), ReadHeaderTimeout: 30 * time.Second}
			go func() {
				<-cmd.Context().Done()
				_ = srv.Close()
			}()
			fmt.Fprintf(cmd.ErrOrStderr(), "watcher: serving the %s function on %s\n", watcher.FunctionName, ln.Addr())
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
}

// watcherTick is one invocation: the settings read afresh (the stack may have changed them),
// the managed identity, the history store, and the tick.
func watcherTick(ctx context.Context, getenv func(string) string, version string, timer watcher.TimerInfo) ([]string, any, error) {
	var out bytes.Buffer
	if timer.IsPastDue {
		fmt.Fprintln(&out, "this run is past due: occurrences were missed (the app was down or a run overran); it judges from the cursor, so the gap is judged")
	}
	s, err := watcher.Load(getenv)
	if err != nil && s.Config == nil {
		return watcher.Lines(out.String()), nil, err
	}
	if err != nil {
		fmt.Fprintf(&out, "warning: %v\n", err)
	}
	cred, err := watcher.Credential(s)
	if err != nil {
		return watcher.Lines(out.String()), nil, err
	}
	clock := rollout.SystemClock{}
	build, err := watcher.Controller(s, cred, clock, &out)
	if err != nil {
		return watcher.Lines(out.String()), nil, err
	}
	url, _ := s.Outputs[watcher.OutHistoryURL].(string)
	hs, err := history.Open(url, cred, nil)
	if err != nil {
		return watcher.Lines(out.String()), nil, fmt.Errorf("%s: %s: %w", watcher.EnvOutputs, watcher.OutHistoryURL, err)
	}
	var told watcher.Notifier
	if len(s.Notify) > 0 {
		sender := notify.NewSender(notify.NewHTTPClient(), notify.SystemClock{}, notify.DefaultLimits, &out)
		told = notify.New(s.Notify, notify.Origin{Project: s.Project, Stack: s.Stack, By: stack.WatcherBy}, sender, notify.SystemClock{})
	}
	t := watcher.Tick{Settings: s, Store: watcher.HistoryStore{S: hs, Stack: s.Stack}, Controller: build, Notifier: told, Clock: clock, By: stack.WatcherBy, Out: &out, Version: version}
	res, err := t.Run(ctx)
	return watcher.Lines(out.String()), res.Summary(), err
}

func newWatcherPackageCmd(d deps) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "package",
		Short: "Write the watcher's deployment package (host.json, the timer function, slotless for linux/amd64)",
		Long: `Package writes the watcher app's zip: host.json naming slotless as the custom handler, the
watch function's function.json (a timer whose schedule is the app setting
SLOTLESS_WATCHER_SCHEDULE), and this slotless when it is linux/amd64, the platform of Flex
Consumption; on any other machine, the linux/amd64 binary of this same version, downloaded
from its release (SLOTLESS_DOWNLOAD_URL overrides where, as for install.sh) and refused unless
its SHA256SUMS vouches for it.`,
		Example: `  slotless watcher package -o watcher.zip`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return writeWatcherPackage(cmd.Context(), d, out, cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "watcher.zip", "where to write the zip")
	return cmd
}

// writeWatcherPackage writes the watcher's zip to path: with this slotless when it is
// linux/amd64, else with the linux/amd64 binary of this very version, downloaded from the
// release (SLOTLESS_DOWNLOAD_URL overrides where) and checked against its SHA256SUMS.
func writeWatcherPackage(ctx context.Context, d deps, path string, progress io.Writer) error {
	bin, ok := watcher.Self()
	if !ok {
		tmp, err := os.MkdirTemp("", "slotless-watcher-bin-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		if bin, err = watcher.FetchBinary(ctx, http.DefaultClient, d.getenv(watcher.EnvDownloadURL), d.version, tmp, progress); err != nil {
			return fmt.Errorf("watcher package: %w", err)
		}
	}
	var buf bytes.Buffer
	if err := watcher.WritePackage(&buf, bin); err != nil {
		return err
	}
	return writeFileAtomic(path, buf.Bytes())
}

func newWatcherDeployCmd(d deps) *cobra.Command {
	var stackName, dir string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "deploy",
		Short: "Deploy this slotless to the stack's watcher app",
		Long: `Deploy packages this slotless as the watcher (slotless watcher package) and deploys it to the
stack's watcher app (stack output watcherAppName) with the same one-deploy path as slotless
deploy. Run it after the pulumi up that creates the watcher, and after each upgrade of slotless.`,
		Example: `  slotless watcher deploy --stack dev`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return deployWatcher(cmd.Context(), d, dir, stackName, timeout, cmd.ErrOrStderr())
		},
	}
	stackFlags(cmd, &stackName, &dir, "stack whose watcher to deploy")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "how long to wait for the deployment")
	return cmd
}

// deployWatcher packages this slotless and deploys it to the stack's watcher app.
func deployWatcher(ctx context.Context, d deps, dir, stackName string, timeout time.Duration, progress io.Writer) error {
	outs, err := d.deploy.outputs(ctx, dir, stackName)
	if err != nil {
		return err
	}
	return deployWatcherTo(ctx, d, outs, timeout, progress)
}

// deployWatcherTo deploys this slotless to the watcher app the outputs name.
func deployWatcherTo(ctx context.Context, d deps, outs map[string]any, timeout time.Duration, progress io.Writer) error {
	app, _ := outs[stack.OutWatcherAppName].(string)
	group, _ := outs[stack.OutResourceGroup].(string)
	target, err := pool.TargetFromPoolID(fmt.Sprint(outs[stack.OutPoolID]))
	if app == "" || group == "" || err != nil {
		return fmt.Errorf("watcher deploy: the stack has no %s, %s or %s output: turn the watcher on (stack config watcher true) and run pulumi up", stack.OutWatcherAppName, stack.OutResourceGroup, stack.OutPoolID)
	}
	tmp, err := os.MkdirTemp("", "slotless-watcher-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	zipPath := filepath.Join(tmp, "watcher.zip")
	if err := writeWatcherPackage(ctx, d, zipPath, progress); err != nil {
		return err
	}
	pkg, err := deploy.CheckPackage(zipPath)
	if err != nil {
		return err
	}
	cred, how, err := d.deploy.credential(d.getenv)
	if err != nil {
		return err
	}
	fmt.Fprintf(progress, "watcher: deploying slotless %s to %s (signed in with %s)\n", d.version, app, how)
	up, err := d.deploy.deployer(ctx, cred, target.Subscription, group, app, timeout, d.getenv)
	if err != nil {
		return err
	}
	if err := up.Deploy(ctx, pkg, progress); err != nil {
		return fmt.Errorf("watcher deploy to %s: %w", app, err)
	}
	fmt.Fprintf(progress, "watcher: %s runs slotless %s\n", app, strings.TrimSpace(d.version))
	return nil
}

// watcherDeployTimeout bounds the deploy a release makes of the watcher: a release does not wait
// longer than this on it before it warns and goes on.
const watcherDeployTimeout = 3 * time.Minute

// ensureWatcher is the check at the start of a release: when the stack declares the watcher and
// its heartbeat is missing, stale or from another slotless, it deploys this slotless to the
// watcher (deployWatcherTo, the code of slotless watcher deploy), so every release is watched
// by its own version with nothing in the pipelines. A deploy made within the last periods
// whose first tick is not due yet is not made again. It never fails the release: what it cannot
// do is a warning. Progress goes to w (stderr).
func ensureWatcher(ctx context.Context, d deps, outs map[string]any, flag string, period time.Duration, getenv func(string) string, w io.Writer) {
	if app, _ := outs[stack.OutWatcherAppName].(string); app == "" {
		return // the stack declares no watcher
	}
	now := time.Now()
	var s *history.Store
	url, why := historyURL(flag, getenv, outs)
	if url == "" {
		fmt.Fprintf(w, "watcher: its heartbeat cannot be read (%s): deploying it to be sure it runs slotless %s\n", why, d.version)
	} else if hs, err := openHistory(url, getenv); err != nil {
		fmt.Fprintf(w, "watcher: its heartbeat cannot be read (%v): deploying it to be sure it runs slotless %s\n", oneLine(err), d.version)
	} else {
		s = hs
		hctx, cancel := context.WithTimeout(ctx, historyReadTimeout)
		h, found, err := s.Heartbeat(hctx, watcher.HeartbeatName)
		var dep history.Heartbeat
		var deployed bool
		if err == nil {
			dep, deployed, err = s.Heartbeat(hctx, watcher.DeployedName)
		}
		cancel()
		if err != nil {
			fmt.Fprintf(w, "watcher: its heartbeat cannot be read (%v): deploying it to be sure it runs slotless %s\n", oneLine(err), d.version)
		} else {
			deploy, line := watcher.DecideDeploy(h, found, dep, deployed, now, d.version)
			fmt.Fprintln(w, line)
			if !deploy {
				return
			}
		}
	}
	if err := deployWatcherTo(ctx, d, outs, watcherDeployTimeout, w); err != nil {
		fmt.Fprintf(w, "warning: the watcher could not be deployed (%v); the release goes on, and a canary it leaves paused is watched only by the CI watch until slotless watcher deploy succeeds\n", oneLine(err))
		return
	}
	if s != nil {
		mark := history.Heartbeat{Version: d.version, At: now.UTC(), PeriodSeconds: int(period / time.Second), Outcome: "deployed", Found: "deployed by slotless release"}
		if err := s.PutHeartbeat(ctx, watcher.DeployedName, mark); err != nil {
			fmt.Fprintf(w, "warning: the watcher's deploy could not be noted in the history (%v); the next release deploys it again until it ticks\n", oneLine(err))
		}
	}
}
