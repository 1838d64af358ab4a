package stack

import (
	"fmt"

	"github.com/pulumi/pulumi-azure-native-sdk/storage/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Storage is the shared storage account and its per-slot deployment containers.
type Storage struct {
	Account    *storage.StorageAccount
	Containers map[Slot]*storage.BlobContainer
	// BlobEndpoint is https://<account>.blob.core.windows.net/ with its trailing slash.
	BlobEndpoint pulumi.StringOutput

	containerNames map[Slot]string
}

// newStorage declares an account that accepts identity-based access only: no shared keys, no
// anonymous blob access, HTTPS and TLS 1.2. Its name is global across Azure, so unless
// storageAccountName overrides it, azure-native names it (see Names): the logical name "storage"
// has no dash, so "storage" plus eight hex characters is a valid account name.
func newStorage(ctx *pulumi.Context, n Names, rg pulumi.StringInput, cfg *Config, tags pulumi.StringMap) (*Storage, error) {
	var accountName pulumi.StringPtrInput
	if name := n.StorageAccount(); name != "" {
		accountName = pulumi.String(name)
	}
	acct, err := storage.NewStorageAccount(ctx, "storage", &storage.StorageAccountArgs{
		AccountName:                  accountName,
		ResourceGroupName:            rg,
		Location:                     pulumi.String(cfg.Location),
		Kind:                         pulumi.String(storage.KindStorageV2),
		Sku:                          &storage.SkuArgs{Name: pulumi.String(storage.SkuName_Standard_LRS)},
		AllowSharedKeyAccess:         pulumi.Bool(false),
		AllowBlobPublicAccess:        pulumi.Bool(false),
		DefaultToOAuthAuthentication: pulumi.Bool(true),
		EnableHttpsTrafficOnly:       pulumi.Bool(true),
		MinimumTlsVersion:            pulumi.String(storage.MinimumTlsVersion_TLS1_2),
		Tags:                         tags,
	})
	if err != nil {
		return nil, fmt.Errorf("storage account: %w", err)
	}
	s := &Storage{Account: acct, Containers: map[Slot]*storage.BlobContainer{}, containerNames: map[Slot]string{}}
	for _, slot := range Slots {
		c, err := storage.NewBlobContainer(ctx, "deploy-"+string(slot), &storage.BlobContainerArgs{
			AccountName:       acct.Name,
			ResourceGroupName: rg,
			ContainerName:     pulumi.String(n.DeploymentContainer(slot)),
			PublicAccess:      storage.PublicAccessNone,
		})
		if err != nil {
			return nil, fmt.Errorf("deployment container %s: %w", slot, err)
		}
		s.Containers[slot] = c
		s.containerNames[slot] = n.DeploymentContainer(slot)
	}
	// Derived from the name rather than read from primaryEndpoints, so it is known at preview.
	s.BlobEndpoint = pulumi.Sprintf("https://%s.blob.core.windows.net/", acct.Name)
	return s, nil
}

// ContainerURL is the deployment container URL a slot's app deploys from. It waits for the
// container, so the app is never created pointing at a container that does not exist yet.
func (s *Storage) ContainerURL(slot Slot) pulumi.StringOutput {
	return pulumi.Sprintf("%s%s", s.BlobEndpoint, s.Containers[slot].Name.ApplyT(func(string) string {
		return s.containerNames[slot]
	}).(pulumi.StringOutput))
}
