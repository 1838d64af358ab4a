package stack_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/slotless/slotless/internal/plan"
	"github.com/slotless/slotless/stack"
)

// config returns a stack config that creates everything, with overrides as bare project keys
// (or namespaced ones); "<unset>" removes a key.
func config(t testing.TB, overrides map[string]string) plan.StackConfig {
	t.Helper()
	c := plan.StackConfig{Project: "slotless", Values: map[string]string{
		"azure-native:location":   "westeurope",
		"slotless:publisherEmail": "ops@example.com",
		"slotless:corsOrigins":    `["https://app.example.com"]`,
	}}
	for k, v := range overrides {
		if !strings.Contains(k, ":") {
			k = "slotless:" + k
		}
		if v == "<unset>" {
			delete(c.Values, k)
			continue
		}
		c.Values[k] = v
	}
	return c
}

// hash is the name hash of the "test" stack with the default prefix.
var hash = strings.TrimSuffix(strings.TrimPrefix(stack.NewNames("slotless", "test", &stack.Config{Prefix: "slotless"}).Plan(stack.Green), "slotless-"), "-green-plan")

// The names the mock engine gives the resources whose names azure-native generates.
var (
	storageName = plan.MockAutoName("azure-native:storage:StorageAccount", "storage")
	greenApp    = plan.MockAutoName("azure-native:web:WebApp", "green-app")
	accounts    = "/subscriptions/" + plan.MockSubscription + "/resourceGroups/slotless-test-rg/providers/Microsoft.Storage/storageAccounts/"
	sharedID    = accounts + storageName
	hostGreenID = accounts + plan.MockAutoName("azure-native:storage:StorageAccount", "hostgreen")
)

// q is a string as Flatten renders it.
func q(s string) string { return `"` + s + `"` }

func runPlan(t testing.TB, overrides map[string]string) *plan.Plan {
	t.Helper()
	p, err := plan.Run("test", config(t, overrides))
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	return p
}

func find(t testing.TB, p *plan.Plan, typ, name string) plan.Resource {
	t.Helper()
	r := p.Find(typ, name)
	if r == nil {
		t.Fatalf("no %s %q in the plan", typ, name)
	}
	return *r
}

func TestEveryResourceAndItsKeyProperties(t *testing.T) {
	p := runPlan(t, nil)
	tests := []struct {
		typ, name string
		want      map[string]string // flattened input path -> JSON value
	}{
		{"azure-native:resources:ResourceGroup", "rg", map[string]string{"location": `"westeurope"`, "resourceGroupName": `"slotless-test-rg"`}},
		{"azure-native:storage:StorageAccount", "storage", map[string]string{
			"allowSharedKeyAccess": "false", "allowBlobPublicAccess": "false", "minimumTlsVersion": `"TLS1_2"`,
			"enableHttpsTrafficOnly": "true", "kind": `"StorageV2"`, "sku.name": `"Standard_LRS"`}},
		{"azure-native:storage:BlobContainer", "deploy-green", map[string]string{"containerName": `"app-package-green"`, "publicAccess": `"None"`}},
		{"azure-native:storage:BlobContainer", "deploy-blue", map[string]string{"containerName": `"app-package-blue"`}},
		{"azure-native:operationalinsights:Workspace", "logs", map[string]string{"sku.name": `"PerGB2018"`, "retentionInDays": "30"}},
		{"azure-native:applicationinsights:Component", "appinsights-green", map[string]string{"kind": `"web"`, "ingestionMode": `"LogAnalytics"`, "disableLocalAuth": "true", "resourceName": q("slotless-" + hash + "-green-appi")}},
		{"azure-native:applicationinsights:Component", "appinsights-blue", map[string]string{"kind": `"web"`, "ingestionMode": `"LogAnalytics"`, "disableLocalAuth": "true", "resourceName": q("slotless-" + hash + "-blue-appi")}},
		{"azure-native:web:AppServicePlan", "green-plan", map[string]string{"sku.name": `"FC1"`, "sku.tier": `"FlexConsumption"`, "reserved": "true"}},
		{"azure-native:web:AppServicePlan", "blue-plan", map[string]string{"sku.name": `"FC1"`}},
		{"azure-native:web:WebApp", "blue-app", map[string]string{
			"kind": `"functionapp,linux"`, "httpsOnly": "true",
			"functionAppConfig.runtime.name": `"custom"`, "functionAppConfig.runtime.version": `"1.0"`,
			"functionAppConfig.deployment.storage.type":                  `"blobContainer"`,
			"functionAppConfig.deployment.storage.value":                 q("https://" + storageName + ".blob.core.windows.net/app-package-blue"),
			"functionAppConfig.deployment.storage.authentication.type":   `"UserAssignedIdentity"`,
			"functionAppConfig.scaleAndConcurrency.maximumInstanceCount": "100",
			"functionAppConfig.scaleAndConcurrency.instanceMemoryMB":     "2048",
			"siteConfig.minTlsVersion":                                   `"1.2"`, "siteConfig.ftpsState": `"Disabled"`, "identity.type": `"UserAssigned"`,
		}},
		{"azure-native:managedidentity:UserAssignedIdentity", "green-identity", map[string]string{"resourceName": q("slotless-" + hash + "-green-id")}},
		{"azure-native:storage:StorageAccount", "hostgreen", map[string]string{
			"allowSharedKeyAccess": "false", "allowBlobPublicAccess": "false", "minimumTlsVersion": `"TLS1_2"`, "sku.name": `"Standard_LRS"`}},
		{"azure-native:authorization:RoleAssignment", "green-host-blob-owner", map[string]string{
			"principalType":    `"ServicePrincipal"`,
			"scope":            q(hostGreenID),
			"roleDefinitionId": `"/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.Authorization/roleDefinitions/b7e6dc6d-f1e8-4753-8033-0f276bb0955b"`}},
		{"azure-native:authorization:RoleAssignment", "green-deploy-blob-contributor", map[string]string{
			"scope":            q(sharedID + "/blobServices/default/containers/app-package-green"),
			"roleDefinitionId": `"/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.Authorization/roleDefinitions/ba92f5b4-2d11-453d-a403-e96b0029c9fe"`}},
		{"azure-native:authorization:RoleAssignment", "blue-own-metrics-publisher", map[string]string{
			"roleDefinitionId": `"/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.Authorization/roleDefinitions/3913510d-42f4-4e42-8a64-420c390055eb"`}},
		{"azure-native:apimanagement:ApiManagementService", "apim", map[string]string{"sku.name": `"Consumption"`, "sku.capacity": "0", "publisherEmail": `"ops@example.com"`}},
		{"azure-native:apimanagement:Backend", "green-backend", map[string]string{
			"url": q("https://" + greenApp + ".azurewebsites.net/api"), "protocol": `"http"`,
			"credentials.header.x-functions-key[0]": `"{{green-function-key}}"`, "title": `"green slot"`,
			"tls.validateCertificateChain": "true", "tls.validateCertificateName": "true"}},
		{"azure-native:apimanagement:Backend", "green-blue-pool", map[string]string{"type": `"Pool"`, "pool.services[0].weight": "100", "pool.services[1].weight": "0"}},
		{"azure-native:apimanagement:NamedValue", "green-function-key", map[string]string{"secret": "true", "value": `"[secret]"`}},
		{"azure-native:apimanagement:NamedValue", "current-slot-name", map[string]string{"value": `"green-backend"`, "secret": "false"}},
		{"azure-native:apimanagement:Api", "api", map[string]string{"path": `"slotless"`, "protocols[0]": `"https"`, "subscriptionRequired": "true"}},
		{"azure-native:apimanagement:ApiOperation", "op-all-get", map[string]string{"urlTemplate": `"/*"`, "method": `"GET"`}},
		{"azure-native:apimanagement:ApiOperation", "op-all-post", map[string]string{"urlTemplate": `"/*"`, "method": `"POST"`}},
		{"azure-native:apimanagement:ApiOperation", "op-health", map[string]string{"urlTemplate": `"/health"`, "method": `"GET"`}},
		{"azure-native:apimanagement:ApiPolicy", "api-policy", map[string]string{"format": `"xml"`}},
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
	wantCounts := map[string]int{
		"azure-native:authorization:RoleAssignment": 18, "azure-native:apimanagement:Backend": 3, "azure-native:storage:StorageAccount": 4,
		"azure-native:apimanagement:NamedValue": 3, "azure-native:apimanagement:ApiOperation": 8,
		"azure-native:web:WebApp": 3, stack.ColourType: 2,
	}
	for typ, want := range wantCounts {
		if counts[typ] != want {
			t.Errorf("%s count: got %d, want %d", typ, counts[typ], want)
		}
	}
}

func TestPoolHasNoURLProtocolOrCircuitBreaker(t *testing.T) {
	pool := find(t, runPlan(t, nil), "azure-native:apimanagement:Backend", stack.PoolID)
	for _, k := range []string{"url", "protocol", "circuitBreaker"} {
		if _, ok := pool.Inputs[k]; ok {
			t.Errorf("pool has %s; APIM rejects it on a pool", k)
		}
	}
}

func TestPoolWeightsFollowConfig(t *testing.T) {
	tests := []struct {
		set         map[string]string
		green, blue string
		live        string
	}{
		{nil, "100", "0", "green"},
		{map[string]string{"blueWeight": "10"}, "90", "10", "green"},
		{map[string]string{"blueWeight": "50"}, "50", "50", "green"},
		{map[string]string{"blueWeight": "60", "greenWeight": "40"}, "40", "60", "blue"},
		{map[string]string{"blueWeight": "100"}, "0", "100", "blue"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.set), func(t *testing.T) {
			p := runPlan(t, tt.set)
			flat := plan.Flatten(find(t, p, "azure-native:apimanagement:Backend", stack.PoolID).Inputs)
			if flat["pool.services[0].weight"] != tt.green || flat["pool.services[1].weight"] != tt.blue {
				t.Errorf("weights: got green %v blue %v, want %v %v", flat["pool.services[0].weight"], flat["pool.services[1].weight"], tt.green, tt.blue)
			}
			if !strings.HasSuffix(flat["pool.services[0].id"], `/backends/green-backend"`) || !strings.HasSuffix(flat["pool.services[1].id"], `/backends/blue-backend"`) {
				t.Errorf("members: got %v and %v, want the green then blue single backends", flat["pool.services[0].id"], flat["pool.services[1].id"])
			}
			if p.Traffic.Live != tt.live {
				t.Errorf("live: got %v, want %v", p.Traffic.Live, tt.live)
			}
		})
	}
}

func TestCurrentSlotName(t *testing.T) {
	tests := []struct {
		blue   string
		value  string
		frozen bool
	}{
		{"0", "green-backend", false},
		{"10", "green-backend", true},
		{"90", "blue-backend", true},
		{"100", "blue-backend", false},
	}
	for _, tt := range tests {
		t.Run("blue "+tt.blue, func(t *testing.T) {
			nv := find(t, runPlan(t, map[string]string{"blueWeight": tt.blue}), "azure-native:apimanagement:NamedValue", stack.CurrentSlotNamedValue)
			if nv.Inputs["value"] != tt.value {
				t.Errorf("value: got %v, want %v", nv.Inputs["value"], tt.value)
			}
			frozen := len(nv.IgnoreChanges) == 1 && nv.IgnoreChanges[0] == "value"
			if frozen != tt.frozen {
				t.Errorf("ignoreChanges: got %v, want frozen=%v", nv.IgnoreChanges, tt.frozen)
			}
		})
	}
}

func TestPolicyRoutesToThePool(t *testing.T) {
	p := runPlan(t, nil)
	want, err := stack.RenderPolicy(stack.PolicyInput{PoolID: stack.PoolID, CORSOrigins: []string{"https://app.example.com"}, SubscriptionRequired: true})
	if err != nil {
		t.Fatal(err)
	}
	got := find(t, p, "azure-native:apimanagement:ApiPolicy", "api-policy").Inputs["value"]
	if got != want {
		t.Errorf("policy: got\n%v\nwant\n%v", got, want)
	}
	if !strings.Contains(want, `<set-backend-service backend-id="green-blue-pool" />`) {
		t.Errorf("policy does not route to the pool:\n%s", want)
	}
}

// TestFunctionKeysAreSecret checks at the engine boundary that each key reaches APIM only as a
// secret named value, and that the key appears nowhere else in plain text.
func TestFunctionKeysAreSecret(t *testing.T) {
	mocks, err := plan.Execute("test", config(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	secretValues := 0
	for _, r := range mocks.Recorded {
		if r.Type == "azure-native:apimanagement:NamedValue" && strings.HasSuffix(r.Name, "-function-key") {
			if !r.Inputs["value"].ContainsSecrets() {
				t.Errorf("%s value is not secret", r.Name)
			}
			if !r.Inputs["secret"].BoolValue() {
				t.Errorf("%s is not an APIM secret named value", r.Name)
			}
			secretValues++
			continue
		}
		if leak := findPlain(resource.NewObjectProperty(r.Inputs), "mock-function-key"); leak != "" {
			t.Errorf("%s %s carries a function key in plain text at %s", r.Type, r.Name, leak)
		}
	}
	if secretValues != 2 {
		t.Errorf("got %d function key named values, want 2", secretValues)
	}
}

func findPlain(v resource.PropertyValue, needle string) string {
	switch {
	case v.IsSecret(), v.IsOutput() && v.OutputValue().Secret:
		return ""
	case v.IsOutput():
		return findPlain(v.OutputValue().Element, needle)
	case v.IsString() && strings.Contains(v.StringValue(), needle):
		return v.StringValue()
	case v.IsArray():
		for _, e := range v.ArrayValue() {
			if s := findPlain(e, needle); s != "" {
				return s
			}
		}
	case v.IsObject():
		for k, e := range v.ObjectValue() {
			if s := findPlain(e, needle); s != "" {
				return string(k) + ": " + s
			}
		}
	}
	return ""
}

func TestFlexRejectedSettingsAreNeverSet(t *testing.T) {
	forbidden := []string{"FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION", "WEBSITE_RUN_FROM_PACKAGE",
		"WEBSITE_CONTENTSHARE", "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING", "SCM_DO_BUILD_DURING_DEPLOYMENT",
		"ENABLE_ORYX_BUILD", "WEBSITE_NODE_DEFAULT_VERSION", "APPINSIGHTS_INSTRUMENTATIONKEY"}
	p := runPlan(t, nil)
	for _, slot := range stack.Slots {
		app := find(t, p, "azure-native:web:WebApp", string(slot)+"-app")
		flat := plan.Flatten(app.Inputs)
		settings := map[string]string{}
		for path, v := range flat {
			if strings.HasPrefix(path, "siteConfig.appSettings[") && strings.HasSuffix(path, "].name") {
				value := flat[strings.TrimSuffix(path, "name")+"value"]
				settings[strings.Trim(v, `"`)] = strings.Trim(value, `"`)
			}
		}
		for _, f := range forbidden {
			if _, ok := settings[f]; ok {
				t.Errorf("%s sets %s", slot, f)
			}
		}
		for _, k := range []string{"alwaysOn", "linuxFxVersion", "use32BitWorkerProcess"} {
			if _, ok := flat["siteConfig."+k]; ok {
				t.Errorf("%s sets siteConfig.%s", slot, k)
			}
		}
		want := map[string]string{
			"SLOT_NAME": string(slot), "AzureWebJobsStorage__credential": "managedidentity",
			"AzureWebJobsStorage__clientId":         "client-id-of-slotless-" + hash + "-" + string(slot) + "-id",
			"APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=mock;IngestionEndpoint=https://slotless-" + hash + "-" + string(slot) + "-appi.in.applicationinsights.azure.com/",
		}
		for k, v := range want {
			if settings[k] != v {
				t.Errorf("%s %s: got %q, want %q", slot, k, settings[k], v)
			}
		}
	}
}

func TestReuseExistingAPIMAndResourceGroup(t *testing.T) {
	cfg := config(t, map[string]string{"apimName": "shared-apim", "apimResourceGroupName": "shared-rg", "publisherEmail": "<unset>", "resourceGroupName": "existing-rg"})
	mocks, err := plan.Execute("test", cfg)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := plan.Run("test", cfg)
	for _, r := range p.Resources {
		if r.Type == "azure-native:apimanagement:ApiManagementService" || r.Type == "azure-native:resources:ResourceGroup" {
			t.Errorf("got %s %s, want the existing one reused", r.Type, r.Name)
		}
		if strings.HasPrefix(r.Type, "azure-native:apimanagement:") && r.Inputs["resourceGroupName"] != "shared-rg" {
			t.Errorf("%s %s: got resourceGroupName %v, want shared-rg", r.Type, r.Name, r.Inputs["resourceGroupName"])
		}
		if strings.HasPrefix(r.Type, "azure-native:web:") && r.Inputs["resourceGroupName"] != "existing-rg" {
			t.Errorf("%s %s: got resourceGroupName %v, want existing-rg", r.Type, r.Name, r.Inputs["resourceGroupName"])
		}
	}
	looked := false
	for _, c := range mocks.Calls {
		looked = looked || c.Token == "azure-native:apimanagement:getApiManagementService"
	}
	if !looked {
		t.Error("got no getApiManagementService call, want the existing service looked up")
	}
}

func TestInvalidConfigRegistersNothing(t *testing.T) {
	mocks, err := plan.Execute("test", config(t, map[string]string{"blueWeight": "150"}))
	if err == nil || !strings.Contains(err.Error(), "blueWeight: 150 is out of range 0..100") {
		t.Fatalf("got %v, want the blueWeight range error", err)
	}
	if len(mocks.Recorded) != 0 {
		t.Fatalf("got %d resources registered, want none", len(mocks.Recorded))
	}
}

func TestColourChildrenAreParented(t *testing.T) {
	mocks, err := plan.Execute("test", config(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	children := 0
	for _, r := range mocks.Recorded {
		if strings.HasPrefix(r.Name, "green-") && (strings.Contains(r.Type, ":web:") || strings.Contains(r.Type, ":managedidentity:") || strings.Contains(r.Type, ":authorization:")) {
			children++
			if !strings.Contains(r.Parent, stack.ColourType+"::green") {
				t.Errorf("%s %s: got parent %q, want the green Colour component", r.Type, r.Name, r.Parent)
			}
		}
	}
	// identity, five role assignments, plan, app, the scm and ftp basic publishing policies
	if children != 10 {
		t.Errorf("got %d green children, want 10", children)
	}
}

func TestRerunChangesNothing(t *testing.T) {
	for _, blue := range []string{"0", "10", "100"} {
		a := runPlan(t, map[string]string{"blueWeight": blue})
		b := runPlan(t, map[string]string{"blueWeight": blue})
		if d := plan.Diff(a, b); len(d) != 0 {
			t.Errorf("blue %s: a second run changes %+v, want nothing", blue, d)
		}
	}
}

// TestBlastRadius checks what a traffic change touches, as `pulumi up` would see it: a shift
// changes only the pool; completing or rolling back a release changes only the pool and
// current-slot-name.
func TestBlastRadius(t *testing.T) {
	values := []int{0, 1, 10, 49, 50, 51, 90, 99, 100}
	plans := map[int]*plan.Plan{}
	for _, v := range values {
		plans[v] = runPlan(t, map[string]string{"blueWeight": fmt.Sprint(v)})
	}
	for _, from := range values {
		for _, to := range values {
			if from == to {
				continue
			}
			t.Run(fmt.Sprintf("%d->%d", from, to), func(t *testing.T) {
				allowed := map[string]bool{stack.PoolID: true}
				completes := to == 0 || to == 100
				if completes {
					allowed[stack.CurrentSlotNamedValue] = true
				}
				changes := plan.Diff(plans[from], plans[to])
				sawPool := false
				for _, c := range changes {
					if !allowed[c.Name] {
						t.Errorf("changes %s %s (%v), want only %v", c.Type, c.Name, c.Properties, allowed)
					}
					sawPool = sawPool || c.Name == stack.PoolID
				}
				if !sawPool {
					t.Errorf("got changes %v, want the pool among them", changes)
				}
				if !completes && len(changes) != 1 {
					t.Errorf("got %d changed resources, want exactly 1, the pool", len(changes))
				}
			})
		}
	}
}

func TestCircuitBreakerOnSingleBackendsOnly(t *testing.T) {
	tests := []struct {
		set  map[string]string
		want bool
	}{
		{nil, false}, // Consumption does not support circuit breakers
		{map[string]string{"apimSku": "StandardV2"}, true},
		{map[string]string{"apimSku": "Premium", "circuitBreakerFailures": "0"}, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.set), func(t *testing.T) {
			p := runPlan(t, tt.set)
			for _, slot := range stack.Slots {
				flat := plan.Flatten(find(t, p, "azure-native:apimanagement:Backend", slot.BackendID()).Inputs)
				_, got := flat["circuitBreaker.rules[0].failureCondition.count"]
				if got != tt.want {
					t.Errorf("%s breaker: got %v, want %v", slot, got, tt.want)
				}
				if got && flat["circuitBreaker.rules[0].failureCondition.statusCodeRanges[0].min"] != "500" {
					t.Errorf("%s breaker trips on %v, want 5xx", slot, flat["circuitBreaker.rules[0].failureCondition.statusCodeRanges[0].min"])
				}
			}
			if _, ok := find(t, p, "azure-native:apimanagement:Backend", stack.PoolID).Inputs["circuitBreaker"]; ok {
				t.Error("the pool has a circuit breaker; APIM rejects that")
			}
		})
	}
}

func TestPinTokenIsASecretNamedValue(t *testing.T) {
	const token = "pin-token-0123456789abcdef"
	mocks, err := plan.Execute("test", config(t, map[string]string{"pinToken": token}))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range mocks.Recorded {
		if r.Type == "azure-native:apimanagement:NamedValue" && r.Name == stack.PinTokenNamedValue {
			found = true
			if !r.Inputs["value"].ContainsSecrets() || !r.Inputs["secret"].BoolValue() {
				t.Errorf("pin token named value: got %v, want a secret value in a secret named value", r.Inputs)
			}
			continue
		}
		if leak := findPlain(resource.NewObjectProperty(r.Inputs), token); leak != "" {
			t.Errorf("%s %s carries the pin token in plain text at %s", r.Type, r.Name, leak)
		}
	}
	if !found {
		t.Fatal("no pin token named value")
	}
	p, _ := plan.Run("test", config(t, map[string]string{"pinToken": token}))
	policy := find(t, p, "azure-native:apimanagement:ApiPolicy", "api-policy").Inputs["value"].(string)
	if !strings.Contains(policy, "{{slotless-pin-token}}") || !strings.Contains(policy, `backend-id="blue-backend"`) {
		t.Errorf("policy does not pin with the token:\n%s", policy)
	}
	if none := find(t, runPlan(t, nil), "azure-native:apimanagement:ApiPolicy", "api-policy").Inputs["value"].(string); strings.Contains(none, "X-Slotless") {
		t.Errorf("pinning is on without a token:\n%s", none)
	}
}

// TestGlobalNamesAreGenerated: names global across Azure (storage account, app host names, a
// created API Management service) and tenant-wide (role assignments) are left to azure-native,
// which generates them from the logical name; the logical names keep the generated names valid;
// everything downstream reads the name outputs; storageAccountName still overrides.
func TestGlobalNamesAreGenerated(t *testing.T) {
	valid := map[string]*regexp.Regexp{
		"azure-native:storage:StorageAccount":             regexp.MustCompile(`^[a-z0-9]{3,24}$`),
		"azure-native:web:WebApp":                         regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9-]{0,58}[a-zA-Z0-9]$`),
		"azure-native:apimanagement:ApiManagementService": regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]{0,48}[a-zA-Z0-9]$`),
		"azure-native:authorization:RoleAssignment":       regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`),
	}
	p := runPlan(t, nil)
	seen := map[string]int{}
	for _, r := range p.Resources {
		re, global := valid[r.Type]
		if !global {
			continue
		}
		seen[r.Type]++
		key := plan.NameKey(r.Type)
		if v, ok := r.Inputs[key]; ok {
			t.Errorf("%s %s sets %s %v; want it left to azure-native", r.Type, r.Name, key, v)
		}
		// azure-native's name is the logical name plus eight hex characters (a GUID for a role
		// assignment); the mock gives one of the same shape.
		if name := plan.MockAutoName(r.Type, r.Name); !re.MatchString(name) {
			t.Errorf("%s %s: a generated name such as %q is not a valid name (%s); choose a logical name that keeps it valid", r.Type, r.Name, name, re)
		}
	}
	for typ, want := range map[string]int{"azure-native:storage:StorageAccount": 4, "azure-native:web:WebApp": 3, "azure-native:apimanagement:ApiManagementService": 1, "azure-native:authorization:RoleAssignment": 18} {
		if seen[typ] != want {
			t.Errorf("%s: got %d, want %d", typ, seen[typ], want)
		}
	}

	// Downstream reads the generated names.
	apim := plan.MockAutoName("azure-native:apimanagement:ApiManagementService", "apim")
	if got := find(t, p, "azure-native:storage:BlobContainer", "deploy-green").Inputs["accountName"]; got != storageName {
		t.Errorf("container accountName: got %v, want the account's name output %v", got, storageName)
	}
	if got := find(t, p, "azure-native:apimanagement:Backend", stack.PoolID).Inputs["serviceName"]; got != apim {
		t.Errorf("pool serviceName: got %v, want the service's name output %v", got, apim)
	}

	// Names scoped to a resource group are still derived, so they are known before any up.
	for _, tt := range []struct{ typ, name, key, want string }{
		{"azure-native:resources:ResourceGroup", "rg", "resourceGroupName", "slotless-test-rg"},
		{"azure-native:web:AppServicePlan", "green-plan", "name", "slotless-" + hash + "-green-plan"},
		{"azure-native:managedidentity:UserAssignedIdentity", "blue-identity", "resourceName", "slotless-" + hash + "-blue-id"},
		{"azure-native:operationalinsights:Workspace", "logs", "workspaceName", "slotless-" + hash + "-logs"},
	} {
		if got := find(t, p, tt.typ, tt.name).Inputs[tt.key]; got != tt.want {
			t.Errorf("%s %s: got %v, want %v", tt.typ, tt.name, got, tt.want)
		}
	}

	over := runPlan(t, map[string]string{"storageAccountName": "stteam01"})
	if got := find(t, over, "azure-native:storage:StorageAccount", "storage").Inputs["accountName"]; got != "stteam01" {
		t.Errorf("with storageAccountName: got accountName %v, want stteam01", got)
	}
	if got := find(t, over, "azure-native:storage:BlobContainer", "deploy-blue").Inputs["accountName"]; got != "stteam01" {
		t.Errorf("with storageAccountName: got container accountName %v, want stteam01", got)
	}
}

// TestAPIMChildIDs: in a service the stack creates, the children's ids are the plain ones; in a
// reused service each is scoped by apiPath, named values by display name too, and everything
// that refers to one (backend credentials, the pool's members, the policy, the function key
// lookup) uses the scoped id. Logical names never change, and current-slot-name's value is the
// plain backend id either way.
func TestAPIMChildIDs(t *testing.T) {
	const token = "pin-token-0123456789abcdef"
	reuse := map[string]string{"apimName": "shared-apim", "apimResourceGroupName": "shared-rg", "apiPath": "orders/v1", "pinToken": token}
	tests := []struct {
		name  string
		set   map[string]string
		scope string
		api   string
	}{
		{"created service", map[string]string{"pinToken": token}, "", "slotless"},
		{"reused service", reuse, "orders.v1-", "orders.v1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config(t, tt.set)
			p, err := plan.Run("test", cfg)
			if err != nil {
				t.Fatal(err)
			}
			ids := map[[2]string]string{
				{"azure-native:apimanagement:Backend", "green-backend"}:                "backendId",
				{"azure-native:apimanagement:Backend", "blue-backend"}:                 "backendId",
				{"azure-native:apimanagement:Backend", stack.PoolID}:                   "backendId",
				{"azure-native:apimanagement:NamedValue", stack.CurrentSlotNamedValue}: "namedValueId",
				{"azure-native:apimanagement:NamedValue", "green-function-key"}:        "namedValueId",
				{"azure-native:apimanagement:NamedValue", "blue-function-key"}:         "namedValueId",
				{"azure-native:apimanagement:NamedValue", stack.PinTokenNamedValue}:    "namedValueId",
			}
			for k, key := range ids {
				r := find(t, p, k[0], k[1])
				if want := tt.scope + k[1]; r.Inputs[key] != want {
					t.Errorf("%s %s: got %s %v, want %v", k[0], k[1], key, r.Inputs[key], want)
				}
				if k[0] == "azure-native:apimanagement:NamedValue" && r.Inputs["displayName"] != r.Inputs[key] {
					t.Errorf("%s: got displayName %v, want it equal to its id %v (references are by display name)", k[1], r.Inputs["displayName"], r.Inputs[key])
				}
			}
			if got := find(t, p, "azure-native:apimanagement:Api", "api").Inputs["apiId"]; got != tt.api {
				t.Errorf("api id: got %v, want %v", got, tt.api)
			}
			for _, r := range p.Resources {
				if (r.Type == "azure-native:apimanagement:ApiOperation" || r.Type == "azure-native:apimanagement:ApiPolicy") && r.Inputs["apiId"] != tt.api {
					t.Errorf("%s %s: got apiId %v, want %v", r.Type, r.Name, r.Inputs["apiId"], tt.api)
				}
			}
			green := plan.Flatten(find(t, p, "azure-native:apimanagement:Backend", "green-backend").Inputs)
			if want := q("{{" + tt.scope + "green-function-key}}"); green["credentials.header.x-functions-key[0]"] != want {
				t.Errorf("green credentials: got %v, want %v", green["credentials.header.x-functions-key[0]"], want)
			}
			pool := plan.Flatten(find(t, p, "azure-native:apimanagement:Backend", stack.PoolID).Inputs)
			if !strings.HasSuffix(pool["pool.services[1].id"], "/backends/"+tt.scope+`blue-backend"`) {
				t.Errorf("pool member: got %v, want the blue backend %sblue-backend", pool["pool.services[1].id"], tt.scope)
			}
			policy := find(t, p, "azure-native:apimanagement:ApiPolicy", "api-policy").Inputs["value"].(string)
			for _, want := range []string{`backend-id="` + tt.scope + `green-blue-pool"`, `backend-id="` + tt.scope + `blue-backend"`, "{{" + tt.scope + "slotless-pin-token}}"} {
				if !strings.Contains(policy, want) {
					t.Errorf("policy lacks %s:\n%s", want, policy)
				}
			}
			if got := find(t, p, "azure-native:apimanagement:NamedValue", stack.CurrentSlotNamedValue).Inputs["value"]; got != "green-backend" {
				t.Errorf("current-slot-name value: got %v, want green-backend", got)
			}

			mocks, err := plan.Execute("test", cfg)
			if err != nil {
				t.Fatal(err)
			}
			var looked []string
			for _, c := range mocks.Calls {
				if c.Token == "azure-native:apimanagement:getNamedValue" {
					looked = append(looked, c.Args["namedValueId"].StringValue())
				}
			}
			slices.Sort(looked)
			looked = slices.Compact(looked)
			if want := []string{tt.scope + "blue-function-key", tt.scope + "green-function-key"}; !slices.Equal(looked, want) {
				t.Errorf("function key lookups: got %v, want %v", looked, want)
			}
		})
	}
}

// TestRuntimeFollowsConfig: both apps run the configured language stack, the same one, and the
// default is the sample's custom handler.
func TestRuntimeFollowsConfig(t *testing.T) {
	for _, tt := range []struct {
		set           map[string]string
		name, version string
	}{
		{nil, "custom", "1.0"},
		{map[string]string{"functionRuntime": "node", "functionRuntimeVersion": "20"}, "node", "20"},
		{map[string]string{"functionRuntime": "dotnet-isolated"}, "dotnet-isolated", "8.0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := runPlan(t, tt.set)
			for _, app := range []string{"green-app", "blue-app"} {
				flat := plan.Flatten(find(t, p, "azure-native:web:WebApp", app).Inputs)
				if got, want := flat["functionAppConfig.runtime.name"]+" "+flat["functionAppConfig.runtime.version"], fmt.Sprintf("%q %q", tt.name, tt.version); got != want {
					t.Errorf("%s runtime: got %s, want %s", app, got, want)
				}
			}
		})
	}
}

// TestAPISurfaceFollowsConfig: without apiSpec the API passes every method on /* through and
// keeps its health operation; with one, API Management imports the document (format and
// value), with the health operation added when it lacks one, and no operation is declared
// apart, since a re-import deletes every operation the document lacks.
func TestAPISurfaceFollowsConfig(t *testing.T) {
	t.Run("passthrough", func(t *testing.T) {
		p := runPlan(t, map[string]string{"healthPath": "/status"})
		flat := plan.Flatten(find(t, p, "azure-native:apimanagement:Api", "api").Inputs)
		if flat["format"] != "" || flat["value"] != "" {
			t.Errorf("api: got format %s value %.40s, want neither", flat["format"], flat["value"])
		}
		health := plan.Flatten(find(t, p, "azure-native:apimanagement:ApiOperation", "op-health").Inputs)
		if health["urlTemplate"] != `"/status"` || health["method"] != `"GET"` {
			t.Errorf("health operation: got %s %s, want GET /status", health["method"], health["urlTemplate"])
		}
	})
	t.Run("apiSpec", func(t *testing.T) {
		cfg := config(t, map[string]string{"apiSpec": "functionapp/openapi.yaml"})
		cfg.Root = ".."
		p, err := plan.Run("test", cfg)
		if err != nil {
			t.Fatal(err)
		}
		flat := plan.Flatten(find(t, p, "azure-native:apimanagement:Api", "api").Inputs)
		if flat["format"] != `"openapi+json"` || !strings.Contains(flat["value"], "listOrders") || !strings.Contains(flat["value"], `\"/health\"`) {
			t.Errorf("api: got format %s value %.80s, want the sample's document as openapi+json", flat["format"], flat["value"])
		}
		for _, r := range p.Resources {
			if r.Type == "azure-native:apimanagement:ApiOperation" {
				t.Errorf("declared operation %s next to an imported document", r.Name)
			}
		}
	})
}

// TestBadAPISpecFailsThePlan: a document that is missing, does not parse, or routes the
// health path to another operation fails the plan, as it fails pulumi up, naming apiSpec.
func TestBadAPISpecFailsThePlan(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return name
	}
	tests := []struct{ spec, want string }{
		{"missing.yaml", "apiSpec: open"},
		{write("broken.yaml", "openapi: 3.0.3\npaths: [\n"), "apiSpec: broken.yaml: not an OpenAPI document"},
		{write("greedy.yaml", "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /{page}:\n    get:\n      parameters: [{name: page, in: path, required: true, schema: {type: string}}]\n      responses: {'200': {description: ok}}\n"),
			"GET /{page} would route the health path /health elsewhere"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			cfg := config(t, map[string]string{"apiSpec": tt.spec})
			cfg.Root = dir
			_, err := plan.Run("test", cfg)
			var ce *plan.ConfigError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("plan: got %v, want a config error containing %q", err, tt.want)
			}
			// The program itself, as pulumi up and preview run it, refuses before registering.
			m, err := plan.Execute("test", cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) || len(m.Recorded) != 0 {
				t.Errorf("program: got %v with %d resources, want an error containing %q and none", err, len(m.Recorded), tt.want)
			}
		})
	}
}

// TestReleaseAccess: releasePrincipalId gets custom roles with exactly the release commands'
// actions: reads, the deployment host and the gate's query at the stack's resource group (and at
// a reused API Management service that lives elsewhere); the writes of traffic only on the pool
// and current-slot-name; the reading of the keys only on the two key named values. The apps'
// settings are never among them, and a site write (with the linked actions it needs) only with
// always-ready instances. Without the key nothing is granted.
func TestReleaseAccess(t *testing.T) {
	const principal = "6f1f2a8e-3c1b-4b8e-9a51-2d7c4e0b9f10"
	const releaseSubnet = "/subscriptions/" + plan.MockSubscription + "/resourceGroups/network-rg/providers/Microsoft.Network/virtualNetworks/orders-vnet/subnets/functions"
	group := "/subscriptions/" + plan.MockSubscription + "/resourceGroups/slotless-test-rg"
	for _, tt := range []struct {
		name      string
		overrides map[string]string
		scopes    []string // the main role's assignable and assignment scopes
		service   string   // the service the child scopes are under
		siteWrite bool
		subnet    string // the subnet a site write names, where the network role is assigned
	}{
		{"none", nil, nil, "", false, ""},
		{"own service", map[string]string{"releasePrincipalId": strings.ToUpper(principal)}, []string{group}, group + "/providers/Microsoft.ApiManagement/service/", false, ""},
		{"always ready", map[string]string{"releasePrincipalId": principal, "alwaysReadyInstances": "1"}, []string{group}, group + "/providers/Microsoft.ApiManagement/service/", true, ""},
		{"always ready in a subnet", map[string]string{"releasePrincipalId": principal, "alwaysReadyInstances": "1", "virtualNetworkSubnetId": releaseSubnet},
			[]string{group}, group + "/providers/Microsoft.ApiManagement/service/", true, releaseSubnet},
		{"a subnet without always-ready instances", map[string]string{"releasePrincipalId": principal, "virtualNetworkSubnetId": releaseSubnet},
			[]string{group}, group + "/providers/Microsoft.ApiManagement/service/", false, ""},
		{"reused service elsewhere", map[string]string{"releasePrincipalId": principal, "apimName": "shared-apim", "apimResourceGroupName": "shared-rg", "publisherEmail": "<unset>"},
			[]string{group, "/subscriptions/" + plan.MockSubscription + "/resourceGroups/shared-rg/providers/Microsoft.ApiManagement/service/shared-apim"},
			"/subscriptions/" + plan.MockSubscription + "/resourceGroups/shared-rg/providers/Microsoft.ApiManagement/service/shared-apim", false, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := runPlan(t, tt.overrides)
			// The child ids, as the program declared them (scoped on a reused service).
			childIDs := map[string]string{}
			roles, assignments := map[string]map[string]string{}, map[string]map[string]string{}
			for _, r := range p.Resources {
				switch {
				case r.Type == "azure-native:apimanagement:Backend":
					childIDs[r.Name] = strings.Trim(plan.Flatten(r.Inputs)["backendId"], `"`)
				case r.Type == "azure-native:apimanagement:NamedValue":
					childIDs[r.Name] = strings.Trim(plan.Flatten(r.Inputs)["namedValueId"], `"`)
				case r.Type == "azure-native:apimanagement:Subscription":
					childIDs[r.Name] = plan.MockAutoName(r.Type, r.Name)
				case r.Type == "azure-native:authorization:RoleDefinition" && strings.HasPrefix(r.Name, "release-"):
					roles[r.Name] = plan.Flatten(r.Inputs)
				case r.Type == "azure-native:authorization:RoleAssignment" && strings.HasPrefix(r.Name, "release-"):
					assignments[r.Name] = plan.Flatten(r.Inputs)
				}
			}
			if tt.scopes == nil {
				if len(roles)+len(assignments) != 0 {
					t.Fatalf("got %d roles and %d assignments, want none without releasePrincipalId", len(roles), len(assignments))
				}
				return
			}
			actionsOf := func(role map[string]string) []string {
				var out []string
				for i := 0; ; i++ {
					a, ok := role[fmt.Sprintf("permissions[0].actions[%d]", i)]
					if !ok {
						return out
					}
					out = append(out, strings.Trim(a, `"`))
				}
			}
			for name, role := range roles {
				for _, a := range actionsOf(role) {
					if strings.HasPrefix(a, "Microsoft.Web/sites/config") || strings.HasPrefix(a, "Microsoft.Authorization/") || strings.HasPrefix(a, "Microsoft.Storage/") ||
						strings.Contains(a, "/apis/") || strings.Contains(a, "*/write") || a == "*" {
						t.Errorf("%s action %s: the release identity must not change settings, storage, roles or the API", name, a)
					}
					if strings.Contains(a, "/query/") && strings.Contains(a, "*") {
						t.Errorf("%s action %s: the release identity reads the gate's tables, not every table of the workspace", name, a)
					}
				}
				for i, want := range tt.scopes {
					if got := role[fmt.Sprintf("assignableScopes[%d]", i)]; got != q(want) {
						t.Errorf("%s assignable scope %d: got %s, want %s", name, i, got, q(want))
					}
				}
			}
			main := actionsOf(roles["release-role"])
			for _, want := range []string{"Microsoft.ApiManagement/service/backends/read", "Microsoft.Web/sites/publish/Action", "Microsoft.OperationalInsights/workspaces/query/read",
				"Microsoft.OperationalInsights/workspaces/query/AppRequests/read", "Microsoft.ApiManagement/service/tenant/operationResults/read"} {
				if !slices.Contains(main, want) {
					t.Errorf("main role actions %v lack %s", main, want)
				}
			}
			for _, never := range []string{"Microsoft.ApiManagement/service/backends/write", "Microsoft.ApiManagement/service/namedValues/write", "Microsoft.ApiManagement/service/namedValues/listValue/action"} {
				if slices.Contains(main, never) {
					t.Errorf("main role holds %s where the group or the service is its scope", never)
				}
			}
			// A site PUT names the slot's identity and plan: ARM's linked access check.
			for _, a := range []string{"Microsoft.Web/sites/write", "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action", "Microsoft.Web/serverFarms/join/action"} {
				if got := slices.Contains(main, a); got != tt.siteWrite {
					t.Errorf("%s: got %v, want %v", a, got, tt.siteWrite)
				}
			}
			if got := actionsOf(roles["release-traffic-role"]); !slices.Equal(got, []string{"Microsoft.ApiManagement/service/backends/write", "Microsoft.ApiManagement/service/namedValues/write"}) {
				t.Errorf("traffic role: got %v", got)
			}
			// The keys of the slots, and the watcher's subscription key (the watcher is on, and
			// the API requires a key, by default), each read on its own resource alone.
			if got := actionsOf(roles["release-keys-role"]); !slices.Equal(got, []string{"Microsoft.ApiManagement/service/namedValues/listValue/action", "Microsoft.ApiManagement/service/subscriptions/listSecrets/action"}) {
				t.Errorf("keys role: got %v", got)
			}
			want := map[string]string{
				"release-traffic-pool":              "/backends/" + childIDs[stack.PoolID],
				"release-traffic-current":           "/namedValues/" + childIDs[stack.CurrentSlotNamedValue],
				"release-keys-green":                "/namedValues/" + childIDs["green-function-key"],
				"release-keys-blue":                 "/namedValues/" + childIDs["blue-function-key"],
				"release-keys-watcher-subscription": "/subscriptions/" + childIDs["watcher-subscription"],
			}
			for i, scope := range tt.scopes {
				want[[]string{"release-group", "release-service"}[i]] = scope
			}
			if tt.subnet != "" {
				want["release-network-subnet"] = tt.subnet
				if got := actionsOf(roles["release-network-role"]); !slices.Equal(got, []string{"Microsoft.Network/virtualNetworks/subnets/join/action"}) {
					t.Errorf("network role: got %v", got)
				}
			}
			if len(assignments) != len(want) {
				t.Errorf("assignments: got %d, want %d", len(assignments), len(want))
			}
			for name, suffix := range want {
				a, ok := assignments[name]
				scope := strings.Trim(a["scope"], `"`)
				switch {
				case !ok:
					t.Errorf("no assignment %s", name)
					continue
				case name != "release-group" && name != "release-service" && name != "release-network-subnet":
					if !strings.HasPrefix(scope, tt.service) || !strings.HasSuffix(scope, suffix) {
						t.Errorf("assignment %s: scope %s, want one under %s ending %s", name, scope, tt.service, suffix)
					}
				case scope != suffix:
					t.Errorf("assignment %s: scope %s, want %s", name, scope, suffix)
				}
				if a["principalId"] != q(principal) || a["principalType"] != q("ServicePrincipal") ||
					!strings.HasPrefix(a["roleDefinitionId"], q("/subscriptions/" + plan.MockSubscription + "/providers/Microsoft.Authorization/roleDefinitions/")[:60]) {
					t.Errorf("assignment %s: got %v, want %s with a release role", name, a, principal)
				}
			}
		})
	}
}

func TestReleasePrincipalIDMustBeAGUID(t *testing.T) {
	_, err := plan.Run("test", config(t, map[string]string{"releasePrincipalId": "release-bot"}))
	if err == nil || !strings.Contains(err.Error(), `releasePrincipalId: "release-bot"`) || !strings.Contains(err.Error(), "an Entra object id: a GUID") {
		t.Fatalf("got %v, want an error naming releasePrincipalId and what it takes", err)
	}
}

// TestHostStorageFollowsConfig: each slot's host storage (AzureWebJobsStorage) is its own
// account, and its identity has data roles on that account and on its own deployment container
// only; a slot sharedHostStorage lists keeps the shared account and its account-wide roles there.
func TestHostStorageFollowsConfig(t *testing.T) {
	hostBlue := accounts + plan.MockAutoName("azure-native:storage:StorageAccount", "hostblue")
	for _, tt := range []struct {
		name      string
		overrides map[string]string
		host      map[string]string // slot -> account id its host storage is in
	}{
		{"default: each its own", nil, map[string]string{"green": hostGreenID, "blue": hostBlue}},
		{"green still shared", map[string]string{"sharedHostStorage": `["green"]`}, map[string]string{"green": sharedID, "blue": hostBlue}},
		{"both still shared", map[string]string{"sharedHostStorage": `["blue","green"]`}, map[string]string{"green": sharedID, "blue": sharedID}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := runPlan(t, tt.overrides)
			for slot, hostID := range tt.host {
				account := hostID[strings.LastIndex(hostID, "/")+1:]
				settings := plan.Flatten(find(t, p, "azure-native:web:WebApp", slot+"-app").Inputs)
				for i := 0; ; i++ {
					name, ok := settings[fmt.Sprintf("siteConfig.appSettings[%d].name", i)]
					if !ok {
						break
					}
					value := settings[fmt.Sprintf("siteConfig.appSettings[%d].value", i)]
					if strings.HasPrefix(name, `"AzureWebJobsStorage__`) && strings.HasSuffix(name, `ServiceUri"`) && !strings.Contains(value, "://"+account+".") {
						t.Errorf("%s %s: got %s, want the account %s", slot, name, value, account)
					}
				}
				// Every storage role of the slot's identity, by scope.
				var scopes []string
				for _, r := range p.Resources {
					in := plan.Flatten(r.Inputs)
					if r.Type == "azure-native:authorization:RoleAssignment" && strings.HasPrefix(r.Name, slot+"-") && strings.Contains(in["scope"], "Microsoft.Storage") {
						scopes = append(scopes, strings.Trim(in["scope"], `"`)+" "+r.Name)
					}
				}
				slices.Sort(scopes)
				container := sharedID + "/blobServices/default/containers/app-package-" + slot
				own := accounts + plan.MockAutoName("azure-native:storage:StorageAccount", "host"+slot)
				want := []string{container + " " + slot + "-deploy-blob-contributor", own + " " + slot + "-host-blob-owner", own + " " + slot + "-host-queue-contributor", own + " " + slot + "-host-table-contributor"}
				if hostID == sharedID {
					want = append(want, sharedID+" "+slot+"-blob-owner", sharedID+" "+slot+"-queue-contributor", sharedID+" "+slot+"-table-contributor")
				}
				slices.Sort(want)
				if !slices.Equal(scopes, want) {
					t.Errorf("%s's storage roles:\ngot  %v\nwant %v", slot, scopes, want)
				}
				// The key's named value names the host storage the key comes from.
				tags := plan.Flatten(find(t, p, "azure-native:apimanagement:NamedValue", slot+"-function-key").Inputs)
				if got := tags["tags[1]"]; got != q("host-"+account) {
					t.Errorf("%s-function-key tags[1]: got %s, want %s", slot, got, q("host-"+account))
				}
			}
		})
	}
}
