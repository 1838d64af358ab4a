package azurefake

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// TestBlobServiceAndPublishingPolicies: the blob service of an account and the basic publishing
// policies of a site are written under their parent as ARM addresses them, their settings kept
// and answered; a parent that does not exist, a blob service not named default, or a retention
// outside 1..365 days is refused (before the good write, as azure-native refuses to create over
// one that no longer has its default state), and a copy scope outside the enum fails Check.
func TestBlobServiceAndPublishingPolicies(t *testing.T) {
	f := newFake(t, sub1)
	mustCreate(t, f, "azure-native:resources:ResourceGroup", map[string]any{"resourceGroupName": "rg", "location": "westeurope"})
	mustCreate(t, f, "azure-native:storage:StorageAccount", map[string]any{"resourceGroupName": "rg", "accountName": "pkgs1", "kind": "StorageV2",
		"sku": map[string]any{"name": "Standard_LRS"}, "allowCrossTenantReplication": false, "allowedCopyScope": "AAD"})
	mustCreate(t, f, "azure-native:web:WebApp", flexApp("green", ""))
	retention := func(days float64) map[string]any { return map[string]any{"enabled": true, "days": days} }
	blob := func(account, name string, days float64) map[string]any {
		return map[string]any{"resourceGroupName": "rg", "accountName": account, "blobServicesName": name,
			"deleteRetentionPolicy": retention(7), "containerDeleteRetentionPolicy": retention(days), "isVersioningEnabled": true}
	}
	policy := func(app string) map[string]any {
		return map[string]any{"resourceGroupName": "rg", "name": app, "allow": false}
	}
	rg := "/subscriptions/" + sub1 + "/resourceGroups/rg/providers/"
	for _, tt := range []struct {
		name, token string
		in          map[string]any
		wantID      string
		wantErr     string
	}{
		{"an account that does not exist", "azure-native:storage:BlobServiceProperties", blob("nothere1", "default", 7), "", "ParentResourceNotFound"},
		{"a blob service not named default", "azure-native:storage:BlobServiceProperties", blob("pkgs1", "other", 7), "", "it must be 'default'"},
		{"no retention of 0 days", "azure-native:storage:BlobServiceProperties", blob("pkgs1", "default", 0), "", "containerDeleteRetentionPolicy.days: 0 is out of range"},
		{"nor of 366", "azure-native:storage:BlobServiceProperties", blob("pkgs1", "default", 366), "", "1 to 365 days"},
		{"the account's blob service", "azure-native:storage:BlobServiceProperties", blob("pkgs1", "default", 7), rg + "Microsoft.Storage/storageAccounts/pkgs1/blobServices/default", ""},
		{"the site's scm policy", "azure-native:web:WebAppScmAllowed", policy("green"), rg + "Microsoft.Web/sites/green/basicPublishingCredentialsPolicies/scm", ""},
		{"the site's ftp policy", "azure-native:web:WebAppFtpAllowed", policy("green"), rg + "Microsoft.Web/sites/green/basicPublishingCredentialsPolicies/ftp", ""},
		{"a site that does not exist", "azure-native:web:WebAppScmAllowed", policy("blue"), "", "ParentResourceNotFound"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			checked, failures, err := f.Check(tt.token, "x", nil, pm(tt.in), nil)
			if err != nil || len(failures) > 0 {
				t.Fatalf("check: %v %v", err, failures)
			}
			id, out, err := f.Create(tt.token, checked, false)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || id != tt.wantID {
				t.Fatalf("got %s (%v), want %s", id, err, tt.wantID)
			}
			for k, v := range tt.in {
				if k == "resourceGroupName" || k == "accountName" || k == "blobServicesName" || (k == "name" && tt.token != "azure-native:storage:BlobServiceProperties") {
					continue
				}
				if got := out[resource.PropertyKey(k)]; !got.DeepEquals(pm(map[string]any{k: v})[resource.PropertyKey(k)]) {
					t.Errorf("output %s: got %v, want %v", k, got, v)
				}
			}
		})
	}
	_, failures, err := f.Check("azure-native:storage:StorageAccount", "storage", nil, pm(map[string]any{"resourceGroupName": "rg", "kind": "StorageV2",
		"sku": map[string]any{"name": "Standard_LRS"}, "allowedCopyScope": "All"}), nil)
	if err != nil || !strings.Contains(strings.Join(failures, "\n"), "allowedCopyScope") {
		t.Errorf("a copy scope outside the enum: got %v %v, want Check to refuse it", err, failures)
	}
	// Each policy is authorized by its own action, which a custom role can leave out (NotActions
	// .../basicPublishingCredentialsPolicies/scm/Write) to keep anyone from turning it back on.
	for token, want := range map[string]string{
		"azure-native:web:WebAppScmAllowed":          "Microsoft.Web/sites/basicPublishingCredentialsPolicies/scm/write",
		"azure-native:web:WebAppFtpAllowed":          "Microsoft.Web/sites/basicPublishingCredentialsPolicies/ftp/write",
		"azure-native:storage:BlobServiceProperties": "Microsoft.Storage/storageAccounts/blobServices/write",
	} {
		if got := action(token, "write"); got != want {
			t.Errorf("%s: write action %s, want %s", token, got, want)
		}
	}
}
