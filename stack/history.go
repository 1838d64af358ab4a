package stack

import (
	"fmt"

	"github.com/pulumi/pulumi-azure-native-sdk/authorization/v3"
	"github.com/pulumi/pulumi-azure-native-sdk/storage/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// HistoryContainerName is the blob container of the shared storage account that keeps the
// stack's history: every run's record, the lease between a release and the watcher, and the
// watcher's cursor (internal/history).
const HistoryContainerName = "history"

// History is the stack's history container and who may write there.
type History struct {
	Container *storage.BlobContainer
	// URL is the container's URL (OutHistoryURL).
	URL pulumi.StringOutput

	parent  pulumi.Resource
	scope   pulumi.StringOutput
	writers map[string]*authorization.RoleAssignment
}

// newHistory declares the history container in the shared account, private like the
// deployment containers: the account takes identity-based access only (identityOnlyAccount).
// Nobody gets a data role on it but the writers GrantWriter names: the release identity, and
// the watcher's.
func newHistory(ctx *pulumi.Context, st *Storage, rg pulumi.StringInput) (*History, error) {
	c, err := storage.NewBlobContainer(ctx, "history", &storage.BlobContainerArgs{
		AccountName:       st.Account.Name,
		ResourceGroupName: rg,
		ContainerName:     pulumi.String(HistoryContainerName),
		PublicAccess:      storage.PublicAccessNone,
	})
	if err != nil {
		return nil, fmt.Errorf("history container: %w", err)
	}
	return &History{
		Container: c,
		URL: pulumi.Sprintf("%s%s", st.BlobEndpoint, c.Name.ApplyT(func(string) string {
			return HistoryContainerName
		}).(pulumi.StringOutput)),
		parent:  c,
		scope:   c.ID().ToStringOutput(),
		writers: map[string]*authorization.RoleAssignment{},
	}, nil
}

// GrantWriter gives principalID Storage Blob Data Contributor on the history container alone:
// it may write records, take the lease and move the cursor, and reads nothing else of the
// account. name tells the writers apart ("release", "watcher") in the assignment's logical
// name and description; each name is granted once.
func (h *History) GrantWriter(ctx *pulumi.Context, name string, principalID pulumi.StringInput) error {
	if _, dup := h.writers[name]; dup {
		return fmt.Errorf("history writer %q granted twice", name)
	}
	// No name: azure-native generates the assignment's GUID once and keeps it in state, as for
	// the slots' grants (colour.go).
	ra, err := authorization.NewRoleAssignment(ctx, "history-writer-"+name, &authorization.RoleAssignmentArgs{
		PrincipalId:      principalID,
		PrincipalType:    pulumi.String(authorization.PrincipalTypeServicePrincipal),
		RoleDefinitionId: roleDefinitionID(h.scope, roleStorageBlobDataContrib),
		Scope:            h.scope,
		Description:      pulumi.String("slotless history: the " + name + " identity writes the stack's records, lease and cursor"),
	}, pulumi.DependsOn([]pulumi.Resource{h.parent}))
	if err != nil {
		return fmt.Errorf("history writer %s: %w", name, err)
	}
	h.writers[name] = ra
	return nil
}
