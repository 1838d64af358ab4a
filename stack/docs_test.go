package stack

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestDocsDocumentEveryKey keeps the configuration page's table in step with Keys.
func TestDocsDocumentEveryKey(t *testing.T) {
	raw, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	for _, k := range Keys {
		row := "| `" + k.Name + "` | " + k.Default + " | " + k.Allowed + " |"
		if !strings.Contains(readme, row) {
			t.Errorf("docs/configuration.md has no config row starting %q", row)
		}
	}
}

// TestPulumiYAMLDeclaresOnlyKeysWithDefaults keeps Pulumi.yaml usable by the real engine: it
// treats a declared key without a default as required and stops `pulumi up` until it is set, so
// an optional key is declared only with its default, and otherwise named in the file's comment.
func TestPulumiYAMLDeclaresOnlyKeysWithDefaults(t *testing.T) {
	raw, err := os.ReadFile("../Pulumi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var project struct {
		Config map[string]map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(raw, &project); err != nil {
		t.Fatal(err)
	}
	for name, decl := range project.Config {
		if _, ok := decl["default"]; !ok {
			t.Errorf("Pulumi.yaml declares %s without a default, which makes every pulumi up require it", name)
		}
		if _, ok := LookupKey(name); !ok {
			t.Errorf("Pulumi.yaml declares %s, which is not a config key of the program", name)
		}
	}
	for _, k := range Keys {
		_, declared := project.Config[k.Name]
		if !declared && !strings.Contains(string(raw), " "+k.Name) {
			t.Errorf("Pulumi.yaml neither declares %s nor names it among the optional keys", k.Name)
		}
	}
}

// TestSampleServesUnderTheDefaultRoutePrefix: the sample app's host.json sets the route prefix
// the dev stack's backends send every request under (routePrefix, unset there), or every request
// through API Management would reach a path the sample does not serve.
func TestSampleServesUnderTheDefaultRoutePrefix(t *testing.T) {
	raw, err := os.ReadFile("../functionapp/host.json")
	if err != nil {
		t.Fatal(err)
	}
	var host struct {
		Extensions struct {
			HTTP struct {
				RoutePrefix *string `json:"routePrefix"`
			} `json:"http"`
		} `json:"extensions"`
	}
	if err := json.Unmarshal(raw, &host); err != nil {
		t.Fatal(err)
	}
	dev, err := os.ReadFile("../Pulumi.dev.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(dev), "routePrefix") {
		t.Fatal("Pulumi.dev.yaml sets routePrefix: compare the sample's host.json with it instead")
	}
	if p := host.Extensions.HTTP.RoutePrefix; p == nil || *p != DefaultRoutePrefix {
		t.Errorf("functionapp/host.json extensions.http.routePrefix: got %v, want %q, the dev stack's", p, DefaultRoutePrefix)
	}
}
