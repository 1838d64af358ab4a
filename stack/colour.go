package stack

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pulumi/pulumi-azure-native-sdk/authorization/v3"
	"github.com/pulumi/pulumi-azure-native-sdk/managedidentity/v3"
	"github.com/pulumi/pulumi-azure-native-sdk/web/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// ColourType is the Pulumi type token of the per-slot component.
const ColourType = "slotless:stack:Colour"

// Colour is one slot: its FC1 plan, its function app and the identity the app runs as, with
// the roles that identity needs. Green and blue are two instances of it, identical but for the
// name and SLOT_NAME, so a release can go either way.
type Colour struct {
	pulumi.ResourceState

	Slot     Slot
	Identity *managedidentity.UserAssignedIdentity
	Plan     *web.AppServicePlan
	App      *web.WebApp
	// Hostname is the app's default host name, e.g. <app>.azurewebsites.net.
	Hostname pulumi.StringOutput
	// HostStorage is the name of the account the app's host storage (AzureWebJobsStorage) is
	// in, and SharedStorage the shared account's: the key API Management holds is tagged with
	// the first, and a key tagged with neither came from the second (keyHostAccount).
	HostStorage, SharedStorage pulumi.StringOutput
}

// colourArgs are what a slot needs from the shared resources.
type colourArgs struct {
	names         Names
	cfg           *Config
	resourceGroup pulumi.StringInput
	storage       *Storage
	monitoring    *Monitoring
	tags          pulumi.StringMap
	// service and keyName say where the key API Management holds for the slot is, whose tags
	// tell where the slot's host storage is now (guardedHostAccount).
	service apimService
	keyName string
	// held keeps the app's configuration as deployed: the slot carries traffic (PlanSettings).
	held bool
	// deployed are the last update's weights (nil: never deployed), and poolID the pool's id in
	// the service, which guardedHostAccount reads to know whether the slot carries traffic.
	deployed *Weights
	poolID   string
}

func newColour(ctx *pulumi.Context, slot Slot, a colourArgs, opts ...pulumi.ResourceOption) (*Colour, error) {
	c := &Colour{Slot: slot}
	name := string(slot)
	if err := ctx.RegisterComponentResource(ColourType, name, c, opts...); err != nil {
		return nil, fmt.Errorf("colour %s: %w", slot, err)
	}
	parent := pulumi.Parent(c)
	n, cfg := a.names, a.cfg

	id, err := managedidentity.NewUserAssignedIdentity(ctx, name+"-identity", &managedidentity.UserAssignedIdentityArgs{
		ResourceName:      pulumi.String(n.Identity(slot)),
		ResourceGroupName: a.resourceGroup,
		Location:          pulumi.String(cfg.Location),
		Tags:              a.tags,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("colour %s identity: %w", slot, err)
	}
	c.Identity = id

	roles, err := c.grantRoles(ctx, a, parent)
	if err != nil {
		return nil, err
	}

	plan, err := web.NewAppServicePlan(ctx, name+"-plan", &web.AppServicePlanArgs{
		Name:              pulumi.String(n.Plan(slot)),
		ResourceGroupName: a.resourceGroup,
		Location:          pulumi.String(cfg.Location),
		Kind:              pulumi.String("functionapp"),
		Reserved:          pulumi.Bool(true),
		Sku:               &web.SkuDescriptionArgs{Name: pulumi.String("FC1"), Tier: pulumi.String("FlexConsumption")},
		Tags:              a.tags,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("colour %s plan: %w", slot, err)
	}
	c.Plan = plan

	c.SharedStorage = a.storage.Account.Name
	c.HostStorage = guardedHostAccount(ctx, slot, cfg, a.deployed, a.storage.HostAccount(cfg, slot).Name, c.SharedStorage, a.service, a.keyName, a.poolID)
	// No name: the app's name is its *.azurewebsites.net host, global across Azure, so
	// azure-native names it "<slot>-app" plus eight hex characters (see Names), and the backends
	// and outputs read app.Name and app.DefaultHostName.
	app, err := web.NewWebApp(ctx, name+"-app", &web.WebAppArgs{
		ResourceGroupName: a.resourceGroup,
		Location:          pulumi.String(cfg.Location),
		Kind:              pulumi.String("functionapp,linux"),
		ServerFarmId:      plan.ID().ToStringOutput(),
		HttpsOnly:         pulumi.Bool(true),
		// Key Vault references in the team's settings resolve with the slot's own identity
		// (App Service uses the system-assigned one unless keyVaultReferenceIdentity names a
		// user-assigned one: MicrosoftDocs, app-service-key-vault-references.md).
		KeyVaultReferenceIdentity: keyVaultIdentity(cfg, id),
		// Outbound traffic through the team's subnet (network.go); nil leaves the app without.
		VirtualNetworkSubnetId: subnetInput(cfg),
		Identity: &web.ManagedServiceIdentityArgs{
			Type:                   web.ManagedServiceIdentityTypeUserAssigned,
			UserAssignedIdentities: pulumi.StringArray{id.ID().ToStringOutput()},
		},
		FunctionAppConfig: &web.FunctionAppConfigArgs{
			Deployment: &web.FunctionsDeploymentArgs{Storage: &web.FunctionsDeploymentStorageArgs{
				Type:  pulumi.String(web.FunctionsDeploymentStorageTypeBlobContainer),
				Value: a.storage.ContainerURL(slot),
				Authentication: &web.FunctionsDeploymentStorageAuthenticationArgs{
					Type:                           pulumi.String(web.AuthenticationTypeUserAssignedIdentity),
					UserAssignedIdentityResourceId: id.ID().ToStringOutput(),
				},
			}},
			Runtime: &web.FunctionsRuntimeArgs{Name: pulumi.String(cfg.Runtime.Name), Version: pulumi.String(cfg.Runtime.Version)},
			ScaleAndConcurrency: &web.FunctionsScaleAndConcurrencyArgs{
				MaximumInstanceCount: pulumi.Int(cfg.MaximumInstanceCount),
				InstanceMemoryMB:     pulumi.Int(cfg.InstanceMemoryMB),
				AlwaysReady:          alwaysReady(cfg, slot),
			},
		},
		SiteConfig: &web.SiteConfigArgs{
			AppSettings:      appSettings(slot, c.HostStorage, id.ClientId, a.monitoring.ConnectionString(slot), cfg.AppSettings),
			MinTlsVersion:    pulumi.String(web.SupportedTlsVersions_1_2),
			ScmMinTlsVersion: pulumi.String(web.SupportedTlsVersions_1_2),
			FtpsState:        pulumi.String(web.FtpsStateDisabled),
			Http20Enabled:    pulumi.Bool(true),
		},
		Tags: a.tags,
	}, appOptions(a, parent, pulumi.DependsOn(roles))...)
	if err != nil {
		return nil, fmt.Errorf("colour %s app: %w", slot, err)
	}
	c.App = app
	c.Hostname = app.DefaultHostName
	if err := disableBasicPublishing(ctx, slot, app, a.resourceGroup, parent); err != nil {
		return nil, err
	}

	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"appName":  app.Name,
		"hostname": app.DefaultHostName,
	}); err != nil {
		return nil, fmt.Errorf("colour %s outputs: %w", slot, err)
	}
	return c, nil
}

// keyVaultIdentity is the identity Key Vault references resolve with: the slot's own, when the
// team's settings hold any; nil otherwise, so a stack without references keeps its apps as they
// are.
func keyVaultIdentity(cfg *Config, id *managedidentity.UserAssignedIdentity) pulumi.StringPtrInput {
	if len(cfg.AppSettings.KeyVaultReferences()) == 0 {
		return nil
	}
	return id.ID().ToStringOutput()
}

// appOptions are the app's resource options: a slot that carries traffic keeps its
// configuration inputs as deployed (heldAppInputs).
func appOptions(a colourArgs, opts ...pulumi.ResourceOption) []pulumi.ResourceOption {
	if a.held {
		opts = append(opts, pulumi.IgnoreChanges(heldAppInputs))
	}
	return opts
}

// appSettings are identity-based, with the host storage in account, followed by the team's own
// (appSettings), which may not use a name the stack owns (ownedSetting). Nothing Flex Consumption
// rejects is set here (FUNCTIONS_WORKER_RUNTIME, FUNCTIONS_EXTENSION_VERSION,
// WEBSITE_RUN_FROM_PACKAGE, ...): the runtime comes from functionAppConfig. The list is sorted by
// name so ARM's echo of it never shows as a diff. When Pulumi holds appSettings as a secret, every
// one of the team's values is kept secret in state.
func appSettings(slot Slot, account, clientID, aiConnection pulumi.StringOutput, own AppSettings) web.NameValuePairArray {
	endpoint := func(service string) pulumi.StringOutput {
		return pulumi.Sprintf("https://%s.%s.core.windows.net", account, service)
	}
	settings := map[string]pulumi.StringInput{
		"APPLICATIONINSIGHTS_AUTHENTICATION_STRING": pulumi.Sprintf("ClientId=%s;Authorization=AAD", clientID),
		"APPLICATIONINSIGHTS_CONNECTION_STRING":     aiConnection,
		"AzureWebJobsStorage__blobServiceUri":       endpoint("blob"),
		"AzureWebJobsStorage__clientId":             clientID,
		"AzureWebJobsStorage__credential":           pulumi.String("managedidentity"),
		"AzureWebJobsStorage__queueServiceUri":      endpoint("queue"),
		"AzureWebJobsStorage__tableServiceUri":      endpoint("table"),
		"SLOT_NAME":                                 pulumi.String(string(slot)),
	}
	for _, name := range own.Names() {
		var v pulumi.StringInput = pulumi.String(own.Values[name])
		if own.Secret {
			v = pulumi.ToSecret(v).(pulumi.StringOutput)
		}
		settings[name] = v
	}
	return nameValuePairs(settings)
}

// grantRoles gives the slot's identity what its Functions host needs, and on nothing but the
// slot's own storage: blob (host keys and leases), queue and table data access on its host
// storage account, blob data access on its own deployment container only (where its packages
// are), and metric publishing to the Application Insights component the slot reports to
// (Monitoring.PublishTo), for Entra-only ingestion. While
// sharedHostStorage lists the slot, its host still works in the shared account, so it keeps the
// account-wide roles it had there, under the same names, until it moves.
func (c *Colour) grantRoles(ctx *pulumi.Context, a colourArgs, parent pulumi.ResourceOption) ([]pulumi.Resource, error) {
	hostID := a.storage.Hosts[c.Slot].ID().ToStringOutput()
	sharedID := a.storage.Account.ID().ToStringOutput()
	type grant struct {
		key, role string
		scope     pulumi.StringOutput
	}
	publish, component := a.monitoring.PublishTo(c.Slot)
	grants := []grant{
		{"host-blob-owner", roleStorageBlobDataOwner, hostID},
		{"host-queue-contributor", roleStorageQueueDataContrib, hostID},
		{"host-table-contributor", roleStorageTableDataContrib, hostID},
		{"deploy-blob-contributor", roleStorageBlobDataContrib, a.storage.Containers[c.Slot].ID().ToStringOutput()},
		{publish, roleMonitoringMetricsPublisher, component},
	}
	if a.cfg.HostStorageShared(c.Slot) {
		grants = append(grants, []grant{
			{"blob-owner", roleStorageBlobDataOwner, sharedID},
			{"queue-contributor", roleStorageQueueDataContrib, sharedID},
			{"table-contributor", roleStorageTableDataContrib, sharedID},
		}...)
	}
	var out []pulumi.Resource
	for _, g := range grants {
		// No name: a role assignment's name is a GUID unique across the tenant, which one derived
		// from the project and stack would not be for two stacks in one tenant. azure-native
		// generates a random GUID once and keeps it in state, so a re-run never adds a second.
		ra, err := authorization.NewRoleAssignment(ctx, string(c.Slot)+"-"+g.key, &authorization.RoleAssignmentArgs{
			PrincipalId:      c.Identity.PrincipalId,
			PrincipalType:    pulumi.String(authorization.PrincipalTypeServicePrincipal),
			RoleDefinitionId: roleDefinitionID(g.scope, g.role),
			Scope:            g.scope,
			Description:      pulumi.String(fmt.Sprintf("slotless %s slot: %s", c.Slot, g.key)),
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("colour %s role %s: %w", c.Slot, g.key, err)
		}
		out = append(out, ra)
	}
	return out, nil
}

// roleDefinitionID builds the subscription-scoped role definition id from the scope's own id,
// so the program needs no separate lookup of the subscription.
func roleDefinitionID(scope pulumi.StringOutput, role string) pulumi.StringOutput {
	return scope.ApplyT(func(id string) (string, error) {
		parts := strings.Split(strings.TrimPrefix(id, "/"), "/")
		if len(parts) < 2 || !strings.EqualFold(parts[0], "subscriptions") {
			return "", fmt.Errorf("resource id %q does not start with /subscriptions/<id>", id)
		}
		return "/subscriptions/" + parts[1] + "/providers/Microsoft.Authorization/roleDefinitions/" + role, nil
	}).(pulumi.StringOutput)
}

// nameValuePairs is an app's settings as ARM takes them, sorted by name so that the same
// settings always make the same input and a preview shows no change where there is none.
func nameValuePairs(settings map[string]pulumi.StringInput) web.NameValuePairArray {
	names := make([]string, 0, len(settings))
	for n := range settings {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make(web.NameValuePairArray, 0, len(names))
	for _, n := range names {
		out = append(out, web.NameValuePairArgs{Name: pulumi.String(n), Value: settings[n]})
	}
	return out
}
