package stack

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-azure-native-sdk/applicationinsights/v3"
	"github.com/pulumi/pulumi-azure-native-sdk/operationalinsights/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Telemetry: where the slots report, and where the metrics gate reads their requests. By default
// the stack creates a Log Analytics workspace and one workspace-based Application Insights
// component per slot in its own group. A team with its own telemetry reuses it instead, so its
// alerts and dashboards keep seeing the app:
//   - appInsightsResourceId names the team's component: both apps report there and the gate
//     reads the component's Log Analytics workspace; the stack creates neither;
//   - logAnalyticsWorkspaceResourceId names the team's workspace: the slots' own components
//     send to it and the gate reads it; no workspace is created.
//
// Either way the apps send with Entra ID as their own identities
// (APPLICATIONINSIGHTS_AUTHENTICATION_STRING), each holding Monitoring Metrics Publisher on the
// component it reports to and on no other, and the stack's components refuse anything else
// (local authentication off). A component per slot is what keeps the canary from writing the
// stable slot's figures: the metrics gate counts each app's requests only from its own
// component, by _ResourceId, which Azure Monitor sets at ingestion from the resource the data
// was sent to (gate.Query); the canary's identity may not publish to the stable slot's. With
// one team component both slots share it, and the gate tells them apart by AppRoleName alone,
// which the apps' own telemetry sets. A reused component must be workspace-based: the gate
// queries AppRequests in a workspace, which a classic component has none of.
//
// The component is part of each app's configuration (its connection string is a setting), so a
// change of component is released, not applied: the idle slot reports to the new one first, and
// the live one keeps its own until a release makes it idle. That holds for a stack deployed
// when both slots shared the stack's one component (ownTelemetry): the live slot keeps
// reporting there, and that component stays, until a release makes the slot idle. Which
// component each slot reports to is recorded per slot in the output telemetryComponents
// (slotTelemetry, ownTelemetry, or the team's component id), read back at the next update like
// the settings generations, and its resource id in telemetryComponentIds, which the gate reads.

// componentIDAllowed and workspaceIDAllowed are what appInsightsResourceId and
// logAnalyticsWorkspaceResourceId allow, for the keys' documentation and messages.
const (
	componentIDAllowed = "an Application Insights component's resource id such as /subscriptions/<subscription id>/resourceGroups/<group>/providers/Microsoft.Insights/components/<name>"
	workspaceIDAllowed = "a Log Analytics workspace's resource id such as /subscriptions/<subscription id>/resourceGroups/<group>/providers/Microsoft.OperationalInsights/workspaces/<name>"
)

// OutTelemetryComponents records which component each slot reports to, and the config's
// ("desired"): slotTelemetry for the slot's own, ownTelemetry for the stack's former shared
// one, else the team's component's id.
const OutTelemetryComponents = "telemetryComponents"

// OutTelemetryComponentIDs gives, per slot, the ARM id of the Application Insights component the
// slot's app reports to: the metrics gate counts each app's rows only from its own component
// (gate.Query), by _ResourceId, which ingestion sets and the app cannot.
const OutTelemetryComponentIDs = "telemetryComponentIds"

// TelemetryComponentsOf reads OutTelemetryComponentIDs from a stack's outputs, and whether
// each slot reports to a component of its own (OutTelemetryComponents slotTelemetry for both),
// which no other app writes to: the gate may then tell the slots apart by component alone. A
// stack last deployed before the ids were exported has none: ids is nil (the gate selects by
// AppRoleName alone) and warning says so and names the upgrade.
func TelemetryComponentsOf(outs map[string]any) (ids map[Slot]string, own bool, warning string) {
	rec := stringMap(outs[OutTelemetryComponentIDs])
	for _, s := range Slots {
		if rec[string(s)] == "" {
			return nil, false, fmt.Sprintf("the stack has no %s output (it was last deployed by an older slotless): the metrics gate tells the slots apart by AppRoleName alone, which each app's own telemetry sets, so the canary could write rows that count as the stable slot's; run pulumi up with this slotless, and release once more so the live slot moves to its own component", OutTelemetryComponentIDs)
		}
	}
	kinds := stringMap(outs[OutTelemetryComponents])
	ids, own = map[Slot]string{}, true
	for _, s := range Slots {
		ids[s] = rec[string(s)]
		own = own && kinds[string(s)] == slotTelemetry
	}
	return ids, own, ""
}

// OutAppInsightsID is the ARM id of the component the config's apps report to.
const OutAppInsightsID = "appInsightsId"

// ownTelemetry marks, in the telemetry record, the stack's shared component (Names.AppInsights),
// which both slots reported to before each had its own; slotTelemetry marks the slot's own
// component (Names.SlotAppInsights), and under desiredKey, a component per slot.
const (
	ownTelemetry  = "own"
	slotTelemetry = "slot"
)

// telemetry reads appInsightsResourceId and logAnalyticsWorkspaceResourceId.
func (p *parser) telemetry() TelemetryConfig {
	t := TelemetryConfig{
		AppInsights: p.resourceID("appInsightsResourceId", componentIDShape, componentIDAllowed),
		Workspace:   p.resourceID("logAnalyticsWorkspaceResourceId", workspaceIDShape, workspaceIDAllowed),
	}
	if t.AppInsights.Raw != "" && t.Workspace.Raw != "" {
		p.failf("logAnalyticsWorkspaceResourceId: not with appInsightsResourceId, whose component already names its workspace (the gate reads that one); unset one of them")
		t.Workspace = ResourceID{}
	}
	return t
}

// TelemetryPlan is which component each slot reports to in this update: the config's for a
// slot that takes the config's configuration, what it reported to before for a slot that keeps
// its own (PlanSettings).
type TelemetryPlan struct {
	// Components by slot, and the config's under "desired": ownTelemetry or a team's component id.
	Components map[string]string
	// Warnings say which slot still reports to the stack's own component, and what the gate
	// sees meanwhile.
	Warnings []string
}

// Own reports whether any slot still reports to the stack's shared component: then it stays in
// the update.
func (t TelemetryPlan) Own() bool {
	for _, s := range Slots {
		if t.Components[string(s)] == ownTelemetry {
			return true
		}
	}
	return false
}

// SlotOwn reports whether slot s reports to a component of its own, which the update keeps.
func (t TelemetryPlan) SlotOwn(s Slot) bool { return t.Components[string(s)] == slotTelemetry }

// stacks reports whether any slot reports to a component of the stack's (shared or its own),
// which then needs the stack's workspace or the team's.
func (t TelemetryPlan) stacks() bool {
	for _, s := range Slots {
		if c := t.Components[string(s)]; c == ownTelemetry || c == slotTelemetry {
			return true
		}
	}
	return false
}

// PlanTelemetry decides which component each slot reports to, from the settings plan and the
// last update's record: desired is the config's (slotTelemetry, or the team's component id as
// ARM answers it). A slot that carries traffic (settings.Held) keeps what it reports to, as it
// keeps its settings: the record says what, and without a record, the config's component when
// it runs the config's configuration, except that a stack deployed before each slot had its own
// component reported to its shared one. Every other slot takes the config's. So a stack whose
// slots shared one component gets a component per slot a slot at a time, in updates where that
// slot carries no traffic, as a settings change would, without a new settings generation.
func PlanTelemetry(desired string, last map[string]any, settings SettingsPlan) TelemetryPlan {
	prev := stringMap(last[OutTelemetryComponents])
	t := TelemetryPlan{Components: map[string]string{desiredKey: desired}}
	for _, s := range Slots {
		if !settings.Held[s] {
			t.Components[string(s)] = desired
			continue
		}
		// The slot keeps the configuration it runs, and with it the component it reports to.
		was := prev[string(s)]
		if was == "" {
			was = ownTelemetry
			if settings.Hashes[string(s)] == settings.Hashes[desiredKey] && desired != slotTelemetry {
				was = desired
			}
		}
		t.Components[string(s)] = was
		if !strings.EqualFold(was, desired) {
			switch {
			case was == ownTelemetry && desired == slotTelemetry:
				t.Warnings = append(t.Warnings, fmt.Sprintf("telemetry: %s keeps reporting to the stack's shared Application Insights until a release makes it idle, and that component stays until then; it sends to the same workspace, so the metrics gate reads %s's requests from it (and the other slot's from its own component, which %s's identity may not publish to)", s, s, s))
			default:
				where := "the stack's shared Application Insights"
				switch was {
				case slotTelemetry:
					where = "its own Application Insights"
				case ownTelemetry:
				default:
					where = was
				}
				t.Warnings = append(t.Warnings, fmt.Sprintf("telemetry: %s keeps reporting to %s until a release makes it idle, and that component stays until then; the metrics gate reads the config's workspace, where %s has no requests meanwhile (metricsInconclusive decides what that means)", s, where, s))
			}
		}
	}
	return t
}

// TeamTelemetry is the team's telemetry as ARM answers for it: its component (nil unless
// appInsightsResourceId) and the workspace the gate reads (nil when the stack's own).
type TeamTelemetry struct {
	Component *applicationinsights.LookupComponentResult
	Workspace *operationalinsights.LookupWorkspaceResult
}

// Desired is the config's entry in the telemetry record: the team's component, else a
// component per slot.
func (t TeamTelemetry) Desired() string {
	if t.Component != nil {
		return t.Component.Id
	}
	return slotTelemetry
}

// lookupTelemetry reads the team's telemetry the config names, before anything is registered,
// so a component that cannot serve fails the update naming the key.
func lookupTelemetry(ctx *pulumi.Context, cfg *Config) (TeamTelemetry, error) {
	var t TeamTelemetry
	var err error
	switch {
	case cfg.Telemetry.ReusesComponent():
		t.Component, t.Workspace, err = lookupTeamComponent(ctx, cfg.Telemetry.AppInsights)
	case cfg.Telemetry.Workspace.Raw != "":
		t.Workspace, err = lookupWorkspace(ctx, "logAnalyticsWorkspaceResourceId", cfg.Telemetry.Workspace)
	}
	return t, err
}

// Monitoring is the telemetry of one update: the component the config's apps report to and its
// workspace, and the stack's own components and workspace when they are in the update.
type Monitoring struct {
	// ComponentID and ComponentName are the config's component's: the team's, or with a
	// component per slot, green's (each slot's is in telemetryComponentIds).
	ComponentID, ComponentName pulumi.StringOutput
	// CustomerID is the workspace's id (a GUID), which the metrics gate queries.
	CustomerID pulumi.StringOutput
	// Workspace and AppInsights (the shared component) are the stack's own, nil when not in the
	// update; Slots are the slots' own components in the update.
	Workspace   *operationalinsights.Workspace
	AppInsights *applicationinsights.Component
	Slots       map[Slot]*applicationinsights.Component
	// Team are the team's resources the release identity reads through (the component, its
	// workspace), by kind: what the release role follows outside the stack's group.
	Team map[string]ResourceID
	// team is the team's component, nil unless appInsightsResourceId.
	team *applicationinsights.LookupComponentResult
	// plan is which component each slot reports to.
	plan TelemetryPlan
}

// PublishTo is the component a slot's identity publishes metrics to, and the key of that
// grant: its own component, the stack's shared one, or the team's. The key differs by
// component, so a slot that moves gets a new grant and loses the old one.
func (m *Monitoring) PublishTo(s Slot) (key string, scope pulumi.StringOutput) {
	switch c := m.plan.Components[string(s)]; c {
	case slotTelemetry:
		return "own-metrics-publisher", m.Slots[s].ID().ToStringOutput()
	case ownTelemetry:
		return "metrics-publisher", m.AppInsights.ID().ToStringOutput()
	default:
		return "team-metrics-publisher", pulumi.String(c).ToStringOutput()
	}
}

// ComponentOf is the ARM id of the component slot s reports to.
func (m *Monitoring) ComponentOf(s Slot) pulumi.StringOutput {
	_, id := m.PublishTo(s)
	return id
}

// ConnectionString is what slot s's app sends with: its component's connection string. A slot
// that carries traffic keeps the one it was deployed with (heldAppInputs), which this matches.
func (m *Monitoring) ConnectionString(s Slot) pulumi.StringOutput {
	switch c := m.plan.Components[string(s)]; c {
	case slotTelemetry:
		return m.Slots[s].ConnectionString
	case ownTelemetry:
		return m.AppInsights.ConnectionString
	default:
		return pulumi.String(m.team.ConnectionString).ToStringOutput()
	}
}

func newMonitoring(ctx *pulumi.Context, n Names, rg pulumi.StringInput, cfg *Config, tags pulumi.StringMap, team TeamTelemetry, plan TelemetryPlan) (*Monitoring, error) {
	m := &Monitoring{plan: plan, Team: map[string]ResourceID{}, Slots: map[Slot]*applicationinsights.Component{}, team: team.Component}
	if c := team.Component; c != nil {
		// The ids ARM answers with, not the configured text: what the role assignments scope.
		m.ComponentID, m.ComponentName = pulumi.String(c.Id).ToStringOutput(), pulumi.String(c.Name).ToStringOutput()
		m.CustomerID = pulumi.String(team.Workspace.CustomerId).ToStringOutput()
		if id, err := parseComponentID(c.Id); err == nil {
			m.Team["component"] = id
		}
	}
	if w := team.Workspace; w != nil {
		if id, err := parseWorkspaceID(w.Id); err == nil {
			m.Team["workspace"] = id
		}
	}
	if !plan.stacks() {
		return m, nil
	}

	// The stack's components, in its own workspace or the team's.
	var workspaceID, customerID pulumi.StringOutput
	if w := team.Workspace; w != nil && team.Component == nil {
		workspaceID, customerID = pulumi.String(w.Id).ToStringOutput(), pulumi.String(w.CustomerId).ToStringOutput()
	} else {
		ws, err := operationalinsights.NewWorkspace(ctx, "logs", &operationalinsights.WorkspaceArgs{
			WorkspaceName:     pulumi.String(n.Workspace()),
			ResourceGroupName: rg,
			Location:          pulumi.String(cfg.Location),
			Sku:               &operationalinsights.WorkspaceSkuArgs{Name: pulumi.String(operationalinsights.WorkspaceSkuNameEnumPerGB2018)},
			RetentionInDays:   pulumi.Int(cfg.LogRetentionDays),
			// Entra only: the workspace's shared keys, which agents and the Data Collector API
			// send with, are refused ("Disable Non-AAD based Auth"). Nothing of the stack uses
			// them: the query API takes Entra tokens only (Azure Monitor, "Log Analytics API
			// overview": "To query your workspaces, you must use Microsoft Entra
			// authentication"), and the components send with the apps' identities.
			Features: &operationalinsights.WorkspaceFeaturesArgs{DisableLocalAuth: pulumi.Bool(true)},
			Tags:     tags,
		})
		if err != nil {
			return nil, fmt.Errorf("log analytics workspace: %w", err)
		}
		m.Workspace = ws
		workspaceID, customerID = ws.ID().ToStringOutput(), ws.CustomerId
	}
	component := func(name, resourceName string) (*applicationinsights.Component, error) {
		return applicationinsights.NewComponent(ctx, name, &applicationinsights.ComponentArgs{
			ResourceName:        pulumi.String(resourceName),
			ResourceGroupName:   rg,
			Location:            pulumi.String(cfg.Location),
			Kind:                pulumi.String("web"),
			ApplicationType:     pulumi.String(applicationinsights.ApplicationTypeWeb),
			IngestionMode:       pulumi.String(applicationinsights.IngestionModeLogAnalytics),
			WorkspaceResourceId: workspaceID,
			// Entra-only ingestion: the apps authenticate with their identities, as Microsoft's
			// Flex samples do, so the connection string alone cannot send telemetry, and only
			// the identity granted Monitoring Metrics Publisher here can.
			DisableLocalAuth: pulumi.Bool(true),
			Tags:             tags,
		})
	}
	if plan.Own() {
		ai, err := component("appinsights", n.AppInsights())
		if err != nil {
			return nil, fmt.Errorf("application insights: %w", err)
		}
		m.AppInsights = ai
	}
	for _, s := range Slots {
		if !plan.SlotOwn(s) {
			continue
		}
		ai, err := component("appinsights-"+string(s), n.SlotAppInsights(s))
		if err != nil {
			return nil, fmt.Errorf("application insights of %s: %w", s, err)
		}
		m.Slots[s] = ai
	}
	if team.Component == nil {
		m.CustomerID = customerID
		// The config's component: green's own, else whichever of the stack's is in the update.
		for _, ai := range []*applicationinsights.Component{m.Slots[Green], m.Slots[Blue], m.AppInsights} {
			if ai != nil {
				m.ComponentID, m.ComponentName = ai.ID().ToStringOutput(), ai.Name
				break
			}
		}
	}
	return m, nil
}

// lookupTeamComponent reads the team's component and its workspace. The component must be
// workspace-based: the gate queries its workspace.
func lookupTeamComponent(ctx *pulumi.Context, id ResourceID) (*applicationinsights.LookupComponentResult, *operationalinsights.LookupWorkspaceResult, error) {
	const key = "appInsightsResourceId"
	comp, err := applicationinsights.LookupComponent(ctx, &applicationinsights.LookupComponentArgs{ResourceGroupName: id.ResourceGroup, ResourceName: id.Name})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: cannot read Application Insights %s in resource group %s of the subscription the stack deploys to (it must be there, and the identity running pulumi up needs Microsoft.Insights/components/read on it): %w",
			key, id.Name, id.ResourceGroup, err)
	}
	if comp.WorkspaceResourceId == nil || strings.TrimSpace(*comp.WorkspaceResourceId) == "" {
		return nil, nil, fmt.Errorf("%s: Application Insights %s is not workspace-based (it has no WorkspaceResourceId), and the metrics gate queries the requests in its Log Analytics workspace; migrate it to a workspace-based resource, or unset %s and let the stack create its own",
			key, id.Name, key)
	}
	wid, err := parseWorkspaceID(*comp.WorkspaceResourceId)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: Application Insights %s's workspace: %w", key, id.Name, err)
	}
	ws, err := lookupWorkspace(ctx, key, wid)
	if err != nil {
		return nil, nil, err
	}
	return comp, ws, nil
}

// lookupWorkspace reads a team's Log Analytics workspace for the key that led to it.
func lookupWorkspace(ctx *pulumi.Context, key string, id ResourceID) (*operationalinsights.LookupWorkspaceResult, error) {
	ws, err := operationalinsights.LookupWorkspace(ctx, &operationalinsights.LookupWorkspaceArgs{ResourceGroupName: id.ResourceGroup, WorkspaceName: id.Name})
	if err != nil {
		return nil, fmt.Errorf("%s: cannot read Log Analytics workspace %s in resource group %s of the subscription the stack deploys to (it must be there, and the identity running pulumi up needs Microsoft.OperationalInsights/workspaces/read on it): %w",
			key, id.Name, id.ResourceGroup, err)
	}
	if ws.CustomerId == "" {
		return nil, fmt.Errorf("%s: Log Analytics workspace %s has no customer id, which the metrics gate queries by", key, id.Name)
	}
	return ws, nil
}

// exportTelemetry records which component each slot reports to, by kind (the plan's record)
// and by resource id (what the metrics gate selects each slot's rows by).
func exportTelemetry(ctx *pulumi.Context, m *Monitoring) {
	rec := pulumi.StringMap{}
	keys := make([]string, 0, len(m.plan.Components))
	for k := range m.plan.Components {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		rec[k] = pulumi.String(m.plan.Components[k])
	}
	ctx.Export(OutTelemetryComponents, rec)
	ids := pulumi.StringMap{}
	for _, s := range Slots {
		ids[string(s)] = m.ComponentOf(s)
	}
	ctx.Export(OutTelemetryComponentIDs, ids)
	ctx.Export(OutAppInsightsID, m.ComponentID)
}
