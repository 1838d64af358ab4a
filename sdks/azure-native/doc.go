// A native Pulumi package for creating and managing Azure resources.
package pulumiazurenativesdk
