package pipelines

import (
	"fmt"
	"maps"
	"slices"
	"testing"
)

const deploySettings = "deploy/Pulumi.yaml"

type deployProgram struct {
	Resources map[string]struct {
		Type       string         `yaml:"type"`
		Properties map[string]any `yaml:"properties"`
	} `yaml:"resources"`
}

// vcsProperties are the properties of pulumiservice:index:DeploymentSettingsVcs in the Pulumi
// Service provider's schema (pulumi/pulumi-pulumiservice,
// provider/cmd/pulumi-resource-pulumiservice/schema.json); `provider` is required.
var vcsProperties = []string{"deployCommits", "deployPullRequest", "installationId", "paths", "previewPullRequests", "provider", "pullRequestTemplate", "repository"}

// vcsProviders are the values the provider maps to a VCS; it drops the block for any other.
var vcsProviders = []string{"azure_devops", "bitbucket", "custom", "github", "gitlab"}

// infraPaths are the paths whose change is an infrastructure change, as in infra.yml.
var infraPaths = []string{"Pulumi.yaml", "Pulumi.${targetStack}.yaml", "main.go", "go.mod", "go.sum", "stack/**", "sdks/azure-native/**"}

func checkDeploymentSettings(p *deployProgram) error {
	var props map[string]any
	for name, r := range p.Resources {
		if r.Type == "pulumiservice:DeploymentSettings" || r.Type == "pulumiservice:index:DeploymentSettings" {
			if props != nil {
				return fmt.Errorf("got a second DeploymentSettings (%s), want one", name)
			}
			props = r.Properties
		}
	}
	if props == nil {
		return fmt.Errorf("got no pulumiservice:DeploymentSettings resource, want one")
	}
	if _, ok := props["github"]; ok {
		return fmt.Errorf("properties: got the deprecated github block, want vcs")
	}
	vcs, ok := props["vcs"].(map[string]any)
	if !ok {
		return fmt.Errorf("properties vcs: got %v, want a mapping", props["vcs"])
	}
	for _, k := range slices.Sorted(maps.Keys(vcs)) {
		if !slices.Contains(vcsProperties, k) {
			return fmt.Errorf("vcs.%s: not a property of DeploymentSettingsVcs, want one of %v", k, vcsProperties)
		}
	}
	if got := vcs["provider"]; got != "github" {
		return fmt.Errorf("vcs.provider: got %v, want github (one of %v, spelt exactly)", got, vcsProviders)
	}
	if got := vcs["repository"]; got != "${githubRepository}" {
		return fmt.Errorf("vcs.repository: got %v, want ${githubRepository}", got)
	}
	for _, k := range []string{"deployCommits", "previewPullRequests"} {
		if vcs[k] != true {
			return fmt.Errorf("vcs.%s: got %v, want true", k, vcs[k])
		}
	}
	var paths []string
	if list, ok := vcs["paths"].([]any); ok {
		for _, v := range list {
			if s, ok := v.(string); ok {
				paths = append(paths, s)
			}
		}
	}
	if !slices.Equal(paths, infraPaths) {
		return fmt.Errorf("vcs.paths: got %v, want %v", paths, infraPaths)
	}
	return nil
}

func TestDeploymentSettingsUseVCS(t *testing.T) {
	if err := checkDeploymentSettings(decode[deployProgram](t, deploySettings)); err != nil {
		t.Error(err)
	}
	vcs := func(p map[string]any) map[string]any {
		m, _ := p["vcs"].(map[string]any)
		if m == nil {
			m = map[string]any{}
			p["vcs"] = m
		}
		return m
	}
	breaks := []struct {
		name   string
		break_ func(map[string]any)
	}{
		{"github block back", func(p map[string]any) { p["github"] = p["vcs"]; delete(p, "vcs") }},
		{"both blocks", func(p map[string]any) { p["github"] = map[string]any{"repository": "x/y"} }},
		{"provider misspelt", func(p map[string]any) { vcs(p)["provider"] = "GitHub" }},
		{"provider missing", func(p map[string]any) { delete(vcs(p), "provider") }},
		{"unknown property", func(p map[string]any) { vcs(p)["repo"] = "x/y" }},
		{"no commit deploys", func(p map[string]any) { vcs(p)["deployCommits"] = false }},
	}
	for _, b := range breaks {
		t.Run(b.name, func(t *testing.T) {
			p := decode[deployProgram](t, deploySettings)
			for _, r := range p.Resources {
				if r.Properties != nil {
					b.break_(r.Properties)
				}
			}
			if err := checkDeploymentSettings(p); err == nil {
				t.Errorf("after breaking: got nil, want an error")
			}
		})
	}
}
