// Package stack is the slotless Pulumi program: two Flex Consumption function apps, green and
// blue, behind an API Management weighted backend pool whose weights are stack config.
//
// Data flows one way: config → Config (validated) → Weights (pure) → resources → outputs.
package stack

import (
	"fmt"
	"os"
	"time"

	"github.com/pulumi/pulumi-azure-native-sdk/resources/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/slotless/slotless/internal/buildinfo"
)

// Program declares the whole stack, as a plain `pulumi up` (or preview) runs it.
func Program(ctx *pulumi.Context) error {
	return ProgramBy(Mover{By: ByPulumiUp, At: time.Now(), Version: buildinfo.Version(), AllowLiveChange: AllowLiveChangeFrom(os.Getenv)})(ctx)
}

// ProgramBy is the program run by a mover: slotless names its command, so the pool records who
// moved traffic, and the traffic guard (PoolDescription) is left to slotless's own. It validates
// every config key before registering any resource, so bad input fails fast with one message
// per key.
func ProgramBy(m Mover) pulumi.RunFunc {
	return ProgramIn("", m)
}

// ProgramIn is ProgramBy for the project in root, the directory of Pulumi.yaml, which apiSpec
// is relative to. Inline hosts (slotless, the offline plan) pass it: the Automation API tells an
// inline program no project directory. Empty means the engine's root directory, which a plain
// `pulumi up` gives, else the working directory.
func ProgramIn(root string, m Mover) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		if root == "" {
			root = ctx.RootDirectory()
		}
		if root == "" {
			root = "."
		}
		return program(ctx, root, m)
	}
}

func program(ctx *pulumi.Context, root string, m Mover) error {
	cfg, err := Load(ctx)
	if err != nil {
		return fmt.Errorf("invalid stack config:\n%w", err)
	}
	last, err := lastOutputs(ctx)
	if err != nil {
		// A backend that cannot answer must not stop an update, least of all a rollback. With
		// no record, the version is not checked (the slotless commands check it again from
		// the outputs they read) and no slot is held to its configuration: say so.
		_ = ctx.Log.Warn(fmt.Sprintf("slotless could not read the outputs of the stack's last update (%v): the slotless version that last changed it is not checked, and a slot that carries traffic is not kept on its settings", err), nil)
	}
	keepWatcherRollback(ctx, cfg, m, last)
	version, err := versionGuard(ctx, m, cfg.Weights, last)
	if err != nil {
		return err
	}
	if err := AuthPhaseGuard(cfg, last); err != nil {
		return err
	}
	settings, err := PlanSettings(cfg, last, m.AllowLiveChange, m.At)
	if err != nil {
		return err
	}
	team, err := lookupTelemetry(ctx, cfg)
	if err != nil {
		return err
	}
	telemetry := PlanTelemetry(team.Desired(), last, settings)
	for _, w := range append(settings.Warnings, telemetry.Warnings...) {
		_ = ctx.Log.Warn(w, nil)
	}
	api, err := LoadAPISurface(root, cfg.API.Spec, cfg.API.HealthPath)
	if err != nil {
		return fmt.Errorf("invalid stack config:\n%w", err)
	}
	names := NewNames(ctx.Project(), ctx.Stack(), cfg)
	reused, err := readReusedService(ctx, names, cfg)
	if err != nil {
		return err
	}
	tags := pulumi.StringMap{
		"app":   pulumi.String(ctx.Project()),
		"stack": pulumi.String(ctx.Stack()),
	}

	rg, err := resourceGroup(ctx, names, cfg, tags)
	if err != nil {
		return err
	}
	st, err := newStorage(ctx, names, rg, cfg, tags)
	if err != nil {
		return err
	}
	hist, err := newHistory(ctx, st, rg)
	if err != nil {
		return err
	}
	mon, err := newMonitoring(ctx, names, rg, cfg, tags, team, telemetry)
	if err != nil {
		return err
	}
	gatewayIdentity, err := newGatewayIdentity(ctx, names, cfg, rg, tags)
	if err != nil {
		return err
	}
	svc, err := newAPIMService(ctx, names, cfg, rg, tags, gatewayIdentity, reused)
	if err != nil {
		return err
	}
	ids := NewAPIMIDs(cfg)
	colours := map[Slot]*Colour{}
	for _, slot := range Slots {
		c, err := newColour(ctx, slot, colourArgs{names: names, cfg: cfg, resourceGroup: rg, storage: st, monitoring: mon, tags: tags,
			service: svc, keyName: ids.FunctionKey(slot), held: settings.Held[slot], deployed: deployedWeights(last), poolID: ids.Pool()})
		if err != nil {
			return err
		}
		colours[slot] = c
	}
	gw, err := newGateway(ctx, gatewayArgs{names: names, cfg: cfg, resourceGroup: rg, service: svc, colours: colours, mover: m, api: api, gatewayIdentity: gatewayIdentity})
	if err != nil {
		return err
	}
	if err := requireGateway(ctx, cfg, colours, rg, gatewayIdentity, gw.Policy); err != nil {
		return err
	}
	wsub, err := newWatcherSubscription(ctx, cfg, svc.ResourceGroup, gw)
	if err != nil {
		return err
	}
	if cfg.ReleasePrincipalID != "" {
		gateway := []pulumi.Resource{gw.Pool, gw.CurrentSlot}
		for _, slot := range Slots {
			gateway = append(gateway, gw.Backends[slot])
		}
		if wsub != nil {
			gateway = append(gateway, wsub.Subscription)
		}
		if _, err := newReleaseAccess(ctx, releaseAccessArgs{names: names, cfg: cfg, ids: ids, gateway: gateway, watcherKey: wsub,
			groupID: st.Account.ID().ToStringOutput(), telemetry: mon.Team, poolID: gw.Pool.ID().ToStringOutput(), currentID: gw.CurrentSlot.ID().ToStringOutput()}); err != nil {
			return err
		}
		if err := hist.GrantWriter(ctx, "release", pulumi.String(cfg.ReleasePrincipalID)); err != nil {
			return err
		}
	}
	if cfg.Watcher {
		if err := declareWatcher(ctx, cfg, rg, tags, st, hist, mon, colours, gw, wsub, version); err != nil {
			return err
		}
	}
	exportOutputs(ctx, cfg, names, rg, st, mon, colours, gw)
	ctx.Export(OutHistoryURL, hist.URL)
	ctx.Export(OutSlotlessVersion, pulumi.String(version))
	exportSettings(ctx, settings)
	exportTelemetry(ctx, mon)
	exportGatewayAuth(ctx, cfg, gatewayIdentity)
	return nil
}

// resourceGroup creates the stack's group, or names an existing one without managing it.
func resourceGroup(ctx *pulumi.Context, n Names, cfg *Config, tags pulumi.StringMap) (pulumi.StringInput, error) {
	if cfg.ResourceGroupName != "" {
		return pulumi.String(cfg.ResourceGroupName), nil
	}
	rg, err := resources.NewResourceGroup(ctx, "rg", &resources.ResourceGroupArgs{
		ResourceGroupName: pulumi.String(n.ResourceGroup()),
		Location:          pulumi.String(cfg.Location),
		Tags:              tags,
	})
	if err != nil {
		return nil, fmt.Errorf("resource group: %w", err)
	}
	return rg.Name, nil
}
