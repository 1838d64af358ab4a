package stack

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-azure-native-sdk/authorization/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// ReleaseAccessType is the Pulumi type token of the release identity's grants.
const ReleaseAccessType = "slotless:stack:ReleaseAccess"

// ReleaseAccess is what the stack grants releasePrincipalId: custom roles holding exactly the
// actions of the release commands. The main one (reads, the deployment host, the gate's query)
// is assigned to the stack's resource group and, when the API Management service is reused from
// elsewhere, to that service, and when the apps report to a team's telemetry elsewhere, to its
// component and workspace too, which the release reads (the program's lookups in its
// traffic-only update, the metrics gate's queries); the writes of traffic only on the pool and
// current-slot-name, and the reading of the function keys only on the two key named values.
type ReleaseAccess struct {
	pulumi.ResourceState

	// Role is the main role; Assignments are every role's assignments.
	Role        *authorization.RoleDefinition
	Assignments []*authorization.RoleAssignment
}

// releaseActions are the ARM actions slotless release, shift, rollback, watch, status and deploy
// perform, through Pulumi (a traffic-only `pulumi up`, its refresh, and the program's lookups)
// and outside it (the live pool reads, the break-glass write, the deployment host), that can
// be granted on the whole group: reads, the deployment host and the gate's query. Nothing else:
// no app settings (Microsoft.Web/sites/config/*), no site writes, no storage, no role
// assignments, no API or policy changes. The writes of traffic and the reads of the keys are
// granted apart, on the very resources they touch (trafficActions, keyActions). Azure's action
// names, as Azure's resource provider operations list them (MicrosoftDocs azure-docs,
// role-based-access-control/resource-provider-operations.md).
var releaseActions = []string{
	// The stack's resource group and the lookups and refreshes of a traffic-only update.
	"Microsoft.Resources/subscriptions/resourceGroups/read",
	// The pool and the current-slot-name named value: read by status, the live pool and the
	// refresh before a rollback.
	"Microsoft.ApiManagement/service/read",
	"Microsoft.ApiManagement/service/backends/read",
	"Microsoft.ApiManagement/service/namedValues/read",
	// A named value write is long-running: API Management answers 202 with an
	// Azure-AsyncOperation at the service's tenant/operationResults (apimanagement 2024-05-01
	// examples, ApiManagementUpdateNamedValue.json), which azure-native and armapimanagement poll
	// before the final GET. Without it the write lands and the caller still sees it fail. It is
	// not service/operationresults/read, the service's own operations (create, scale), which a
	// release never starts. The operation's id is not known before the write, so this is
	// granted where the service is.
	"Microsoft.ApiManagement/service/tenant/operationResults/read",
	// slotless deploy: the app's deployment host, and the one-deploy upload with an Entra token.
	"Microsoft.Web/sites/read",
	"Microsoft.Web/sites/publish/Action",
	// The metrics gate's query of AppRequests: the right to query the workspace, and to read
	// that table alone (queryActions), not every table of a workspace that may be a team's own.
	"Microsoft.OperationalInsights/workspaces/read",
	"Microsoft.OperationalInsights/workspaces/query/read",
	"Microsoft.Insights/components/read",
}

// GateTables are the Log Analytics tables the metrics gate's query reads: internal/gate's
// BuildQuery reads AppRequests, with no union, join or lookup of another table
// (TestReleaseRoleReadsOnlyTheGatesTables builds the query and checks).
var GateTables = []string{"AppRequests"}

// queryActions grant reading each of the gate's tables, with the table-level action Log Analytics
// checks for a query in a workspace, Microsoft.OperationalInsights/workspaces/query/<table>/read
// beside workspaces/query/read (MicrosoftDocs azure-monitor-docs, logs/manage-table-access.md,
// "Configure table-level access (legacy method)": "Grant access to only the SecurityBaseline
// table"; logs/manage-access.md, "Workspace permissions"). A role that also held */read (Reader,
// Contributor) would read every table anyway; this one holds no wildcard.
func queryActions() []string {
	out := make([]string, 0, len(GateTables))
	for _, t := range GateTables {
		out = append(out, "Microsoft.OperationalInsights/workspaces/query/"+t+"/read")
	}
	return out
}

// trafficActions are the writes of a shift, a rollback and the break-glass path, granted only on
// the pool and the current-slot-name named value: an assignment applies at its scope and below
// (MicrosoftDocs azure-docs, role-based-access-control/scope-overview.md: a scope can name a
// child resource type, and lower levels inherit from higher ones), so the release identity
// cannot point a slot's backend at another URL, which API Management would then send the
// function key and the gateway's token to, nor overwrite the keys or the pin token, nor touch
// another team's backends and named values on a reused service.
var trafficActions = []string{
	"Microsoft.ApiManagement/service/backends/write",
	"Microsoft.ApiManagement/service/namedValues/write",
}

// keyActions are granted only on the two function key named values: every program run reads
// the key API Management holds (functionKey), a secret named value. The release identity runs
// the program, so it needs this; it can read the stack's secrets in Pulumi state anyway, since it
// decrypts them to run `pulumi up`. It reads neither the pin token nor another team's secrets.
var keyActions = []string{
	"Microsoft.ApiManagement/service/namedValues/listValue/action",
}

// watcherKeyAction is granted, with keyActions, on the watcher's subscription alone: every
// program run lists its key for the watcher's settings (watcherkey.go), and the release identity
// runs the program. It lists no other subscription of a reused service.
const watcherKeyAction = "Microsoft.ApiManagement/service/subscriptions/listSecrets/action"

// subnetJoinAction is what a site write naming the apps' subnet needs on it.
const subnetJoinAction = "Microsoft.Network/virtualNetworks/subnets/join/action"

// siteWriteActions are what a shift needs besides when alwaysReadyInstances is above 0: the
// apps' always-ready count is part of the site (functionAppConfig), written with a site PUT.
// That action also covers a site's settings, so it is granted only when the stack needs it.
// The PUT names the slot's user-assigned identity and its plan, and ARM's linked access check
// asks for an action on each (LinkedAuthorizationFailed otherwise): assigning the identity
// (MicrosoftDocs entra-docs, managed-identities-faq.md, "What Azure RBAC permissions are
// required to work with managed identities?") and joining the plan (built-in-roles.md, Website
// Contributor's serverFarms/join/action).
var siteWriteActions = []string{
	"Microsoft.Web/sites/write",
	"Microsoft.ManagedIdentity/userAssignedIdentities/assign/action",
	"Microsoft.Web/serverFarms/join/action",
}

// ReleaseActions returns the actions the release role holds for a config.
func ReleaseActions(cfg *Config) []string {
	out := append(slices.Clone(releaseActions), queryActions()...)
	if cfg.AlwaysReadyInstances > 0 {
		out = append(out, siteWriteActions...)
	}
	return out
}

// releaseAccessArgs are what the grants need from the rest of the stack.
type releaseAccessArgs struct {
	names Names
	cfg   *Config
	ids   APIMIDs
	// groupID is any resource id in the stack's resource group; poolID is the pool backend's id,
	// wherever the service lives, and currentID the current-slot-name named value's.
	groupID, poolID, currentID pulumi.StringOutput
	// gateway are the API Management resources the child scopes name, which must exist before a
	// role is assigned on them: the backends (after their key named values) and the pool.
	gateway []pulumi.Resource
	// telemetry are the team's component and workspace the stack reads (Monitoring.Team).
	telemetry map[string]ResourceID
	// watcherKey is the watcher's API Management subscription, whose key every program run
	// lists; nil when there is none.
	watcherKey *watcherSubscription
}

// A releaseGrant is one custom role of the release identity and where it is assigned.
type releaseGrant struct {
	// kind names the role ("" for the main one) and its logical names.
	kind    string
	actions []string
	// scopes are the assignment scopes, by the key in the assignment's logical name.
	scopes []releaseScope
}

type releaseScope struct {
	key   string
	scope pulumi.StringOutput
}

func newReleaseAccess(ctx *pulumi.Context, a releaseAccessArgs) (*ReleaseAccess, error) {
	r := &ReleaseAccess{}
	if err := ctx.RegisterComponentResource(ReleaseAccessType, "release", r); err != nil {
		return nil, fmt.Errorf("release access: %w", err)
	}
	rg := a.groupID.ApplyT(func(id string) (string, error) { return prefixOf(id, 4) }).(pulumi.StringOutput)
	svc := a.poolID.ApplyT(func(id string) (string, error) { return prefixOf(id, 8) }).(pulumi.StringOutput)
	// The service needs its own assignable scope and assignment only when it lives outside the
	// stack's group: a reused apimName in another group.
	external := a.cfg.APIM.ExistingName != "" && !strings.EqualFold(a.cfg.APIM.ExistingResourceGroup, a.names.ResourceGroup())
	assignable := pulumi.StringArray{rg}
	main := []releaseScope{{"group", rg}}
	if external {
		assignable = append(assignable, svc)
		main = append(main, releaseScope{"service", svc})
	}
	// The release role's reads follow the telemetry to the team's resources outside the stack's
	// group: scoped to each resource, not to its group, which holds the team's other things.
	for _, kind := range telemetryScopes {
		if id, ok := a.telemetry[kind]; ok && !id.InGroup(a.names.ResourceGroup()) {
			scope := pulumi.String(id.Raw).ToStringOutput()
			assignable = append(assignable, scope)
			main = append(main, releaseScope{"telemetry-" + kind, scope})
		}
	}
	keyScope := func(slot Slot) pulumi.StringOutput {
		return svc.ApplyT(func(s string) string { return s + "/namedValues/" + a.ids.FunctionKey(slot) }).(pulumi.StringOutput)
	}
	keys := releaseGrant{"keys", keyActions, []releaseScope{{string(Green), keyScope(Green)}, {string(Blue), keyScope(Blue)}}}
	if a.watcherKey != nil {
		keys.actions = append(slices.Clone(keyActions), watcherKeyAction)
		keys.scopes = append(keys.scopes, releaseScope{"watcher-subscription", a.watcherKey.Scope})
	}
	grants := []releaseGrant{
		{"", ReleaseActions(a.cfg), main},
		{"traffic", trafficActions, []releaseScope{{"pool", a.poolID}, {"current", a.currentID}}},
		keys,
	}
	// A shift's site write (always-ready instances) names the apps' subnet, and the linked
	// access check asks for the right to join it on every such write (app-service/
	// overview-vnet-integration.md, "Permissions"): granted on that subnet alone.
	if a.cfg.AlwaysReadyInstances > 0 && a.cfg.SubnetID.Raw != "" {
		subnet := pulumi.String(a.cfg.SubnetID.Raw).ToStringOutput()
		assignable = append(assignable, subnet)
		grants = append(grants, releaseGrant{"network", []string{subnetJoinAction}, []releaseScope{{"subnet", subnet}}})
	}
	for _, g := range grants {
		if err := r.grant(ctx, a, g, rg, assignable); err != nil {
			return nil, err
		}
	}
	if err := ctx.RegisterResourceOutputs(r, pulumi.Map{"roleName": r.Role.RoleName}); err != nil {
		return nil, err
	}
	return r, nil
}

// grant declares one role and its assignments.
func (r *ReleaseAccess) grant(ctx *pulumi.Context, a releaseAccessArgs, g releaseGrant, rg pulumi.StringOutput, assignable pulumi.StringArray) error {
	logical, what := "release", "What slotless release, shift, rollback, watch, status and deploy do to this stack, and nothing else."
	if g.kind != "" {
		logical += "-" + g.kind
		what = fmt.Sprintf("The %s of slotless releases of this stack, assigned only on the resources they touch.", g.kind)
	}
	role, err := authorization.NewRoleDefinition(ctx, logical+"-role", &authorization.RoleDefinitionArgs{
		// A custom role's name is unique in the tenant (a second one answers 409
		// RoleDefinitionWithSameNameExists: MicrosoftDocs role-based-access-control,
		// custom-roles.md): the same stack name in another subscription, or two stacks in one
		// resource group, must not collide, so the name carries all four.
		RoleName:         ReleaseRoleName(g.kind, ctx.Project(), ctx.Stack(), rg),
		Description:      pulumi.String(what),
		RoleType:         pulumi.String("CustomRole"),
		Scope:            rg,
		AssignableScopes: assignable,
		Permissions: authorization.PermissionArray{&authorization.PermissionArgs{
			Actions: pulumi.ToStringArray(g.actions),
		}},
	}, pulumi.Parent(r))
	if err != nil {
		return fmt.Errorf("release role %s: %w", logical, err)
	}
	if g.kind == "" {
		r.Role = role
	}
	roleID := pulumi.All(rg, role.Name).ApplyT(func(v []any) (string, error) {
		sub, err := prefixOf(v[0].(string), 2)
		return sub + "/providers/Microsoft.Authorization/roleDefinitions/" + v[1].(string), err
	}).(pulumi.StringOutput)
	for _, sc := range g.scopes {
		ra, err := authorization.NewRoleAssignment(ctx, logical+"-"+sc.key, &authorization.RoleAssignmentArgs{
			PrincipalId:      pulumi.String(a.cfg.ReleasePrincipalID),
			PrincipalType:    pulumi.String(authorization.PrincipalTypeServicePrincipal),
			RoleDefinitionId: roleID,
			Scope:            sc.scope,
			Description:      pulumi.String("slotless release identity: traffic, deploys and gates of this stack"),
		}, pulumi.Parent(r), pulumi.DependsOn(a.gateway))
		if err != nil {
			return fmt.Errorf("release role assignment %s-%s: %w", logical, sc.key, err)
		}
		r.Assignments = append(r.Assignments, ra)
	}
	return nil
}

// ReleaseRoleName is the name of the release role of a kind ("" for the main one, "traffic",
// "keys") for a stack whose resource group has the id groupID: the project, the stack, the
// group and its subscription, which together no other stack of the tenant has.
func ReleaseRoleName(kind, project, stackName string, groupID pulumi.StringOutput) pulumi.StringOutput {
	what := "slotless release"
	if kind != "" {
		what += " " + kind
	}
	return groupID.ApplyT(func(id string) (string, error) {
		parts := strings.Split(strings.Trim(id, "/"), "/")
		if len(parts) < 4 {
			return "", fmt.Errorf("resource group id %q is not /subscriptions/<id>/resourceGroups/<name>", id)
		}
		return fmt.Sprintf("%s %s/%s (resource group %s, subscription %s)", what, project, stackName, parts[3], parts[1]), nil
	}).(pulumi.StringOutput)
}

// telemetryScopes are the kinds of team telemetry the release role follows, in order.
var telemetryScopes = []string{"component", "workspace"}

// prefixOf is the first n segments of an ARM id: 2 is the subscription, 4 the resource group,
// 8 a top-level resource.
func prefixOf(id string, n int) (string, error) {
	parts := strings.Split(strings.TrimPrefix(id, "/"), "/")
	if len(parts) < n || !strings.EqualFold(parts[0], "subscriptions") {
		return "", fmt.Errorf("resource id %q has fewer than %d segments under /subscriptions", id, n)
	}
	return "/" + strings.Join(parts[:n], "/"), nil
}
