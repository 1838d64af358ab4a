package stack

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-azure-native-sdk/applicationinsights/v3"
	"github.com/pulumi/pulumi-azure-native-sdk/operationalinsights/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Telemetry: where both slots report, and where the metrics gate reads their requests. By
// default the stack creates a Log Analytics workspace and a workspace-based Application Insights
// component in its own group. A team with its own telemetry reuses it instead, so its alerts and
// dashboards keep seeing the app:
//   - appInsightsResourceId names the team's component: the apps report there and the gate reads
//     the component's Log Analytics workspace; the stack creates neither;
//   - logAnalyticsWorkspaceResourceId names the team's workspace: the stack's own component
//     sends to it and the gate reads it; no workspace is created.
//
// Either way the apps send with Entra ID as their own identities
// (APPLICATIONINSIGHTS_AUTHENTICATION_STRING), each holding Monitoring Metrics Publisher on the
// component it reports to. A reused component must be workspace-based: the gate queries
// AppRequests in a workspace, which a classic component has none of.
//
// The component is part of each app's configuration (its connection string is a setting), so a
// change of appInsightsResourceId is released, not applied: the idle slot reports to the new
// component first, and the live one keeps its own until a release makes it idle. The stack's
// own component and workspace therefore stay while any slot still reports there, and each
// slot's identity publishes to the component that slot reports to. Which one that is, is
// recorded per slot in the output telemetryComponents ("own", or the team's component id),
// read back at the next update like the settings generations.

// componentIDAllowed and workspaceIDAllowed are what appInsightsResourceId and
// logAnalyticsWorkspaceResourceId allow, for the keys' documentation and messages.
const (
	componentIDAllowed = "an Application Insights component's resource id such as /subscriptions/<subscription id>/resourceGroups/<group>/providers/Microsoft.Insights/components/<name>"
	workspaceIDAllowed = "a Log Analytics workspace's resource id such as /subscriptions/<subscription id>/resourceGroups/<group>/providers/Microsoft.OperationalInsights/workspaces/<name>"
)

// OutTelemetryComponents records which component each slot reports to, and the config's
// ("desired"): ownTelemetry for the stack's own, else the team's component's id.
const OutTelemetryComponents = "telemetryComponents"

// OutTelemetryComponentIDs gives, per slot, the ARM id of the Application Insights component the
// slot's app reports to: the metrics gate counts each app's rows only from its own component
// (gate.Query), by _ResourceId, which ingestion sets and the app cannot.
const OutTelemetryComponentIDs = "telemetryComponentIds"

// TelemetryComponentsOf reads OutTelemetryComponentIDs from a stack's outputs. A stack last
// deployed before it was exported has none: ids is nil (the gate selects by AppRoleName alone)
// and warning says so and names the upgrade.
func TelemetryComponentsOf(outs map[string]any) (ids map[Slot]string, warning string) {
	rec := stringMap(outs[OutTelemetryComponentIDs])
	for _, s := range Slots {
		if rec[string(s)] == "" {
			return nil, fmt.Sprintf("the stack has no %s output (it was last deployed by an older slotless): the metrics gate tells the slots apart by AppRoleName alone, which each app's own telemetry sets, so the canary could write rows that count as the stable slot's; run pulumi up with this slotless, and release once more so the live slot moves to its own component", OutTelemetryComponentIDs)
		}
	}
	ids = map[Slot]string{}
	for _, s := range Slots {
		ids[s] = rec[string(s)]
	}
	return ids, ""
}

// OutAppInsightsID is the ARM id of the component the config's apps report to.
const OutAppInsightsID = "appInsightsId"

// ownTelemetry marks the stack's own component in the telemetry record.
const ownTelemetry = "own"

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

// Own reports whether any slot, or the config, reports to the stack's own component: then it
// stays in the update.
func (t TelemetryPlan) Own() bool {
	for _, c := range t.Components {
		if c == ownTelemetry {
			return true
		}
	}
	return false
}

// PlanTelemetry decides which component each slot reports to, from the settings plan and the
// last update's record: desired is the config's (ownTelemetry, or the team's component id as ARM
// answers it). A stack deployed before the record existed reported to its own.
func PlanTelemetry(desired string, last map[string]any, settings SettingsPlan) TelemetryPlan {
	prev := stringMap(last[OutTelemetryComponents])
	t := TelemetryPlan{Components: map[string]string{desiredKey: desired}}
	for _, s := range Slots {
		if settings.Hashes[string(s)] == settings.Hashes[desiredKey] {
			t.Components[string(s)] = desired
			continue
		}
		// The slot keeps the configuration it runs, and with it the component it reports to.
		was := prev[string(s)]
		if was == "" {
			was = ownTelemetry
		}
		t.Components[string(s)] = was
		if !strings.EqualFold(was, desired) {
			where := "the stack's own Application Insights"
			if was != ownTelemetry {
				where = was
			}
			t.Warnings = append(t.Warnings, fmt.Sprintf("telemetry: %s keeps reporting to %s until a release makes it idle, and that component stays until then; the metrics gate reads the config's workspace, where %s has no requests meanwhile (metricsInconclusive decides what that means)", s, where, s))
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

// Desired is the config's entry in the telemetry record.
func (t TeamTelemetry) Desired() string {
	if t.Component != nil {
		return t.Component.Id
	}
	return ownTelemetry
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
// workspace, and the stack's own component and workspace when they are in the update.
type Monitoring struct {
	// ComponentID, ComponentName and ConnectionString are the config's component's.
	ComponentID, ComponentName, ConnectionString pulumi.StringOutput
	// CustomerID is its workspace's id (a GUID), which the metrics gate queries.
	CustomerID pulumi.StringOutput
	// Workspace and AppInsights are the stack's own, nil when not in the update.
	Workspace   *operationalinsights.Workspace
	AppInsights *applicationinsights.Component
	// Team are the team's resources the release identity reads through (the component, its
	// workspace), by kind: what the release role follows outside the stack's group.
	Team map[string]ResourceID
	// plan is which component each slot reports to.
	plan TelemetryPlan
}

// PublishTo is the component a slot's identity publishes metrics to, and the key of that
// grant: the stack's own component, or the team's.
func (m *Monitoring) PublishTo(s Slot) (key string, scope pulumi.StringOutput) {
	c := m.plan.Components[string(s)]
	if c == ownTelemetry {
		return "metrics-publisher", m.AppInsights.ID().ToStringOutput()
	}
	return "team-metrics-publisher", pulumi.String(c).ToStringOutput()
}

func newMonitoring(ctx *pulumi.Context, n Names, rg pulumi.StringInput, cfg *Config, tags pulumi.StringMap, team TeamTelemetry, plan TelemetryPlan) (*Monitoring, error) {
	m := &Monitoring{plan: plan, Team: map[string]ResourceID{}}
	if c := team.Component; c != nil {
		// The ids ARM answers with, not the configured text: what the role assignments scope.
		m.ComponentID, m.ComponentName = pulumi.String(c.Id).ToStringOutput(), pulumi.String(c.Name).ToStringOutput()
		m.ConnectionString = pulumi.String(c.ConnectionString).ToStringOutput()
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
	if !plan.Own() {
		return m, nil
	}

	// The stack's own component, in its own workspace or the team's.
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
			// authentication"), and the component sends with the apps' identities.
			Features: &operationalinsights.WorkspaceFeaturesArgs{DisableLocalAuth: pulumi.Bool(true)},
			Tags:     tags,
		})
		if err != nil {
			return nil, fmt.Errorf("log analytics workspace: %w", err)
		}
		m.Workspace = ws
		workspaceID, customerID = ws.ID().ToStringOutput(), ws.CustomerId
	}
	ai, err := applicationinsights.NewComponent(ctx, "appinsights", &applicationinsights.ComponentArgs{
		ResourceName:        pulumi.String(n.AppInsights()),
		ResourceGroupName:   rg,
		Location:            pulumi.String(cfg.Location),
		Kind:                pulumi.String("web"),
		ApplicationType:     pulumi.String(applicationinsights.ApplicationTypeWeb),
		IngestionMode:       pulumi.String(applicationinsights.IngestionModeLogAnalytics),
		WorkspaceResourceId: workspaceID,
		// Entra-only ingestion: the apps authenticate with their identities, as Microsoft's
		// Flex samples do, so the connection string alone cannot send telemetry.
		DisableLocalAuth: pulumi.Bool(true),
		Tags:             tags,
	})
	if err != nil {
		return nil, fmt.Errorf("application insights: %w", err)
	}
	m.AppInsights = ai
	if team.Component == nil {
		m.ComponentID, m.ComponentName, m.ConnectionString = ai.ID().ToStringOutput(), ai.Name, ai.ConnectionString
		m.CustomerID = customerID
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

// exportTelemetry records which component each slot reports to.
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
	ctx.Export(OutAppInsightsID, m.ComponentID)
}
