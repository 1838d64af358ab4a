package stack

import (
	"fmt"

	"github.com/pulumi/pulumi-azure-native-sdk/storage/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// PackageRetentionDays is how long the shared account's blob service keeps a deleted package, a
// deleted deployment container, and the versions a package overwrote with a soft-deleted blob.
const PackageRetentionDays = 7

// packageProtection turns on soft delete and versioning on the blob service of the shared
// account, where both slots' deployment containers are, so that a package deleted or
// overwritten by mistake (or by a slot's untested code, while sharedHostStorage still gives it
// the whole account) can be brought back:
//   - versioning keeps every overwritten package as a previous version, which can be copied back
//     over the current one (MicrosoftDocs azure-docs, storage/blobs/versioning-overview.md);
//   - blob soft delete keeps a deleted package, and with versioning a deleted current version
//     becomes a previous version, for PackageRetentionDays (soft-delete-blob-overview.md);
//   - container soft delete keeps a deleted container, with its blobs, for as long
//     (soft-delete-container-overview.md).
//
// Only the shared account: each slot's host storage holds its host's keys and leases, which it
// rewrites all the time, and has nothing a team would restore.
func packageProtection(ctx *pulumi.Context, acct *storage.StorageAccount, rg pulumi.StringInput) error {
	retention := &storage.DeleteRetentionPolicyArgs{Enabled: pulumi.Bool(true), Days: pulumi.Int(PackageRetentionDays)}
	_, err := storage.NewBlobServiceProperties(ctx, "storage-blob-service", &storage.BlobServicePropertiesArgs{
		AccountName:       acct.Name,
		ResourceGroupName: rg,
		// The blob service of an account is always "default".
		BlobServicesName:               pulumi.String("default"),
		DeleteRetentionPolicy:          retention,
		ContainerDeleteRetentionPolicy: retention,
		IsVersioningEnabled:            pulumi.Bool(true),
	})
	if err != nil {
		return fmt.Errorf("blob service of the storage account: %w", err)
	}
	return nil
}
