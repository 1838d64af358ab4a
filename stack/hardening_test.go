package stack_test

import (
	"slices"
	"testing"

	"github.com/slotless/slotless/internal/plan"
	"github.com/slotless/slotless/stack"
)

// TestHardening: the settings that close what no release needs, on every resource they apply
// to: no cross-tenant replication and copies from the stack's own tenant only on all three
// storage accounts; soft delete and versioning on the shared account's blob service, where the
// deployment packages are, and nowhere else; basic-auth publishing off for both the deployment
// host (scm) and FTP on each slot's app; the workspace's shared keys refused.
func TestHardening(t *testing.T) {
	p := runPlan(t, nil)
	apps := map[string]string{
		"green": greenApp,
		"blue":  plan.MockAutoName("azure-native:web:WebApp", "blue-app"),
	}
	// Seven days, as docs/security.md promises a team.
	retention := map[string]string{"enabled": "true", "days": "7"}
	tests := []struct {
		typ, name string
		want      map[string]string
	}{
		{"azure-native:storage:StorageAccount", "storage", map[string]string{"allowCrossTenantReplication": "false", "allowedCopyScope": `"AAD"`}},
		{"azure-native:storage:StorageAccount", "hostgreen", map[string]string{"allowCrossTenantReplication": "false", "allowedCopyScope": `"AAD"`}},
		{"azure-native:storage:StorageAccount", "hostblue", map[string]string{"allowCrossTenantReplication": "false", "allowedCopyScope": `"AAD"`}},
		{"azure-native:storage:BlobServiceProperties", "storage-blob-service", map[string]string{
			"accountName": q(storageName), "resourceGroupName": `"slotless-test-rg"`, "blobServicesName": `"default"`,
			"isVersioningEnabled":                    "true",
			"deleteRetentionPolicy.enabled":          retention["enabled"],
			"deleteRetentionPolicy.days":             retention["days"],
			"containerDeleteRetentionPolicy.enabled": retention["enabled"],
			"containerDeleteRetentionPolicy.days":    retention["days"],
		}},
		{"azure-native:web:WebAppScmAllowed", "green-scm-basic-auth", map[string]string{"allow": "false", "name": q(apps["green"]), "resourceGroupName": `"slotless-test-rg"`}},
		{"azure-native:web:WebAppFtpAllowed", "green-ftp-basic-auth", map[string]string{"allow": "false", "name": q(apps["green"]), "resourceGroupName": `"slotless-test-rg"`}},
		{"azure-native:web:WebAppScmAllowed", "blue-scm-basic-auth", map[string]string{"allow": "false", "name": q(apps["blue"])}},
		{"azure-native:web:WebAppFtpAllowed", "blue-ftp-basic-auth", map[string]string{"allow": "false", "name": q(apps["blue"])}},
		{"azure-native:operationalinsights:Workspace", "logs", map[string]string{"features.disableLocalAuth": "true"}},
	}
	for _, tt := range tests {
		t.Run(tt.typ+"/"+tt.name, func(t *testing.T) {
			flat := plan.Flatten(find(t, p, tt.typ, tt.name).Inputs)
			for path, want := range tt.want {
				if got := flat[path]; got != want {
					t.Errorf("%s: got %v, want %v", path, got, want)
				}
			}
		})
	}
	counts := map[string]int{}
	for _, r := range p.Resources {
		counts[r.Type]++
	}
	// One blob service: the host accounts' hosts rewrite their keys and leases all the time,
	// which versioning would keep every copy of.
	for typ, want := range map[string]int{"azure-native:storage:BlobServiceProperties": 1, "azure-native:web:WebAppScmAllowed": 3, "azure-native:web:WebAppFtpAllowed": 3} {
		if counts[typ] != want {
			t.Errorf("%s count: got %d, want %d", typ, counts[typ], want)
		}
	}
}

// TestSharedHostStorageOf: the deployed stack's list of slots still in the shared account, as
// slotless deploy reads it; a stack deployed before the output existed says nothing.
func TestSharedHostStorageOf(t *testing.T) {
	for _, tt := range []struct {
		name   string
		outs   map[string]any
		want   []stack.Slot
		wantOK bool
	}{
		{"none listed", map[string]any{stack.OutSharedHostStorage: []any{}}, nil, true},
		{"both", map[string]any{stack.OutSharedHostStorage: []any{"green", "blue"}}, []stack.Slot{stack.Green, stack.Blue}, true},
		{"before the output existed", map[string]any{}, nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := stack.SharedHostStorageOf(tt.outs)
			if !slices.Equal(got, tt.want) || ok != tt.wantOK {
				t.Errorf("got %v %v, want %v %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
