package stack

import (
	"fmt"

	"github.com/pulumi/pulumi-azure-native-sdk/storage/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Storage is the shared storage account with its per-slot deployment containers, and each
// slot's own host storage account.
type Storage struct {
	Account    *storage.StorageAccount
	Containers map[Slot]*storage.BlobContainer
	// Hosts are each slot's host storage (AzureWebJobsStorage): where its Functions host keeps
	// its keys, leases and queues. One account per slot, because host storage cannot be split
	// within an account: every host uses the same containers (azure-webjobs-hosts,
	// azure-webjobs-secrets), queues and tables there, told apart only by host id, so a role that
	// lets one host work there lets it read the other's keys.
	Hosts map[Slot]*storage.StorageAccount
	// BlobEndpoint is https://<account>.blob.core.windows.net/ with its trailing slash.
	BlobEndpoint pulumi.StringOutput

	containerNames map[Slot]string
}

// newStorage declares an account that accepts identity-based access only: no shared keys, no
// anonymous blob access, HTTPS and TLS 1.2. Its name is global across Azure, so unless
// storageAccountName overrides it, azure-native names it (see Names): the logical name "storage"
// has no dash, so "storage" plus eight hex characters is a valid account name. Its blob service
// keeps what the deployment containers lose for a while (packageProtection).
func newStorage(ctx *pulumi.Context, n Names, rg pulumi.StringInput, cfg *Config, tags pulumi.StringMap) (*Storage, error) {
	var accountName pulumi.StringPtrInput
	if name := n.StorageAccount(); name != "" {
		accountName = pulumi.String(name)
	}
	acct, err := identityOnlyAccount(ctx, "storage", accountName, rg, cfg, tags)
	if err != nil {
		return nil, fmt.Errorf("storage account: %w", err)
	}
	s := &Storage{Account: acct, Containers: map[Slot]*storage.BlobContainer{}, Hosts: map[Slot]*storage.StorageAccount{}, containerNames: map[Slot]string{}}
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
	if err := packageProtection(ctx, acct, rg); err != nil {
		return nil, err
	}
	// Derived from the name rather than read from primaryEndpoints, so it is known at preview.
	s.BlobEndpoint = pulumi.Sprintf("https://%s.blob.core.windows.net/", acct.Name)

	// Declared for every slot, one still on the shared account included: an account holds
	// nothing until its host uses it, and its roles have long been applied by the time it does.
	// The logical name has no dash, so azure-native's name (it plus eight hex characters) is a
	// valid account name.
	for _, slot := range Slots {
		host, err := identityOnlyAccount(ctx, HostStorageName(slot), nil, rg, cfg, tags)
		if err != nil {
			return nil, fmt.Errorf("host storage of %s: %w", slot, err)
		}
		s.Hosts[slot] = host
	}
	return s, nil
}

// HostStorageName is the logical name of a slot's host storage account.
func HostStorageName(slot Slot) string { return "host" + string(slot) }

// identityOnlyAccount declares an account that accepts identity-based access only, and that
// neither replicates its objects to another tenant nor takes copies from one:
//   - allowCrossTenantReplication false: no object replication policy may name an account in
//     another Microsoft Entra tenant (MicrosoftDocs azure-docs, storage/blobs/
//     object-replication-prevent-cross-tenant-policies.md);
//   - allowedCopyScope AAD: a copy into the account (Put Blob From URL, Copy Blob) is accepted
//     only from an account in the same tenant, else 403 (storage/common/
//     security-restrict-copy-operations.md). Nothing of the stack copies: packages are uploaded,
//     and the hosts write their own blobs.
func identityOnlyAccount(ctx *pulumi.Context, logical string, name pulumi.StringPtrInput, rg pulumi.StringInput, cfg *Config, tags pulumi.StringMap) (*storage.StorageAccount, error) {
	return storage.NewStorageAccount(ctx, logical, &storage.StorageAccountArgs{
		AccountName:                  name,
		ResourceGroupName:            rg,
		Location:                     pulumi.String(cfg.Location),
		Kind:                         pulumi.String(storage.KindStorageV2),
		Sku:                          &storage.SkuArgs{Name: pulumi.String(storage.SkuName_Standard_LRS)},
		AllowSharedKeyAccess:         pulumi.Bool(false),
		AllowBlobPublicAccess:        pulumi.Bool(false),
		DefaultToOAuthAuthentication: pulumi.Bool(true),
		EnableHttpsTrafficOnly:       pulumi.Bool(true),
		MinimumTlsVersion:            pulumi.String(storage.MinimumTlsVersion_TLS1_2),
		AllowCrossTenantReplication:  pulumi.Bool(false),
		AllowedCopyScope:             pulumi.String(storage.AllowedCopyScopeAAD),
		Tags:                         tags,
	})
}

// HostAccount is the account a slot's host storage is in under this config: its own, or the
// shared one while sharedHostStorage lists it.
func (s *Storage) HostAccount(cfg *Config, slot Slot) *storage.StorageAccount {
	if cfg.HostStorageShared(slot) {
		return s.Account
	}
	return s.Hosts[slot]
}

// ContainerURL is the deployment container URL a slot's app deploys from. It waits for the
// container, so the app is never created pointing at a container that does not exist yet.
func (s *Storage) ContainerURL(slot Slot) pulumi.StringOutput {
	return pulumi.Sprintf("%s%s", s.BlobEndpoint, s.Containers[slot].Name.ApplyT(func(string) string {
		return s.containerNames[slot]
	}).(pulumi.StringOutput))
}
