module github.com/pulumi/pulumi-azure-native-sdk/applicationinsights/v3

go 1.26.6

require (
	github.com/pulumi/pulumi-azure-native-sdk/v3 v3.28.0
	github.com/blang/semver v3.5.1+incompatible
	github.com/pulumi/pulumi/sdk/v3 v3.274.1
)
