package stack

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestDevStackProbesTheSampleAPI: the dev stack's releaseProbes parse, and each is a route the
// API exposes for the sample (an operation of its method whose URL template matches the path),
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
	probes, ok := file.Config[Project+":releaseProbes"]
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
	for _, p := range c.Release.Probes {
		path, _, _ := strings.Cut(p.Path, "?")
		matched := false
		for _, op := range Operations {
			pattern := "^" + regexp.MustCompile(`\\\{[^}]+\\\}`).ReplaceAllString(regexp.QuoteMeta(op.URLTemplate), `[^/]+`) + "$"
			if op.Method == p.Method && regexp.MustCompile(pattern).MatchString(path) && op.ID != "health" {
				matched = true
			}
		}
		if !matched {
			t.Errorf("probe %s %s: no operation of the API serves it (want one of %v, not health)", p.Method, p.Path, Operations)
		}
	}
}
