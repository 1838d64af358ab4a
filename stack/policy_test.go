package stack

import (
	"encoding/xml"
	"slices"
	"strings"
	"testing"
)

// policyDoc is the part of an APIM policy these tests read.
type policyDoc struct {
	Inbound struct {
		SetBackend []struct {
			BackendID string `xml:"backend-id,attr"`
		} `xml:"set-backend-service"`
		CORS []struct {
			Origins []string `xml:"allowed-origins>origin"`
		} `xml:"cors"`
	} `xml:"inbound"`
}

func TestRenderPolicy(t *testing.T) {
	tests := []struct {
		name    string
		origins []string
		cors    bool
	}{
		{"no origins, no cors", nil, false},
		{"listed origins", []string{"https://a.example.com", "http://localhost:3000"}, true},
		{"wildcard only when configured", []string{"*"}, true},
		{"origin needing escapes", []string{"https://a.example.com/?x=<&>"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RenderPolicy(PolicyInput{PoolID: PoolID, CORSOrigins: tt.origins})
			if err != nil {
				t.Fatal(err)
			}
			var doc policyDoc
			if err := xml.Unmarshal([]byte(got), &doc); err != nil {
				t.Fatalf("policy is not XML: %v\n%s", err, got)
			}
			if len(doc.Inbound.SetBackend) != 1 || doc.Inbound.SetBackend[0].BackendID != "green-blue-pool" {
				t.Errorf("set-backend-service: got %+v, want one with backend-id green-blue-pool", doc.Inbound.SetBackend)
			}
			if got := len(doc.Inbound.CORS) == 1; got != tt.cors {
				t.Errorf("cors present: got %v, want %v", got, tt.cors)
			}
			if tt.cors && strings.Join(doc.Inbound.CORS[0].Origins, " ") != strings.Join(tt.origins, " ") {
				t.Errorf("origins: got %v, want %v", doc.Inbound.CORS[0].Origins, tt.origins)
			}
			if !tt.cors && strings.Contains(got, "*") {
				t.Errorf("got a wildcard in a policy with no origins configured:\n%s", got)
			}
			again, _ := RenderPolicy(PolicyInput{PoolID: PoolID, CORSOrigins: tt.origins})
			if again != got {
				t.Errorf("two renders differ: the policy must be canonical")
			}
			for i, line := range strings.Split(got, "\n") {
				if strings.TrimRight(line, " \t") != line || strings.Contains(line, "  ") {
					t.Errorf("line %d %q has trailing or space indentation; want tabs only", i+1, line)
				}
			}
		})
	}
}

func TestRenderPolicyWithPinning(t *testing.T) {
	cfg := &Config{PinToken: "0123456789abcdef0123", API: APIConfig{}}
	got, err := RenderPolicy(NewPolicyInput(cfg))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Inbound struct {
			SetVariable struct {
				Value string `xml:"value,attr"`
			} `xml:"set-variable"`
			SetHeader struct {
				Name   string `xml:"name,attr"`
				Action string `xml:"exists-action,attr"`
			} `xml:"set-header"`
			Choose struct {
				When []struct {
					Condition string `xml:"condition,attr"`
					Backend   struct {
						ID string `xml:"backend-id,attr"`
					} `xml:"set-backend-service"`
				} `xml:"when"`
				Otherwise struct {
					Backend struct {
						ID string `xml:"backend-id,attr"`
					} `xml:"set-backend-service"`
				} `xml:"otherwise"`
			} `xml:"choose"`
		} `xml:"inbound"`
	}
	if err := xml.Unmarshal([]byte(got), &doc); err != nil {
		t.Fatalf("policy is not XML: %v\n%s", err, got)
	}
	in := doc.Inbound
	if !strings.Contains(in.SetVariable.Value, `GetValueOrDefault("X-Slotless-Token", "") == "{{slotless-pin-token}}"`) {
		t.Errorf("pinning needs the token: got %q", in.SetVariable.Value)
	}
	if strings.Contains(got, cfg.PinToken) {
		t.Errorf("the token itself is in the policy; want only its named value reference")
	}
	if in.SetHeader.Name != "X-Slotless-Token" || in.SetHeader.Action != "delete" {
		t.Errorf("token header: got %+v, want it deleted before the backend", in.SetHeader)
	}
	want := map[string]string{"green": "green-backend", "blue": "blue-backend"}
	if len(in.Choose.When) != 2 {
		t.Fatalf("got %d pinned routes, want 2", len(in.Choose.When))
	}
	for _, w := range in.Choose.When {
		slot := strings.TrimSuffix(strings.SplitAfter(w.Condition, `== "`)[1], `")`)
		if want[slot] != w.Backend.ID {
			t.Errorf("pinned %s: got backend %q, want %q", slot, w.Backend.ID, want[slot])
		}
	}
	if in.Choose.Otherwise.Backend.ID != PoolID {
		t.Errorf("unpinned: got %q, want the pool", in.Choose.Otherwise.Backend.ID)
	}
}

// inboundOrder is the names of a rendered policy's inbound elements, in order.
type inboundOrder struct {
	Inbound struct {
		Elements []struct {
			XMLName xml.Name
		} `xml:",any"`
	} `xml:"inbound"`
}

// corsDoc is the CORS part of a rendered policy.
type corsDoc struct {
	Inbound struct {
		CORS []struct {
			Terminate string   `xml:"terminate-unmatched-request,attr"`
			Methods   []string `xml:"allowed-methods>method"`
			Headers   []string `xml:"allowed-headers>header"`
		} `xml:"cors"`
	} `xml:"inbound"`
}

// TestRenderPolicyCORSPreflight: a browser's preflight names every header of the real request
// in Access-Control-Request-Headers; with a subscription required the real request carries
// Ocp-Apim-Subscription-Key, so CORS must allow it, or the browser never sends the request.
func TestRenderPolicyCORSPreflight(t *testing.T) {
	tests := []struct {
		name         string
		set          map[string]string
		wantCORS     bool
		wantKeyAllow bool
	}{
		// The dev stack: origins set, subscriptionRequired left at its default (true).
		{"origins with the default subscription", map[string]string{"corsOrigins": `["https://dev.example.com"]`}, true, true},
		{"origins with a subscription", map[string]string{"corsOrigins": `["https://dev.example.com"]`, "subscriptionRequired": "true"}, true, true},
		{"wildcard origin with a subscription", map[string]string{"corsOrigins": `["*"]`}, true, true},
		{"origins without a subscription", map[string]string{"corsOrigins": `["https://dev.example.com"]`, "subscriptionRequired": "false"}, true, false},
		{"no origins", nil, false, false},
		{"pinning and origins", map[string]string{"corsOrigins": `["https://dev.example.com"]`, "pinToken": "0123456789abcdef0123"}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse(source(tt.set))
			if err != nil {
				t.Fatal(err)
			}
			in := NewPolicyInput(cfg)
			if in.SubscriptionRequired != cfg.API.SubscriptionRequired {
				t.Errorf("policy input SubscriptionRequired: got %v, want %v (the API's)", in.SubscriptionRequired, cfg.API.SubscriptionRequired)
			}
			got, err := RenderPolicy(in)
			if err != nil {
				t.Fatal(err)
			}
			var doc corsDoc
			if err := xml.Unmarshal([]byte(got), &doc); err != nil {
				t.Fatalf("policy is not XML: %v\n%s", err, got)
			}
			if has := len(doc.Inbound.CORS) == 1; has != tt.wantCORS {
				t.Fatalf("cors present: got %v, want %v\n%s", has, tt.wantCORS, got)
			}
			if !tt.wantCORS {
				return
			}
			cors := doc.Inbound.CORS[0]
			allowed := map[string]bool{}
			for _, h := range cors.Headers {
				allowed[strings.ToLower(h)] = true
			}
			if got := allowed[strings.ToLower(SubscriptionKeyHeader)]; got != tt.wantKeyAllow {
				t.Errorf("allowed-headers %v: %s allowed got %v, want %v", cors.Headers, SubscriptionKeyHeader, got, tt.wantKeyAllow)
			}
			for _, h := range []string{"Content-Type", "Authorization"} {
				if !allowed[strings.ToLower(h)] {
					t.Errorf("allowed-headers %v: got no %s, want it", cors.Headers, h)
				}
			}
			if !slices.Contains(cors.Methods, "GET") {
				t.Errorf("allowed-methods: got %v, want GET (every operation is a GET)", cors.Methods)
			}
			var order inboundOrder
			if err := xml.Unmarshal([]byte(got), &order); err != nil {
				t.Fatal(err)
			}
			if first := order.Inbound.Elements[0].XMLName.Local; first != "cors" {
				t.Errorf("first inbound policy: got %s, want cors (APIM applies the first cors policy only)", first)
			}
			if cors.Terminate != "false" {
				t.Errorf("terminate-unmatched-request: got %q, want \"false\" set explicitly", cors.Terminate)
			}
			if strings.Count(got, "<base />") != 4 {
				t.Errorf("got %d <base /> elements, want one in each section", strings.Count(got, "<base />"))
			}
		})
	}
}
