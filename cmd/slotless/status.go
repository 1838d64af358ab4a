package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/spf13/cobra"

	"github.com/slotless/slotless/internal/engine"
	"github.com/slotless/slotless/internal/gate"
	"github.com/slotless/slotless/internal/plan"
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

// Status is where a release stands, read from a deployed stack. Its JSON shape is what
// `slotless status --json` prints.
type Status struct {
	Stack   string `json:"stack"`
	Weights struct {
		Green int `json:"green"`
		Blue  int `json:"blue"`
	} `json:"weights"`
	LiveSlot string `json:"liveSlot"`
	// IdleSlot is empty while a release is in progress.
	IdleSlot          string `json:"idleSlot"`
	ReleaseInProgress bool   `json:"releaseInProgress"`
	// CurrentSlotName is the currentSlotName output, when the stack has it.
	CurrentSlotName string `json:"currentSlotName,omitempty"`
	// Origin is the slot live when the release in progress began, from CurrentSlotName;
	// ReleaseSlot is the other one. Both are empty when no release is in progress or the
	// stack has no currentSlotName output.
	Origin      string `json:"origin,omitempty"`
	ReleaseSlot string `json:"releaseSlot,omitempty"`
	APIURL      string `json:"apiUrl,omitempty"`
	// Live is the pool as API Management holds it, read through ARM; nil when it could not be
	// read (LiveSkipped says why).
	Live        *LiveStatus `json:"live,omitempty"`
	LiveSkipped string      `json:"liveSkipped,omitempty"`
	// Slots is each slot's answer to one pinned health request, green first.
	Slots []SlotHealth `json:"slots,omitempty"`
	// SlotsSkipped says why the slots were not asked.
	SlotsSkipped string   `json:"slotsSkipped,omitempty"`
	Warnings     []string `json:"warnings,omitempty"`
}

// LiveStatus is the live pool and what it says of who set it.
type LiveStatus struct {
	Green           int    `json:"green"`
	Blue            int    `json:"blue"`
	CurrentSlotName string `json:"currentSlotName"`
	// DiffersFromState is true when the pool's weights are not Pulumi state's.
	DiffersFromState bool `json:"differsFromState"`
	// SetBy and SetAt come from the pool's record (stack.PoolRecord), when it has one.
	SetBy string `json:"setBy,omitempty"`
	SetAt string `json:"setAt,omitempty"`
}

// SlotHealth is one slot's answer.
type SlotHealth struct {
	Slot string `json:"slot"`
	gate.Answer
}

type statusOptions struct {
	d                  deps
	stack, dir, apiURL string
	asJSON             bool
	reqTimeout         time.Duration
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
state (a portal edit, a break-glass rollback).

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
	return cmd
}

func (o statusOptions) run(ctx context.Context, stdout io.Writer, getenv func(string) string) error {
	if o.reqTimeout <= 0 {
		return usagef("--request-timeout: %s, want a positive duration", o.reqTimeout)
	}
	if o.apiURL != "" && !absoluteHTTP(o.apiURL) {
		return usagef("--api-url: %q is not an absolute http or https URL", o.apiURL)
	}
	outs, err := o.d.stackOutputs(ctx, o.dir, o.stack)
	if err != nil {
		return err
	}
	st, err := readStatus(o.stack, outs)
	if err != nil {
		return err
	}
	st.readLive(ctx, o, outs, getenv)
	st.APIURL = o.apiURL
	if st.APIURL == "" {
		st.APIURL, _ = outs[stack.OutAPIURL].(string)
	}
	token := getenv(envPinToken)
	switch {
	case st.APIURL == "":
		st.SlotsSkipped = "no API URL: pass --api-url, or deploy the stack so it has an apiUrl output"
	case token == "":
		st.SlotsSkipped = "no pinning token: set " + envPinToken + " (stack config pinToken) to ask each slot through API Management"
	default:
		healthPath, _ := outs[stack.OutHealthPath].(string)
		if healthPath == "" {
			healthPath = stack.DefaultHealthPath
		}
		st.Slots = askSlots(ctx, strings.TrimSuffix(st.APIURL, "/")+healthPath, token, getenv(envSubscriptionKey), o.reqTimeout)
	}
	if o.asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(st)
	}
	st.print(stdout)
	return nil
}

// readLive reads the live pool through ARM and notes where it differs from state.
func (st *Status) readLive(ctx context.Context, o statusOptions, outs map[string]any, getenv func(string) string) {
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
	ls := &LiveStatus{Green: live.Weights.Green, Blue: live.Weights.Blue, CurrentSlotName: live.CurrentSlotName}
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

// readStatus reads the weights and slots from the stack's outputs.
func readStatus(name string, outs map[string]any) (Status, error) {
	st := Status{Stack: name}
	var problems []string
	weight := func(key string) int {
		v, ok := outs[key]
		if !ok {
			problems = append(problems, key+": missing")
			return 0
		}
		n, err := outputInt(v)
		if err != nil || n < 0 || n > 100 {
			problems = append(problems, fmt.Sprintf("%s: %v is not a weight 0..100", key, v))
		}
		return n
	}
	st.Weights.Green, st.Weights.Blue = weight(stack.OutGreenWeight), weight(stack.OutBlueWeight)
	if len(problems) > 0 {
		return st, fmt.Errorf("stack %s has no usable traffic outputs (%s): has it been deployed with this program (pulumi up)?", name, strings.Join(problems, "; "))
	}
	w := stack.Weights{Green: st.Weights.Green, Blue: st.Weights.Blue}
	if w.Green+w.Blue != 100 {
		st.Warnings = append(st.Warnings, fmt.Sprintf("the weights sum to %d, not 100", w.Green+w.Blue))
	}
	st.LiveSlot, _ = outs[stack.OutLiveSlot].(string)
	st.IdleSlot, _ = outs[stack.OutIdleSlot].(string)
	if st.LiveSlot == "" {
		st.LiveSlot = string(w.Live())
	}
	st.ReleaseInProgress = w.InProgress()
	if idle, ok := w.Idle(); ok && st.IdleSlot != string(idle) {
		st.Warnings = append(st.Warnings, fmt.Sprintf("idleSlot output %q disagrees with the weights, which leave %s idle", st.IdleSlot, idle))
	}
	st.CurrentSlotName, _ = outs[stack.OutCurrentSlotName].(string) // older stacks lack it
	if st.CurrentSlotName == "" {
		return st, nil
	}
	current := ""
	if s, ok := stack.SlotOfBackendID(st.CurrentSlotName); ok {
		current = string(s)
	}
	switch {
	case current == "":
		st.Warnings = append(st.Warnings, fmt.Sprintf("currentSlotName %q is not a slot's backend id", st.CurrentSlotName))
	case st.ReleaseInProgress:
		st.Origin, st.ReleaseSlot = current, string(stack.Slot(current).Other())
	case current != st.LiveSlot:
		st.Warnings = append(st.Warnings, fmt.Sprintf("currentSlotName %q does not name the live slot %s", st.CurrentSlotName, st.LiveSlot))
	}
	return st, nil
}

// outputInt reads a number output, which JSON delivers as float64.
func outputInt(v any) (int, error) {
	switch n := v.(type) {
	case float64:
		if n != float64(int(n)) {
			return 0, fmt.Errorf("%v is not an integer", n)
		}
		return int(n), nil
	case int:
		return n, nil
	case string:
		return strconv.Atoi(n)
	}
	return 0, fmt.Errorf("%v is not a number", v)
}

// askSlots sends one pinned health request to each slot, both at once.
func askSlots(ctx context.Context, healthURL, token, subscriptionKey string, timeout time.Duration) []SlotHealth {
	out := make([]SlotHealth, len(stack.Slots))
	var wg sync.WaitGroup
	for i, slot := range stack.Slots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := map[string]string{headerPinSlot: string(slot), headerPinToken: token}
			if subscriptionKey != "" {
				h[headerSubscriptionKey] = subscriptionKey
			}
			a, err := gate.Probe(ctx, gate.HealthConfig{
				URL: healthURL, Headers: h, Slot: string(slot), RequestTimeout: timeout,
			})
			if err != nil {
				a = gate.Answer{Reason: gate.ReasonUnreachable, Detail: err.Error()}
			}
			out[i] = SlotHealth{Slot: string(slot), Answer: a}
		}()
	}
	wg.Wait()
	return out
}

func (st Status) print(w io.Writer) {
	fmt.Fprintf(w, "stack %s: traffic green %d%% / blue %d%%\n", st.Stack, st.Weights.Green, st.Weights.Blue)
	switch {
	case st.Live != nil:
		by := ""
		if st.Live.SetBy != "" {
			by = ", set by " + st.Live.SetBy
			if st.Live.SetAt != "" {
				by += " at " + st.Live.SetAt
			}
		}
		fmt.Fprintf(w, "live pool: green %d%% / blue %d%% (API Management%s)\n", st.Live.Green, st.Live.Blue, by)
	case st.LiveSkipped != "":
		fmt.Fprintf(w, "live pool: not read: %s\n", st.LiveSkipped)
	}
	idle := st.IdleSlot
	if idle == "" {
		idle = "none"
	}
	fmt.Fprintf(w, "live slot: %s\nidle slot: %s\n", st.LiveSlot, idle)
	switch {
	case !st.ReleaseInProgress:
		fmt.Fprintf(w, "release: none in progress; the next one deploys to %s\n", idle)
	case st.ReleaseSlot != "":
		fmt.Fprintf(w, "release: in progress, %s takes over from %s\n", st.ReleaseSlot, st.Origin)
	default:
		fmt.Fprintln(w, "release: in progress; which slot it started from is unknown (no currentSlotName output)")
	}
	if st.CurrentSlotName != "" {
		fmt.Fprintf(w, "current-slot-name: %s\n", st.CurrentSlotName)
	}
	for _, warning := range st.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warning)
	}
	if st.SlotsSkipped != "" {
		fmt.Fprintf(w, "slots: not asked: %s\n", st.SlotsSkipped)
		return
	}
	fmt.Fprintf(w, "slots, one request each to %s/health, pinned:\n", strings.TrimSuffix(st.APIURL, "/"))
	for _, s := range st.Slots {
		verdict := "healthy"
		if !s.Healthy {
			verdict = string(s.Reason) + ": " + s.Detail
		}
		fmt.Fprintf(w, "  %-5s  version %s  %s\n", s.Slot, orDash(s.Version), verdict)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
