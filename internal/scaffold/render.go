package scaffold

import (
	"bytes"
	"embed"
	"fmt"
	"path"
	"strconv"
	"strings"
	"text/template"

	"gopkg.in/yaml.v3"

	"github.com/slotless/slotless/internal/project"
	"github.com/slotless/slotless/stack"
)

//go:embed templates
var templates embed.FS

// File is one file init writes.
type File struct {
	// Path is relative to the project folder, slash-separated; a CI caller of a project below
	// its repository's root starts with "../".
	Path    string
	Content []byte
}

// data is what the templates see.
type data struct {
	Options
	// Prefix is the stack's resource name prefix, derived from the project's name; empty
	// leaves the program's default.
	Prefix string
	// WorkDir is the project folder relative to the repository root ("." when the same).
	WorkDir string
	// InfraPaths are the repository paths whose change is an infrastructure change of the
	// stack: the project file, the stack file and the API document.
	InfraPaths []string
	// ReleaseSteps are the stack's releaseSteps as a YAML flow list, which an Azure DevOps
	// caller repeats: its stages are expanded before the run reads the stack config.
	ReleaseSteps string
}

var parsed = template.Must(template.New("").Funcs(template.FuncMap{
	"yaml":   yamlScalar,
	"quoted": quotedScalar,
	"folded": foldedScalar,
	// key is set by Render: the project's namespace is known only then.
	"key": func(string) string { return "" },
}).ParseFS(templates, "templates/*.tmpl", "templates/github/*.tmpl", "templates/azure-devops/*.tmpl"))

// flowList renders integers as a YAML flow sequence: [10, 50, 100].
func flowList(ns []int) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = strconv.Itoa(n)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// Render returns every file init writes for o, in the order they are listed: the project and
// stack files, the CI callers, then the health function.
func Render(o Options) ([]File, error) {
	d := data{Options: o, Prefix: prefixFor(o.Project), WorkDir: o.WorkDir(), ReleaseSteps: flowList(stack.DefaultReleaseSteps())}
	for _, p := range []string{project.FileName, "Pulumi." + o.Stack + ".yaml", o.APISpec} {
		if p != "" {
			d.InfraPaths = append(d.InfraPaths, path.Clean(path.Join(d.WorkDir, p)))
		}
	}
	t, err := parsed.Clone()
	if err != nil {
		return nil, err
	}
	t.Funcs(template.FuncMap{"key": func(k string) string { return project.Key(o.Project, k) }})

	// ci is the path of a CI file, relative to the project folder, from its path in the
	// repository.
	ci := func(p string) string {
		if d.WorkDir == "." {
			return p
		}
		up := strings.Repeat("../", strings.Count(d.WorkDir, "/")+1)
		return up + p
	}
	targets := []struct{ tmpl, path string }{
		{"Pulumi.yaml.tmpl", project.FileName},
		{"Pulumi.stack.yaml.tmpl", "Pulumi." + o.Stack + ".yaml"},
	}
	switch o.CI {
	case CIGitHub:
		targets = append(targets,
			struct{ tmpl, path string }{"slotless-stack.yml.tmpl", ci(".github/workflows/slotless-" + o.Stack + ".yml")},
			struct{ tmpl, path string }{"slotless-plan.yml.tmpl", ci(".github/workflows/slotless-plan.yml")})
	case CIAzureDevOps:
		for _, kind := range []string{"release", "watch", "infra"} {
			targets = append(targets, struct{ tmpl, path string }{kind + ".yml.tmpl", ci("azure-pipelines/slotless-" + o.Stack + "-" + kind + ".yml")})
		}
	case CINone:
	default:
		return nil, fmt.Errorf("ci %q: want one of %s", o.CI, strings.Join(CIs, ", "))
	}
	var files []File
	for _, tg := range targets {
		var b bytes.Buffer
		if err := t.ExecuteTemplate(&b, tg.tmpl, d); err != nil {
			return nil, fmt.Errorf("render %s: %w", tg.path, err)
		}
		files = append(files, File{Path: tg.path, Content: b.Bytes()})
	}
	health, err := HealthFiles(o.Runtime)
	if err != nil {
		return nil, err
	}
	return append(files, health...), nil
}

// yamlScalar renders s as a YAML scalar on one line, quoted only when YAML needs it (a stack
// named "true" or "123" stays a string).
func yamlScalar(s string) (string, error) {
	if strings.ContainsAny(s, "\n\r") {
		return "", fmt.Errorf("%q: a value on one line is wanted", s)
	}
	out, err := yaml.Marshal(s)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(string(out), "\n"), nil
}

// quotedScalar renders s double-quoted, for values YAML would otherwise read as numbers: a
// runtime version 8.0 must reach the program as "8.0", not as the float 8.
func quotedScalar(s string) (string, error) {
	n := yaml.Node{Kind: yaml.ScalarNode, Style: yaml.DoubleQuotedStyle, Value: s}
	out, err := yaml.Marshal(&n)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(string(out), "\n"), nil
}

// foldedScalar renders a shell command as the value of a mapping key indented by indent-2
// spaces: a command of several steps joined by " && " as a folded block, one step per line,
// which YAML reads back as the one line it was; anything else on one line. Either way the
// value must read back exactly, or the plain one-line form is used.
func foldedScalar(indent int, s string) (string, error) {
	if !strings.ContainsAny(s, "\n\r") && strings.Contains(s, " && ") {
		pad := strings.Repeat(" ", indent)
		folded := ">-\n" + pad + strings.ReplaceAll(s, " && ", "\n"+pad+"&& ")
		var back struct{ V string }
		if err := yaml.Unmarshal([]byte("v: "+folded+"\n"), &back); err == nil && back.V == s {
			return folded, nil
		}
	}
	if strings.ContainsAny(s, "\n\r") {
		// A script of several lines: double-quoted, its newlines escaped.
		n := yaml.Node{Kind: yaml.ScalarNode, Style: yaml.DoubleQuotedStyle, Value: s}
		out, err := yaml.Marshal(&n)
		if err != nil {
			return "", err
		}
		return strings.TrimSuffix(string(out), "\n"), nil
	}
	return yamlScalar(s)
}
