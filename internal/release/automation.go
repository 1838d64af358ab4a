package release

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/opthistory"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"gopkg.in/yaml.v3"

	"github.com/slotless/slotless/internal/buildinfo"
	"github.com/slotless/slotless/internal/engine"
	"github.com/slotless/slotless/internal/project"
	"github.com/slotless/slotless/stack"
)

// AutoStack is a deployed stack run through the in-process engine: config edits go through the
// Pulumi CLI into Pulumi.<stack>.yaml, and previews and updates host the program in this
// process (the Automation API's inline source), so no Go toolchain or language plugin is needed.
type AutoStack struct{ s *engine.Stack }

// OpenStack selects an existing stack of the project in dir. It needs the Pulumi CLI and a
// logged-in backend, as `pulumi up` does. by names the slotless command, which the pool's
// record of who moved traffic keeps (stack.PoolRecord); each update is stamped when it runs.
func OpenStack(ctx context.Context, dir, name, by string) (*AutoStack, error) {
	program := func(pctx *pulumi.Context) error {
		return stack.ProgramIn(dir, stack.Mover{By: by, At: time.Now(), Version: buildinfo.Version()})(pctx)
	}
	s, err := engine.Open(ctx, engine.Options{Dir: dir, Stack: name, Program: program})
	if err != nil {
		return nil, err
	}
	return &AutoStack{s: s}, nil
}

// Deployed implements Stack: the weights and current-slot-name from the stack's outputs.
func (a *AutoStack) Deployed(ctx context.Context) (Deployed, error) {
	outs, err := a.s.PlainOutputs(ctx)
	if err != nil {
		return Deployed{}, err
	}
	return DeployedFromOutputs(outs)
}

// Outputs returns the deployed stack's outputs as plain values; secret outputs are left out.
func (a *AutoStack) Outputs(ctx context.Context) (map[string]any, error) {
	return a.s.PlainOutputs(ctx)
}

// SetEnv sets an environment variable for the pulumi CLI and the providers of every later
// preview and update, such as a freshly fetched federated token for azure-native.
func (a *AutoStack) SetEnv(key, value string) {
	a.s.Workspace().SetEnvVar(key, value)
}

// DeployedFromOutputs reads where traffic stands from a stack's outputs.
func DeployedFromOutputs(outs map[string]any) (Deployed, error) {
	raw, ok := outs[stack.OutBlueWeight]
	if !ok {
		return Deployed{}, errors.New("the stack has no blueWeight output: it has not been deployed yet; run pulumi up first")
	}
	blue, ok := number(raw)
	if !ok || blue < 0 || blue > 100 {
		return Deployed{}, fmt.Errorf("the stack's blueWeight output %v is not a weight 0..100", raw)
	}
	d := Deployed{Weights: stack.Weights{Green: 100 - blue, Blue: blue}, Source: "the deployed stack"}
	d.CurrentSlotName, _ = outs[stack.OutCurrentSlotName].(string)
	d.Version, _ = outs[stack.OutSlotlessVersion].(string)
	return d, nil
}

func number(v any) (int, bool) {
	switch n := v.(type) {
	case float64:
		return int(n), n == float64(int(n))
	case int:
		return n, true
	case string:
		i, err := strconv.Atoi(n)
		return i, err == nil
	}
	return 0, false
}

// GetConfig implements Stack. It reads the stack's config without decrypting its secrets: the
// keys a shift reads are plain, a secret is refused rather than shown, and each decryption
// costs the CLI a passphrase key derivation.
func (a *AutoStack) GetConfig(ctx context.Context, key string) (string, bool, error) {
	got, err := a.GetConfigs(ctx, key)
	if err != nil {
		return "", false, err
	}
	v, ok := got[key]
	return v, ok, nil
}

// GetConfigs implements ConfigReader: one read of the stack's config for every key, without
// decrypting, as GetConfig.
func (a *AutoStack) GetConfigs(ctx context.Context, keys ...string) (map[string]string, error) {
	all, err := a.s.GetAllConfigWithOptions(ctx, &auto.GetAllConfigOptions{})
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, key := range keys {
		v, ok := all[project.Key(a.s.Project(), key)]
		if !ok {
			continue
		}
		if v.Secret {
			return nil, fmt.Errorf("%s is a secret in the stack config; it must be a plain number", key)
		}
		out[key] = v.Value
	}
	return out, nil
}

// DecryptedConfig reads one key of the stack's config with its secrets decrypted by the stack's
// own secrets provider, as `pulumi config --show-secrets` does, for a value a command needs in
// clear (notify.ConfigReader: the webhook URLs). secret says whether Pulumi holds the key as a
// secret. Its error is the CLI's error line alone: the CLI's output holds decrypted values.
func (a *AutoStack) DecryptedConfig(ctx context.Context, key string) (value string, secret, found bool, err error) {
	all, err := a.s.GetAllConfigWithOptions(ctx, &auto.GetAllConfigOptions{ShowSecrets: true})
	if err != nil {
		return "", false, false, fmt.Errorf("read the stack's config with its secrets provider: %s", engine.Message(err))
	}
	v, ok := all[project.Key(a.s.Project(), key)]
	return v.Value, v.Secret, ok, nil
}

// SetConfig implements Stack.
func (a *AutoStack) SetConfig(ctx context.Context, key, value string) error {
	return a.s.SetConfig(ctx, project.Key(a.s.Project(), key), auto.ConfigValue{Value: value})
}

// RemoveConfig implements Stack.
func (a *AutoStack) RemoveConfig(ctx context.Context, key string) error {
	return a.s.RemoveConfig(ctx, project.Key(a.s.Project(), key))
}

// Preview implements Stack.
func (a *AutoStack) Preview(ctx context.Context, out io.Writer) (engine.Changes, error) {
	return a.s.Preview(ctx, out)
}

// Up implements Stack.
func (a *AutoStack) Up(ctx context.Context, out io.Writer, targets []string) (engine.Changes, error) {
	return a.s.UpTargets(ctx, out, targets)
}

// Refresh implements Stack.
func (a *AutoStack) Refresh(ctx context.Context, out io.Writer, targets []string) error {
	return a.s.RefreshTargets(ctx, out, targets)
}

// URN implements Stack.
func (a *AutoStack) URN(typ, name string) string { return a.s.URN(typ, name) }

// FileStack edits Pulumi.<stack>.yaml directly, keeping its comments and layout, for
// --write-only: the change is committed and a deployment applies it. It cannot run up. Its keys
// are in the namespace of the Pulumi.yaml beside it.
type FileStack struct{ Path string }

// key is a project key as the stack file holds it (orders:blueWeight).
func (f FileStack) key(name string) (string, error) {
	file, err := project.Load(filepath.Dir(f.Path))
	if err != nil {
		return "", err
	}
	return project.Key(file.Name, name), nil
}

// GetConfig implements Stack.
func (f FileStack) GetConfig(_ context.Context, name string) (string, bool, error) {
	key, err := f.key(name)
	if err != nil {
		return "", false, err
	}
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
func (f FileStack) SetConfig(_ context.Context, name, value string) error {
	key, err := f.key(name)
	if err != nil {
		return err
	}
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
	return f.save(doc)
}

func (f FileStack) save(doc *yaml.Node) error {
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

// Deployed implements Stack for --write-only, which works without a backend: the weights are
// the stack file's, and the release's origin comes from the file's git history. Say so.
func (f FileStack) Deployed(context.Context) (Deployed, error) {
	raw, err := os.ReadFile(f.Path)
	if err != nil {
		return Deployed{}, fmt.Errorf("read stack file: %w", err)
	}
	file, err := project.Load(filepath.Dir(f.Path))
	if err != nil {
		return Deployed{}, err
	}
	w, err := WeightsFromStackFile(raw, file.Name)
	if err != nil {
		return Deployed{}, err
	}
	d := Deployed{Weights: w, Source: "from " + filepath.Base(f.Path) + ", not the deployed stack (--write-only)"}
	if origin, ok := OriginFromGit(filepath.Dir(f.Path), "HEAD", filepath.Base(f.Path)); ok {
		d.CurrentSlotName = origin.BackendID()
	}
	return d, nil
}

// RemoveConfig implements Stack.
func (f FileStack) RemoveConfig(_ context.Context, name string) error {
	key, err := f.key(name)
	if err != nil {
		return err
	}
	doc, cfg, err := f.load()
	if err != nil {
		return err
	}
	for i := 0; i+1 < len(cfg.Content); i += 2 {
		if cfg.Content[i].Value == key {
			cfg.Content = append(cfg.Content[:i], cfg.Content[i+2:]...)
			return f.save(doc)
		}
	}
	return nil
}

// Preview implements Stack: a FileStack cannot plan.
func (f FileStack) Preview(context.Context, io.Writer) (engine.Changes, error) {
	return engine.Changes{}, errors.New("a stack file cannot be previewed; run pulumi preview")
}

// Up implements Stack: a FileStack never applies.
func (f FileStack) Up(context.Context, io.Writer, []string) (engine.Changes, error) {
	return engine.Changes{}, errors.New("a stack file cannot be applied; run pulumi up, or let Pulumi Deployments apply the commit")
}

// Refresh implements Stack: a FileStack cannot read Azure.
func (f FileStack) Refresh(context.Context, io.Writer, []string) error {
	return errors.New("a stack file cannot be refreshed; run pulumi refresh")
}

// URN implements Stack.
func (f FileStack) URN(typ, name string) string { return typ + "::" + name }

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

// LastUpdateEnded is when the stack's newest update (its history's newest entry) ended: every
// traffic write made through Pulumi ended before it. The history's times are whole seconds
// (`pulumi stack history --json` prints the backend's Unix seconds), so the instant returned is
// the second after, never before the end. ok is false while that update still runs (no end
// time yet) or when the stack has no history. Secrets stay hidden: the history is asked
// without --show-secrets, which the Automation API passes by default.
func (a *AutoStack) LastUpdateEnded(ctx context.Context) (time.Time, bool, error) {
	h, err := a.s.History(ctx, 1, 1, opthistory.ShowSecrets(false))
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read the stack's update history: %w", err)
	}
	if len(h) == 0 || h[0].EndTime == nil {
		return time.Time{}, false, nil
	}
	end, err := time.Parse(time.RFC3339, *h[0].EndTime)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("the stack's update history: end time %q: %w", *h[0].EndTime, err)
	}
	return end.Add(time.Second), true, nil
}
