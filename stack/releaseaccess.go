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

// ReleaseAccess is what the stack grants releasePrincipalId: one custom role holding exactly the
// actions of the release commands, assigned to the stack's resource group and, when the API
// Management service is reused from elsewhere, to that service; when the apps report to a
// team's telemetry elsewhere, to its component and workspace too, which the release reads (the
// program's lookups in its traffic-only update, the metrics gate's queries).
type ReleaseAccess struct {
	pulumi.ResourceState

	Role        *authorization.RoleDefinition
	Assignments []*authorization.RoleAssignment
}

// releaseActions are the ARM actions slotless release, shift, rollback, watch, status and deploy
// perform, through Pulumi (a traffic-only `pulumi up`, its refresh, and the program's lookups)
// and outside it (the live pool reads, the break-glass write, the deployment host). Nothing
// else: no app settings (Microsoft.Web/sites/config/*), no site writes, no storage, no role
// assignments, no API or policy changes. Azure's action names, as Azure's resource provider
// operations list them (MicrosoftDocs azure-docs, role-based-access-control/
// resource-provider-operations.md).
var releaseActions = []string{
	// The stack's resource group and the lookups and refreshes of a traffic-only update.
	"Microsoft.Resources/subscriptions/resourceGroups/read",
	// The pool and the current-slot-name named value: read by status, the live pool and the
	// refresh before a rollback; written by a shift, a rollback and the break-glass path.
	"Microsoft.ApiManagement/service/read",
	"Microsoft.ApiManagement/service/backends/read",
	"Microsoft.ApiManagement/service/backends/write",
	"Microsoft.ApiManagement/service/namedValues/read",
	"Microsoft.ApiManagement/service/namedValues/write",
	// Every program run reads the function key API Management holds (functionKey), a secret
	// named value; the release identity runs the program, so it needs this. It can read the
	// stack's secrets in Pulumi state anyway, since it decrypts them to run `pulumi up`.
	"Microsoft.ApiManagement/service/namedValues/listValue/action",
	// slotless deploy: the app's deployment host, and the one-deploy upload with an Entra token.
	"Microsoft.Web/sites/read",
	"Microsoft.Web/sites/publish/Action",
	// The metrics gate's query of AppRequests.
	"Microsoft.OperationalInsights/workspaces/read",
	"Microsoft.OperationalInsights/workspaces/query/read",
	"Microsoft.OperationalInsights/workspaces/query/*/read",
	"Microsoft.Insights/components/read",
}

// siteWriteAction is what a shift needs besides when alwaysReadyInstances is above 0: the apps'
// always-ready count is part of the site (functionAppConfig), written with a site PUT. That
// action also covers a site's settings, so it is granted only when the stack needs it.
const siteWriteAction = "Microsoft.Web/sites/write"

// ReleaseActions returns the actions the release role holds for a config.
func ReleaseActions(cfg *Config) []string {
	out := slices.Clone(releaseActions)
	if cfg.AlwaysReadyInstances > 0 {
		out = append(out, siteWriteAction)
	}
	return out
}

// releaseAccessArgs are what the grants need from the rest of the stack.
type releaseAccessArgs struct {
	names Names
	cfg   *Config
	// groupID is any resource id in the stack's resource group; serviceID is the API Management
	// service's (child) resource id, wherever the service lives.
	groupID, serviceID pulumi.StringOutput
	// telemetry are the team's component and workspace the stack reads (Monitoring.Team).
	telemetry map[string]ResourceID
}

func newReleaseAccess(ctx *pulumi.Context, a releaseAccessArgs) (*ReleaseAccess, error) {
	r := &ReleaseAccess{}
	if err := ctx.RegisterComponentResource(ReleaseAccessType, "release", r); err != nil {
		return nil, fmt.Errorf("release access: %w", err)
	}
	parent := pulumi.Parent(r)
	rg := a.groupID.ApplyT(func(id string) (string, error) { return prefixOf(id, 4) }).(pulumi.StringOutput)
	svc := a.serviceID.ApplyT(func(id string) (string, error) { return prefixOf(id, 8) }).(pulumi.StringOutput)
	// The service needs its own assignable scope and assignment only when it lives outside the
	// stack's group: a reused apimName in another group.
	external := a.cfg.APIM.ExistingName != "" && !strings.EqualFold(a.cfg.APIM.ExistingResourceGroup, a.names.ResourceGroup())
	assignable := pulumi.StringArray{rg}
	scopes := map[string]pulumi.StringOutput{"group": rg}
	if external {
		assignable = append(assignable, svc)
		scopes["service"] = svc
	}
	// The release role's reads follow the telemetry to the team's resources outside the stack's
	// group: scoped to each resource, not to its group, which holds the team's other things.
	for _, kind := range telemetryScopes {
		if id, ok := a.telemetry[kind]; ok && !id.InGroup(a.names.ResourceGroup()) {
			scope := pulumi.String(id.Raw).ToStringOutput()
			assignable = append(assignable, scope)
			scopes["telemetry-"+kind] = scope
		}
	}

	role, err := authorization.NewRoleDefinition(ctx, "release-role", &authorization.RoleDefinitionArgs{
		// A custom role's name is unique in the tenant: the resource group's name is unique in
		// the subscription, and the stack's own.
		RoleName:         pulumi.Sprintf("slotless release (%s)", rg.ApplyT(lastSegment).(pulumi.StringOutput)),
		Description:      pulumi.String("What slotless release, shift, rollback, watch, status and deploy do to this stack, and nothing else."),
		RoleType:         pulumi.String("CustomRole"),
		Scope:            rg,
		AssignableScopes: assignable,
		Permissions: authorization.PermissionArray{&authorization.PermissionArgs{
			Actions: pulumi.ToStringArray(ReleaseActions(a.cfg)),
		}},
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("release role: %w", err)
	}
	r.Role = role
	roleID := pulumi.All(rg, role.Name).ApplyT(func(v []any) (string, error) {
		sub, err := prefixOf(v[0].(string), 2)
		return sub + "/providers/Microsoft.Authorization/roleDefinitions/" + v[1].(string), err
	}).(pulumi.StringOutput)
	for _, key := range []string{"group", "service", "telemetry-component", "telemetry-workspace"} {
		scope, ok := scopes[key]
		if !ok {
			continue
		}
		ra, err := authorization.NewRoleAssignment(ctx, "release-"+key, &authorization.RoleAssignmentArgs{
			PrincipalId:      pulumi.String(a.cfg.ReleasePrincipalID),
			PrincipalType:    pulumi.String(authorization.PrincipalTypeServicePrincipal),
			RoleDefinitionId: roleID,
			Scope:            scope,
			Description:      pulumi.String("slotless release identity: traffic, deploys and gates of this stack"),
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("release role assignment %s: %w", key, err)
		}
		r.Assignments = append(r.Assignments, ra)
	}
	if err := ctx.RegisterResourceOutputs(r, pulumi.Map{"roleName": role.RoleName}); err != nil {
		return nil, err
	}
	return r, nil
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

func lastSegment(id string) string { return id[strings.LastIndex(id, "/")+1:] }
