// Package project reads what slotless needs of a Pulumi project file (Pulumi.yaml): the
// project's name, which namespaces every config key of its stacks (orders:blueWeight), and the
// runtime that runs its program, with the slotless version a team pins there.
package project

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"

	"gopkg.in/yaml.v3"
)

// FileName is the project file in a project directory.
const FileName = "Pulumi.yaml"

// Runtime is the runtime name a team's Pulumi.yaml gives, which makes the Pulumi CLI start
// pulumi-language-slotless (the slotless binary under that name) to run the program.
const Runtime = "slotless"

// VersionOption is the runtime option that pins the slotless version:
//
//	runtime:
//	  name: slotless
//	  options:
//	    version: v1.2.0
const VersionOption = "version"

// File is what slotless reads of a Pulumi.yaml.
type File struct {
	// Name is the project's name, the namespace of its config keys.
	Name string
	// Runtime is the runtime's name: slotless for a team's project, go for this repository's.
	Runtime string
	// Version is the slotless version the project pins (runtime.options.version); empty when it
	// pins none.
	Version string
	// Path is the file read.
	Path string
}

// namePattern is Pulumi's rule for project names (tokens.IsName): letters, digits, '_', '.' and
// '-', starting with a letter, digit or '_'.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)

// ValidName reports whether name is a valid Pulumi project name.
func ValidName(name string) bool { return len(name) <= 100 && namePattern.MatchString(name) }

// Load reads the Pulumi.yaml in dir.
func Load(dir string) (File, error) {
	path := filepath.Join(dir, FileName)
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return File{}, fmt.Errorf("no %s in %s: run slotless in the project directory, or pass --dir", FileName, dir)
	}
	if err != nil {
		return File{}, fmt.Errorf("read %s: %w", path, err)
	}
	f, err := Parse(raw)
	if err != nil {
		return File{}, fmt.Errorf("%s: %w", path, err)
	}
	f.Path = path
	return f, nil
}

// Parse reads a Pulumi.yaml's name and runtime. The runtime is either a name or a mapping with
// a name and options, as Pulumi's project schema allows.
func Parse(raw []byte) (File, error) {
	var doc struct {
		Name    string    `yaml:"name"`
		Runtime yaml.Node `yaml:"runtime"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return File{}, fmt.Errorf("parse: %w", err)
	}
	if doc.Name == "" {
		return File{}, errors.New("name: missing; the project's name namespaces its config keys (name: orders gives orders:blueWeight)")
	}
	if !ValidName(doc.Name) {
		return File{}, fmt.Errorf("name: %q is not a Pulumi project name (letters, digits, '_', '.' and '-', at most 100)", doc.Name)
	}
	f := File{Name: doc.Name}
	switch doc.Runtime.Kind {
	case yaml.ScalarNode:
		f.Runtime = doc.Runtime.Value
	case yaml.MappingNode:
		var rt struct {
			Name    string         `yaml:"name"`
			Options map[string]any `yaml:"options"`
		}
		if err := doc.Runtime.Decode(&rt); err != nil {
			return File{}, fmt.Errorf("runtime: %w", err)
		}
		f.Runtime = rt.Name
		if v, ok := rt.Options[VersionOption]; ok {
			s, ok := v.(string)
			if !ok {
				return File{}, fmt.Errorf("runtime.options.%s: %v is not a version string such as v1.2.0 (quote it)", VersionOption, v)
			}
			f.Version = s
		}
	}
	if f.Runtime == "" {
		return File{}, errors.New("runtime: missing; a team's project says runtime: {name: slotless, options: {version: ...}}")
	}
	return f, nil
}

// Key is the namespaced config key of a project key: Key("orders", "blueWeight") is
// orders:blueWeight, as Pulumi stores it in the stack file.
func Key(project, key string) string { return project + ":" + key }
