package stack

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestDevStackProbesTheSampleAPI: the dev stack's releaseProbes parse, and each is a route the
// API exposes for the sample (an operation of its apiSpec that API Management would route it to),
// other than the health endpoint the health gate already watches. A probe of a route the API
// does not have answers 404 from both slots, which would judge nothing.
func TestDevStackProbesTheSampleAPI(t *testing.T) {
	raw, err := os.ReadFile("../Pulumi.dev.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	probes, ok := file.Config["slotless:releaseProbes"]
	if !ok {
		t.Fatal("Pulumi.dev.yaml declares no releaseProbes")
	}
	// Pulumi hands structured config to the program as JSON.
	js, err := json.Marshal(probes)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(source(map[string]string{"releaseProbes": string(js)}))
	if err != nil {
		t.Fatalf("the dev stack's releaseProbes: %v", err)
	}
	if len(c.Release.Probes) == 0 {
		t.Fatal("the dev stack's releaseProbes: none parsed")
	}
	dev, err := Parse(source(map[string]string{"apiSpec": stringConfig(t, file.Config, "apiSpec")}))
	if err != nil {
		t.Fatal(err)
	}
	api, err := LoadAPISurface("..", dev.API.Spec, dev.API.HealthPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range c.Release.Probes {
		path, _, _ := strings.Cut(p.Path, "?")
		op, ok := api.Route(p.Method, path)
		if !ok || op.URLTemplate == dev.API.HealthPath {
			t.Errorf("probe %s %s: no operation of the API serves it (want one of %v, not health)", p.Method, p.Path, api.Operations)
		}
	}
}

func stringConfig(t *testing.T, config map[string]any, key string) string {
	t.Helper()
	v, ok := config["slotless:"+key].(string)
	if !ok {
		t.Fatalf("Pulumi.dev.yaml sets no %s", key)
	}
	return v
}
