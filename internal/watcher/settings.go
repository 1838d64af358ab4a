// Package watcher is the watcher that lives in Azure: a third Flex Consumption app, declared by
// the stack, runs this slotless as a custom handler with one timer-triggered function, and each
// occurrence of the timer is one tick (Tick). A tick judges a canary that stands between runs
// (an --until pause, an approval) with the same controller, gates and verdicts as `slotless
// release` and `slotless watch` (rollout.Controller.Watch), and rolls it back through ARM
// alone. It needs no Pulumi backend, no CI runner and no secret outside Azure: what it judges
// by is in its app settings, written by the stack, and it signs in as its own managed identity.
package watcher

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/slotless/slotless/internal/ncrontab"
	"github.com/slotless/slotless/internal/rollout"
	"github.com/slotless/slotless/stack"
)

// App settings the stack writes on the watcher's app (stack/watcher.go), read by each tick.
const (
	// EnvConfig is a JSON object of the stack config values the judging needs (the plan's
	// keys: steps, thresholds, probes, health path, lag), raw as the stack file has them,
	// parsed by the same stack.Parse and rollout.NewPlan as a release's.
	EnvConfig = stack.EnvWatcherConfig
	// EnvOutputs is a JSON object of the stack outputs the judging needs, under the names the
	// stack exports them (apiUrl, poolId, logAnalyticsWorkspaceId, the app names, the
	// telemetry components, historyUrl).
	EnvOutputs = stack.EnvWatcherOutputs
	// EnvProject and EnvStack name the stack, for records and messages.
	EnvProject = stack.EnvWatcherProject
	EnvStack   = stack.EnvWatcherStack
	// EnvSchedule is the timer's NCRONTAB expression (watcherSchedule): the window a tick
	// judges at least is its period.
	EnvSchedule = stack.EnvWatcherSchedule
	// EnvVersion is the slotless version the stack expects the watcher to run.
	EnvVersion = stack.EnvWatcherVersion
	// EnvPinToken, EnvSubscriptionKey and EnvNotify are secrets, held by Pulumi as secrets and
	// written only as app settings: the pinning token, the API's subscription key when it
	// requires one, and the notify targets (stack config notify, a JSON list).
	EnvPinToken        = stack.EnvWatcherPinToken
	EnvSubscriptionKey = stack.EnvWatcherSubscriptionKey
	EnvNotify          = stack.EnvWatcherNotify
	// EnvClientID is the watcher identity's client id, which ManagedIdentityCredential asks
	// the host's identity endpoint for.
	EnvClientID = "AZURE_CLIENT_ID"
	// EnvLogsEndpoint, EnvARMEndpoint and EnvARMAudience name the Log Analytics query API and
	// Resource Manager outside Azure's public cloud; empty is the public cloud.
	EnvLogsEndpoint = "SLOTLESS_LOGS_ENDPOINT"
	// EnvLogsAudience is the audience of the query API's tokens with EnvLogsEndpoint; empty
	// is the endpoint's origin, as for a sovereign cloud's query API.
	EnvLogsAudience = "SLOTLESS_LOGS_AUDIENCE"
	EnvARMEndpoint  = "ARM_RESOURCE_MANAGER_ENDPOINT"
	EnvARMAudience  = "ARM_RESOURCE_MANAGER_AUDIENCE"
)

// PlanKeys are the stack config keys a tick judges by (stack.WatcherPlanKeys): the stack
// copies exactly these into EnvConfig.
var PlanKeys = stack.WatcherPlanKeys

// Settings are one tick's inputs, read from the app's settings.
type Settings struct {
	Project, Stack string
	Config         *stack.Config
	Plan           rollout.Plan
	Outputs        map[string]any
	Schedule       ncrontab.Schedule
	// Version is the slotless the stack expects the watcher to run.
	Version string
	// PinToken and SubscriptionKey reach the slots through the gateway; Notify are the
	// targets told of a rollback. All three are secrets.
	PinToken, SubscriptionKey  string
	Notify                     []stack.NotifyTarget
	ClientID                   string
	LogsEndpoint, LogsAudience string
	ARMEndpoint, ARMAudience   string
}

// Load reads the settings; every problem is named by its setting.
func Load(getenv func(string) string) (Settings, error) {
	var s Settings
	var errs []error
	s.Project, s.Stack = getenv(EnvProject), getenv(EnvStack)
	if s.Stack == "" {
		errs = append(errs, fmt.Errorf("%s: not set, want the stack's name", EnvStack))
	}
	raw := map[string]string{}
	if err := json.Unmarshal([]byte(getenv(EnvConfig)), &raw); err != nil {
		errs = append(errs, fmt.Errorf("%s: want a JSON object of stack config values: %w", EnvConfig, err))
	}
	// The pinning token is a plan key too (the health gate and probes need it), held apart as
	// a secret.
	s.PinToken, s.SubscriptionKey = getenv(EnvPinToken), getenv(EnvSubscriptionKey)
	if s.PinToken == "" {
		errs = append(errs, fmt.Errorf("%s: not set; the health gate and the probes pin each request to the canary with it (stack config pinToken)", EnvPinToken))
	} else {
		raw["pinToken"] = s.PinToken
	}
	cfg, err := stack.Parse(func(k string) (string, bool) { v, ok := raw[k]; return v, ok })
	if err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", EnvConfig, err))
	} else {
		s.Config = cfg
		if s.Plan, err = rollout.NewPlan(cfg); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", EnvConfig, err))
		}
	}
	if err := json.Unmarshal([]byte(getenv(EnvOutputs)), &s.Outputs); err != nil {
		errs = append(errs, fmt.Errorf("%s: want a JSON object of stack outputs: %w", EnvOutputs, err))
	}
	var missing []string
	for _, k := range []string{stack.OutAPIURL, stack.OutPoolID, stack.OutWorkspaceID, stack.OutAppName(stack.Green), stack.OutAppName(stack.Blue), stack.OutHistoryURL} {
		if v, _ := s.Outputs[k].(string); v == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 && s.Outputs != nil {
		sort.Strings(missing)
		errs = append(errs, fmt.Errorf("%s: no %s", EnvOutputs, strings.Join(missing, ", ")))
	}
	expr := getenv(EnvSchedule)
	if expr == "" {
		expr = stack.DefaultWatcherSchedule
	}
	if s.Schedule, err = ncrontab.Parse(expr); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", EnvSchedule, err))
	} else if !s.Schedule.Within(stack.MaxWatcherPeriod) {
		errs = append(errs, fmt.Errorf("%s: %q leaves more than %s between runs", EnvSchedule, expr, stack.MaxWatcherPeriod))
	}
	if n := getenv(EnvNotify); n != "" {
		targets, problems := stack.ParseNotify("notify", n)
		if len(problems) > 0 {
			// A bad list tells nobody, and the tick still judges and rolls back.
			errs = append(errs, fmt.Errorf("%s: %s", EnvNotify, strings.Join(problems, "; ")))
		}
		s.Notify = targets
	}
	s.Version = getenv(EnvVersion)
	s.ClientID = getenv(EnvClientID)
	s.LogsEndpoint, s.LogsAudience = getenv(EnvLogsEndpoint), getenv(EnvLogsAudience)
	s.ARMEndpoint, s.ARMAudience = getenv(EnvARMEndpoint), getenv(EnvARMAudience)
	return s, errors.Join(errs...)
}

// Period is the longest time the schedule leaves between two ticks.
func (s Settings) Period() time.Duration { return s.Schedule.Period() }

// OutHistoryURL is the output, in EnvOutputs, naming the history container
// (https://<account>.blob.core.windows.net/history).
const OutHistoryURL = stack.OutHistoryURL
