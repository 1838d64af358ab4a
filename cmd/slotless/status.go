package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/spf13/cobra"

	"github.com/slotless/slotless/internal/apiurl"
	"github.com/slotless/slotless/internal/engine"
	"github.com/slotless/slotless/internal/gate"
	"github.com/slotless/slotless/internal/history"
	"github.com/slotless/slotless/internal/plan"
	"github.com/slotless/slotless/internal/status"
	"github.com/slotless/slotless/internal/watcher"
	"github.com/slotless/slotless/stack"
)

// stackOutputs reads a deployed stack's outputs. Secret values come back as
// plan.SecretPlaceholder.
func stackOutputs(ctx context.Context, dir, name string) (map[string]any, error) {
	if err := needPulumi(); err != nil {
		return nil, err
	}
	// The same way to a stack as shift and release take; reading outputs runs no program.
	s, err := engine.Open(ctx, engine.Options{Dir: dir, Stack: name})
	if err != nil {
		if auto.IsSelectStack404Error(err) {
			return nil, fmt.Errorf("stack %s does not exist in the backend you are logged in to (pulumi stack ls lists those that do)", name)
		}
		return nil, fmt.Errorf("select stack %s: %s (logged in? pulumi login)", name, pulumiMessage(err))
	}
	outs, err := s.Outputs(ctx)
	if err != nil {
		return nil, fmt.Errorf("outputs of stack %s: %s", name, pulumiMessage(err))
	}
	m := make(map[string]any, len(outs))
	for k, v := range outs {
		m[k] = v.Value
		if v.Secret {
			m[k] = plan.SecretPlaceholder
		}
	}
	return m, nil
}

// needPulumi says in one line what commands that reach a deployed stack need, before the
// Automation API fails with a longer message.
func needPulumi() error {
	if _, err := exec.LookPath("pulumi"); err != nil {
		return errors.New("this command reads the deployed stack through the Pulumi CLI, which is not on PATH: install it (https://www.pulumi.com/docs/install/) and log in to the stack's backend (pulumi login)")
	}
	return nil
}

// pulumiMessage is the one line of an Automation API error worth showing.
func pulumiMessage(err error) string { return engine.Message(err) }

type statusOptions struct {
	d                  deps
	stack, dir, apiURL string
	asJSON             bool
	reqTimeout         time.Duration
	historyURL         string
}

func newStatusCmd(d deps) *cobra.Command {
	o := statusOptions{d: d}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Where a release stands, read from the deployed stack",
		Long: `Status reads the deployed stack's outputs, not the local stack file: the weights, the live
and the idle slot, whether a release is in progress, and currentSlotName, the slot that was
live when the release began. It needs the Pulumi CLI and a logged-in backend, as shift does.
It also reads the live pool through ARM, with the release's Azure credential: the weights users
follow, who set them and when (the pool's record), and a warning when they differ from Pulumi
state (a portal edit, a break-glass rollback). From the stack's history it reads the release
in flight, who holds the lease, and the watcher's heartbeat: when it last ran, which version,
what it found, or that it has not run for several periods (it is down).

With the API's URL (--api-url, else the stack's apiUrl output) and the pinning token in
SLOTLESS_PIN_TOKEN, it also sends one request per slot to <api>/health, pinned to that slot,
and reports each slot's version and health. Status exits 0 when it could read the stack,
whatever the slots answer.`,
		Example: `  slotless status --stack dev
  SLOTLESS_PIN_TOKEN=... slotless status --stack dev --json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context(), cmd.OutOrStdout(), os.Getenv) },
	}
	f := cmd.Flags()
	stackFlags(cmd, &o.stack, &o.dir, "stack to read")
	f.BoolVar(&o.asJSON, "json", false, "print JSON for machines")
	f.StringVar(&o.apiURL, "api-url", "", "the API's URL for the slots' health; default the stack output apiUrl")
	f.DurationVar(&o.reqTimeout, "request-timeout", gate.DefaultRequestTimeout, "limit for each slot's health request")
	historyFlag(cmd, &o.historyURL)
	return cmd
}

func (o statusOptions) run(ctx context.Context, stdout io.Writer, getenv func(string) string) error {
	if o.reqTimeout <= 0 {
		return usagef("--request-timeout: %s, want a positive duration", o.reqTimeout)
	}
	if o.apiURL != "" {
		if err := checkAPIURL(apiurl.SourceFlag, o.apiURL); err != nil {
			return err
		}
	}
	outs, err := o.d.stackOutputs(ctx, o.dir, o.stack)
	if err != nil {
		return err
	}
	st, err := status.FromOutputs(o.stack, outs)
	if err != nil {
		return err
	}
	readLive(ctx, &st, o, outs, getenv)
	readHistory(ctx, &st, o.historyURL, outs, getenv)
	output, _ := outs[stack.OutAPIURL].(string)
	var source string
	st.APIURL, source = apiurl.Resolve(o.apiURL, "", output)
	token := getenv(envPinToken)
	var urlErr error
	if st.APIURL != "" {
		urlErr = checkAPIURL(source, st.APIURL)
	}
	switch {
	case st.APIURL == "":
		st.SlotsSkipped = "no API URL: pass --api-url, or deploy the stack so it has an apiUrl output"
	case token == "":
		st.SlotsSkipped = "no pinning token: set " + envPinToken + " (stack config pinToken) to ask each slot through API Management"
	case urlErr != nil:
		st.SlotsSkipped = urlErr.Error()
	default:
		healthPath, _ := outs[stack.OutHealthPath].(string)
		if healthPath == "" {
			healthPath = stack.DefaultHealthPath
		}
		st.HealthURL = strings.TrimSuffix(st.APIURL, "/") + healthPath
		key := getenv(envSubscriptionKey)
		// Marked, so the metrics gate leaves these requests out of the users' figures.
		st.Slots = status.AskSlots(ctx, gate.MarkProbe(st.HealthURL), func(slot stack.Slot) map[string]string {
			h := map[string]string{headerPinSlot: string(slot), headerPinToken: token}
			if key != "" {
				h[headerSubscriptionKey] = key
			}
			return h
		}, o.reqTimeout)
	}
	if o.asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(st)
	}
	st.Print(stdout)
	return nil
}

// historyReadTimeout bounds status's reading of the history: what it printed before does not
// wait on it.
const historyReadTimeout = 30 * time.Second

// historyLimit is how many of the newest entries status reads to find the release in flight.
const historyLimit = 20

// readHistory reads the release in flight and the lease's holder from the stack's history into
// st; when it cannot, st says why in one line and the rest of status stands.
func readHistory(ctx context.Context, st *status.Status, flag string, outs map[string]any, getenv func(string) string) {
	url, why := historyURL(flag, getenv, outs)
	if url == "" {
		st.HistorySkipped = why
		return
	}
	s, err := openHistory(url, getenv)
	if err != nil {
		st.HistorySkipped = err.Error()
		return
	}
	hctx, cancel := context.WithTimeout(ctx, historyReadTimeout)
	defer cancel()
	entries, err := s.List(hctx, historyLimit)
	if err != nil {
		st.HistorySkipped = "the history cannot be read: " + oneLine(err)
		return
	}
	st.InFlight = status.InFlightOf(entries, time.Now())
	readWatcher(hctx, st, s, outs, time.Now())
	h, held, err := s.Holder(hctx)
	if err != nil {
		st.HistorySkipped = "the lease cannot be read: " + oneLine(err)
		return
	}
	st.Lease = &status.Lease{Held: held, Kind: h.Kind, ID: h.ID, By: h.By, Since: h.Since}
}

// readLive reads the live pool through ARM into st and notes where it differs from state.
func readLive(ctx context.Context, st *status.Status, o statusOptions, outs map[string]any, getenv func(string) string) {
	raw, err := plan.LoadConfig(o.dir, o.stack)
	if err != nil {
		st.LiveSkipped = err.Error()
		return
	}
	cfg, _ := stack.ParseAll(raw.Source())
	lp, err := newLivePool(raw, cfg, o.stack, func(context.Context) (map[string]any, error) { return outs, nil }, getenv)
	if err != nil {
		st.LiveSkipped = "no ARM client: " + err.Error()
		return
	}
	qctx, cancel := context.WithTimeout(ctx, livePoolTimeout)
	defer cancel()
	live, err := lp.Read(qctx)
	if err != nil {
		st.LiveSkipped = "the pool cannot be read through ARM: " + oneLine(err)
		return
	}
	ls := &status.LiveStatus{Green: live.Weights.Green, Blue: live.Weights.Blue, CurrentSlotName: live.CurrentSlotName}
	ls.DiffersFromState = live.Weights != stack.Weights{Green: st.Weights.Green, Blue: st.Weights.Blue}
	if rec, ok := live.Record(); ok {
		ls.SetBy = rec.By
		if !rec.At.IsZero() {
			ls.SetAt = rec.At.UTC().Format(time.RFC3339)
		}
	}
	if ls.DiffersFromState {
		st.Warnings = append(st.Warnings, fmt.Sprintf("the live pool (green %d%% / blue %d%%) differs from Pulumi state (green %d%% / blue %d%%): traffic was moved outside Pulumi (the portal, a break-glass rollback); users follow the live pool, and the next pulumi up or slotless command reconciles state", ls.Green, ls.Blue, st.Weights.Green, st.Weights.Blue))
	}
	st.Live = ls
}

// readWatcher reads the watcher's heartbeat into st when the stack declares a watcher.
func readWatcher(ctx context.Context, st *status.Status, s *history.Store, outs map[string]any, now time.Time) {
	if app, _ := outs[stack.OutWatcherAppName].(string); app == "" {
		return
	}
	h, found, err := s.Heartbeat(ctx, watcher.HeartbeatName)
	if err != nil {
		st.Watcher = &status.Watcher{Skipped: "its heartbeat cannot be read: " + oneLine(err)}
		return
	}
	live := watcher.Live(h, found, now, "")
	st.Watcher = &status.Watcher{Line: live.String(), Running: found && !live.Stale, LastRan: h.At, Version: h.Version, Found: h.Found, MissedPeriods: live.Missed}
}
