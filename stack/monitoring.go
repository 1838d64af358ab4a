package stack

import (
	"fmt"

	"github.com/pulumi/pulumi-azure-native-sdk/applicationinsights/v3"
	"github.com/pulumi/pulumi-azure-native-sdk/operationalinsights/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Monitoring is the Log Analytics workspace and the workspace-based Application Insights that
// both slots report to, so the release gates compare them over the same data.
type Monitoring struct {
	Workspace   *operationalinsights.Workspace
	AppInsights *applicationinsights.Component
}

func newMonitoring(ctx *pulumi.Context, n Names, rg pulumi.StringInput, cfg *Config, tags pulumi.StringMap) (*Monitoring, error) {
	ws, err := operationalinsights.NewWorkspace(ctx, "logs", &operationalinsights.WorkspaceArgs{
		WorkspaceName:     pulumi.String(n.Workspace()),
		ResourceGroupName: rg,
		Location:          pulumi.String(cfg.Location),
		Sku:               &operationalinsights.WorkspaceSkuArgs{Name: pulumi.String(operationalinsights.WorkspaceSkuNameEnumPerGB2018)},
		RetentionInDays:   pulumi.Int(cfg.LogRetentionDays),
		Tags:              tags,
	})
	if err != nil {
		return nil, fmt.Errorf("log analytics workspace: %w", err)
	}
	ai, err := applicationinsights.NewComponent(ctx, "appinsights", &applicationinsights.ComponentArgs{
		ResourceName:        pulumi.String(n.AppInsights()),
		ResourceGroupName:   rg,
		Location:            pulumi.String(cfg.Location),
		Kind:                pulumi.String("web"),
		ApplicationType:     pulumi.String(applicationinsights.ApplicationTypeWeb),
		IngestionMode:       pulumi.String(applicationinsights.IngestionModeLogAnalytics),
		WorkspaceResourceId: ws.ID().ToStringOutput(),
		// Entra-only ingestion: the apps authenticate with their identities, as Microsoft's
		// Flex samples do, so the connection string alone cannot send telemetry.
		DisableLocalAuth: pulumi.Bool(true),
		Tags:             tags,
	})
	if err != nil {
		return nil, fmt.Errorf("application insights: %w", err)
	}
	return &Monitoring{Workspace: ws, AppInsights: ai}, nil
}
