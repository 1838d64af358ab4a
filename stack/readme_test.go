package stack

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEDocumentsEveryKey keeps the README's config table in step with Keys.
func TestREADMEDocumentsEveryKey(t *testing.T) {
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	for _, k := range Keys {
		row := "| `" + k.Name + "` | " + k.Default + " | " + k.Allowed + " |"
		if !strings.Contains(readme, row) {
			t.Errorf("README has no config row starting %q", row)
		}
	}
	pulumiYAML, err := os.ReadFile("../Pulumi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range Keys {
		if !strings.Contains(string(pulumiYAML), "\n  "+k.Name+":\n") {
			t.Errorf("Pulumi.yaml does not type %s", k.Name)
		}
	}
}
