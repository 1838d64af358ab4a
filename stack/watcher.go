package stack

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/pulumi/pulumi-azure-native-sdk/authorization/v3"
	"github.com/pulumi/pulumi-azure-native-sdk/managedidentity/v3"
	"github.com/pulumi/pulumi-azure-native-sdk/storage/v3"
	"github.com/pulumi/pulumi-azure-native-sdk/web/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
)

// The watcher (config watcher, on by default) is a third Flex Consumption app that runs the
// stack's own slotless as a custom handler with one timer-triggered function (internal/watcher):
// each occurrence judges a canary standing between runs with the release's own verdicts and
// rolls it back through ARM. Everything it judges by is an app setting written here, so it needs
// no Pulumi backend at run time; the secrets among them are Pulumi secrets.

// App settings of the watcher's app (read by internal/watcher, which names them too).
const (
	EnvWatcherConfig   = "SLOTLESS_WATCHER_CONFIG"
	EnvWatcherOutputs  = "SLOTLESS_WATCHER_OUTPUTS"
	EnvWatcherProject  = "SLOTLESS_WATCHER_PROJECT"
	EnvWatcherStack    = "SLOTLESS_WATCHER_STACK"
	EnvWatcherSchedule = "SLOTLESS_WATCHER_SCHEDULE"
	EnvWatcherVersion  = "SLOTLESS_WATCHER_VERSION"
	EnvWatcherPinToken = "SLOTLESS_PIN_TOKEN"
	// EnvWatcherSubscriptionKey is the key of the watcher's own API Management subscription
	// (watcherkey.go), the name slotless release reads a key from too.
	EnvWatcherSubscriptionKey = "SLOTLESS_SUBSCRIPTION_KEY"
	EnvWatcherNotify          = "SLOTLESS_NOTIFY"
)

// WatcherPlanKeys are the config keys copied, raw, into EnvWatcherConfig: the release plan's
// and what stack.Parse needs to read them, so the watcher parses its plan with the same
// Parse and rollout.NewPlan as a release. No secret is among them.
var WatcherPlanKeys = []string{
	"releaseSteps", "bakeMinutes", "analysisIntervalSeconds", "analysisInitialDelaySeconds",
	"metricsConfidence", "metricsFailureLimit", "metricsMaxFailureRateDelta", "metricsMaxFailureRateRatio",
	"metricsClientErrorCheck", "metricsMaxP95Ratio", "metricsP95FloorMs", "metricsSampleRatioTolerance",
	"metricsMinRequests", "metricsInconclusive", "metricsLagSeconds", "metricsFailureStatus",
	"releaseProbes", "probeMaxFailureRateDelta", "probeFailureLimit", "probeMaxLatencyRatio",
	"warmupRequests", "warmupLatencyMs", "maxStep", "healthPath", "subscriptionRequired",
	"apiPath", "routePrefix", "publisherEmail", "apimName", "apimResourceGroupName",
}

// Outputs of the watcher.
const (
	OutWatcherAppName     = "watcherAppName"
	OutWatcherPrincipalID = "watcherPrincipalId"
)

// watcherName is the watcher's logical name, and its "slot" in messages shared with the slots.
const watcherName = "watcher"

// WatcherAppResource is the logical name of the watcher's app (a web:WebApp), which a traffic
// change applies with the pool when its settings alone differ (internal/release).
const WatcherAppResource = watcherName + "-app"

// watcherReadActions are what a tick reads: the pool and current-slot-name through ARM, and the
// metrics gate's query of AppRequests alone. The same actions as the release role's reads.
var watcherReadActions = []string{
	"Microsoft.Resources/subscriptions/resourceGroups/read",
	"Microsoft.ApiManagement/service/read",
	"Microsoft.ApiManagement/service/backends/read",
	"Microsoft.ApiManagement/service/namedValues/read",
	"Microsoft.ApiManagement/service/tenant/operationResults/read",
	"Microsoft.OperationalInsights/workspaces/read",
	"Microsoft.OperationalInsights/workspaces/query/read",
	"Microsoft.Insights/components/read",
}

// WatcherActions are every action the watcher's identity is given where the stack is; the
// traffic writes (trafficActions) are given on the pool and current-slot-name alone. No deploy,
// no site write, no named value's secret value: the watcher probes through the gateway with
// the pinning token, an app setting, and never needs a function key.
func WatcherActions() []string {
	return append(append([]string{}, watcherReadActions...), queryActions()...)
}

// Watcher is the declared watcher.
type Watcher struct {
	Identity *managedidentity.UserAssignedIdentity
	App      *web.WebApp
}

type watcherArgs struct {
	cfg           *Config
	resourceGroup pulumi.StringInput
	groupID       pulumi.StringOutput
	tags          pulumi.StringMap
	poolID        pulumi.StringOutput
	currentID     pulumi.StringOutput
	// outputs are the stack outputs the watcher judges by, under their output names.
	outputs pulumi.Map
	version string
	// assignable are the watcher roles' assignable scopes: the stack's group, and a reused
	// service's and the team's telemetry when they live elsewhere.
	assignable pulumi.StringArray
	// readScopes are where the watcher's reads and query are assigned, by the key in the
	// assignment's logical name: those same scopes.
	readScopes map[string]pulumi.StringOutput
	// history is the stack's history container, where the watcher takes the lease, moves its
	// cursor and writes its runs (outputs carry its URL).
	history *History
	// key is the watcher's API Management subscription when the API requires a key, else nil.
	key *watcherSubscription
}

func newWatcher(ctx *pulumi.Context, a watcherArgs) (*Watcher, error) {
	cfg := a.cfg
	w := &Watcher{}
	id, err := managedidentity.NewUserAssignedIdentity(ctx, watcherName+"-identity", &managedidentity.UserAssignedIdentityArgs{
		ResourceGroupName: a.resourceGroup,
		Location:          pulumi.String(cfg.Location),
		Tags:              a.tags,
	})
	if err != nil {
		return nil, fmt.Errorf("watcher identity: %w", err)
	}
	w.Identity = id
	// Its own host storage, identity-based, as the slots have theirs; its package container
	// there too, so nothing of the slots' storage is the watcher's to touch.
	host, err := identityOnlyAccount(ctx, "watcherhost", nil, a.resourceGroup, cfg, a.tags)
	if err != nil {
		return nil, fmt.Errorf("watcher host storage: %w", err)
	}
	container, err := storage.NewBlobContainer(ctx, watcherName+"-deploy", &storage.BlobContainerArgs{
		AccountName:       host.Name,
		ResourceGroupName: a.resourceGroup,
		ContainerName:     pulumi.String("watcher-package"),
		PublicAccess:      storage.PublicAccessNone,
	})
	if err != nil {
		return nil, fmt.Errorf("watcher package container: %w", err)
	}
	hostID := host.ID().ToStringOutput()
	var roles []pulumi.Resource
	for _, g := range []struct {
		key, role string
		scope     pulumi.StringOutput
	}{
		{"host-blob-owner", roleStorageBlobDataOwner, hostID},
		{"host-queue-contributor", roleStorageQueueDataContrib, hostID},
		{"host-table-contributor", roleStorageTableDataContrib, hostID},
		{"deploy-blob-contributor", roleStorageBlobDataContrib, container.ID().ToStringOutput()},
	} {
		ra, err := authorization.NewRoleAssignment(ctx, watcherName+"-"+g.key, &authorization.RoleAssignmentArgs{
			PrincipalId:      id.PrincipalId,
			PrincipalType:    pulumi.String(authorization.PrincipalTypeServicePrincipal),
			RoleDefinitionId: roleDefinitionID(g.scope, g.role),
			Scope:            g.scope,
			Description:      pulumi.String("slotless watcher: " + g.key),
		})
		if err != nil {
			return nil, fmt.Errorf("watcher role %s: %w", g.key, err)
		}
		roles = append(roles, ra)
	}
	access, err := watcherAccess(ctx, a, id)
	if err != nil {
		return nil, err
	}
	roles = append(roles, access...)
	if err := a.history.GrantWriter(ctx, watcherName, id.PrincipalId); err != nil {
		return nil, err
	}
	roles = append(roles, a.history.writers[watcherName])

	plan, err := web.NewAppServicePlan(ctx, watcherName+"-plan", &web.AppServicePlanArgs{
		ResourceGroupName: a.resourceGroup,
		Location:          pulumi.String(cfg.Location),
		Kind:              pulumi.String("functionapp"),
		Reserved:          pulumi.Bool(true),
		Sku:               &web.SkuDescriptionArgs{Name: pulumi.String("FC1"), Tier: pulumi.String("FlexConsumption")},
		Tags:              a.tags,
	})
	if err != nil {
		return nil, fmt.Errorf("watcher plan: %w", err)
	}
	app, err := web.NewWebApp(ctx, WatcherAppResource, &web.WebAppArgs{
		ResourceGroupName: a.resourceGroup,
		Location:          pulumi.String(cfg.Location),
		Kind:              pulumi.String("functionapp,linux"),
		ServerFarmId:      plan.ID().ToStringOutput(),
		HttpsOnly:         pulumi.Bool(true),
		Identity: &web.ManagedServiceIdentityArgs{
			Type:                   web.ManagedServiceIdentityTypeUserAssigned,
			UserAssignedIdentities: pulumi.StringArray{id.ID().ToStringOutput()},
		},
		FunctionAppConfig: &web.FunctionAppConfigArgs{
			Deployment: &web.FunctionsDeploymentArgs{Storage: &web.FunctionsDeploymentStorageArgs{
				Type: pulumi.String(web.FunctionsDeploymentStorageTypeBlobContainer),
				// Built from the account's name as the slots' is (Storage.ContainerURL), not read
				// back from the account: an offline plan has the name, not ARM's endpoints.
				Value: pulumi.Sprintf("https://%s.blob.core.windows.net/%s", host.Name, container.Name),
				Authentication: &web.FunctionsDeploymentStorageAuthenticationArgs{
					Type:                           pulumi.String(web.AuthenticationTypeUserAssignedIdentity),
					UserAssignedIdentityResourceId: id.ID().ToStringOutput(),
				},
			}},
			// The custom handler runtime: the host runs the package's slotless binary.
			Runtime: &web.FunctionsRuntimeArgs{Name: pulumi.String("custom"), Version: pulumi.String("1.0")},
			ScaleAndConcurrency: &web.FunctionsScaleAndConcurrencyArgs{
				// One instance is all a timer ever uses (its singleton lock), and the
				// smallest memory is the cheapest second.
				MaximumInstanceCount: pulumi.Int(40),
				InstanceMemoryMB:     pulumi.Int(WatcherInstanceMemoryMB),
			},
		},
		SiteConfig: &web.SiteConfigArgs{
			AppSettings:      watcherSettings(ctx, a, host.Name, id.ClientId),
			MinTlsVersion:    pulumi.String(web.SupportedTlsVersions_1_2),
			ScmMinTlsVersion: pulumi.String(web.SupportedTlsVersions_1_2),
			FtpsState:        pulumi.String(web.FtpsStateDisabled),
			Http20Enabled:    pulumi.Bool(true),
		},
		Tags: a.tags,
	}, pulumi.DependsOn(roles))
	if err != nil {
		return nil, fmt.Errorf("watcher app: %w", err)
	}
	w.App = app
	if err := disableBasicPublishing(ctx, Slot(watcherName), app, a.resourceGroup); err != nil {
		return nil, err
	}
	ctx.Export(OutWatcherAppName, app.Name)
	ctx.Export(OutWatcherPrincipalID, id.PrincipalId)
	return w, nil
}

// WatcherInstanceMemoryMB is the watcher app's instance memory: Flex Consumption's smallest
// size, since a tick holds a few HTTP clients and one query's figures.
const WatcherInstanceMemoryMB = 512

// watcherAccess gives the watcher's identity the release role's reads and the metrics query
// where the stack is (its group, a reused service in another group, the team's telemetry
// elsewhere, as releaseaccess.go assigns the release role's), and the traffic writes on the
// pool and current-slot-name alone.
func watcherAccess(ctx *pulumi.Context, a watcherArgs, id *managedidentity.UserAssignedIdentity) ([]pulumi.Resource, error) {
	rg := a.groupID
	var out []pulumi.Resource
	for _, g := range []struct {
		kind    string
		actions []string
		scopes  map[string]pulumi.StringOutput
	}{
		{"", WatcherActions(), a.readScopes},
		{"traffic", trafficActions, map[string]pulumi.StringOutput{"pool": a.poolID, "current": a.currentID}},
	} {
		logical := watcherName
		if g.kind != "" {
			logical += "-" + g.kind
		}
		role, err := authorization.NewRoleDefinition(ctx, logical+"-role", &authorization.RoleDefinitionArgs{
			RoleName: rg.ApplyT(func(id string) string {
				return fmt.Sprintf("slotless %s %s/%s (%s)", logical, ctx.Project(), ctx.Stack(), id)
			}).(pulumi.StringOutput),
			Description:      pulumi.String("What the slotless watcher of this stack reads and writes, and nothing else."),
			RoleType:         pulumi.String("CustomRole"),
			Scope:            rg,
			AssignableScopes: a.assignable,
			Permissions:      authorization.PermissionArray{&authorization.PermissionArgs{Actions: pulumi.ToStringArray(g.actions)}},
		})
		if err != nil {
			return nil, fmt.Errorf("watcher role %s: %w", logical, err)
		}
		roleID := pulumi.All(rg, role.Name).ApplyT(func(v []any) (string, error) {
			sub, err := prefixOf(v[0].(string), 2)
			return sub + "/providers/Microsoft.Authorization/roleDefinitions/" + v[1].(string), err
		}).(pulumi.StringOutput)
		keys := make([]string, 0, len(g.scopes))
		for k := range g.scopes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ra, err := authorization.NewRoleAssignment(ctx, logical+"-"+k, &authorization.RoleAssignmentArgs{
				PrincipalId:      id.PrincipalId,
				PrincipalType:    pulumi.String(authorization.PrincipalTypeServicePrincipal),
				RoleDefinitionId: roleID,
				Scope:            g.scopes[k],
				Description:      pulumi.String("slotless watcher: judges and rolls back this stack's canary"),
			})
			if err != nil {
				return nil, fmt.Errorf("watcher role assignment %s-%s: %w", logical, k, err)
			}
			out = append(out, ra)
		}
	}
	return out, nil
}

// watcherSettings are the watcher app's settings: the host's identity-based storage, the
// identity's client id, and what a tick judges by; the pinning token, the subscription key and
// the notify targets as Pulumi secrets.
func watcherSettings(ctx *pulumi.Context, a watcherArgs, account, clientID pulumi.StringOutput) web.NameValuePairArray {
	project := config.New(ctx, ctx.Project())
	raw := map[string]string{}
	for _, k := range WatcherPlanKeys {
		if v, err := project.Try(k); err == nil {
			raw[k] = canonicalJSON(v)
		}
	}
	raw["azure-native:location"] = a.cfg.Location
	cfgJSON, _ := json.Marshal(raw)
	endpoint := func(service string) pulumi.StringOutput {
		return pulumi.Sprintf("https://%s.%s.core.windows.net", account, service)
	}
	settings := map[string]pulumi.StringInput{
		"AzureWebJobsStorage__blobServiceUri":  endpoint("blob"),
		"AzureWebJobsStorage__queueServiceUri": endpoint("queue"),
		"AzureWebJobsStorage__tableServiceUri": endpoint("table"),
		"AzureWebJobsStorage__clientId":        clientID,
		"AzureWebJobsStorage__credential":      pulumi.String("managedidentity"),
		"AZURE_CLIENT_ID":                      clientID,
		EnvWatcherConfig:                       pulumi.String(string(cfgJSON)),
		EnvWatcherOutputs: a.outputs.ToMapOutput().ApplyT(func(m map[string]any) (string, error) {
			b, err := json.Marshal(m)
			return string(b), err
		}).(pulumi.StringOutput),
		EnvWatcherProject:  pulumi.String(ctx.Project()),
		EnvWatcherStack:    pulumi.String(ctx.Stack()),
		EnvWatcherSchedule: pulumi.String(a.cfg.WatcherSchedule),
		EnvWatcherVersion:  pulumi.String(a.version),
	}
	if a.cfg.PinToken != "" {
		settings[EnvWatcherPinToken] = pulumi.ToSecret(pulumi.String(a.cfg.PinToken)).(pulumi.StringOutput)
	}
	if a.key != nil {
		// Already a Pulumi secret: listSecrets' answer, wrapped as one where it is read.
		settings[EnvWatcherSubscriptionKey] = a.key.Key
	}
	if v, err := project.Try("notify"); err == nil && v != "" {
		settings[EnvWatcherNotify] = pulumi.ToSecret(pulumi.String(v)).(pulumi.StringOutput)
	}
	return nameValuePairs(settings)
}

// declareWatcher declares the watcher over the stack's gateway and telemetry, with the outputs
// it judges by, and makes it a writer of the stack's history (its lease, cursor and records).
func declareWatcher(ctx *pulumi.Context, cfg *Config, rg pulumi.StringInput, tags pulumi.StringMap, st *Storage, hist *History, mon *Monitoring, colours map[Slot]*Colour, gw *Gateway, key *watcherSubscription, version string) error {
	kinds := pulumi.StringMap{}
	for k, v := range mon.plan.Components {
		kinds[k] = pulumi.String(v)
	}
	ids := pulumi.StringMap{}
	for _, s := range Slots {
		ids[string(s)] = mon.ComponentOf(s)
	}
	outputs := pulumi.Map{
		OutAPIURL: gw.GatewayURL.ApplyT(func(u string) string {
			return strings.TrimSuffix(u, "/") + "/" + cfg.API.Path
		}).(pulumi.StringOutput),
		OutPoolID:                gw.Pool.ID().ToStringOutput(),
		OutWorkspaceID:           mon.CustomerID,
		OutTelemetryComponents:   kinds,
		OutTelemetryComponentIDs: ids,
		OutHistoryURL:            hist.URL,
	}
	for _, s := range Slots {
		outputs[OutAppName(s)] = colours[s].App.Name
	}
	groupID := st.Account.ID().ToStringOutput().ApplyT(func(id string) (string, error) { return prefixOf(id, 4) }).(pulumi.StringOutput)
	assignable, reads := watcherReadScopes(cfg, NewNames(ctx.Project(), ctx.Stack(), cfg).ResourceGroup(), groupID, gw.Pool.ID().ToStringOutput(), mon.Team)
	_, err := newWatcher(ctx, watcherArgs{cfg: cfg, resourceGroup: rg, groupID: groupID, tags: tags, assignable: assignable, readScopes: reads,
		poolID: gw.Pool.ID().ToStringOutput(), currentID: gw.CurrentSlot.ID().ToStringOutput(), outputs: outputs, version: version,
		history: hist, key: key})
	return err
}

// canonicalJSON compacts a structured config value (a list or object, which Pulumi hands the
// program as JSON) with its keys sorted, so the setting is the same whichever way the engine
// serialised it: the CLI's language host and an Automation API run may order an object's keys
// differently, and a setting that changed for that alone would be a change of the watcher app
// in a traffic-only update. Plain values are left as they are.
func canonicalJSON(v string) string {
	t := strings.TrimSpace(v)
	if !strings.HasPrefix(t, "[") && !strings.HasPrefix(t, "{") {
		return v
	}
	var x any
	if json.Unmarshal([]byte(t), &x) != nil {
		return v
	}
	b, err := json.Marshal(x)
	if err != nil {
		return v
	}
	return string(b)
}

// watcherReadScopes are where the watcher reads and queries, as the release role's main
// assignment (newReleaseAccess): the stack's group; a reused API Management service in another
// group, where the tick reads the pool and current-slot-name; and the team's Application
// Insights component and Log Analytics workspace when they live outside the group, which the
// metrics gate queries. Each is also an assignable scope of the watcher's roles.
func watcherReadScopes(cfg *Config, stackGroup string, groupID, poolID pulumi.StringOutput, team map[string]ResourceID) (pulumi.StringArray, map[string]pulumi.StringOutput) {
	assignable := pulumi.StringArray{groupID}
	reads := map[string]pulumi.StringOutput{"group": groupID}
	if cfg.APIM.ExistingName != "" && !strings.EqualFold(cfg.APIM.ExistingResourceGroup, stackGroup) {
		svc := poolID.ApplyT(func(id string) (string, error) { return prefixOf(id, 8) }).(pulumi.StringOutput)
		assignable = append(assignable, svc)
		reads["service"] = svc
	}
	for _, kind := range telemetryScopes {
		if id, ok := team[kind]; ok && !id.InGroup(stackGroup) {
			scope := pulumi.String(id.Raw).ToStringOutput()
			assignable = append(assignable, scope)
			reads["telemetry-"+kind] = scope
		}
	}
	return assignable, reads
}
