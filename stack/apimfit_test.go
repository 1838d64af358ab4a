package stack_test

import (
	"encoding/xml"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/slotless/slotless/internal/plan"
	"github.com/slotless/slotless/stack"
)

// corsPolicy is the cors element of a rendered API policy.
type corsPolicy struct {
	Inbound struct {
		CORS []struct {
			Methods []string `xml:"allowed-methods>method"`
			Headers []string `xml:"allowed-headers>header"`
		} `xml:"cors"`
	} `xml:"inbound"`
}

// TestAPIMFitFollowsConfig: the API's display name, its products, the backends' route prefix,
// the CORS policy's methods and headers and a created service's minimum API version, each as
// the stack file says, with the defaults of the stack before they were keys.
func TestAPIMFitFollowsConfig(t *testing.T) {
	green := "https://" + greenApp + ".azurewebsites.net"
	tests := []struct {
		name     string
		set      map[string]string
		display  string
		products []string
		url      string
		methods  []string
		headers  []string
	}{
		{"defaults", nil, "slotless", nil, green + "/api", []string{"GET", "OPTIONS"}, []string{"Content-Type", "Authorization", "Ocp-Apim-Subscription-Key"}},
		{"a team's API", map[string]string{
			"apiDisplayName": "Orders & Payments", "apimProductIds": `["starter", "partners"]`, "routePrefix": "",
			"corsMethods": `["GET", "POST", "DELETE"]`, "corsHeaders": `["Content-Type", "X-Request-Id"]`,
		}, "Orders & Payments", []string{"partners", "starter"}, green, []string{"GET", "POST", "DELETE"}, []string{"Content-Type", "X-Request-Id", "Ocp-Apim-Subscription-Key"}},
		{"a nested prefix, any method and header, no subscription", map[string]string{
			"routePrefix": "v1/functions", "corsMethods": `["*"]`, "corsHeaders": `["*"]`, "subscriptionRequired": "false",
		}, "slotless", nil, green + "/v1/functions", []string{"*"}, []string{"*"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config(t, tt.set)
			mocks, err := plan.Execute("test", cfg)
			if err != nil {
				t.Fatal(err)
			}
			p, err := plan.Run("test", cfg)
			if err != nil {
				t.Fatal(err)
			}
			api := find(t, p, "azure-native:apimanagement:Api", "api")
			if api.Inputs["displayName"] != tt.display {
				t.Errorf("api displayName: got %v, want %q", api.Inputs["displayName"], tt.display)
			}
			if got := find(t, p, "azure-native:apimanagement:Backend", "green-backend").Inputs["url"]; got != tt.url {
				t.Errorf("green backend url: got %v, want %s", got, tt.url)
			}

			var products []string
			var policyURN string
			for _, r := range mocks.Recorded {
				if r.Type == "azure-native:apimanagement:ApiPolicy" {
					policyURN = urnOf(r)
				}
			}
			for _, r := range mocks.Recorded {
				if r.Type != "azure-native:apimanagement:ProductApi" {
					continue
				}
				id := r.Inputs["productId"].StringValue()
				products = append(products, id)
				if r.Name != "product-"+id || r.Inputs["apiId"].StringValue() != api.Inputs["apiId"] || r.Inputs["serviceName"].StringValue() != api.Inputs["serviceName"] {
					t.Errorf("product link %s: got %v, want product %s of the API %v in its service", r.Name, r.Inputs, id, api.Inputs["apiId"])
				}
				if !slices.Contains(r.DependsOn, policyURN) {
					t.Errorf("product link %s depends on %v, want the API policy %s: subscribers must not reach the API before it routes to the pool", r.Name, r.DependsOn, policyURN)
				}
			}
			slices.Sort(products)
			if !slices.Equal(products, tt.products) {
				t.Errorf("products: got %v, want %v", products, tt.products)
			}

			var doc corsPolicy
			policy := find(t, p, "azure-native:apimanagement:ApiPolicy", "api-policy").Inputs["value"].(string)
			if err := xml.Unmarshal([]byte(policy), &doc); err != nil || len(doc.Inbound.CORS) != 1 {
				t.Fatalf("policy: %v, want one cors element:\n%s", err, policy)
			}
			if c := doc.Inbound.CORS[0]; !slices.Equal(c.Methods, tt.methods) || !slices.Equal(c.Headers, tt.headers) {
				t.Errorf("cors: got methods %v headers %v, want %v and %v", c.Methods, c.Headers, tt.methods, tt.headers)
			}

			flat := plan.Flatten(find(t, p, "azure-native:apimanagement:ApiManagementService", "apim").Inputs)
			if got := flat["apiVersionConstraint.minApiVersion"]; got != q(stack.MinAPIVersion) {
				t.Errorf("created service's minApiVersion: got %v, want %s", got, stack.MinAPIVersion)
			}
		})
	}
}

// urnOf is the URN the mock engine gives a recorded registration of the "test" stack.
func urnOf(r plan.Recorded) string {
	return "urn:pulumi:test::slotless::" + r.Type + "::" + r.Name
}

// TestReusedServiceTier: with apimName the program reads the service's tier and decides the
// backends' circuit breakers by it; a set apimSku that disagrees fails the update, naming both,
// and so does a breaker on a Consumption service. Nothing is registered then.
func TestReusedServiceTier(t *testing.T) {
	reuse := map[string]string{"apimName": "shared-apim", "apimResourceGroupName": "shared-rg", "publisherEmail": "<unset>"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range reuse {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name    string
		set     map[string]string
		tier    string // what the service reports
		breaker bool
		err     string
	}{
		{"a Consumption service", reuse, "Consumption", false, ""},
		{"a Premium service", reuse, "Premium", true, ""},
		{"a Premium service, breaker off", with(map[string]string{"circuitBreakerFailures": "0"}), "Premium", false, ""},
		{"a claim that agrees", with(map[string]string{"apimSku": "Premium"}), "Premium", true, ""},
		{"a claim that disagrees", with(map[string]string{"apimSku": "Premium"}), "BasicV2", false,
			`apimSku: "Premium" disagrees with apimName "shared-apim", which is of the BasicV2 tier`},
		{"a breaker on a Consumption service", with(map[string]string{"circuitBreakerFailures": "5"}), "Consumption", false,
			`circuitBreakerFailures: 5 is not allowed: apimName "shared-apim" is of the Consumption tier`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config(t, tt.set)
			m := &plan.Mocks{ServiceSKU: tt.tier}
			err := pulumi.RunErr(stack.ProgramBy(stack.Mover{By: stack.ByPulumiUp, At: at}), pulumi.WithMocks("slotless", "test", m), func(info *pulumi.RunInfo) {
				info.Config = cfg.Values
				info.ConfigSecretKeys = cfg.Secrets
			})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want %q", err, tt.err)
				}
				if len(m.Recorded) != 0 {
					t.Errorf("registered %d resources after the refusal, want none", len(m.Recorded))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range m.Recorded {
				if r.Type != "azure-native:apimanagement:Backend" || r.Name == stack.PoolID {
					continue
				}
				if _, got := r.Inputs["circuitBreaker"]; got != tt.breaker {
					t.Errorf("%s circuit breaker: got %v, want %v on a %s service", r.Name, got, tt.breaker, tt.tier)
				}
			}
		})
	}
}

// TestPlanSaysWhatItAssumes: an offline plan cannot read a reused service's tier; it plans with
// apimSku when set, else with the Consumption tier, and says which.
func TestPlanSaysWhatItAssumes(t *testing.T) {
	reuse := map[string]string{"apimName": "shared-apim", "apimResourceGroupName": "shared-rg", "publisherEmail": "<unset>"}
	tests := []struct {
		name    string
		set     map[string]string
		says    string
		breaker bool
	}{
		{"created service", nil, "", false},
		{"reused, no claim", reuse, "apimName shared-apim: its tier is read from the service when the program runs on Azure; this plan takes it to be Consumption (set apimSku to plan another)", false},
		{"reused, claimed", map[string]string{"apimName": "shared-apim", "apimResourceGroupName": "shared-rg", "publisherEmail": "<unset>", "apimSku": "StandardV2"},
			"this plan takes it to be StandardV2 (apimSku says so)", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := runPlan(t, tt.set)
			got := strings.Join(p.Assumptions, "\n")
			if (tt.says == "") != (got == "") || !strings.Contains(got, tt.says) {
				t.Errorf("assumptions: got %q, want %q", got, tt.says)
			}
			if _, has := find(t, p, "azure-native:apimanagement:Backend", "green-backend").Inputs["circuitBreaker"]; has != tt.breaker {
				t.Errorf("green circuit breaker: got %v, want %v", has, tt.breaker)
			}
		})
	}
}
