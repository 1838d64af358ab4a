package stack

import (
	"os"
	"strings"
	"testing"
)

const specHead = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n"

func TestParseAPISpec(t *testing.T) {
	sample, err := os.ReadFile("../functionapp/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, doc, healthPath string
		wantOps               []string // "METHOD /template", sorted by template
		wantErr               string
	}{
		{name: "the sample's document, which declares its health operation", doc: string(sample), healthPath: "/health",
			wantOps: []string{"GET /health", "GET /orders", "GET /orders/{id}"}},
		{name: "a document without health gets it", doc: specHead + "  /items:\n    post:\n      responses: {'201': {description: ok}}\n", healthPath: "/health",
			wantOps: []string{"GET /health", "POST /items"}},
		{name: "another health path", doc: specHead + "  /status:\n    get:\n      responses: {'200': {description: ok}}\n", healthPath: "/status",
			wantOps: []string{"GET /status"}},
		{name: "a template that would take the health path", healthPath: "/health",
			doc:     specHead + "  /{page}:\n    get:\n      parameters: [{name: page, in: path, required: true, schema: {type: string}}]\n      responses: {'200': {description: ok}}\n",
			wantErr: "GET /{page} would route the health path /health elsewhere"},
		{name: "a POST template leaves GET health alone", healthPath: "/health",
			doc:     specHead + "  /{page}:\n    post:\n      parameters: [{name: page, in: path, required: true, schema: {type: string}}]\n      responses: {'200': {description: ok}}\n",
			wantOps: []string{"GET /health", "POST /{page}"}},
		{name: "a template beside the exact health path is harmless", healthPath: "/health",
			doc:     specHead + "  /health:\n    get:\n      responses: {'200': {description: ok}}\n  /{page}:\n    get:\n      parameters: [{name: page, in: path, required: true, schema: {type: string}}]\n      responses: {'200': {description: ok}}\n",
			wantOps: []string{"GET /health", "GET /{page}"}},
		{name: "the health path's other methods stay", healthPath: "/health",
			doc:     specHead + "  /health:\n    post:\n      responses: {'204': {description: ok}}\n",
			wantOps: []string{"GET /health", "POST /health"}},
		{name: "not YAML", doc: "openapi: [", healthPath: "/health", wantErr: "not an OpenAPI document"},
		{name: "Swagger 2.0", doc: "swagger: '2.0'\ninfo: {title: t, version: '1'}\npaths: {}\n", healthPath: "/health", wantErr: "want an OpenAPI 3.0 document"},
		{name: "no paths", doc: specHead + "  {}\n", healthPath: "/health", wantErr: "no paths"},
		{name: "invalid: a path parameter not declared", healthPath: "/health",
			doc: specHead + "  /orders/{id}:\n    get:\n      responses: {'200': {description: ok}}\n", wantErr: "invalid OpenAPI document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseAPISpec([]byte(tt.doc), tt.healthPath)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error: got %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range s.Operations {
				got = append(got, o.Method+" "+o.URLTemplate)
			}
			if strings.Join(got, ", ") != strings.Join(tt.wantOps, ", ") {
				t.Errorf("operations: got %v, want %v", got, tt.wantOps)
			}
			again, err := ParseAPISpec([]byte(s.Spec), tt.healthPath)
			if err != nil || again.Spec != s.Spec {
				t.Errorf("the rendered document does not parse back to itself: %v", err)
			}
		})
	}
}

func TestRoute(t *testing.T) {
	sample, err := os.ReadFile("../functionapp/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	spec, err := ParseAPISpec(sample, "/health")
	if err != nil {
		t.Fatal(err)
	}
	pass := Passthrough("/health")
	tests := []struct {
		name         string
		surface      APISurface
		method, path string
		want         string // the template; "" for none
	}{
		{"exact", spec, "GET", "/orders", "/orders"},
		{"templated", spec, "GET", "/orders/7", "/orders/{id}"},
		{"wrong method", spec, "POST", "/orders", ""},
		{"no such route", spec, "GET", "/customers", ""},
		{"passthrough takes anything", pass, "DELETE", "/a/b", "/*"},
		{"passthrough's health is its own", pass, "GET", "/health", "/health"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op, ok := tt.surface.Route(tt.method, tt.path)
			if got := op.URLTemplate; ok != (tt.want != "") || got != tt.want {
				t.Errorf("route %s %s: got %q (%v), want %q", tt.method, tt.path, got, ok, tt.want)
			}
		})
	}
}
