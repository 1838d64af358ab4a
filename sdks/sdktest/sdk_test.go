package sdktest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/pulumi/pulumi-azure-native-sdk/apimanagement/v3"
	"github.com/pulumi/pulumi-azure-native-sdk/applicationinsights/v3"
	"github.com/pulumi/pulumi-azure-native-sdk/authorization/v3"
	"github.com/pulumi/pulumi-azure-native-sdk/managedidentity/v3"
	"github.com/pulumi/pulumi-azure-native-sdk/operationalinsights/v3"
	"github.com/pulumi/pulumi-azure-native-sdk/resources/v3"
	"github.com/pulumi/pulumi-azure-native-sdk/storage/v3"
	"github.com/pulumi/pulumi-azure-native-sdk/web/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// recorder is a mock engine that remembers every registration and call.
type recorder struct {
	mu        sync.Mutex
	resources []pulumi.MockResourceArgs
	calls     []pulumi.MockCallArgs
}

func (r *recorder) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.resources = append(r.resources, args)
	return args.Name + "-id", args.Inputs, nil
}

func (r *recorder) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, args)
	switch args.Token {
	case "azure-native:web:listWebAppHostKeys":
		return resource.NewPropertyMapFromMap(map[string]any{"functionKeys": map[string]any{"default": "k"}}), nil
	case "azure-native:apimanagement:getApiManagementService":
		return resource.NewPropertyMapFromMap(map[string]any{"name": args.Args["serviceName"].StringValue(), "gatewayUrl": "https://gw"}), nil
	case "azure-native:apimanagement:listNamedValue":
		return resource.NewPropertyMapFromMap(map[string]any{"value": "v-" + args.Args["namedValueId"].StringValue()}), nil
	}
	return resource.PropertyMap{}, nil
}

// at walks a property map along keys (strings) and list indexes (ints).
func at(pm resource.PropertyMap, path ...any) (resource.PropertyValue, error) {
	v := resource.NewObjectProperty(pm)
	for _, step := range path {
		switch s := step.(type) {
		case string:
			if !v.IsObject() {
				return v, fmt.Errorf("%v: not an object at %q", path, s)
			}
			next, ok := v.ObjectValue()[resource.PropertyKey(s)]
			if !ok {
				return v, fmt.Errorf("%v: no key %q (have %v)", path, s, v.ObjectValue().StableKeys())
			}
			v = next
		case int:
			if !v.IsArray() || len(v.ArrayValue()) <= s {
				return v, fmt.Errorf("%v: no index %d", path, s)
			}
			v = v.ArrayValue()[s]
		}
	}
	return v, nil
}

type want struct {
	path  []any
	value any
}

func TestResourcesReachTheEngineAsTheSchemaSays(t *testing.T) {
	tests := []struct {
		name     string
		token    string
		register func(ctx *pulumi.Context) error
		wants    []want
	}{
		{"ResourceGroup", "azure-native:resources:ResourceGroup", func(ctx *pulumi.Context) error {
			_, err := resources.NewResourceGroup(ctx, "x", &resources.ResourceGroupArgs{Location: pulumi.String("westeurope"), Tags: pulumi.StringMap{"app": pulumi.String("slotless")}})
			return err
		}, []want{{[]any{"location"}, "westeurope"}, {[]any{"tags", "app"}, "slotless"}}},
		{"StorageAccount", "azure-native:storage:StorageAccount", func(ctx *pulumi.Context) error {
			_, err := storage.NewStorageAccount(ctx, "x", &storage.StorageAccountArgs{
				ResourceGroupName: pulumi.String("rg"), Kind: pulumi.String(storage.KindStorageV2),
				Sku:                  &storage.SkuArgs{Name: pulumi.String(storage.SkuName_Standard_LRS)},
				AllowSharedKeyAccess: pulumi.Bool(false), MinimumTlsVersion: pulumi.String(storage.MinimumTlsVersion_TLS1_2),
				EnableHttpsTrafficOnly: pulumi.Bool(true),
			})
			return err
		}, []want{{[]any{"sku", "name"}, "Standard_LRS"}, {[]any{"kind"}, "StorageV2"}, {[]any{"allowSharedKeyAccess"}, false}, {[]any{"minimumTlsVersion"}, "TLS1_2"}, {[]any{"enableHttpsTrafficOnly"}, true}}},
		{"BlobContainer", "azure-native:storage:BlobContainer", func(ctx *pulumi.Context) error {
			_, err := storage.NewBlobContainer(ctx, "x", &storage.BlobContainerArgs{AccountName: pulumi.String("acct"), ResourceGroupName: pulumi.String("rg"), ContainerName: pulumi.String("green"), PublicAccess: storage.PublicAccessNone})
			return err
		}, []want{{[]any{"containerName"}, "green"}, {[]any{"publicAccess"}, "None"}}},
		{"Workspace", "azure-native:operationalinsights:Workspace", func(ctx *pulumi.Context) error {
			_, err := operationalinsights.NewWorkspace(ctx, "x", &operationalinsights.WorkspaceArgs{ResourceGroupName: pulumi.String("rg"), RetentionInDays: pulumi.Int(30), Sku: &operationalinsights.WorkspaceSkuArgs{Name: pulumi.String(operationalinsights.WorkspaceSkuNameEnumPerGB2018)}})
			return err
		}, []want{{[]any{"sku", "name"}, "PerGB2018"}, {[]any{"retentionInDays"}, 30.0}}},
		{"Component", "azure-native:applicationinsights:Component", func(ctx *pulumi.Context) error {
			_, err := applicationinsights.NewComponent(ctx, "x", &applicationinsights.ComponentArgs{ResourceGroupName: pulumi.String("rg"), Kind: pulumi.String("web"), ApplicationType: pulumi.String(applicationinsights.ApplicationTypeWeb), WorkspaceResourceId: pulumi.String("ws"), IngestionMode: pulumi.String(applicationinsights.IngestionModeLogAnalytics), DisableLocalAuth: pulumi.Bool(true)})
			return err
		}, []want{{[]any{"applicationType"}, "web"}, {[]any{"ingestionMode"}, "LogAnalytics"}, {[]any{"workspaceResourceId"}, "ws"}}},
		{"UserAssignedIdentity", "azure-native:managedidentity:UserAssignedIdentity", func(ctx *pulumi.Context) error {
			_, err := managedidentity.NewUserAssignedIdentity(ctx, "x", &managedidentity.UserAssignedIdentityArgs{ResourceGroupName: pulumi.String("rg"), ResourceName: pulumi.String("id-green")})
			return err
		}, []want{{[]any{"resourceName"}, "id-green"}}},
		{"RoleAssignment", "azure-native:authorization:RoleAssignment", func(ctx *pulumi.Context) error {
			_, err := authorization.NewRoleAssignment(ctx, "x", &authorization.RoleAssignmentArgs{PrincipalId: pulumi.String("p"), PrincipalType: pulumi.String(authorization.PrincipalTypeServicePrincipal), RoleDefinitionId: pulumi.String("/r"), Scope: pulumi.String("/s")})
			return err
		}, []want{{[]any{"principalType"}, "ServicePrincipal"}, {[]any{"scope"}, "/s"}}},
		{"AppServicePlan", "azure-native:web:AppServicePlan", func(ctx *pulumi.Context) error {
			_, err := web.NewAppServicePlan(ctx, "x", &web.AppServicePlanArgs{ResourceGroupName: pulumi.String("rg"), Kind: pulumi.String("functionapp"), Reserved: pulumi.Bool(true), Sku: &web.SkuDescriptionArgs{Name: pulumi.String("FC1"), Tier: pulumi.String("FlexConsumption")}})
			return err
		}, []want{{[]any{"sku", "name"}, "FC1"}, {[]any{"sku", "tier"}, "FlexConsumption"}, {[]any{"reserved"}, true}}},
		{"WebApp", "azure-native:web:WebApp", func(ctx *pulumi.Context) error {
			_, err := web.NewWebApp(ctx, "x", &web.WebAppArgs{
				ResourceGroupName: pulumi.String("rg"), Kind: pulumi.String("functionapp,linux"),
				Identity: &web.ManagedServiceIdentityArgs{Type: web.ManagedServiceIdentityTypeUserAssigned, UserAssignedIdentities: pulumi.StringArray{pulumi.String("/id")}},
				FunctionAppConfig: &web.FunctionAppConfigArgs{
					Deployment: &web.FunctionsDeploymentArgs{Storage: &web.FunctionsDeploymentStorageArgs{
						Type: pulumi.String(web.FunctionsDeploymentStorageTypeBlobContainer), Value: pulumi.String("https://a.blob.core.windows.net/green"),
						Authentication: &web.FunctionsDeploymentStorageAuthenticationArgs{Type: pulumi.String(web.AuthenticationTypeUserAssignedIdentity), UserAssignedIdentityResourceId: pulumi.String("/id")},
					}},
					Runtime:             &web.FunctionsRuntimeArgs{Name: pulumi.String(web.RuntimeNameCustom), Version: pulumi.String("1.0")},
					ScaleAndConcurrency: &web.FunctionsScaleAndConcurrencyArgs{MaximumInstanceCount: pulumi.Int(100), InstanceMemoryMB: pulumi.Int(2048)},
				},
				SiteConfig: &web.SiteConfigArgs{AppSettings: web.NameValuePairArray{web.NameValuePairArgs{Name: pulumi.String("SLOT_NAME"), Value: pulumi.String("green")}}, FtpsState: pulumi.String(web.FtpsStateDisabled)},
			})
			return err
		}, []want{
			{[]any{"functionAppConfig", "deployment", "storage", "type"}, "blobContainer"},
			{[]any{"functionAppConfig", "deployment", "storage", "authentication", "type"}, "UserAssignedIdentity"},
			{[]any{"functionAppConfig", "runtime", "name"}, "custom"},
			{[]any{"functionAppConfig", "scaleAndConcurrency", "instanceMemoryMB"}, 2048.0},
			{[]any{"identity", "type"}, "UserAssigned"},
			{[]any{"identity", "userAssignedIdentities", 0}, "/id"},
			{[]any{"siteConfig", "appSettings", 0, "name"}, "SLOT_NAME"},
			{[]any{"siteConfig", "ftpsState"}, "Disabled"},
		}},
		{"WebApp network and Key Vault identity", "azure-native:web:WebApp", func(ctx *pulumi.Context) error {
			_, err := web.NewWebApp(ctx, "x", &web.WebAppArgs{
				ResourceGroupName:         pulumi.String("rg"),
				VirtualNetworkSubnetId:    pulumi.String("/subscriptions/s/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/v/subnets/apps"),
				KeyVaultReferenceIdentity: pulumi.String("/id"),
			})
			return err
		}, []want{
			{[]any{"virtualNetworkSubnetId"}, "/subscriptions/s/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/v/subnets/apps"},
			{[]any{"keyVaultReferenceIdentity"}, "/id"},
		}},
		{"ApiManagementService", "azure-native:apimanagement:ApiManagementService", func(ctx *pulumi.Context) error {
			_, err := apimanagement.NewApiManagementService(ctx, "x", &apimanagement.ApiManagementServiceArgs{ResourceGroupName: pulumi.String("rg"), PublisherEmail: pulumi.String("a@b.c"), PublisherName: pulumi.String("n"), Sku: &apimanagement.ApiManagementServiceSkuPropertiesArgs{Name: pulumi.String(apimanagement.SkuTypeConsumption), Capacity: pulumi.Int(0)}})
			return err
		}, []want{{[]any{"sku", "name"}, "Consumption"}, {[]any{"sku", "capacity"}, 0.0}, {[]any{"publisherEmail"}, "a@b.c"}}},
		{"ApiManagementService version constraint", "azure-native:apimanagement:ApiManagementService", func(ctx *pulumi.Context) error {
			_, err := apimanagement.NewApiManagementService(ctx, "x", &apimanagement.ApiManagementServiceArgs{ResourceGroupName: pulumi.String("rg"), PublisherEmail: pulumi.String("a@b.c"), PublisherName: pulumi.String("n"),
				Sku:                  &apimanagement.ApiManagementServiceSkuPropertiesArgs{Name: pulumi.String(apimanagement.SkuTypeDeveloper), Capacity: pulumi.Int(1)},
				ApiVersionConstraint: &apimanagement.ApiVersionConstraintArgs{MinApiVersion: pulumi.String("2019-12-01")}})
			return err
		}, []want{{[]any{"apiVersionConstraint", "minApiVersion"}, "2019-12-01"}}},
		{"ProductApi", "azure-native:apimanagement:ProductApi", func(ctx *pulumi.Context) error {
			_, err := apimanagement.NewProductApi(ctx, "x", &apimanagement.ProductApiArgs{ResourceGroupName: pulumi.String("rg"), ServiceName: pulumi.String("s"), ProductId: pulumi.String("partners"), ApiId: pulumi.String("orders")})
			return err
		}, []want{{[]any{"productId"}, "partners"}, {[]any{"apiId"}, "orders"}, {[]any{"serviceName"}, "s"}}},
		{"Api", "azure-native:apimanagement:Api", func(ctx *pulumi.Context) error {
			_, err := apimanagement.NewApi(ctx, "x", &apimanagement.ApiArgs{ResourceGroupName: pulumi.String("rg"), ServiceName: pulumi.String("s"), Path: pulumi.String("orders"), Protocols: pulumi.StringArray{pulumi.String("https")}})
			return err
		}, []want{{[]any{"path"}, "orders"}, {[]any{"protocols", 0}, "https"}}},
		{"ApiOperation", "azure-native:apimanagement:ApiOperation", func(ctx *pulumi.Context) error {
			_, err := apimanagement.NewApiOperation(ctx, "x", &apimanagement.ApiOperationArgs{ResourceGroupName: pulumi.String("rg"), ServiceName: pulumi.String("s"), ApiId: pulumi.String("a"), DisplayName: pulumi.String("d"), Method: pulumi.String("GET"), UrlTemplate: pulumi.String("/health")})
			return err
		}, []want{{[]any{"method"}, "GET"}, {[]any{"urlTemplate"}, "/health"}}},
		{"ApiPolicy", "azure-native:apimanagement:ApiPolicy", func(ctx *pulumi.Context) error {
			_, err := apimanagement.NewApiPolicy(ctx, "x", &apimanagement.ApiPolicyArgs{ResourceGroupName: pulumi.String("rg"), ServiceName: pulumi.String("s"), ApiId: pulumi.String("a"), Format: pulumi.String(apimanagement.PolicyContentFormatRawxml), Value: pulumi.String("<policies/>")})
			return err
		}, []want{{[]any{"format"}, "rawxml"}, {[]any{"value"}, "<policies/>"}}},
		{"NamedValue", "azure-native:apimanagement:NamedValue", func(ctx *pulumi.Context) error {
			_, err := apimanagement.NewNamedValue(ctx, "x", &apimanagement.NamedValueArgs{ResourceGroupName: pulumi.String("rg"), ServiceName: pulumi.String("s"), DisplayName: pulumi.String("current-slot-name"), Value: pulumi.String("green-backend"), Secret: pulumi.Bool(false)})
			return err
		}, []want{{[]any{"displayName"}, "current-slot-name"}, {[]any{"secret"}, false}}},
		{"Backend pool", "azure-native:apimanagement:Backend", func(ctx *pulumi.Context) error {
			_, err := apimanagement.NewBackend(ctx, "x", &apimanagement.BackendArgs{ResourceGroupName: pulumi.String("rg"), ServiceName: pulumi.String("s"), Type: pulumi.String(apimanagement.BackendTypePool),
				Pool: &apimanagement.BackendBaseParametersPoolArgs{Services: apimanagement.BackendPoolItemArray{
					apimanagement.BackendPoolItemArgs{Id: pulumi.String("/g"), Weight: pulumi.Int(90), Priority: pulumi.Int(1)},
					apimanagement.BackendPoolItemArgs{Id: pulumi.String("/b"), Weight: pulumi.Int(10), Priority: pulumi.Int(1)},
				}}})
			return err
		}, []want{{[]any{"type"}, "Pool"}, {[]any{"pool", "services", 1, "weight"}, 10.0}, {[]any{"pool", "services", 0, "id"}, "/g"}}},
		{"Backend single", "azure-native:apimanagement:Backend", func(ctx *pulumi.Context) error {
			_, err := apimanagement.NewBackend(ctx, "x", &apimanagement.BackendArgs{ResourceGroupName: pulumi.String("rg"), ServiceName: pulumi.String("s"), Url: pulumi.String("https://g/api"), Protocol: pulumi.String(apimanagement.BackendProtocolHttp),
				Credentials: &apimanagement.BackendCredentialsContractArgs{Header: pulumi.StringArrayMap{"x-functions-key": pulumi.StringArray{pulumi.String("{{green-key}}")}}},
				Tls:         &apimanagement.BackendTlsPropertiesArgs{ValidateCertificateChain: pulumi.Bool(true), ValidateCertificateName: pulumi.Bool(true)},
				CircuitBreaker: &apimanagement.BackendCircuitBreakerArgs{Rules: apimanagement.CircuitBreakerRuleArray{apimanagement.CircuitBreakerRuleArgs{
					Name: pulumi.String("r"), TripDuration: pulumi.String("PT1M"),
					FailureCondition: &apimanagement.CircuitBreakerFailureConditionArgs{Count: pulumi.Int(5), Interval: pulumi.String("PT1M"), StatusCodeRanges: apimanagement.FailureStatusCodeRangeArray{apimanagement.FailureStatusCodeRangeArgs{Min: pulumi.Int(500), Max: pulumi.Int(599)}}},
				}}}})
			return err
		}, []want{{[]any{"protocol"}, "http"}, {[]any{"credentials", "header", "x-functions-key", 0}, "{{green-key}}"}, {[]any{"tls", "validateCertificateChain"}, true}, {[]any{"circuitBreaker", "rules", 0, "failureCondition", "statusCodeRanges", 0, "max"}, 599.0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			err := pulumi.RunErr(tt.register, pulumi.WithMocks("project", "stack", rec))
			if err != nil {
				t.Fatal(err)
			}
			if len(rec.resources) != 1 {
				t.Fatalf("got %d registrations, want 1", len(rec.resources))
			}
			got := rec.resources[0]
			if got.TypeToken != tt.token {
				t.Errorf("got token %v, want %v", got.TypeToken, tt.token)
			}
			if v := got.RegisterRPC.GetVersion(); v != "3.28.0" {
				t.Errorf("got provider version %q, want 3.28.0", v)
			}
			for _, w := range tt.wants {
				v, err := at(got.Inputs, w.path...)
				if err != nil {
					t.Error(err)
					continue
				}
				if v.V != w.value {
					t.Errorf("%v: got %v, want %v", w.path, v.V, w.value)
				}
			}
		})
	}
}

func TestFunctionsReachTheEngineAsTheSchemaSays(t *testing.T) {
	rec := &recorder{}
	var keys, gateway, named string
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		k, err := web.ListWebAppHostKeys(ctx, &web.ListWebAppHostKeysArgs{Name: "app", ResourceGroupName: "rg"})
		if err != nil {
			return err
		}
		keys = k.FunctionKeys["default"]
		s, err := apimanagement.LookupApiManagementService(ctx, &apimanagement.LookupApiManagementServiceArgs{ResourceGroupName: "rg", ServiceName: "apim"})
		if err != nil {
			return err
		}
		gateway = s.GatewayUrl
		nv, err := apimanagement.ListNamedValue(ctx, &apimanagement.ListNamedValueArgs{NamedValueId: "green-function-key", ResourceGroupName: "rg", ServiceName: "apim"})
		if err != nil {
			return err
		}
		if nv.Value != nil {
			named = *nv.Value
		}
		return nil
	}, pulumi.WithMocks("project", "stack", rec))
	if err != nil {
		t.Fatal(err)
	}
	tokens := []string{rec.calls[0].Token, rec.calls[1].Token}
	if tokens[0] != "azure-native:web:listWebAppHostKeys" || tokens[1] != "azure-native:apimanagement:getApiManagementService" {
		t.Errorf("got tokens %v, want listWebAppHostKeys then getApiManagementService", tokens)
	}
	if got := rec.calls[0].Args["resourceGroupName"].StringValue(); got != "rg" {
		t.Errorf("got resourceGroupName %v, want rg", got)
	}
	if got := rec.calls[2].Token; got != "azure-native:apimanagement:listNamedValue" {
		t.Errorf("got token %v, want listNamedValue", got)
	}
	if got := rec.calls[2].Args["namedValueId"].StringValue(); got != "green-function-key" || named != "v-green-function-key" {
		t.Errorf("listNamedValue: got id %q value %q, want green-function-key and v-green-function-key", got, named)
	}
	if keys != "k" || gateway != "https://gw" {
		t.Errorf("got keys %q gateway %q, want k and https://gw", keys, gateway)
	}
}

// TestLookupsReadWhatTheSchemaDeclares: the lookups a stack makes of what it does not own (a
// reused service's tier and version constraint, a team's Application Insights and Log Analytics)
// send their arguments under the schema's names and decode the answer's nested and typed fields.
func TestLookupsReadWhatTheSchemaDeclares(t *testing.T) {
	tests := []struct {
		name   string
		token  string
		answer map[string]any
		lookup func(ctx *pulumi.Context) (args map[string]string, got []any, err error)
		want   []any
	}{
		{"getApiManagementService", "azure-native:apimanagement:getApiManagementService",
			map[string]any{"name": "apim", "gatewayUrl": "https://gw", "sku": map[string]any{"name": "Premium", "capacity": 2}, "apiVersionConstraint": map[string]any{"minApiVersion": "2019-12-01"}},
			func(ctx *pulumi.Context) (map[string]string, []any, error) {
				r, err := apimanagement.LookupApiManagementService(ctx, &apimanagement.LookupApiManagementServiceArgs{ResourceGroupName: "rg", ServiceName: "apim"})
				if err != nil {
					return nil, nil, err
				}
				var min string
				if r.ApiVersionConstraint != nil && r.ApiVersionConstraint.MinApiVersion != nil {
					min = *r.ApiVersionConstraint.MinApiVersion
				}
				return map[string]string{"resourceGroupName": "rg", "serviceName": "apim"}, []any{r.Sku.Name, r.Sku.Capacity, min}, nil
			}, []any{"Premium", 2, "2019-12-01"}},
		{"getComponent", "azure-native:applicationinsights:getComponent",
			map[string]any{"id": "/ai", "name": "team-ai", "appId": "app", "connectionString": "InstrumentationKey=k", "instrumentationKey": "k", "workspaceResourceId": "/ws", "disableLocalAuth": true, "tags": map[string]any{"team": "orders"}},
			func(ctx *pulumi.Context) (map[string]string, []any, error) {
				r, err := applicationinsights.LookupComponent(ctx, &applicationinsights.LookupComponentArgs{ResourceGroupName: "rg", ResourceName: "team-ai"})
				if err != nil {
					return nil, nil, err
				}
				return map[string]string{"resourceGroupName": "rg", "resourceName": "team-ai"}, []any{r.Id, r.ConnectionString, *r.WorkspaceResourceId, *r.DisableLocalAuth, r.Tags["team"]}, nil
			}, []any{"/ai", "InstrumentationKey=k", "/ws", true, "orders"}},
		{"getWorkspace", "azure-native:operationalinsights:getWorkspace",
			map[string]any{"id": "/ws", "name": "team-logs", "customerId": "guid", "retentionInDays": 90, "sku": map[string]any{"name": "PerGB2018"}},
			func(ctx *pulumi.Context) (map[string]string, []any, error) {
				r, err := operationalinsights.LookupWorkspace(ctx, &operationalinsights.LookupWorkspaceArgs{ResourceGroupName: "rg", WorkspaceName: "team-logs"})
				if err != nil {
					return nil, nil, err
				}
				return map[string]string{"resourceGroupName": "rg", "workspaceName": "team-logs"}, []any{r.Id, r.CustomerId, *r.RetentionInDays, r.Sku.Name}, nil
			}, []any{"/ws", "guid", 90, "PerGB2018"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &answering{answer: tt.answer}
			var args map[string]string
			var got []any
			err := pulumi.RunErr(func(ctx *pulumi.Context) error {
				var err error
				args, got, err = tt.lookup(ctx)
				return err
			}, pulumi.WithMocks("project", "stack", rec))
			if err != nil {
				t.Fatal(err)
			}
			if len(rec.calls) != 1 || rec.calls[0].Token != tt.token {
				t.Fatalf("got calls %v, want one %s", rec.calls, tt.token)
			}
			for k, v := range args {
				if got := rec.calls[0].Args[resource.PropertyKey(k)]; !got.IsString() || got.StringValue() != v {
					t.Errorf("argument %s: got %v, want %q", k, got, v)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("decoded %v, want %v", got, tt.want)
			}
		})
	}
}

// answering is a mock engine whose every call answers with one result.
type answering struct {
	recorder
	answer map[string]any
}

func (a *answering) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, args)
	return resource.NewPropertyMapFromMap(a.answer), nil
}
