package azurefake

import (
	"fmt"
	"strings"
)

// autoName is how a resource's name input is filled in when the program leaves it out, as
// azure-native's AutoName metadata says: random (logical name plus eight hex characters) or a
// UUID (role assignments).
type autoName int

const (
	autoRandom autoName = iota
	autoUUID
	autoFixed
)

// armSpec is what the stand-in knows of one resource type beyond the package schema: how ARM
// addresses it (the REST path of its PUT), which input is its name and how that is generated,
// which namespace its name must be unique in, and what ARM computes on create.
type armSpec struct {
	// armType is the resource's ARM type, as in its id and its `type` output.
	armType string
	// outputType is the `type` ARM answers when it is not armType: adding an API to a product
	// answers with the API's own contract (ProductApi).
	outputType string
	// rbacType is the resource type of the resource's RBAC actions when it is not armType: each
	// basic publishing policy has its own (Microsoft.Web/sites/basicPublishingCredentialsPolicies/
	// scm/Write, .../ftp/Write: MicrosoftDocs azure-docs, app-service/
	// configure-basic-auth-disable.md, "Create a custom role with no permissions for basic
	// authentication").
	rbacType string
	// nameKey is the input that names the resource; autoname how it is generated when absent.
	nameKey  string
	autoname autoName
	// fixedName is the name autoFixed gives (ApiPolicy's policyId is always "policy").
	fixedName string
	// path builds the ARM id from the subscription and the checked inputs.
	path func(sub string, in map[string]any) string
	// global names the namespace wider than the resource's parent that the name lives in:
	// Azure-wide for storage account names, web app host names and API Management service names,
	// tenant-wide for role assignment names (a cloud is one tenant); "" when the name is scoped to
	// its parent.
	global string
}

func str(in map[string]any, k string) string {
	s, _ := in[k].(string)
	return s
}

func rgPath(sub string, in map[string]any) string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s", sub, str(in, "resourceGroupName"))
}

func providerPath(provider, typ, nameKey string) func(string, map[string]any) string {
	return func(sub string, in map[string]any) string {
		return fmt.Sprintf("%s/providers/%s/%s/%s", rgPath(sub, in), provider, typ, str(in, nameKey))
	}
}

func apimPath(sub string, in map[string]any) string {
	return fmt.Sprintf("%s/providers/Microsoft.ApiManagement/service/%s", rgPath(sub, in), str(in, "serviceName"))
}

// armSpecs covers every resource type in the subset schema. The paths are the REST paths of
// each resource's PUT in the API versions azure-native 3.28.0 uses (see azure-facts.md).
var armSpecs = map[string]armSpec{
	"azure-native:resources:ResourceGroup": {
		armType: "Microsoft.Resources/resourceGroups", nameKey: "resourceGroupName",
		path: func(sub string, in map[string]any) string { return rgPath(sub, in) },
	},
	"azure-native:storage:StorageAccount": {
		armType: "Microsoft.Storage/storageAccounts", nameKey: "accountName", global: "storage account",
		path: providerPath("Microsoft.Storage", "storageAccounts", "accountName"),
	},
	"azure-native:storage:BlobContainer": {
		armType: "Microsoft.Storage/storageAccounts/blobServices/containers", nameKey: "containerName",
		path: func(sub string, in map[string]any) string {
			return fmt.Sprintf("%s/providers/Microsoft.Storage/storageAccounts/%s/blobServices/default/containers/%s",
				rgPath(sub, in), str(in, "accountName"), str(in, "containerName"))
		},
	},
	// An account's blob service: one per account, named default (Blob Services - Set Service
	// Properties, PUT .../storageAccounts/{accountName}/blobServices/default; azure-native's
	// blobServicesName: "Blob Service Name must be 'default'"). Its parent is the account.
	"azure-native:storage:BlobServiceProperties": {
		armType: "Microsoft.Storage/storageAccounts/blobServices", nameKey: "blobServicesName", autoname: autoFixed, fixedName: "default",
		path: func(sub string, in map[string]any) string {
			return fmt.Sprintf("%s/providers/Microsoft.Storage/storageAccounts/%s/blobServices/%s", rgPath(sub, in), str(in, "accountName"), str(in, "blobServicesName"))
		},
	},
	"azure-native:operationalinsights:Workspace": {
		armType: "Microsoft.OperationalInsights/workspaces", nameKey: "workspaceName",
		path: providerPath("Microsoft.OperationalInsights", "workspaces", "workspaceName"),
	},
	"azure-native:applicationinsights:Component": {
		armType: "Microsoft.Insights/components", nameKey: "resourceName",
		path: providerPath("Microsoft.Insights", "components", "resourceName"),
	},
	"azure-native:managedidentity:UserAssignedIdentity": {
		armType: "Microsoft.ManagedIdentity/userAssignedIdentities", nameKey: "resourceName",
		path: providerPath("Microsoft.ManagedIdentity", "userAssignedIdentities", "resourceName"),
	},
	"azure-native:authorization:RoleAssignment": {
		armType: "Microsoft.Authorization/roleAssignments", nameKey: "roleAssignmentName", autoname: autoUUID, global: "role assignment name in the tenant",
		path: func(_ string, in map[string]any) string {
			return fmt.Sprintf("%s/providers/Microsoft.Authorization/roleAssignments/%s", str(in, "scope"), str(in, "roleAssignmentName"))
		},
	},
	"azure-native:authorization:RoleDefinition": {
		armType: "Microsoft.Authorization/roleDefinitions", nameKey: "roleDefinitionId", autoname: autoUUID,
		path: func(_ string, in map[string]any) string {
			return fmt.Sprintf("%s/providers/Microsoft.Authorization/roleDefinitions/%s", str(in, "scope"), str(in, "roleDefinitionId"))
		},
	},
	"azure-native:web:AppServicePlan": {
		armType: "Microsoft.Web/serverfarms", nameKey: "name",
		path: providerPath("Microsoft.Web", "serverfarms", "name"),
	},
	"azure-native:web:WebApp": {
		armType: "Microsoft.Web/sites", nameKey: "name", global: "web app host name",
		path: providerPath("Microsoft.Web", "sites", "name"),
	},
	"azure-native:web:WebAppAuthSettingsV2": {
		// The site's authsettingsV2 configuration: one per app, named by the app.
		armType: "Microsoft.Web/sites/config", nameKey: "name",
		path: func(sub string, in map[string]any) string {
			return providerPath("Microsoft.Web", "sites", "name")(sub, in) + "/config/authsettingsV2"
		},
	},
	// A site's basic publishing credentials policies: scm (its deployment host) and ftp, each
	// one per app, named by the app (Web Apps - Update Scm Allowed / Update Ftp Allowed, PUT
	// .../sites/{name}/basicPublishingCredentialsPolicies/scm and /ftp). Their parent is the site.
	"azure-native:web:WebAppScmAllowed": {
		armType: "Microsoft.Web/sites/basicPublishingCredentialsPolicies", rbacType: "Microsoft.Web/sites/basicPublishingCredentialsPolicies/scm", nameKey: "name",
		path: func(sub string, in map[string]any) string {
			return providerPath("Microsoft.Web", "sites", "name")(sub, in) + "/basicPublishingCredentialsPolicies/scm"
		},
	},
	"azure-native:web:WebAppFtpAllowed": {
		armType: "Microsoft.Web/sites/basicPublishingCredentialsPolicies", rbacType: "Microsoft.Web/sites/basicPublishingCredentialsPolicies/ftp", nameKey: "name",
		path: func(sub string, in map[string]any) string {
			return providerPath("Microsoft.Web", "sites", "name")(sub, in) + "/basicPublishingCredentialsPolicies/ftp"
		},
	},
	"azure-native:apimanagement:ApiManagementService": {
		armType: "Microsoft.ApiManagement/service", nameKey: "serviceName", global: "API Management service",
		path: apimPath,
	},
	"azure-native:apimanagement:NamedValue": {
		armType: "Microsoft.ApiManagement/service/namedValues", nameKey: "namedValueId",
		path: func(sub string, in map[string]any) string {
			return apimPath(sub, in) + "/namedValues/" + str(in, "namedValueId")
		},
	},
	"azure-native:apimanagement:Subscription": {
		armType: "Microsoft.ApiManagement/service/subscriptions", nameKey: "sid",
		path: func(sub string, in map[string]any) string {
			return apimPath(sub, in) + "/subscriptions/" + str(in, "sid")
		},
	},
	"azure-native:apimanagement:Backend": {
		armType: "Microsoft.ApiManagement/service/backends", nameKey: "backendId",
		path: func(sub string, in map[string]any) string {
			return apimPath(sub, in) + "/backends/" + str(in, "backendId")
		},
	},
	"azure-native:apimanagement:Api": {
		armType: "Microsoft.ApiManagement/service/apis", nameKey: "apiId",
		path: func(sub string, in map[string]any) string { return apimPath(sub, in) + "/apis/" + str(in, "apiId") },
	},
	"azure-native:apimanagement:ApiOperation": {
		armType: "Microsoft.ApiManagement/service/apis/operations", nameKey: "operationId",
		path: func(sub string, in map[string]any) string {
			return apimPath(sub, in) + "/apis/" + str(in, "apiId") + "/operations/" + str(in, "operationId")
		},
	},
	// An API's membership of a product: PUT .../products/{productId}/apis/{apiId} "Adds an API to
	// the specified product" and answers with the API's contract, type
	// Microsoft.ApiManagement/service/apis, named by the API (APIM REST 2024-05-01,
	// apimproducts.json ProductApi_CreateOrUpdate and its example ApiManagementCreateProductApi).
	// Its parent is the product, which the service's owner creates (Cloud.PutProduct).
	"azure-native:apimanagement:ProductApi": {
		armType: "Microsoft.ApiManagement/service/products/apis", outputType: "Microsoft.ApiManagement/service/apis", nameKey: "apiId",
		path: func(sub string, in map[string]any) string {
			return apimPath(sub, in) + "/products/" + str(in, "productId") + "/apis/" + str(in, "apiId")
		},
	},
	"azure-native:apimanagement:ApiPolicy": {
		armType: "Microsoft.ApiManagement/service/apis/policies", nameKey: "policyId", autoname: autoFixed, fixedName: "policy",
		path: func(sub string, in map[string]any) string {
			return apimPath(sub, in) + "/apis/" + str(in, "apiId") + "/policies/" + str(in, "policyId")
		},
	},
}

// parentID is the id of the resource an id is created under: its resource group for a
// top-level resource, the resource above it for a child, or "" for a resource group. ARM
// refuses to create a resource whose parent does not exist (ResourceGroupNotFound,
// ParentResourceNotFound).
func parentID(id string) string {
	parts := strings.Split(strings.Trim(id, "/"), "/")
	prov := -1
	for i, p := range parts {
		if strings.EqualFold(p, "providers") {
			prov = i
		}
	}
	switch {
	case prov < 0:
		return "" // a resource group
	case strings.EqualFold(parts[prov+1], "Microsoft.Authorization"):
		// A role assignment lives under its scope, which is any resource.
		return "/" + strings.Join(parts[:prov], "/")
	}
	rest := parts[prov+2:] // type/name[/type/name...]
	if len(rest) <= 2 {
		return "/" + strings.Join(parts[:prov], "/")
	}
	parent := parts[:len(parts)-2]
	// blobServices/default is implicit: a container's parent is the storage account.
	if len(parent) >= 2 && strings.EqualFold(parent[len(parent)-2], "blobServices") {
		parent = parent[:len(parent)-2]
	}
	return "/" + strings.Join(parent, "/")
}

// lastSegment returns the last name in an ARM id.
func lastSegment(id string) string {
	return id[strings.LastIndex(id, "/")+1:]
}
