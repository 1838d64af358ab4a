package stack

import (
	"encoding/xml"
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
