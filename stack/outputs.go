package stack

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Output names. The pipelines and the slotless CLI read these, so they are part of the contract.
const (
	OutGatewayURL        = "gatewayUrl"
	OutAPIURL            = "apiUrl"
	OutGreenWeight       = "greenWeight"
	OutBlueWeight        = "blueWeight"
	OutLiveSlot          = "liveSlot"
	OutIdleSlot          = "idleSlot"
	OutResourceGroup     = "resourceGroupName"
	OutAPIMName          = "apimName"
	OutAPIMResourceGroup = "apimResourceGroupName"
	// OutAppInsightsName names the Application Insights component the config's apps report to:
	// the stack's own, or the team's (appInsightsResourceId, whose id is OutAppInsightsID).
	OutAppInsightsName = "appInsightsName"
	OutStorageAccount  = "storageAccountName"
	// OutWorkspaceID is the Log Analytics workspace id (a GUID) the metrics gate queries: the
	// workspace of the component the config's apps report to, the team's when reused.
	OutWorkspaceID = "logAnalyticsWorkspaceId"
	// OutCurrentSlotName is the deployed current-slot-name: frozen while a release is in
	// progress, it says which slot the release started from, so a rollback knows which way is
	// back without reading git history or the local stack file.
	OutCurrentSlotName = "currentSlotName"
	// OutPoolID is the pool's ARM id: where a rollback that cannot go through Pulumi writes the
	// weights directly, and where status reads the live pool.
	OutPoolID = "poolId"
	// OutHealthPath is the health operation's path under the API (healthPath), which status
	// and the gates append to apiUrl.
	OutHealthPath = "healthPath"
	// OutRoutePrefix is the apps' HTTP route prefix (routePrefix), which `slotless deploy`
	// checks a package's host.json against.
	OutRoutePrefix = "routePrefix"
	// OutSharedHostStorage lists the slots whose host storage this update left in the shared
	// account (sharedHostStorage): their identities hold data roles on the whole account, both
	// deployment containers included, so `slotless deploy` refuses them.
	OutSharedHostStorage = "sharedHostStorage"
	// OutHistoryURL is the history container's URL, https://<account>.blob.core.windows.net/
	// history (HistoryContainerName), where `slotless history`, `report --id`, `status` and every
	// run that records itself find it.
	OutHistoryURL = "historyUrl"
)

// SharedHostStorageOf reads OutSharedHostStorage from a stack's outputs; a stack deployed
// before it was exported lists nothing, and ok is false.
func SharedHostStorageOf(outs map[string]any) (slots []Slot, ok bool) {
	list, ok := outs[OutSharedHostStorage].([]any)
	for _, v := range list {
		if s, err := ParseSlot(fmt.Sprint(v)); err == nil {
			slots = append(slots, s)
		}
	}
	return slots, ok
}

// DefaultHealthPath is healthPath's default, for a stack deployed before it was exported.
const DefaultHealthPath = "/health"

// OutAppName names a slot's function app output, e.g. greenAppName.
func OutAppName(s Slot) string { return string(s) + "AppName" }

// OutHostname names a slot's default host name output, e.g. blueHostname.
func OutHostname(s Slot) string { return string(s) + "Hostname" }

// OutIdentityPrincipalID names a slot's identity's principal (object) id output: what a team
// grants read access to its Key Vault secrets (Key Vault Secrets User) for the references in
// appSettings.
func OutIdentityPrincipalID(s Slot) string { return string(s) + "IdentityPrincipalId" }

// OutContainerURL names a slot's deployment container URL output.
func OutContainerURL(s Slot) string { return string(s) + "DeploymentContainerUrl" }

func exportOutputs(ctx *pulumi.Context, cfg *Config, n Names, rg pulumi.StringInput, st *Storage, mon *Monitoring, colours map[Slot]*Colour, gw *Gateway) {
	ctx.Export(OutGatewayURL, gw.GatewayURL)
	ctx.Export(OutAPIURL, gw.GatewayURL.ApplyT(func(u string) string {
		return strings.TrimSuffix(u, "/") + "/" + cfg.API.Path
	}).(pulumi.StringOutput))
	ctx.Export(OutHealthPath, pulumi.String(cfg.API.HealthPath))
	ctx.Export(OutRoutePrefix, pulumi.String(cfg.API.RoutePrefix))
	ctx.Export(OutGreenWeight, pulumi.Int(cfg.Weights.Green))
	ctx.Export(OutBlueWeight, pulumi.Int(cfg.Weights.Blue))
	ctx.Export(OutLiveSlot, pulumi.String(string(cfg.Weights.Live())))
	// Empty while a release is in progress: there is no slot a deploy may safely target.
	idle, _ := cfg.Weights.Idle()
	ctx.Export(OutIdleSlot, pulumi.String(string(idle)))
	ctx.Export(OutResourceGroup, rg)
	ctx.Export(OutAPIMName, gw.ServiceName)
	ctx.Export(OutAPIMResourceGroup, pulumi.String(n.APIMResourceGroup()))
	ctx.Export(OutAppInsightsName, mon.ComponentName)
	ctx.Export(OutStorageAccount, st.Account.Name)
	ctx.Export(OutWorkspaceID, mon.CustomerID)
	ctx.Export(OutCurrentSlotName, gw.CurrentSlot.Value)
	ctx.Export(OutPoolID, gw.Pool.ID())
	shared := pulumi.StringArray{}
	for _, s := range cfg.SharedHostStorage {
		shared = append(shared, pulumi.String(string(s)))
	}
	ctx.Export(OutSharedHostStorage, shared)
	for _, s := range Slots {
		ctx.Export(OutAppName(s), colours[s].App.Name)
		ctx.Export(OutHostname(s), colours[s].Hostname)
		ctx.Export(OutContainerURL(s), st.ContainerURL(s))
		ctx.Export(OutIdentityPrincipalID(s), colours[s].Identity.PrincipalId)
	}
}
