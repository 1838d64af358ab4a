package pipelines

import (
	"maps"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// goUse finds what in a piece of pipeline YAML needs a Go toolchain: a Go setup task or action,
// or a go command that builds, tests or runs code in a script.
func goUse(n *yaml.Node) []string {
	var found []string
	var walk func(n *yaml.Node, key string)
	walk = func(n *yaml.Node, key string) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				walk(n.Content[i+1], n.Content[i].Value)
			}
		case yaml.SequenceNode, yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, key)
			}
		case yaml.ScalarNode:
			v := n.Value
			switch {
			case (key == "task" && strings.HasPrefix(v, "GoTool")) || (key == "uses" && strings.HasPrefix(v, "actions/setup-go")):
				found = append(found, key+": "+v)
			case key == "run" || key == "bash" || key == "script" || key == "inlineScript":
				for _, m := range goCommand.FindAllString(v, -1) {
					found = append(found, "script: "+strings.TrimSpace(m))
				}
			}
		}
	}
	walk(n, "")
	return found
}

// node finds the mapping under a path of keys, or of "name=value" selectors in lists.
func node(t *testing.T, n *yaml.Node, path ...string) *yaml.Node {
	t.Helper()
	if n.Kind == yaml.DocumentNode {
		n = n.Content[0]
	}
	for _, p := range path {
		key, want, selector := strings.Cut(p, "=")
		var next *yaml.Node
		switch {
		case selector && n.Kind == yaml.SequenceNode:
			for _, item := range n.Content {
				for i := 0; i+1 < len(item.Content); i += 2 {
					if item.Content[i].Value == key && item.Content[i+1].Value == want {
						next = item
					}
				}
			}
		case n.Kind == yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == key {
					next = n.Content[i+1]
				}
			}
		}
		if next == nil {
			t.Fatalf("no %s in the pipeline", strings.Join(path, " / "))
		}
		n = next
	}
	return n
}

// TestNoRollbackPathNeedsAGoToolchain: the rollback stage of Azure DevOps and the rollback job
// of GitHub install no Go and compile nothing: slotless hosts the program in-process, and a
// rollback must not wait on a build (1.5 to 2 minutes cold).
func TestNoRollbackPathNeedsAGoToolchain(t *testing.T) {
	rollbackStage := func(params map[string]any) *yaml.Node {
		n, err := expandTemplateFile(adoReleaseTemplate, params)
		if err != nil {
			t.Fatal(err)
		}
		return node(t, n, "stages", "stage=Rollback")
	}
	if got := goUse(rollbackStage(teamRelease)); len(got) > 0 {
		t.Errorf("Azure DevOps Rollback stage needs Go: %v", got)
	}
	source := maps.Clone(teamRelease)
	source["slotlessVersion"] = "source"
	if got := goUse(rollbackStage(source)); len(got) == 0 {
		t.Error("the check finds no Go in the Rollback stage under slotlessVersion source, which builds slotless: it sees nothing")
	}
	w := decode[workflow](t, ghRelease)
	rollback := &workflow{Env: w.Env, Jobs: map[string]*ghJob{"rollback": w.Jobs["rollback"]}}
	if got, err := ghGoSteps(rollback, "v1.2.0"); err != nil || len(got) > 0 {
		t.Errorf("GitHub rollback job needs Go: %v (%v)", got, err)
	}
	// The check itself sees a Go step where there is one: slotless's own repository builds
	// slotless from its checkout, on a cache miss.
	if got, _ := ghGoSteps(rollback, "source"); len(got) == 0 {
		t.Error("the check finds no Go in the rollback job under slotless-version source, which builds slotless: it sees nothing")
	}
}
