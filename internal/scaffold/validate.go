package scaffold

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/slotless/slotless/internal/plan"
	"github.com/slotless/slotless/internal/project"
)

// Check proves the rendered files work before any is written, so a template bug fails init
// rather than the team's first `pulumi up`: Pulumi.yaml reads back with the project's name, the
// slotless runtime and the pinned version; the stack file plans, through the same loading,
// key checks, parser and mock program as `slotless plan --dir <project> --stack <stack>`
// (apiSpec read from the project folder); every other YAML file parses.
func Check(o Options, files []File) error {
	byPath := map[string][]byte{}
	for _, f := range files {
		byPath[f.Path] = f.Content
	}
	stackFile := "Pulumi." + o.Stack + ".yaml"
	tmp, err := os.MkdirTemp("", "slotless-init-")
	if err != nil {
		return fmt.Errorf("check the files: %w", err)
	}
	defer os.RemoveAll(tmp)
	for _, name := range []string{project.FileName, stackFile} {
		raw, ok := byPath[name]
		if !ok {
			return fmt.Errorf("check the files: %s is not among them", name)
		}
		if err := os.WriteFile(filepath.Join(tmp, name), raw, 0o644); err != nil {
			return fmt.Errorf("check the files: %w", err)
		}
	}

	pf, err := project.Load(tmp)
	if err != nil {
		return fmt.Errorf("the %s init would write does not read back: %w", project.FileName, err)
	}
	if pf.Name != o.Project || pf.Runtime != project.Runtime || pf.Version != o.Version {
		return fmt.Errorf("the %s init would write reads back as project %q, runtime %q, version %q; want %q, %q, %q",
			project.FileName, pf.Name, pf.Runtime, pf.Version, o.Project, project.Runtime, o.Version)
	}
	cfg, err := plan.LoadConfig(tmp, o.Stack)
	if err != nil {
		return fmt.Errorf("the %s init would write does not load: %w", stackFile, err)
	}
	cfg.Root = o.Dir
	if _, err := plan.Run(o.Stack, cfg); err != nil {
		return fmt.Errorf("the %s init would write does not pass slotless plan: %w", stackFile, err)
	}

	for _, f := range files {
		if !strings.HasSuffix(f.Path, ".yml") && !strings.HasSuffix(f.Path, ".yaml") {
			continue
		}
		var doc map[string]any
		if err := yaml.Unmarshal(f.Content, &doc); err != nil || len(doc) == 0 {
			return fmt.Errorf("the %s init would write is not a YAML mapping: %v", f.Path, err)
		}
	}
	return nil
}
