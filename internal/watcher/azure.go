package watcher

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/monitor/azquery"

	"github.com/slotless/slotless/internal/pool"
	"github.com/slotless/slotless/internal/release"
	"github.com/slotless/slotless/internal/rollout"
	"github.com/slotless/slotless/stack"
)

// headerSubscriptionKey is API Management's subscription key header.
const headerSubscriptionKey = "Ocp-Apim-Subscription-Key"

// Credential is the watcher's own user-assigned identity, through the host's identity endpoint
// (IDENTITY_ENDPOINT and IDENTITY_HEADER on App Service and Functions), which
// ManagedIdentityCredential finds by itself; the client id picks the watcher's identity.
func Credential(s Settings) (azcore.TokenCredential, error) {
	opts := &azidentity.ManagedIdentityCredentialOptions{}
	if s.ClientID != "" {
		opts.ID = azidentity.ClientID(s.ClientID)
	}
	c, err := azidentity.NewManagedIdentityCredential(opts)
	if err != nil {
		return nil, fmt.Errorf("the watcher's managed identity (%s %q): %w", EnvClientID, s.ClientID, err)
	}
	return c, nil
}

// Controller builds, for each tick, the same controller `slotless watch` runs, over Azure
// reached as the watcher's identity: the live pool through ARM for traffic (read, and rolled
// back by the break-glass write alone), the health gate and the probes pinned through the
// gateway, and the metrics gate against Log Analytics. No metrics preflight: a tick that
// cannot query Log Analytics still runs the health gate and the probes.
func Controller(s Settings, cred azcore.TokenCredential, clock rollout.Clock, out io.Writer) (func() *rollout.Controller, error) {
	str := func(k string) string { v, _ := s.Outputs[k].(string); return v }
	target, err := pool.TargetFromPoolID(str(stack.OutPoolID))
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", EnvOutputs, stack.OutPoolID, err)
	}
	client, err := pool.NewClient(cred, pool.Options{Endpoint: s.ARMEndpoint, Audience: s.ARMAudience})
	if err != nil {
		return nil, err
	}
	live := &pool.Located{Client: client, Locate: func(context.Context, *pool.Client) (pool.Target, error) { return target, nil }}
	logs, err := logsClient(cred, s.LogsEndpoint, s.LogsAudience)
	if err != nil {
		return nil, err
	}
	apps := map[stack.Slot]string{}
	for _, slot := range stack.Slots {
		apps[slot] = str(stack.OutAppName(slot))
	}
	metrics := rollout.NewGateMetrics(logs, str(stack.OutWorkspaceID), apps, s.Plan)
	components, own, warning := stack.TelemetryComponentsOf(s.Outputs)
	if warning != "" {
		fmt.Fprintf(out, "warning: %s\n", warning)
	}
	metrics.Components, metrics.OwnComponents = components, own
	headers := map[string]string{}
	if s.SubscriptionKey != "" {
		headers[headerSubscriptionKey] = s.SubscriptionKey
	}
	apiURL := strings.TrimSuffix(str(stack.OutAPIURL), "/")
	health := rollout.NewGateHealth(apiURL+s.Config.API.HealthPath, headers, s.PinToken, "", nil)
	traffic := ARMTraffic{Live: live, Out: out}
	return func() *rollout.Controller {
		c := rollout.New(clock, traffic, health, metrics, nil, out)
		if len(s.Plan.Probes) > 0 {
			c.WithProber(rollout.HTTPProber{APIURL: apiURL, Headers: headers, PinToken: s.PinToken, Probes: s.Plan.Probes})
		}
		return c
	}, nil
}

// logsClient is the Log Analytics query client as the watcher's identity: Azure's public query
// API, or endpoint with audience (its origin when empty).
func logsClient(cred azcore.TokenCredential, endpoint, audience string) (*azquery.LogsClient, error) {
	opts := &azquery.LogsClientOptions{}
	if endpoint != "" {
		u, err := url.Parse(endpoint)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("%s %q: want an absolute URL", EnvLogsEndpoint, endpoint)
		}
		if audience == "" {
			audience = u.Scheme + "://" + u.Host
		}
		opts.Cloud = cloud.Configuration{Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			azquery.ServiceNameLogs: {Endpoint: endpoint, Audience: audience},
		}}
	}
	c, err := azquery.NewLogsClient(cred, opts)
	if err != nil {
		return nil, fmt.Errorf("log analytics client: %w", err)
	}
	return c, nil
}

// ARMTraffic is rollout.Traffic over the live pool alone: the watcher reads where traffic
// stands from API Management and rolls back with the break-glass write (pool and
// current-slot-name, ETag-conditional), the pool's record naming the watcher. It never shifts.
type ARMTraffic struct {
	Live release.LivePool
	Out  io.Writer
}

// Status reads the live pool.
func (a ARMTraffic) Status(ctx context.Context) (rollout.Status, error) {
	l, err := a.Live.Read(ctx)
	if err != nil {
		return rollout.Status{}, fmt.Errorf("read the live pool through ARM: %w", err)
	}
	return rollout.Status{Weights: l.Weights, CurrentSlotName: l.CurrentSlotName, Source: "the live pool", Record: l.Description}, nil
}

// Shift is refused: the watcher only ever takes a canary to 0%.
func (ARMTraffic) Shift(context.Context, stack.Slot, int) error {
	return errors.New("the watcher never shifts traffic; it only rolls a failing canary back")
}

// Rollback writes slot's 0% through ARM.
func (a ARMTraffic) Rollback(ctx context.Context, slot stack.Slot) error {
	if err := release.WriteRollback(ctx, a.Live, nil, slot, stack.WatcherBy, a.Out); err != nil {
		return fmt.Errorf("the watcher's rollback through ARM: %w", err)
	}
	return nil
}
