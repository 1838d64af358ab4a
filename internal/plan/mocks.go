package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"

	"github.com/google/uuid"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// MockSubscription is the subscription id the mock engine puts in every resource id.
const MockSubscription = "00000000-0000-0000-0000-000000000000"

// armTypes maps the Pulumi tokens of the program onto ARM resource types, so mock ids look like
// the ids Azure returns and code that parses them is exercised.
var armTypes = map[string]string{
	"azure-native:storage:StorageAccount":               "Microsoft.Storage/storageAccounts",
	"azure-native:storage:BlobContainer":                "Microsoft.Storage/storageAccounts/blobServices/default/containers",
	"azure-native:operationalinsights:Workspace":        "Microsoft.OperationalInsights/workspaces",
	"azure-native:applicationinsights:Component":        "Microsoft.Insights/components",
	"azure-native:managedidentity:UserAssignedIdentity": "Microsoft.ManagedIdentity/userAssignedIdentities",
	"azure-native:authorization:RoleAssignment":         "Microsoft.Authorization/roleAssignments",
	"azure-native:authorization:RoleDefinition":         "Microsoft.Authorization/roleDefinitions",
	"azure-native:web:AppServicePlan":                   "Microsoft.Web/serverfarms",
	"azure-native:web:WebApp":                           "Microsoft.Web/sites",
	"azure-native:web:WebAppAuthSettingsV2":             "Microsoft.Web/sites/config",
	"azure-native:apimanagement:ApiManagementService":   "Microsoft.ApiManagement/service",
	"azure-native:apimanagement:Backend":                "Microsoft.ApiManagement/service/backends",
	"azure-native:apimanagement:NamedValue":             "Microsoft.ApiManagement/service/namedValues",
	"azure-native:apimanagement:Api":                    "Microsoft.ApiManagement/service/apis",
	"azure-native:apimanagement:ApiOperation":           "Microsoft.ApiManagement/service/apis/operations",
	"azure-native:apimanagement:ApiPolicy":              "Microsoft.ApiManagement/service/apis/policies",
	"azure-native:apimanagement:ProductApi":             "Microsoft.ApiManagement/service/products/apis",
	"azure-native:resources:ResourceGroup":              "",
}

// NameKey is the input property that carries a resource type's Azure name ("accountName" for a
// storage account), or "" for a type the program does not use.
func NameKey(token string) string { return nameKeys[token] }

// nameKeys are the input properties that carry each resource's Azure name.
var nameKeys = map[string]string{
	"azure-native:resources:ResourceGroup":              "resourceGroupName",
	"azure-native:storage:StorageAccount":               "accountName",
	"azure-native:storage:BlobContainer":                "containerName",
	"azure-native:operationalinsights:Workspace":        "workspaceName",
	"azure-native:applicationinsights:Component":        "resourceName",
	"azure-native:managedidentity:UserAssignedIdentity": "resourceName",
	"azure-native:authorization:RoleAssignment":         "roleAssignmentName",
	"azure-native:authorization:RoleDefinition":         "roleDefinitionId",
	"azure-native:web:AppServicePlan":                   "name",
	"azure-native:web:WebApp":                           "name",
	"azure-native:web:WebAppAuthSettingsV2":             "name",
	"azure-native:apimanagement:ApiManagementService":   "serviceName",
	"azure-native:apimanagement:Backend":                "backendId",
	"azure-native:apimanagement:NamedValue":             "namedValueId",
	"azure-native:apimanagement:Api":                    "apiId",
	"azure-native:apimanagement:ApiOperation":           "operationId",
	"azure-native:apimanagement:ApiPolicy":              "policyId",
	"azure-native:apimanagement:ProductApi":             "apiId",
	"azure-native:apimanagement:Subscription":           "sid",
}

// Recorded is one resource registration as the engine saw it.
type Recorded struct {
	Type     string
	Name     string
	Custom   bool
	Inputs   resource.PropertyMap
	Parent   string
	Ignore   []string
	Provider string
	// DependsOn are the URNs the registration names as explicit dependencies.
	DependsOn []string
	// Version is the provider version the registration asks for (the bindings' own).
	Version string
}

// Mocks is a mock engine that records registrations and answers with plausible Azure outputs:
// the inputs echoed back plus the computed properties the program reads.
type Mocks struct {
	mu       sync.Mutex
	Recorded []Recorded
	Calls    []pulumi.MockCallArgs
	// Backends are what getBackend answers, by backend id, as API Management holds them; any
	// other id is not found, as before a first deploy.
	Backends map[string]map[string]any
	// LastOutputs are the outputs of the stack's last update, as the engine's
	// pulumi:pulumi:readStackOutputs answers; none, as before a first deploy, unless a test
	// says.
	LastOutputs map[string]any
	// LastSecrets names the outputs among LastOutputs that are secret, which the engine's
	// readStackOutputs answers as secret values, as it holds them.
	LastSecrets []string
	// ServiceSKU is the tier getApiManagementService answers for a reused service, which an
	// offline plan cannot read: DefaultServiceSKU when empty.
	ServiceSKU string
	// ServiceMinAPIVersion is the reused service's apiVersionConstraint.minApiVersion the mock
	// answers; empty answers no constraint.
	ServiceMinAPIVersion string
	// Components are what getComponent answers, by component name, as ARM holds a team's
	// Application Insights; any other name is answered as a workspace-based component in its own
	// resource group's workspace named after it (MockWorkspaceName), since an offline plan cannot
	// read the team's. Workspaces are getWorkspace's answers the same way, any other name a
	// workspace whose customer id is derived from its name.
	Components map[string]map[string]any
	Workspaces map[string]map[string]any
}

// DefaultServiceSKU is the tier the mock engine gives a reused service when nothing says
// another: the tier a stack that sets no apimSku creates.
const DefaultServiceSKU = "Consumption"

// MockWorkspaceName is the workspace the mock engine says a component it was not told about
// sends to: the component's name with "-logs".
func MockWorkspaceName(component string) string { return component + "-logs" }

// NewResource records the registration and returns ARM-shaped ids and outputs.
func (m *Mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	r := Recorded{Type: args.TypeToken, Name: args.Name, Custom: args.Custom, Inputs: args.Inputs, Provider: args.Provider}
	if rpc := args.RegisterRPC; rpc != nil {
		r.Parent = rpc.GetParent()
		r.Ignore = rpc.GetIgnoreChanges()
		r.DependsOn = rpc.GetDependencies()
		r.Version = rpc.GetVersion()
	}
	m.mu.Lock()
	m.Recorded = append(m.Recorded, r)
	m.mu.Unlock()

	out := args.Inputs.Copy()
	name := azureName(args.TypeToken, args.Inputs, args.Name)
	rg := "rg"
	if v, ok := args.Inputs["resourceGroupName"]; ok && v.IsString() {
		rg = v.StringValue()
	}
	id := armID(args.TypeToken, rg, args.Inputs, name)
	out["name"] = resource.NewStringProperty(name)
	switch args.TypeToken {
	case "azure-native:web:WebApp":
		out["defaultHostName"] = resource.NewStringProperty(name + ".azurewebsites.net")
	case "azure-native:managedidentity:UserAssignedIdentity":
		out["clientId"] = resource.NewStringProperty("client-id-of-" + name)
		out["principalId"] = resource.NewStringProperty("principal-id-of-" + name)
	case "azure-native:operationalinsights:Workspace":
		out["customerId"] = resource.NewStringProperty("customer-id-of-" + name)
	case "azure-native:applicationinsights:Component":
		out["connectionString"] = resource.NewStringProperty("InstrumentationKey=mock;IngestionEndpoint=https://" + name + ".in.applicationinsights.azure.com/")
	case "azure-native:apimanagement:ApiManagementService":
		out["gatewayUrl"] = resource.NewStringProperty("https://" + name + ".azure-api.net")
	}
	return id, out, nil
}

// Call answers the functions the program invokes. The plan is of a stack as if new, so API
// Management holds no function key yet and the program reads it from the (mock) host.
func (m *Mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	m.mu.Lock()
	m.Calls = append(m.Calls, args)
	m.mu.Unlock()
	switch args.Token {
	case "pulumi:pulumi:readStackOutputs":
		outs := resource.NewPropertyMapFromMap(m.LastOutputs)
		for _, k := range m.LastSecrets {
			if v, ok := outs[resource.PropertyKey(k)]; ok {
				outs[resource.PropertyKey(k)] = resource.MakeSecret(v)
			}
		}
		return resource.PropertyMap{"name": args.Args["name"], "outputs": resource.NewObjectProperty(outs)}, nil
	case "azure-native:web:listWebAppHostKeys":
		return resource.NewPropertyMapFromMap(map[string]any{
			"functionKeys": map[string]any{"default": "mock-function-key-of-" + args.Args["name"].StringValue()},
		}), nil
	case "azure-native:apimanagement:getApiManagementService":
		name := args.Args["serviceName"].StringValue()
		sku := m.ServiceSKU
		if sku == "" {
			sku = DefaultServiceSKU
		}
		capacity := 1
		if sku == "Consumption" {
			capacity = 0
		}
		answer := map[string]any{"name": name, "gatewayUrl": "https://" + name + ".azure-api.net", "sku": map[string]any{"name": sku, "capacity": capacity}}
		if m.ServiceMinAPIVersion != "" {
			answer["apiVersionConstraint"] = map[string]any{"minApiVersion": m.ServiceMinAPIVersion}
		}
		return resource.NewPropertyMapFromMap(answer), nil
	case "azure-native:apimanagement:listNamedValue", "azure-native:apimanagement:getNamedValue":
		return nil, fmt.Errorf("Status=404 Code=%q Message=%q", "ResourceNotFound", "named value "+args.Args["namedValueId"].StringValue()+" not found")
	case "azure-native:apimanagement:listSubscriptionSecrets":
		// API Management generates a subscription's keys on create; the mock's stand for them.
		sid := args.Args["sid"].StringValue()
		return resource.NewPropertyMapFromMap(map[string]any{"primaryKey": "mock-primary-key-of-" + sid, "secondaryKey": "mock-secondary-key-of-" + sid}), nil
	case "azure-native:applicationinsights:getComponent":
		rg, name := args.Args["resourceGroupName"].StringValue(), args.Args["resourceName"].StringValue()
		if c, ok := m.Components[name]; ok {
			return resource.NewPropertyMapFromMap(c), nil
		}
		base := "/subscriptions/" + MockSubscription + "/resourceGroups/" + rg + "/providers/"
		return resource.NewPropertyMapFromMap(map[string]any{
			"id": base + "Microsoft.Insights/components/" + name, "name": name, "kind": "web",
			"connectionString":    "InstrumentationKey=mock;IngestionEndpoint=https://" + name + ".in.applicationinsights.azure.com/",
			"workspaceResourceId": base + "Microsoft.OperationalInsights/workspaces/" + MockWorkspaceName(name),
		}), nil
	case "azure-native:operationalinsights:getWorkspace":
		rg, name := args.Args["resourceGroupName"].StringValue(), args.Args["workspaceName"].StringValue()
		if w, ok := m.Workspaces[name]; ok {
			return resource.NewPropertyMapFromMap(w), nil
		}
		sum := sha256.Sum256([]byte("workspace::" + name))
		return resource.NewPropertyMapFromMap(map[string]any{
			"id":         "/subscriptions/" + MockSubscription + "/resourceGroups/" + rg + "/providers/Microsoft.OperationalInsights/workspaces/" + name,
			"name":       name,
			"customerId": uuid.Must(uuid.FromBytes(sum[:16])).String(),
		}), nil
	case "azure-native:apimanagement:getBackend":
		// The plan is of a stack about to be deployed, unless a test says what APIM holds.
		if b, ok := m.Backends[args.Args["backendId"].StringValue()]; ok {
			return resource.NewPropertyMapFromMap(b), nil
		}
		return nil, fmt.Errorf("Status=404 Code=%q Message=%q", "ResourceNotFound", "backend "+args.Args["backendId"].StringValue()+" not found")
	}
	return nil, fmt.Errorf("mock engine: no answer for %s", args.Token)
}

func azureName(token string, in resource.PropertyMap, logical string) string {
	if v, ok := in[resource.PropertyKey(nameKeys[token])]; ok && v.IsString() && v.StringValue() != "" {
		return v.StringValue()
	}
	return MockAutoName(token, logical)
}

// MockAutoName is the name the mock engine gives a resource whose name input the program leaves
// out, in the shape azure-native gives it: the logical name plus eight hex characters, or a GUID
// for a role assignment or definition. azure-native's suffix is random and kept in state, which an offline plan
// cannot read; this one is derived from the type and logical name, so two plans of one config
// agree and a diff shows only what the config changes.
func MockAutoName(token, logical string) string {
	sum := sha256.Sum256([]byte(token + "::" + logical))
	if token == "azure-native:authorization:RoleAssignment" || token == "azure-native:authorization:RoleDefinition" {
		return uuid.Must(uuid.FromBytes(sum[:16])).String()
	}
	return logical + hex.EncodeToString(sum[:4])
}

func armID(token, rg string, in resource.PropertyMap, name string) string {
	base := "/subscriptions/" + MockSubscription + "/resourceGroups/" + rg
	str := func(k string) string {
		if v, ok := in[resource.PropertyKey(k)]; ok && v.IsString() {
			return v.StringValue()
		}
		return "unknown"
	}
	arm, ok := armTypes[token]
	switch {
	case !ok:
		return name + "-id"
	case arm == "":
		return base
	case token == "azure-native:web:WebAppAuthSettingsV2":
		return base + "/providers/Microsoft.Web/sites/" + str("name") + "/config/authsettingsV2"
	case token == "azure-native:storage:BlobContainer":
		return base + "/providers/Microsoft.Storage/storageAccounts/" + str("accountName") + "/blobServices/default/containers/" + name
	case token == "azure-native:apimanagement:ApiOperation":
		return base + "/providers/Microsoft.ApiManagement/service/" + str("serviceName") + "/apis/" + str("apiId") + "/operations/" + name
	case token == "azure-native:apimanagement:ProductApi":
		return base + "/providers/Microsoft.ApiManagement/service/" + str("serviceName") + "/products/" + str("productId") + "/apis/" + name
	case token == "azure-native:apimanagement:ApiPolicy":
		return base + "/providers/Microsoft.ApiManagement/service/" + str("serviceName") + "/apis/" + str("apiId") + "/policies/" + name
	case strings.HasPrefix(arm, "Microsoft.ApiManagement/service/"):
		return base + "/providers/Microsoft.ApiManagement/service/" + str("serviceName") + "/" + strings.TrimPrefix(arm, "Microsoft.ApiManagement/service/") + "/" + name
	}
	return base + "/providers/" + arm + "/" + name
}
