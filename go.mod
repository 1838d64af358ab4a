module github.com/slotless/slotless

go 1.26.6

require (
	github.com/pulumi/pulumi-azure-native-sdk/v3 v3.28.0
	github.com/pulumi/pulumi-azure-native-sdk/apimanagement/v3 v3.28.0
	github.com/pulumi/pulumi-azure-native-sdk/applicationinsights/v3 v3.28.0
	github.com/pulumi/pulumi-azure-native-sdk/authorization/v3 v3.28.0
	github.com/pulumi/pulumi-azure-native-sdk/config/v3 v3.28.0
	github.com/pulumi/pulumi-azure-native-sdk/managedidentity/v3 v3.28.0
	github.com/pulumi/pulumi-azure-native-sdk/operationalinsights/v3 v3.28.0
	github.com/pulumi/pulumi-azure-native-sdk/resources/v3 v3.28.0
	github.com/pulumi/pulumi-azure-native-sdk/storage/v3 v3.28.0
	github.com/pulumi/pulumi-azure-native-sdk/web/v3 v3.28.0
	github.com/pulumi/pulumi/sdk/v3 v3.274.1
)

// The published azure-native SDK modules cannot be downloaded everywhere this program is built,
// so these map the official import paths onto the generated subset in sdks/azure-native
// (see README, "The subset SDK"). Delete them to build against the published modules.
replace (
	github.com/pulumi/pulumi-azure-native-sdk/v3 => ./sdks/azure-native
	github.com/pulumi/pulumi-azure-native-sdk/apimanagement/v3 => ./sdks/azure-native/apimanagement
	github.com/pulumi/pulumi-azure-native-sdk/applicationinsights/v3 => ./sdks/azure-native/applicationinsights
	github.com/pulumi/pulumi-azure-native-sdk/authorization/v3 => ./sdks/azure-native/authorization
	github.com/pulumi/pulumi-azure-native-sdk/config/v3 => ./sdks/azure-native/config
	github.com/pulumi/pulumi-azure-native-sdk/managedidentity/v3 => ./sdks/azure-native/managedidentity
	github.com/pulumi/pulumi-azure-native-sdk/operationalinsights/v3 => ./sdks/azure-native/operationalinsights
	github.com/pulumi/pulumi-azure-native-sdk/resources/v3 => ./sdks/azure-native/resources
	github.com/pulumi/pulumi-azure-native-sdk/storage/v3 => ./sdks/azure-native/storage
	github.com/pulumi/pulumi-azure-native-sdk/web/v3 => ./sdks/azure-native/web
)
