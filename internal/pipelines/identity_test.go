package pipelines

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestReleasesSignInAsTheReleaseIdentity: every workflow and pipeline that releases or watches
// signs in to Azure as the release identity, whose only rights are the role the stack grants
// releasePrincipalId, never as the infrastructure identity that deploys the stack.
func TestReleasesSignInAsTheReleaseIdentity(t *testing.T) {
	clientID := regexp.MustCompile(`(ARM_CLIENT_ID|client-id):\s*(.+)`)
	for _, f := range []string{ghRelease, ghWatch} {
		raw, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		uses := clientID.FindAllStringSubmatch(string(raw), -1)
		if len(uses) == 0 {
			t.Errorf("%s: no Azure client id", f)
		}
		for _, m := range uses {
			if strings.TrimSpace(m[2]) != "${{ vars.AZURE_RELEASE_CLIENT_ID }}" {
				t.Errorf("%s: %s: got %s, want ${{ vars.AZURE_RELEASE_CLIENT_ID }}", f, m[1], m[2])
			}
		}
	}
	connection := func(f string) string {
		raw, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		var p struct {
			Parameters []struct {
				Name    string `yaml:"name"`
				Default string `yaml:"default"`
			} `yaml:"parameters"`
		}
		if err := yaml.Unmarshal(raw, &p); err != nil {
			t.Fatal(err)
		}
		for _, prm := range p.Parameters {
			if prm.Name == "serviceConnection" {
				return prm.Default
			}
		}
		t.Fatalf("%s: no serviceConnection parameter", f)
		return ""
	}
	infra := connection(adoInfraTemplate)
	if infra != "slotless-azure" {
		t.Errorf("%s: service connection %q, want slotless-azure, the infrastructure identity's", adoInfraTemplate, infra)
	}
	for _, f := range []string{adoReleaseTemplate, adoWatchTemplate} {
		if got := connection(f); got != "slotless-release" || got == infra {
			t.Errorf("%s: service connection %q, want slotless-release, not the infrastructure's %q", f, got, infra)
		}
	}
}
