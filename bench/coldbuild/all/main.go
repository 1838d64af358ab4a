// Command all imports every generated azure-native subset module, to measure what the bindings
// add to a cold build over the floor program.
package main

import (
	"github.com/pulumi/pulumi-azure-native-sdk/apimanagement/v3"
	"github.com/pulumi/pulumi-azure-native-sdk/applicationinsights/v3"
	"github.com/pulumi/pulumi-azure-native-sdk/authorization/v3"
	"github.com/pulumi/pulumi-azure-native-sdk/managedidentity/v3"
	"github.com/pulumi/pulumi-azure-native-sdk/operationalinsights/v3"
	"github.com/pulumi/pulumi-azure-native-sdk/resources/v3"
	"github.com/pulumi/pulumi-azure-native-sdk/storage/v3"
	pulumiazurenativesdk "github.com/pulumi/pulumi-azure-native-sdk/v3"
	"github.com/pulumi/pulumi-azure-native-sdk/v3/config"
	"github.com/pulumi/pulumi-azure-native-sdk/web/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		_ = pulumiazurenativesdk.Provider{}
		_ = apimanagement.Backend{}
		_ = applicationinsights.Component{}
		_ = authorization.RoleAssignment{}
		_ = config.GetLocation(ctx)
		_ = managedidentity.UserAssignedIdentity{}
		_ = operationalinsights.Workspace{}
		_ = resources.ResourceGroup{}
		_ = storage.StorageAccount{}
		_ = web.WebApp{}
		return nil
	})
}
