package release

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"gopkg.in/yaml.v3"
)

// AutoStack is a Pulumi stack driven through the Automation API: config edits go through the
// Pulumi CLI into Pulumi.<stack>.yaml, and Up runs the program in the project directory.
type AutoStack struct{ s auto.Stack }

// OpenStack selects an existing stack of the project in dir. It needs the Pulumi CLI and a
// logged-in backend, as `pulumi up` does.
func OpenStack(ctx context.Context, dir, name string) (*AutoStack, error) {
	s, err := auto.SelectStackLocalSource(ctx, name, dir)
	if err != nil {
		return nil, fmt.Errorf("select stack %s in %s: %w", name, dir, err)
	}
	return &AutoStack{s: s}, nil
}

// GetConfig implements Stack.
func (a *AutoStack) GetConfig(ctx context.Context, key string) (string, bool, error) {
	all, err := a.s.GetAllConfig(ctx)
	if err != nil {
		return "", false, err
	}
	v, ok := all[key]
	return v.Value, ok, nil
}

// SetConfig implements Stack.
func (a *AutoStack) SetConfig(ctx context.Context, key, value string) error {
	return a.s.SetConfig(ctx, key, auto.ConfigValue{Value: value})
}

// Up implements Stack, streaming the engine's progress to out.
func (a *AutoStack) Up(ctx context.Context, out io.Writer) (string, error) {
	res, err := a.s.Up(ctx, optup.ProgressStreams(out))
	if err != nil {
		return "", err
	}
	changes := res.Summary.ResourceChanges
	if changes == nil {
		return "no resource changes reported", nil
	}
	return fmt.Sprintf("%d updated, %d created, %d deleted, %d unchanged",
		(*changes)["update"], (*changes)["create"], (*changes)["delete"], (*changes)["same"]), nil
}

// FileStack edits Pulumi.<stack>.yaml directly, keeping its comments and layout, for
// --write-only: the change is committed and a deployment applies it. It cannot run up.
type FileStack struct{ Path string }

// GetConfig implements Stack.
func (f FileStack) GetConfig(_ context.Context, key string) (string, bool, error) {
	_, cfg, err := f.load()
	if err != nil {
		return "", false, err
	}
	for i := 0; i+1 < len(cfg.Content); i += 2 {
		if cfg.Content[i].Value == key {
			return cfg.Content[i+1].Value, true, nil
		}
	}
	return "", false, nil
}

// SetConfig implements Stack.
func (f FileStack) SetConfig(_ context.Context, key, value string) error {
	doc, cfg, err := f.load()
	if err != nil {
		return err
	}
	set := false
	for i := 0; i+1 < len(cfg.Content); i += 2 {
		if cfg.Content[i].Value == key {
			cfg.Content[i+1].Kind, cfg.Content[i+1].Tag, cfg.Content[i+1].Value = yaml.ScalarNode, "", value
			set = true
		}
	}
	if !set {
		cfg.Content = append(cfg.Content,
			&yaml.Node{Kind: yaml.ScalarNode, Value: key},
			&yaml.Node{Kind: yaml.ScalarNode, Value: value})
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		return fmt.Errorf("render %s: %w", f.Path, err)
	}
	// Write beside and rename, so an interrupted write never leaves half a stack file.
	tmp := f.Path + ".tmp"
	if err := os.WriteFile(tmp, out, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	return os.Rename(tmp, f.Path)
}

// Up implements Stack: a FileStack never applies.
func (f FileStack) Up(context.Context, io.Writer) (string, error) {
	return "", errors.New("a stack file cannot be applied; run pulumi up, or let Pulumi Deployments apply the commit")
}

func (f FileStack) load() (*yaml.Node, *yaml.Node, error) {
	raw, err := os.ReadFile(f.Path)
	if err != nil {
		return nil, nil, fmt.Errorf("read stack file: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, nil, fmt.Errorf("parse %s: %w", f.Path, err)
	}
	if doc.Kind == 0 {
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode}}}
	}
	root := doc.Content[0]
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "config" {
			return &doc, root.Content[i+1], nil
		}
	}
	cfg := &yaml.Node{Kind: yaml.MappingNode}
	root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "config"}, cfg)
	return &doc, cfg, nil
}
