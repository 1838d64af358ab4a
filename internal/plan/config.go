package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/slotless/slotless/internal/project"
	"github.com/slotless/slotless/stack"
)

// SecretPlaceholder stands for a secret value, which the offline plan never decrypts or shows.
const SecretPlaceholder = "[secret]"

// SecretStandIn is what the program is given for an encrypted value the offline plan cannot
// decrypt. It passes validation of keys meant to be secret, and the program marks every such
// value secret, so it shows as SecretPlaceholder.
const SecretStandIn = stack.OfflineSecret

// StackConfig is a stack's flattened configuration as Pulumi hands it to the program:
// namespaced keys ("orders:blueWeight") to string values, lists and maps as JSON.
type StackConfig struct {
	// Project is the project's name (Pulumi.yaml's name), the namespace of its keys.
	Project string
	Values  map[string]string
	Secrets []string
	// Root is the project directory, which apiSpec is relative to; empty means the working
	// directory.
	Root string
}

// Clone returns an independent copy, so a caller can layer changes over a base.
func (c StackConfig) Clone() StackConfig {
	out := StackConfig{Project: c.Project, Values: map[string]string{}, Secrets: slices.Clone(c.Secrets), Root: c.Root}
	for k, v := range c.Values {
		out.Values[k] = v
	}
	return out
}

// Set applies one "key=value" override. A bare key belongs to the project namespace.
func (c *StackConfig) Set(assignment string) error {
	key, value, ok := strings.Cut(assignment, "=")
	if !ok || key == "" {
		return fmt.Errorf("--set %q: want key=value, e.g. blueWeight=10", assignment)
	}
	c.Values[c.namespaced(key)] = value
	return nil
}

// namespaced puts a bare key in the project's namespace, as the Pulumi CLI does.
func (c StackConfig) namespaced(key string) string {
	if strings.Contains(key, ":") {
		return key
	}
	return project.Key(c.Project, key)
}

// LoadConfig layers the project defaults from Pulumi.yaml under the stack's Pulumi.<stack>.yaml,
// as the Pulumi CLI does, both read from dir.
func LoadConfig(dir, stackName string) (StackConfig, error) {
	cfg, err := ProjectDefaults(dir)
	if err != nil {
		return cfg, err
	}
	stackFile := filepath.Join(dir, "Pulumi."+stackName+".yaml")
	raw, err := os.ReadFile(stackFile)
	if errors.Is(err, fs.ErrNotExist) {
		known, _ := Stacks(dir)
		return cfg, &UnknownStackError{Stack: stackName, Dir: dir, Known: known}
	}
	if err != nil {
		return cfg, fmt.Errorf("stack %q: %w", stackName, err)
	}
	if err := cfg.MergeStack(raw); err != nil {
		return cfg, fmt.Errorf("%s: %w", filepath.Base(stackFile), err)
	}
	return cfg, nil
}

// UnknownStackError is a stack with no Pulumi.<stack>.yaml in the project directory.
type UnknownStackError struct {
	Stack, Dir string
	// Known lists the stacks that have a file there.
	Known []string
}

// Error names the stack and the stacks that exist.
func (e *UnknownStackError) Error() string {
	msg := fmt.Sprintf("stack %q: no Pulumi.%s.yaml in %s", e.Stack, e.Stack, e.Dir)
	if len(e.Known) == 0 {
		return msg + "; no stack files there either (is it the project directory?)"
	}
	return msg + "; stacks here: " + strings.Join(e.Known, ", ")
}

// Stacks lists the stacks of the project in dir: every Pulumi.<stack>.yaml, sorted.
// Files of other tools that share the pattern, such as Pulumi.<stack>.deploy.yaml,
// are left out.
func Stacks(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "Pulumi.*.yaml"))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, f := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "Pulumi."), ".yaml")
		if name != "" && !strings.Contains(name, ".") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names, nil
}

// ProjectDefaults is the config from Pulumi.yaml's defaults alone, in the namespace of its name.
func ProjectDefaults(dir string) (StackConfig, error) {
	cfg := StackConfig{Values: map[string]string{}, Root: dir}
	file, err := project.Load(dir)
	if err != nil {
		return cfg, err
	}
	cfg.Project = file.Name
	raw, err := os.ReadFile(file.Path)
	if err != nil {
		return cfg, fmt.Errorf("read project file: %w", err)
	}
	if err := cfg.mergeProject(raw); err != nil {
		return cfg, fmt.Errorf("project file Pulumi.yaml: %w", err)
	}
	return cfg, nil
}

func (c *StackConfig) mergeProject(raw []byte) error {
	var project struct {
		Config map[string]struct {
			Default any `yaml:"default"`
		} `yaml:"config"`
	}
	if err := yaml.Unmarshal(raw, &project); err != nil {
		return fmt.Errorf("parse: %w", err)
	}
	for key, spec := range project.Config {
		if spec.Default == nil {
			continue
		}
		v, err := flatten(spec.Default)
		if err != nil {
			return fmt.Errorf("default of %s: %w", key, err)
		}
		c.Values[c.namespaced(key)] = v
	}
	return nil
}

// MergeStack layers a stack file's config over c. Secure values stay encrypted and show as
// SecretPlaceholder.
func (c *StackConfig) MergeStack(raw []byte) error {
	var st struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(raw, &st); err != nil {
		return fmt.Errorf("parse: %w", err)
	}
	for key, value := range st.Config {
		key = c.namespaced(key)
		if isSecure(value) {
			c.Values[key] = SecretStandIn
			c.markSecret(key)
			continue
		}
		// A value set with --secret --path (appSettings.DbPassword) is secure inside a
		// structured value: Pulumi then holds the whole key as a secret, and the program gets
		// it decrypted; the offline plan gets the stand-in in its place.
		value, nested := standInSecure(value)
		if nested {
			c.markSecret(key)
		}
		v, err := flatten(value)
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		c.Values[key] = v
	}
	sort.Strings(c.Secrets)
	return nil
}

// isSecure reports whether a stack file's value is an encrypted one, {secure: ...}.
func isSecure(value any) bool {
	m, ok := value.(map[string]any)
	if !ok || len(m) != 1 {
		return false
	}
	_, secure := m["secure"]
	return secure
}

// standInSecure replaces every encrypted value inside a structured one with SecretStandIn, and
// reports whether there was any.
func standInSecure(value any) (any, bool) {
	switch v := value.(type) {
	case map[string]any:
		if isSecure(v) {
			return SecretStandIn, true
		}
		out, found := make(map[string]any, len(v)), false
		for k, e := range v {
			var n bool
			out[k], n = standInSecure(e)
			found = found || n
		}
		return out, found
	case []any:
		out, found := make([]any, len(v)), false
		for i, e := range v {
			var n bool
			out[i], n = standInSecure(e)
			found = found || n
		}
		return out, found
	}
	return value, false
}

func (c *StackConfig) markSecret(key string) {
	if !slices.Contains(c.Secrets, key) {
		c.Secrets = append(c.Secrets, key)
	}
}

// flatten renders a YAML value the way Pulumi passes config to a program: scalars as their
// text, lists and maps as JSON.
func flatten(v any) (string, error) {
	switch t := v.(type) {
	case string:
		return t, nil
	case []any, map[string]any:
		b, err := json.Marshal(t)
		return string(b), err
	default:
		return fmt.Sprint(t), nil
	}
}

// CheckKeys rejects project keys the program does not know, which would otherwise be ignored
// silently: a misspelt "bluWeight" must not look like a shift. Each unknown key gets one line,
// naming the nearest known key when one is close enough to be a typo.
func (c StackConfig) CheckKeys() error {
	known := stack.KeyNames()
	var unknown, elsewhere []string
	for key := range c.Values {
		ns, name, _ := strings.Cut(key, ":")
		switch {
		case ns == c.Project && !slices.Contains(known, name):
			unknown = append(unknown, name)
		case ns != c.Project && slices.Contains(known, name):
			// A stack file copied from another project (this repository's slotless:blueWeight
			// in a project named orders) would otherwise be ignored whole.
			elsewhere = append(elsewhere, fmt.Sprintf("config key %s: this project is named %s (Pulumi.yaml), so the program reads %s:%s and ignores %s", key, c.Project, c.Project, name, key))
		}
	}
	if len(unknown) == 0 && len(elsewhere) == 0 {
		return nil
	}
	sort.Strings(unknown)
	sort.Strings(elsewhere)
	lines := make([]string, 0, len(unknown)+len(elsewhere))
	lines = append(lines, elsewhere...)
	listAll := false
	for _, name := range unknown {
		if s, ok := Nearest(name, known); ok {
			lines = append(lines, fmt.Sprintf("unknown config key %s: did you mean %s?", name, s))
		} else {
			lines = append(lines, fmt.Sprintf("unknown config key %s", name))
			listAll = true
		}
	}
	if listAll {
		lines = append(lines, "known keys: "+strings.Join(known, ", "))
	}
	return errors.New(strings.Join(lines, "\n"))
}

// Nearest returns the candidate closest to name by edit distance, ignoring case, when it is
// close enough to be a typo: at most a third of the name's length, and at least one edit is
// always allowed.
func Nearest(name string, candidates []string) (string, bool) {
	best, bestDist := "", -1
	for _, c := range candidates {
		d := editDistance(strings.ToLower(name), strings.ToLower(c))
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	limit := max(1, len([]rune(name))/3)
	return best, bestDist >= 0 && bestDist <= limit
}

// editDistance is the Levenshtein distance between a and b, over runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// Source exposes the config to stack.Parse.
func (c StackConfig) Source() stack.Source {
	return func(key string) (string, bool) {
		v, ok := c.Values[c.namespaced(key)]
		return v, ok
	}
}

// CheckSecrets rejects encrypted values of keys the program validates: the offline plan cannot
// decrypt them, and a placeholder would fail validation with a misleading message. Keys meant
// to be secret accept the placeholder.
func (c StackConfig) CheckSecrets() error {
	var problems []string
	for _, key := range c.Secrets {
		name, ok := strings.CutPrefix(key, c.Project+":")
		if !ok || c.Values[key] != SecretStandIn {
			continue
		}
		if k, known := stack.LookupKey(name); known && !k.Secret {
			problems = append(problems, fmt.Sprintf("%s: is encrypted in the stack file, and the offline plan cannot decrypt it; pass --set %s=<value>, or keep it in plain text since it is not a secret", name, name))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "\n"))
	}
	return nil
}
