package stack

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// source builds a config Source from a base that creates a stack, plus overrides; a value of
// "<unset>" removes a key.
func source(overrides map[string]string) Source {
	m := map[string]string{
		"azure-native:location": "westeurope",
		"publisherEmail":        "ops@example.com",
	}
	for k, v := range overrides {
		if v == "<unset>" {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		name  string
		set   map[string]string
		check func(c *Config) bool
	}{
		{"defaults", nil, func(c *Config) bool {
			return c.Weights == Weights{100, 0} && c.Prefix == "slotless" && c.MaximumInstanceCount == 100 &&
				c.InstanceMemoryMB == 2048 && c.APIM.SKU == "Consumption" && c.APIM.Capacity == 0 &&
				c.API.Path == "slotless" && c.API.SubscriptionRequired && c.API.CORSOrigins == nil && c.LogRetentionDays == 30
		}},
		{"canary", map[string]string{"blueWeight": "10"}, func(c *Config) bool { return c.Weights == Weights{90, 10} }},
		{"both weights agreeing", map[string]string{"blueWeight": "30", "greenWeight": "70"}, func(c *Config) bool { return c.Weights == Weights{70, 30} }},
		{"space around integer", map[string]string{"blueWeight": " 50 "}, func(c *Config) bool { return c.Weights.Blue == 50 }},
		{"display-name location", map[string]string{"azure-native:location": "West Europe"}, func(c *Config) bool { return c.Location == "westeurope" }},
		{"developer sku gets capacity 1", map[string]string{"apimSku": "Developer"}, func(c *Config) bool { return c.APIM.Capacity == 1 }},
		{"reuse apim needs no email", map[string]string{"apimName": "shared-apim", "apimResourceGroupName": "shared-rg", "publisherEmail": "<unset>"}, func(c *Config) bool {
			return c.APIM.Reuse() && c.APIM.ExistingResourceGroup == "shared-rg"
		}},
		{"cors list normalised", map[string]string{"corsOrigins": `["https://a.example.com/", "https://a.example.com", "http://localhost:3000"]`}, func(c *Config) bool {
			return strings.Join(c.API.CORSOrigins, " ") == "https://a.example.com http://localhost:3000"
		}},
		{"cors wildcard when configured", map[string]string{"corsOrigins": `["*"]`}, func(c *Config) bool { return c.API.CORSOrigins[0] == "*" }},
		{"pinning and breaker on a v2 tier", map[string]string{"pinToken": "0123456789abcdef", "apimSku": "StandardV2", "circuitBreakerFailures": "5", "circuitBreakerInterval": "PT30S"}, func(c *Config) bool {
			return c.PinToken == "0123456789abcdef" && c.CircuitBreaker == CircuitBreakerConfig{Failures: 5, Interval: "PT30S", TripDuration: "PT1M"}
		}},
		{"breaker on by default off Consumption", map[string]string{"apimSku": "Premium"}, func(c *Config) bool { return c.CircuitBreaker.Failures == 10 }},
		{"breaker off on Consumption", nil, func(c *Config) bool { return c.CircuitBreaker.Failures == 0 && c.MaxStep == 50 }},
		{"memory 4096", map[string]string{"instanceMemoryMB": "4096"}, func(c *Config) bool { return c.InstanceMemoryMB == 4096 }},
		// API Management fit: the defaults are what the stack did before each was a key.
		{"api defaults", nil, func(c *Config) bool {
			return c.API.DisplayName == "slotless" && c.API.RoutePrefix == "api" && c.API.ProductIDs == nil &&
				slices.Equal(c.API.CORSMethods, []string{"GET", "OPTIONS"}) &&
				slices.Equal(c.API.CORSHeaders, []string{"Content-Type", "Authorization", "Ocp-Apim-Subscription-Key"})
		}},
		{"display name", map[string]string{"apiDisplayName": "Orders API (prod)"}, func(c *Config) bool { return c.API.DisplayName == "Orders API (prod)" }},
		{"empty route prefix", map[string]string{"routePrefix": ""}, func(c *Config) bool { return c.API.RoutePrefix == "" }},
		{"nested route prefix", map[string]string{"routePrefix": "v1/functions"}, func(c *Config) bool { return c.API.RoutePrefix == "v1/functions" }},
		{"products", map[string]string{"apimProductIds": `["starter", "partners-2024"]`}, func(c *Config) bool {
			return slices.Equal(c.API.ProductIDs, []string{"starter", "partners-2024"})
		}},
		{"no products", map[string]string{"apimProductIds": `[]`}, func(c *Config) bool { return c.API.ProductIDs == nil }},
		{"cors methods upper-cased, once each", map[string]string{"corsMethods": `["get", "POST", "Get", "options"]`}, func(c *Config) bool {
			return slices.Equal(c.API.CORSMethods, []string{"GET", "POST", "OPTIONS"})
		}},
		{"any cors method", map[string]string{"corsMethods": `["*"]`}, func(c *Config) bool { return slices.Equal(c.API.CORSMethods, []string{"*"}) }},
		{"cors headers with the subscription key added", map[string]string{"corsHeaders": `["X-Trace-Id", "x-trace-id", "Content-Type"]`}, func(c *Config) bool {
			return slices.Equal(c.API.CORSHeaders, []string{"X-Trace-Id", "Content-Type", "Ocp-Apim-Subscription-Key"})
		}},
		{"cors headers naming the subscription key", map[string]string{"corsHeaders": `["ocp-apim-subscription-key"]`}, func(c *Config) bool {
			return slices.Equal(c.API.CORSHeaders, []string{"ocp-apim-subscription-key"})
		}},
		{"cors headers without a subscription", map[string]string{"corsHeaders": `["Content-Type"]`, "subscriptionRequired": "false"}, func(c *Config) bool {
			return slices.Equal(c.API.CORSHeaders, []string{"Content-Type"})
		}},
		{"any cors header", map[string]string{"corsHeaders": `["*"]`}, func(c *Config) bool { return slices.Equal(c.API.CORSHeaders, []string{"*"}) }},
		// A reused service's tier is the service's: nothing is decided until it is read.
		{"reused service, tier unread", map[string]string{"apimName": "shared-apim", "apimResourceGroupName": "shared-rg", "publisherEmail": "<unset>"}, func(c *Config) bool {
			return c.APIM.SKU == "" && c.APIM.ClaimedSKU == "" && c.CircuitBreaker.FromTier
		}},
		{"reused service, tier claimed", map[string]string{"apimName": "shared-apim", "apimResourceGroupName": "shared-rg", "apimSku": "Premium", "circuitBreakerFailures": "3"}, func(c *Config) bool {
			return c.APIM.SKU == "" && c.APIM.ClaimedSKU == "Premium" && !c.CircuitBreaker.FromTier && c.CircuitBreaker.Failures == 3
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(source(tt.set))
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if !tt.check(c) {
				t.Fatalf("got %+v, which fails the check", *c)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name string
		set  map[string]string
		want string
	}{
		{"weight too high", map[string]string{"blueWeight": "150"}, "blueWeight: 150 is out of range 0..100"},
		{"negative weight", map[string]string{"blueWeight": "-5"}, "blueWeight: -5 is out of range 0..100"},
		{"non-integer weight", map[string]string{"blueWeight": "10.5"}, `blueWeight: "10.5" is not valid, want an integer 0..100`},
		{"word weight", map[string]string{"blueWeight": "half"}, `blueWeight: "half" is not valid, want an integer 0..100`},
		{"empty weight", map[string]string{"blueWeight": ""}, "blueWeight: the value is empty, want an integer 0..100"},
		{"weights not summing", map[string]string{"blueWeight": "10", "greenWeight": "80"}, "greenWeight: 80 and blueWeight 10 sum to 90, want 100"},
		{"green weight range", map[string]string{"greenWeight": "101"}, "greenWeight: 101 is out of range 0..100"},
		{"unknown sku", map[string]string{"apimSku": "Gold"}, `apimSku: "Gold" is not valid, want one of Consumption, Developer, Basic, Standard, Premium, BasicV2, StandardV2`},
		{"malformed email", map[string]string{"publisherEmail": "ops-at-example"}, `publisherEmail: "ops-at-example" is not valid, want an e-mail address such as ops@example.com`},
		{"email with name", map[string]string{"publisherEmail": "Ops <ops@example.com>"}, `publisherEmail: "Ops <ops@example.com>" is not valid`},
		{"missing email", map[string]string{"publisherEmail": "<unset>"}, "publisherEmail: is not set; it is required to create an API Management service"},
		{"missing location", map[string]string{"azure-native:location": "<unset>"}, "azure-native:location: is not set"},
		{"memory size", map[string]string{"instanceMemoryMB": "1024"}, `instanceMemoryMB: "1024" is not valid, want one of 512, 2048, 4096`},
		{"instances low", map[string]string{"maximumInstanceCount": "10"}, "maximumInstanceCount: 10 is out of range 40..1000"},
		{"retention", map[string]string{"logRetentionDays": "7"}, "logRetentionDays: 7 is out of range 30..730"},
		{"prefix", map[string]string{"prefix": "Slot-less"}, `prefix: "Slot-less" is not valid, want 3..12 lower-case letters and digits, starting with a letter`},
		{"storage name", map[string]string{"storageAccountName": "Has_Upper"}, `storageAccountName: "Has_Upper" is not valid`},
		{"gateway audience not a GUID", map[string]string{"gatewayAudience": "api://orders"}, `gatewayAudience: "api://orders" is not valid, want an application (client) id: a GUID`},
		{"gateway audience with a reused service", map[string]string{"gatewayAudience": "5f0c2b1a-8e7d-4c6b-9a5f-4e3d2c1b0a9f", "apimName": "shared-apim", "apimResourceGroupName": "shared-rg", "publisherEmail": "<unset>"}, `gatewayAudience: not supported with apimName "shared-apim" yet`},
		{"shared host storage of no slot", map[string]string{"sharedHostStorage": `["purple"]`}, `sharedHostStorage: "[\"purple\"]" is not valid, want a JSON list of slots such as ["green"], each "green" or "blue" at most once`},
		{"shared host storage twice", map[string]string{"sharedHostStorage": `["green","green"]`}, `sharedHostStorage: "[\"green\",\"green\"]" is not valid`},
		{"shared host storage not a list", map[string]string{"sharedHostStorage": "green"}, `sharedHostStorage: "green" is not valid, want a JSON list of slots`},
		{"consumption capacity", map[string]string{"apimCapacity": "2"}, "apimCapacity: 2 is out of range; it must be 0 here"},
		{"standard capacity", map[string]string{"apimSku": "Standard", "apimCapacity": "0"}, "apimCapacity: 0 is out of range 1..12"},
		{"apim without group", map[string]string{"apimName": "shared"}, `apimResourceGroupName: is not set; it is required with apimName "shared"`},
		{"group without apim", map[string]string{"apimResourceGroupName": "rg"}, `apimName: is not set`},
		{"api path slash", map[string]string{"apiPath": "/orders"}, `apiPath: "/orders" is not valid`},
		{"subscription bool", map[string]string{"subscriptionRequired": "yes"}, `subscriptionRequired: "yes" is not valid, want true or false`},
		{"cors not json", map[string]string{"corsOrigins": "https://a.example.com"}, `corsOrigins: "https://a.example.com" is not valid, want a JSON list`},
		{"cors path", map[string]string{"corsOrigins": `["https://a.example.com/app"]`}, `corsOrigins: "https://a.example.com/app" is not valid, want an origin`},
		{"cors wildcard mixed", map[string]string{"corsOrigins": `["*", "https://a.example.com"]`}, `want "*" alone`},
		{"breaker on consumption", map[string]string{"circuitBreakerFailures": "5"}, `circuitBreakerFailures: "5" is not allowed on the Consumption tier, which does not support circuit breakers`},
		{"breaker interval", map[string]string{"apimSku": "Basic", "circuitBreakerInterval": "1m"}, `circuitBreakerInterval: "1m" is not valid, want an ISO 8601 duration`},
		{"breaker empty duration", map[string]string{"apimSku": "Basic", "circuitBreakerTripDuration": "PT"}, `circuitBreakerTripDuration: "PT" is not valid`},
		{"short pin token", map[string]string{"pinToken": "short"}, `pinToken: the value (secret, 5 characters) is not valid, want 16..256 URL-safe characters`},
		{"max step", map[string]string{"maxStep": "0"}, "maxStep: 0 is out of range 1..100"},
		{"unknown colour in origin scheme", map[string]string{"corsOrigins": `["ftp://a.example.com"]`}, `corsOrigins: "ftp://a.example.com" is not valid`},
		// API Management fit.
		{"display name empty", map[string]string{"apiDisplayName": "  "}, `apiDisplayName: "  " is not valid, want 1..300 characters`},
		{"display name too long", map[string]string{"apiDisplayName": strings.Repeat("a", 301)}, `apiDisplayName: "aaaa`},
		{"route prefix with a leading slash", map[string]string{"routePrefix": "/api"}, `routePrefix: "/api" is not valid, want empty, or segments of letters, digits, '-', '_', '.' and '~' separated by '/'`},
		{"route prefix with a route parameter", map[string]string{"routePrefix": "api/{tenant}"}, `routePrefix: "api/{tenant}" is not valid`},
		{"route prefix too long", map[string]string{"routePrefix": strings.Repeat("a", 101)}, `routePrefix: "aaaa`},
		{"product id with a colon", map[string]string{"apimProductIds": `["team:orders"]`}, `apimProductIds: "team:orders" is not a product id, want 1..256 characters without '*', '#', '&', '+', ':', '<', '>', '?', '/' or spaces`},
		{"product id twice", map[string]string{"apimProductIds": `["starter", "starter"]`}, `apimProductIds: "starter" is listed twice`},
		{"products not a list", map[string]string{"apimProductIds": "starter"}, `apimProductIds: "starter" is not valid, want a JSON list of product ids`},
		{"cors method unknown", map[string]string{"corsMethods": `["GET", "TRACE"]`}, `corsMethods: "TRACE" is not a method the CORS policy allows, want some of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, or ["*"]`},
		{"cors methods empty", map[string]string{"corsMethods": `[]`}, `corsMethods: the list is empty, want at least one entry, such as ["GET","OPTIONS"]`},
		{"cors method wildcard mixed", map[string]string{"corsMethods": `["*", "GET"]`}, `corsMethods: "*" goes alone`},
		{"cors header not a token", map[string]string{"corsHeaders": `["X Trace"]`}, `corsHeaders: "X Trace" is not an HTTP header name`},
		{"cors headers empty", map[string]string{"corsHeaders": `[]`}, `corsHeaders: the list is empty`},
		{"cors headers not a list", map[string]string{"corsHeaders": "Content-Type"}, `corsHeaders: "Content-Type" is not valid, want a JSON list`},
		{"reused service, unknown tier claimed", map[string]string{"apimName": "shared-apim", "apimResourceGroupName": "shared-rg", "apimSku": "Gold"}, `apimSku: "Gold" is not valid, want one of Consumption`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(source(tt.set))
			if err == nil {
				t.Fatalf("got no error, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestParseReportsEveryBadKey(t *testing.T) {
	_, err := Parse(source(map[string]string{"blueWeight": "150", "apimSku": "Gold", "instanceMemoryMB": "1"}))
	if err == nil {
		t.Fatal("got no error, want three")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines %q, want 3, one per bad key", len(lines), lines)
	}
}

// FuzzParse feeds arbitrary values to every key: Parse must never panic, and every rejection
// must name a key.
func FuzzParse(f *testing.F) {
	f.Add("blueWeight", "150")
	f.Add("greenWeight", "-1")
	f.Add("corsOrigins", `["*"]`)
	f.Add("publisherEmail", "a@b")
	f.Add("apimSku", "")
	f.Add("instanceMemoryMB", "2048\x00")
	keys := append(KeyNames(), "azure-native:location")
	f.Fuzz(func(t *testing.T, key, value string) {
		for _, k := range keys {
			c, err := Parse(source(map[string]string{k: value, key: value}))
			if err != nil {
				for _, line := range strings.Split(err.Error(), "\n") {
					name, _, ok := strings.Cut(line, ": ")
					if !ok || name == "" {
						t.Fatalf("rejection %q of %s=%q does not name its key", line, k, value)
					}
				}
				continue
			}
			if c.Weights.Green+c.Weights.Blue != 100 || c.Weights.Blue < 0 || c.Weights.Green < 0 {
				t.Fatalf("accepted weights %+v for %s=%q", c.Weights, k, value)
			}
		}
	})
}

// TestParsePinToken: the token lands inside a C# string literal of the API policy, so only
// URL-safe characters pass, and a rejection names the key and the allowed characters without
// echoing the secret.
func TestParsePinToken(t *testing.T) {
	random := func(n int) []byte {
		b := make([]byte, n)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	accepted := []struct{ name, token string }{
		{"openssl rand -hex 24", hex.EncodeToString(random(24))},
		{"base64url", base64.RawURLEncoding.EncodeToString(random(32))},
		{"all allowed punctuation", "abc.DEF_123~xyz-0"},
		{"shortest", strings.Repeat("a", 16)},
		{"longest", strings.Repeat("Z", 256)},
	}
	for _, tt := range accepted {
		t.Run("accepts "+tt.name, func(t *testing.T) {
			c, err := Parse(source(map[string]string{"pinToken": tt.token}))
			if err != nil {
				t.Fatalf("got error %v, want %q accepted", err, tt.token)
			}
			if c.PinToken != tt.token {
				t.Errorf("got token %q, want %q", c.PinToken, tt.token)
			}
		})
	}
	const base = "0123456789abcdef"
	rejected := []struct{ name, token string }{
		{"double quote", base + `"`},
		{"backslash", base + `\`},
		{"space", base + " x"},
		{"open brace", base + "{"},
		{"close brace", base + "}"},
		{"named value reference", "{{" + base + "}}"},
		{"angle bracket", base + "<"},
		{"ampersand", base + "&"},
		{"tab", base + "\t"},
		{"non-ASCII letter", base + "é"},
		{"too short", "abc"},
		{"too long", strings.Repeat("a", 257)},
	}
	for _, tt := range rejected {
		t.Run("rejects "+tt.name, func(t *testing.T) {
			_, err := Parse(source(map[string]string{"pinToken": tt.token}))
			if err == nil {
				t.Fatalf("got no error for %q, want it rejected", tt.token)
			}
			msg := err.Error()
			for _, want := range []string{"pinToken: ", PinTokenAllowed} {
				if !strings.Contains(msg, want) {
					t.Errorf("got %q, want it to contain %q", msg, want)
				}
			}
			if strings.Contains(msg, tt.token) {
				t.Errorf("got %q, which echoes the secret token", msg)
			}
		})
	}
}

// TestPinTokenDocumented: pinToken has no default, so Pulumi.yaml cannot declare it (the engine
// would require it); the rule reaches users through Keys, which the README table is checked
// against.
func TestPinTokenDocumented(t *testing.T) {
	if k, _ := LookupKey("pinToken"); !strings.HasPrefix(k.Allowed, PinTokenAllowed) {
		t.Errorf("Keys pinToken Allowed: got %q, want it to start with %q", k.Allowed, PinTokenAllowed)
	}
}

func TestParseReleasePlan(t *testing.T) {
	defaults := ReleaseConfig{
		Steps: []int{10, 50, 100}, BakeMinutes: 10, AnalysisIntervalSeconds: 60, AnalysisInitialDelaySeconds: 30, WarmupRequests: 10, WarmupLatencyMs: 1000,
		Metrics: MetricsThresholds{Confidence: 0.99, FailureLimit: 2, MaxFailureRateDelta: 0.002, MaxFailureRateRatio: 1.5, ClientErrorCheck: true,
			MaxP95Ratio: 1.5, P95FloorMs: 100, SampleRatioTolerance: 0.3, MinRequests: 50, InconclusiveFails: true},
		MetricsLagSeconds: 180, ProbeThresholds: ProbeThresholds{MaxFailureRateDelta: 0.3, FailureLimit: 3, MaxLatencyRatio: 3},
	}
	tests := []struct {
		name        string
		set         map[string]string
		want        func(r *ReleaseConfig)
		alwaysReady int
	}{
		{"defaults", nil, func(*ReleaseConfig) {}, 0},
		{"five steps", map[string]string{"releaseSteps": "[1, 5, 25, 50, 100]"}, func(r *ReleaseConfig) { r.Steps = []int{1, 5, 25, 50, 100} }, 0},
		{"yaml list as Pulumi passes it", map[string]string{"releaseSteps": "[10,50,100]"}, func(*ReleaseConfig) {}, 0},
		{"blue/green", map[string]string{"releaseSteps": "[100]", "maxStep": "100"}, func(r *ReleaseConfig) { r.Steps = []int{100} }, 0},
		// maxStep is checked where a release runs, so lowering it never fails an up (a rollback's).
		{"steps above a lowered maxStep", map[string]string{"maxStep": "10"}, func(*ReleaseConfig) {}, 0},
		{"no bake lifts the interval bound", map[string]string{"bakeMinutes": "0", "analysisIntervalSeconds": "3600"}, func(r *ReleaseConfig) {
			r.BakeMinutes, r.AnalysisIntervalSeconds = 0, 3600
		}, 0},
		{"interval equal to the bake", map[string]string{"bakeMinutes": "1", "analysisIntervalSeconds": "60"}, func(r *ReleaseConfig) { r.BakeMinutes = 1 }, 0},
		// Pulumi passes a YAML list of mixed entries as JSON; a plain integer bakes bakeMinutes.
		{"own bakes mixed with integers", map[string]string{"releaseSteps": `[{"weight":5,"bake":"2m"},25,{"weight":50,"bake":"1h30m"},{"weight":100}]`}, func(r *ReleaseConfig) {
			r.Steps, r.StepBakes = []int{5, 25, 50, 100}, map[int]time.Duration{5: 2 * time.Minute, 50: 90 * time.Minute}
		}, 0},
		{"second-scale bakes with a short interval and delay", map[string]string{"releaseSteps": `[{"weight":10,"bake":"20s"},{"weight":50,"bake":"10s"},{"weight":100,"bake":"10s"}]`, "analysisIntervalSeconds": "10", "analysisInitialDelaySeconds": "5"}, func(r *ReleaseConfig) {
			r.StepBakes, r.AnalysisIntervalSeconds, r.AnalysisInitialDelaySeconds = map[int]time.Duration{10: 20 * time.Second, 50: 10 * time.Second, 100: 10 * time.Second}, 10, 5
		}, 0},
		{"a bake of 0 and a day", map[string]string{"releaseSteps": `[{"weight":10,"bake":"0s"},{"weight":50,"bake":"24h"},100]`}, func(r *ReleaseConfig) {
			r.StepBakes = map[int]time.Duration{10: 0, 50: 24 * time.Hour}
		}, 0},
		// Only the bakes a step uses bind the interval: here bakeMinutes bakes no step.
		{"interval above an unused bakeMinutes", map[string]string{"releaseSteps": `[{"weight":50,"bake":"10m"},{"weight":100,"bake":"0s"}]`, "bakeMinutes": "1", "analysisIntervalSeconds": "600"}, func(r *ReleaseConfig) {
			r.Steps, r.StepBakes, r.BakeMinutes, r.AnalysisIntervalSeconds = []int{50, 100}, map[int]time.Duration{50: 10 * time.Minute, 100: 0}, 1, 600
		}, 0},
		{"thresholds", map[string]string{"metricsMaxFailureRateDelta": "0.005", "metricsMaxP95Ratio": "2", "metricsMinRequests": "200", "metricsInconclusive": "fail",
			"metricsConfidence": "0.999", "metricsFailureLimit": "3", "metricsMaxFailureRateRatio": "2", "metricsClientErrorCheck": "false", "metricsP95FloorMs": "0",
			"metricsSampleRatioTolerance": "1", "analysisInitialDelaySeconds": "0"}, func(r *ReleaseConfig) {
			r.Metrics = MetricsThresholds{Confidence: 0.999, FailureLimit: 3, MaxFailureRateDelta: 0.005, MaxFailureRateRatio: 2, MaxP95Ratio: 2, SampleRatioTolerance: 1, MinRequests: 200, InconclusiveFails: true}
			r.AnalysisInitialDelaySeconds = 0
		}, 0},
		{"telemetry as Azure writes it", map[string]string{"metricsLagSeconds": "0", "metricsFailureStatus": "4xx", "metricsInconclusive": "pass"}, func(r *ReleaseConfig) {
			r.MetricsLagSeconds, r.Metrics.FailClientErrors, r.Metrics.InconclusiveFails = 0, true, false
		}, 0},
		{"probes as Pulumi passes a YAML list", map[string]string{"releaseProbes": `[{"path":"/orders"},{"method":"post","path":"/orders?dry=1","headers":{"Content-Type":"application/json"},"body":"{}","expectStatus":201}]`,
			"probeMaxFailureRateDelta": "0.5", "probeMaxLatencyRatio": "2", "probeFailureLimit": "5"}, func(r *ReleaseConfig) {
			r.Probes = []Probe{{Method: "GET", Path: "/orders", ExpectStatus: 200}, {Method: "POST", Path: "/orders?dry=1", Headers: map[string]string{"Content-Type": "application/json"}, Body: "{}", ExpectStatus: 201}}
			r.ProbeThresholds = ProbeThresholds{MaxFailureRateDelta: 0.5, FailureLimit: 5, MaxLatencyRatio: 2}
		}, 0},
		{"zero failure delta allows no extra failures", map[string]string{"metricsMaxFailureRateDelta": "0"}, func(r *ReleaseConfig) { r.Metrics.MaxFailureRateDelta = 0 }, 0},
		{"warm-up", map[string]string{"warmupRequests": "100", "warmupLatencyMs": "250"}, func(r *ReleaseConfig) { r.WarmupRequests, r.WarmupLatencyMs = 100, 250 }, 0},
		{"always ready up to the scale-out limit", map[string]string{"alwaysReadyInstances": "40", "maximumInstanceCount": "40"}, func(*ReleaseConfig) {}, 40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(source(tt.set))
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			want := defaults
			want.Steps = slices.Clone(defaults.Steps)
			tt.want(&want)
			if !reflect.DeepEqual(c.Release, want) {
				t.Errorf("got %+v, want %+v", c.Release, want)
			}
			if c.AlwaysReadyInstances != tt.alwaysReady {
				t.Errorf("alwaysReadyInstances: got %d, want %d", c.AlwaysReadyInstances, tt.alwaysReady)
			}
		})
	}
}

func TestParseRejectsReleasePlan(t *testing.T) {
	tests := []struct {
		name string
		set  map[string]string
		want string
	}{
		{"steps not a list", map[string]string{"releaseSteps": "10,50,100"}, `releaseSteps: "10,50,100" is not valid, want a JSON list of integers such as [10, 50, 100]`},
		{"steps trailing garbage", map[string]string{"releaseSteps": "[10, 50, 100] [1]"}, `releaseSteps: "[10, 50, 100] [1]" is not valid, want a JSON list of integers`},
		{"steps of strings", map[string]string{"releaseSteps": `["10", "100"]`}, `releaseSteps: "[\"10\", \"100\"]" is not valid, want a JSON list of integers`},
		{"empty steps", map[string]string{"releaseSteps": "[]"}, "releaseSteps: the list is empty, want at least one step, the last 100"},
		{"fractional step", map[string]string{"releaseSteps": "[10.5, 50, 100]"}, `releaseSteps: step "10.5" is not an integer, want integers 1..100`},
		{"exponent step", map[string]string{"releaseSteps": "[1e1, 50, 100]"}, `releaseSteps: step "1e1" is not an integer`},
		{"zero step", map[string]string{"releaseSteps": "[0, 50, 100]"}, "releaseSteps: step 0 is out of range 1..100"},
		{"step above 100", map[string]string{"releaseSteps": "[50, 100, 150]"}, "releaseSteps: step 150 is out of range 1..100"},
		{"descending", map[string]string{"releaseSteps": "[50, 10, 100]"}, "releaseSteps: 10 follows 50, want strictly ascending steps"},
		{"repeated", map[string]string{"releaseSteps": "[10, 50, 50, 100]"}, "releaseSteps: 50 follows 50, want strictly ascending steps"},
		{"not ending at 100", map[string]string{"releaseSteps": "[10, 50]"}, "releaseSteps: the last step is 50, want 100"},
		{"step object without a weight", map[string]string{"releaseSteps": `[{"bake":"30s"},100]`}, `releaseSteps[0]: no weight, want {"weight": 1..100, "bake": "30s"} (bake optional)`},
		{"step object with an unknown field", map[string]string{"releaseSteps": `[{"weight":10,"pause":"30s"},100]`}, `releaseSteps[0]: field "pause" is not allowed, want {"weight": 1..100, "bake": "30s"}`},
		{"step weight quoted", map[string]string{"releaseSteps": `[{"weight":"10"},100]`}, `releaseSteps[0]: weight "10" is not an integer, want an integer 1..100`},
		{"step weight fractional", map[string]string{"releaseSteps": `[10,{"weight":50.5},100]`}, `releaseSteps[1]: weight "50.5" is not an integer, want an integer 1..100`},
		{"step weight out of range", map[string]string{"releaseSteps": `[10,{"weight":150,"bake":"1m"}]`}, "releaseSteps[1]: weight 150 is out of range 1..100"},
		{"step objects descending", map[string]string{"releaseSteps": `[{"weight":50},{"weight":10},100]`}, "releaseSteps: 10 follows 50, want strictly ascending steps"},
		{"mixed steps not ending at 100", map[string]string{"releaseSteps": `[10,{"weight":50,"bake":"1m"}]`}, "releaseSteps: the last step is 50, want 100"},
		{"bake as a number", map[string]string{"releaseSteps": `[{"weight":10,"bake":30},100]`}, `releaseSteps[0]: bake 30 is not valid, want a Go duration in whole seconds from 0s to 24h, as a string such as "30s", "10m" or "1h30m"`},
		{"bake not a duration", map[string]string{"releaseSteps": `[10,{"weight":50,"bake":"30 minutes"},100]`}, `releaseSteps[1]: bake "30 minutes" is not a Go duration, want a Go duration in whole seconds from 0s to 24h`},
		{"bake negative", map[string]string{"releaseSteps": `[{"weight":10,"bake":"-30s"},100]`}, `releaseSteps[0]: bake "-30s" is out of range 0s..24h`},
		{"bake above a day", map[string]string{"releaseSteps": `[{"weight":10,"bake":"24h0m1s"},100]`}, `releaseSteps[0]: bake "24h0m1s" is out of range 0s..24h`},
		{"bake in fractions of a second", map[string]string{"releaseSteps": `[{"weight":10,"bake":"30.5s"},100]`}, `releaseSteps[0]: bake "30.5s" is not a whole number of seconds`},
		{"interval longer than a step's own bake", map[string]string{"releaseSteps": `[{"weight":10,"bake":"0s"},{"weight":50,"bake":"30s"},100]`, "analysisIntervalSeconds": "60"},
			"analysisIntervalSeconds: 60 is longer than the bake of 30s of releaseSteps[1] (weight 50); want at most 30, or a longer bake for that step"},
		{"interval longer than the default bake a plain step uses", map[string]string{"releaseSteps": `[{"weight":10,"bake":"10m"},100]`, "bakeMinutes": "1", "analysisIntervalSeconds": "120"},
			"analysisIntervalSeconds: 120 is longer than the bake of 1 minutes; want at most 60, or a longer bakeMinutes"},
		{"bake too long", map[string]string{"bakeMinutes": "1441"}, "bakeMinutes: 1441 is out of range 0..1440"},
		{"bake negative", map[string]string{"bakeMinutes": "-1"}, "bakeMinutes: -1 is out of range 0..1440"},
		{"interval too short", map[string]string{"analysisIntervalSeconds": "5"}, "analysisIntervalSeconds: 5 is out of range 10..3600"},
		{"interval longer than the bake", map[string]string{"bakeMinutes": "5", "analysisIntervalSeconds": "600"}, "analysisIntervalSeconds: 600 is longer than the bake of 5 minutes; want at most 300, or a longer bakeMinutes"},
		{"initial delay as long as a step's own bake", map[string]string{"releaseSteps": `[{"weight":10,"bake":"30s"},100]`, "analysisIntervalSeconds": "10"},
			"analysisInitialDelaySeconds: 30 leaves nothing of the bake of 30s of releaseSteps[0] (weight 10) to judge; want less than 30, or a longer bake for that step"},
		{"initial delay as long as the default bake", map[string]string{"bakeMinutes": "1", "analysisInitialDelaySeconds": "60"},
			"analysisInitialDelaySeconds: 60 leaves nothing of the bake of 1 minutes to judge; want less than 60, or a longer bakeMinutes"},
		{"initial delay too long", map[string]string{"analysisInitialDelaySeconds": "601"}, "analysisInitialDelaySeconds: 601 is out of range 0..600"},
		{"confidence as percent", map[string]string{"metricsConfidence": "99"}, `metricsConfidence: "99" is not valid, want a number 0.5..0.9999 such as 0.99`},
		{"confidence certain", map[string]string{"metricsConfidence": "1"}, `metricsConfidence: "1" is not valid`},
		{"failure limit zero", map[string]string{"metricsFailureLimit": "0"}, "metricsFailureLimit: 0 is out of range 1..10"},
		{"failure rate ratio below 1", map[string]string{"metricsMaxFailureRateRatio": "0.5"}, `metricsMaxFailureRateRatio: "0.5" is not valid, want a number 1..100 such as 1.5`},
		{"client error check word", map[string]string{"metricsClientErrorCheck": "yes"}, `metricsClientErrorCheck: "yes" is not valid, want true or false`},
		{"p95 floor negative", map[string]string{"metricsP95FloorMs": "-1"}, "metricsP95FloorMs: -1 is out of range 0..60000"},
		{"sample ratio tolerance above 1", map[string]string{"metricsSampleRatioTolerance": "1.5"}, `metricsSampleRatioTolerance: "1.5" is not valid, want a number 0..1 such as 0.3`},
		{"delta as percent", map[string]string{"metricsMaxFailureRateDelta": "2"}, `metricsMaxFailureRateDelta: "2" is not valid, want a number 0..1 such as 0.002 (0.2 points)`},
		{"delta negative", map[string]string{"metricsMaxFailureRateDelta": "-0.1"}, `metricsMaxFailureRateDelta: "-0.1" is not valid`},
		{"delta exponent", map[string]string{"metricsMaxFailureRateDelta": "2e-2"}, `metricsMaxFailureRateDelta: "2e-2" is not valid`},
		{"delta NaN", map[string]string{"metricsMaxFailureRateDelta": "NaN"}, `metricsMaxFailureRateDelta: "NaN" is not valid`},
		{"ratio zero", map[string]string{"metricsMaxP95Ratio": "0"}, `metricsMaxP95Ratio: "0" is not valid, want a number above 0, at most 100, such as 1.5`},
		{"ratio zero point zero", map[string]string{"metricsMaxP95Ratio": "0.0"}, `metricsMaxP95Ratio: "0.0" is not valid`},
		{"ratio huge", map[string]string{"metricsMaxP95Ratio": "1000"}, `metricsMaxP95Ratio: "1000" is not valid`},
		{"min requests zero", map[string]string{"metricsMinRequests": "0"}, "metricsMinRequests: 0 is out of range 1..1000000"},
		{"inconclusive word", map[string]string{"metricsInconclusive": "block"}, `metricsInconclusive: "block" is not valid, want one of fail, pass`},
		{"lag too long", map[string]string{"metricsLagSeconds": "3600"}, "metricsLagSeconds: 3600 is out of range 0..1800"},
		{"failure status word", map[string]string{"metricsFailureStatus": "500"}, `metricsFailureStatus: "500" is not valid, want one of 5xx, 4xx`},
		{"probes not a list", map[string]string{"releaseProbes": `{"path":"/orders"}`}, "releaseProbes: json: cannot unmarshal object"},
		{"probe field unknown", map[string]string{"releaseProbes": `[{"url":"/orders"}]`}, `releaseProbes: json: unknown field "url"`},
		{"probe method", map[string]string{"releaseProbes": `[{"method":"FETCH","path":"/orders"}]`}, `releaseProbes[0]: method "FETCH" is not valid, want one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS`},
		{"probe absolute URL", map[string]string{"releaseProbes": `[{"path":"https://evil.example/orders"}]`}, `releaseProbes[0]: path "https://evil.example/orders" is not valid, want a path under the API`},
		{"probe function key in the query", map[string]string{"releaseProbes": `[{"path":"/orders?code=abc"}]`}, `releaseProbes[0]: path "/orders?code=abc" carries a function key`},
		{"probe function key header", map[string]string{"releaseProbes": `[{"path":"/orders","headers":{"x-functions-key":"abc"}}]`}, "releaseProbes[0]: header x-functions-key is not allowed"},
		{"probe pinning header", map[string]string{"releaseProbes": `[{"path":"/orders","headers":{"X-Slotless-Slot":"blue"}}]`}, "releaseProbes[0]: header X-Slotless-Slot is not allowed"},
		{"probe status", map[string]string{"releaseProbes": `[{"path":"/orders","expectStatus":700}]`}, "releaseProbes[0]: expectStatus 700 is out of range 100..599"},
		{"probe latency ratio below 1", map[string]string{"probeMaxLatencyRatio": "0.5"}, `probeMaxLatencyRatio: "0.5" is not valid, want a number from 1 to 100`},
		{"probe failure limit above the window", map[string]string{"probeFailureLimit": "11"}, `probeFailureLimit: 11 is out of range 1..10`},
		{"probe failure limit of 0", map[string]string{"probeFailureLimit": "0"}, `probeFailureLimit: 0 is out of range 1..10`},
		{"warm-up zero", map[string]string{"warmupRequests": "0"}, "warmupRequests: 0 is out of range 1..100"},
		{"warm-up latency", map[string]string{"warmupLatencyMs": "5"}, "warmupLatencyMs: 5 is out of range 10..60000"},
		{"always ready negative", map[string]string{"alwaysReadyInstances": "-1"}, "alwaysReadyInstances: -1 is out of range 0..1000"},
		{"always ready above scale-out", map[string]string{"alwaysReadyInstances": "50", "maximumInstanceCount": "40"}, "alwaysReadyInstances: 50 is more than maximumInstanceCount 40; want at most 40"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(source(tt.set))
			if err == nil {
				t.Fatalf("got no error, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %q, want it to contain %q", err, tt.want)
			}
			if n := len(strings.Split(err.Error(), "\n")); n != 1 {
				t.Errorf("got %d lines %q, want one line for the one bad key", n, err)
			}
		})
	}
}

// TestPulumiYAMLDefaultsAreParseDefaults ties the two places a default is written: the engine
// applies Pulumi.yaml's, Parse applies its own when a key is unset, and both must give the same
// Config.
func TestPulumiYAMLDefaultsAreParseDefaults(t *testing.T) {
	raw, err := os.ReadFile("../Pulumi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var project struct {
		Config map[string]struct {
			Default any `yaml:"default"`
		} `yaml:"config"`
	}
	if err := yaml.Unmarshal(raw, &project); err != nil {
		t.Fatal(err)
	}
	set := map[string]string{}
	for key, spec := range project.Config {
		if spec.Default == nil {
			continue
		}
		// As the engine passes config to a program: scalars as text, lists as JSON.
		if list, ok := spec.Default.([]any); ok {
			b, err := json.Marshal(list)
			if err != nil {
				t.Fatal(err)
			}
			set[key] = string(b)
		} else {
			set[key] = fmt.Sprint(spec.Default)
		}
	}
	fromYAML, err := Parse(source(set))
	if err != nil {
		t.Fatalf("Pulumi.yaml's defaults do not parse: %v", err)
	}
	unset, err := Parse(source(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromYAML, unset) {
		t.Errorf("with Pulumi.yaml's defaults got\n%+v\nwith no keys set got\n%+v", *fromYAML, *unset)
	}
	// releaseSteps is not declared: its entries may be objects, which no config type declares
	// beside integers, so its default is the program's alone.
	for _, key := range []string{"bakeMinutes", "analysisIntervalSeconds", "metricsMaxFailureRateDelta",
		"metricsMaxP95Ratio", "metricsMinRequests", "metricsInconclusive", "warmupRequests", "warmupLatencyMs", "alwaysReadyInstances"} {
		// The engine treats a declared key without a default as required.
		if _, ok := set[key]; !ok {
			t.Errorf("Pulumi.yaml declares no default for %s", key)
		}
	}
}

func TestCheckSteps(t *testing.T) {
	tests := []struct {
		steps   []int
		maxStep int
		want    string
	}{
		{[]int{10, 50, 100}, 50, ""},
		{[]int{10, 50, 100}, 40, "releaseSteps: the step from 50 to 100 is 50 points, more than maxStep 40"},
		{[]int{10, 50, 100}, 39, "releaseSteps: the step from 10 to 50 is 40 points, more than maxStep 39"},
		{[]int{10, 100}, 50, "releaseSteps: the step from 10 to 100 is 90 points, more than maxStep 50; add a step in between or raise maxStep"},
		{[]int{60, 100}, 50, "releaseSteps: the step from 0 to 60 is 60 points, more than maxStep 50"},
		{[]int{100}, 50, "releaseSteps: the step from 0 to 100 is 100 points, more than maxStep 50"},
		{[]int{100}, 100, ""},
		{[]int{20, 100}, 80, ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%v maxStep %d", tt.steps, tt.maxStep), func(t *testing.T) {
			err := ReleaseConfig{Steps: tt.steps}.CheckSteps(tt.maxStep)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("got %v, want no error", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
}

// TestResolveSKU: a reused service's tier, as the service reports it, decides what apimSku and
// circuitBreakerFailures may say, and the breaker's default.
func TestResolveSKU(t *testing.T) {
	reuse := map[string]string{"apimName": "shared-apim", "apimResourceGroupName": "shared-rg", "publisherEmail": "<unset>"}
	with := func(extra map[string]string) map[string]string {
		m := maps.Clone(reuse)
		maps.Copy(m, extra)
		return m
	}
	tests := []struct {
		name     string
		set      map[string]string
		tier     string
		failures int
		want     []string // the errors, one line each; none when empty
	}{
		{"Consumption: no breaker", reuse, "Consumption", 0, nil},
		{"Premium: the tier's default breaker", reuse, "Premium", 10, nil},
		{"a tier slotless does not create", reuse, "Isolated", 10, nil},
		{"Premium with the breaker off", with(map[string]string{"circuitBreakerFailures": "0"}), "Premium", 0, nil},
		{"a claim that agrees", with(map[string]string{"apimSku": "StandardV2", "circuitBreakerFailures": "4"}), "StandardV2", 4, nil},
		{"a claim that disagrees", with(map[string]string{"apimSku": "Premium"}), "Developer", 10,
			[]string{`apimSku: "Premium" disagrees with apimName "shared-apim", which is of the Developer tier; unset apimSku: a reused service's tier is read from the service`}},
		{"a breaker on Consumption", with(map[string]string{"circuitBreakerFailures": "5"}), "Consumption", 0,
			[]string{`circuitBreakerFailures: 5 is not allowed: apimName "shared-apim" is of the Consumption tier, which does not support circuit breakers; want 0`}},
		{"both", with(map[string]string{"apimSku": "Premium", "circuitBreakerFailures": "5"}), "Consumption", 0,
			[]string{`apimSku: "Premium" disagrees with apimName "shared-apim", which is of the Consumption tier`, `circuitBreakerFailures: 5 is not allowed`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(source(tt.set))
			if err != nil {
				t.Fatal(err)
			}
			err = c.ResolveSKU(tt.tier)
			var lines []string
			if err != nil {
				lines = strings.Split(err.Error(), "\n")
			}
			if len(lines) != len(tt.want) {
				t.Fatalf("got %q, want %d errors %q", lines, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("error %d: got %q, want it to start %q", i, lines[i], w)
				}
			}
			if c.APIM.SKU != tt.tier || c.CircuitBreaker.Failures != tt.failures || c.CircuitBreaker.FromTier {
				t.Errorf("got tier %q, %d failures (from tier %v), want %q and %d", c.APIM.SKU, c.CircuitBreaker.Failures, c.CircuitBreaker.FromTier, tt.tier, tt.failures)
			}
		})
	}
}
