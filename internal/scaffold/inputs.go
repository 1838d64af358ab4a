package scaffold

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/mod/semver"

	"github.com/slotless/slotless/internal/project"
	"github.com/slotless/slotless/stack"
)

// The flags of slotless init, one per input. A value given on the command line is never asked
// for; the others are asked for on a terminal, and take their default otherwise.
const (
	FlagProject         = "project"
	FlagStack           = "stack"
	FlagRuntime         = "runtime"
	FlagRuntimeVersion  = "runtime-version"
	FlagAPIPath         = "api-path"
	FlagAPISpec         = "api-spec"
	FlagBuildCommand    = "build-command"
	FlagPackage         = "package"
	FlagCI              = "ci"
	FlagLocation        = "location"
	FlagPublisherEmail  = "publisher-email"
	FlagSlotlessVersion = "slotless-version"
)

// Defaults that do not depend on other inputs; the command's flags show them in --help.
const (
	DefaultStack    = "dev"
	DefaultCI       = CIGitHub
	DefaultLocation = "westeurope"
)

// The CI systems init writes callers for.
const (
	CIGitHub      = "github"
	CIAzureDevOps = "azure-devops"
	CINone        = "none"
)

// CIs are the values --ci takes.
var CIs = []string{CIGitHub, CIAzureDevOps, CINone}

// Runtimes are the values --runtime takes: the language stacks Flex Consumption offers
// (stack.RuntimeNames) that a team's app runs. custom is left out: it is the Go custom handler
// of slotless's own sample, and a team has no health function of slotless's to drop in for it.
var Runtimes = slices.DeleteFunc(slices.Clone(stack.RuntimeNames), func(r string) bool { return r == "custom" })

// Answers are the inputs given on the command line, by flag name (FlagProject, ...). A flag
// left out is absent, which is not the same as given empty: `--api-spec ""` says "no document".
type Answers map[string]string

// Env is what the inputs' defaults are derived from.
type Env struct {
	// Dir is the project folder, absolute: where Pulumi.yaml goes.
	Dir string
	// BinaryVersion is this slotless's own version, the default of --slotless-version when it
	// is a release (v1.2.0), not a development build.
	BinaryVersion string
}

// Options are the resolved, validated inputs of one init.
type Options struct {
	// Dir is the project folder, absolute.
	Dir string
	// Root is where the CI callers go: the root of the git work tree that holds Dir, or Dir
	// itself when it is in none (a repository not made yet).
	Root string

	Project, Stack          string
	Runtime, RuntimeVersion string
	APIPath, APISpec        string
	BuildCommand, Package   string
	CI, Location            string
	PublisherEmail, Version string
}

// WorkDir is the project folder relative to Root, slash-separated: "." when they are the same.
// The CI callers pass it as their working directory.
func (o Options) WorkDir() string {
	rel, err := filepath.Rel(o.Root, o.Dir)
	if err != nil {
		return "."
	}
	return filepath.ToSlash(rel)
}

// InputError is a bad or missing input: a usage error that names the flag.
type InputError struct {
	Flag string
	Err  error
}

func (e *InputError) Error() string { return "--" + e.Flag + ": " + e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// question is one input: how it is asked, its default given the inputs before it, and how an
// answer is checked and stored. The order of questions is the order of prompts, and a default
// may use only the inputs resolved before it (the runtime before its version).
type question struct {
	flag   string
	prompt string
	// choices lists the allowed values in the prompt, when there are few.
	choices func(o *Options) []string
	// def is the default; "" means there is none, and why says why in the error when the
	// value is needed and nobody can be asked.
	def func(o *Options, env Env, existing project.File) (value, why string)
	// optional inputs may stay empty.
	optional bool
	// set checks v (trimmed) and stores it in o.
	set func(o *Options, v string) error
}

// questions are the inputs of slotless init, in the order they are asked.
var questions = []question{
	{
		flag: FlagProject, prompt: "Pulumi project name",
		def: func(o *Options, _ Env, existing project.File) (string, string) {
			if existing.Name != "" {
				return existing.Name, ""
			}
			base := filepath.Base(o.Dir)
			if name := ProjectName(base); name != "" {
				return name, ""
			}
			return "", fmt.Sprintf("required: the folder name %q makes no Pulumi project name (letters, digits, '_', '.' and '-')", base)
		},
		set: func(o *Options, v string) error {
			if !project.ValidName(v) {
				return fmt.Errorf("%q is not a Pulumi project name: want letters, digits, '_', '.' and '-', starting with a letter, digit or '_', at most 100", v)
			}
			o.Project = v
			return nil
		},
	},
	{
		flag: FlagStack, prompt: "Stack",
		def: func(*Options, Env, project.File) (string, string) { return DefaultStack, "" },
		set: func(o *Options, v string) error {
			if !stackNameRE.MatchString(v) {
				return fmt.Errorf("%q is not a stack name slotless can release: want 1..100 letters, digits, '-' and '_' (no '.': Pulumi.<stack>.<tool>.yaml files are other tools')", v)
			}
			o.Stack = v
			return nil
		},
	},
	{
		flag: FlagRuntime, prompt: "Functions runtime",
		choices: func(*Options) []string { return Runtimes },
		def: func(*Options, Env, project.File) (string, string) {
			return "", "required, want one of " + strings.Join(Runtimes, ", ")
		},
		set: func(o *Options, v string) error {
			if !slices.Contains(Runtimes, v) {
				return fmt.Errorf("%q is not a runtime init knows, want one of %s", v, strings.Join(Runtimes, ", "))
			}
			o.Runtime = v
			return nil
		},
	},
	{
		flag: FlagRuntimeVersion, prompt: "Runtime version",
		choices: func(o *Options) []string { return stack.FlexRuntimes[o.Runtime].Versions },
		def: func(o *Options, _ Env, _ project.File) (string, string) {
			return stack.FlexRuntimes[o.Runtime].Default, ""
		},
		set: func(o *Options, v string) error {
			if _, err := checkKey("functionRuntimeVersion", v, map[string]string{"functionRuntime": o.Runtime}); err != nil {
				return err
			}
			o.RuntimeVersion = v
			return nil
		},
	},
	{
		flag: FlagAPIPath, prompt: "API path under the gateway",
		def: func(o *Options, _ Env, _ project.File) (string, string) {
			if p := APIPathFor(o.Project); p != "" {
				return p, ""
			}
			return "", "required: the project name makes no API path"
		},
		set: func(o *Options, v string) error {
			c, err := checkKey("apiPath", v, nil)
			if err != nil {
				return err
			}
			o.APIPath = c.API.Path
			return nil
		},
	},
	{
		flag: FlagAPISpec, prompt: "OpenAPI document, relative to the project folder (empty for none: every route passes through)",
		optional: true,
		def:      func(*Options, Env, project.File) (string, string) { return "", "" },
		set: func(o *Options, v string) error {
			if v == "" {
				o.APISpec = ""
				return nil
			}
			v = filepath.ToSlash(v)
			if filepath.IsAbs(v) {
				return fmt.Errorf("%q is absolute; want a path relative to the project folder %s, which the stack file is committed with", v, o.Dir)
			}
			if _, err := checkKey("apiSpec", v, nil); err != nil {
				return err
			}
			if info, err := os.Stat(filepath.Join(o.Dir, filepath.FromSlash(v))); err != nil || info.IsDir() {
				return fmt.Errorf("%s: no such file in the project folder %s", v, o.Dir)
			}
			if _, err := stack.LoadAPISurface(o.Dir, v, stack.DefaultHealthPath); err != nil {
				return errors.New(strings.TrimPrefix(err.Error(), "apiSpec: "))
			}
			o.APISpec = v
			return nil
		},
	},
	{
		flag: FlagBuildCommand, prompt: "Build command (run in the project folder with VERSION set; writes the package)",
		def: func(o *Options, _ Env, _ project.File) (string, string) {
			return DefaultBuild(o.Runtime, o.RuntimeVersion).Command, ""
		},
		set: func(o *Options, v string) error {
			if v == "" {
				return errors.New("empty; want a shell command that builds the package, run in the project folder with VERSION in the environment")
			}
			o.BuildCommand = v
			return nil
		},
	},
	{
		flag: FlagPackage, prompt: "Package the build writes (a zip, relative to the project folder)",
		def: func(o *Options, _ Env, _ project.File) (string, string) {
			return DefaultBuild(o.Runtime, o.RuntimeVersion).Package, ""
		},
		set: func(o *Options, v string) error {
			v = filepath.ToSlash(v)
			if v == "" || filepath.IsAbs(v) || strings.HasSuffix(v, "/") {
				return fmt.Errorf("%q: want the path of the zip the build command writes, relative to the project folder, such as app.zip", v)
			}
			o.Package = v
			return nil
		},
	},
	{
		flag: FlagCI, prompt: "CI",
		choices: func(*Options) []string { return CIs },
		def:     func(*Options, Env, project.File) (string, string) { return DefaultCI, "" },
		set: func(o *Options, v string) error {
			if !slices.Contains(CIs, v) {
				return fmt.Errorf("%q is not one of %s", v, strings.Join(CIs, ", "))
			}
			o.CI = v
			return nil
		},
	},
	{
		flag: FlagLocation, prompt: "Azure region (azure-native:location)",
		def: func(*Options, Env, project.File) (string, string) { return DefaultLocation, "" },
		set: func(o *Options, v string) error {
			c, err := checkKey("azure-native:location", v, nil)
			if err != nil {
				return err
			}
			o.Location = c.Location
			return nil
		},
	},
	{
		flag: FlagPublisherEmail, prompt: "API Management publisher e-mail",
		def: func(*Options, Env, project.File) (string, string) {
			return "", "required: the stack creates an API Management service, which needs a publisher e-mail, such as ops@example.com"
		},
		set: func(o *Options, v string) error {
			if _, err := checkKey("publisherEmail", v, nil); err != nil {
				return err
			}
			o.PublisherEmail = v
			return nil
		},
	},
	{
		flag: FlagSlotlessVersion, prompt: "slotless version to pin",
		def: func(_ *Options, env Env, existing project.File) (string, string) {
			if existing.Version != "" {
				return existing.Version, ""
			}
			if ReleaseVersion(env.BinaryVersion) {
				return env.BinaryVersion, ""
			}
			return "", fmt.Sprintf("required: this slotless is a development build, %q, not a release v<major>.<minor>.<patch>, so it cannot pin itself; pass the release the team installs, e.g. --%s v1.2.0", env.BinaryVersion, FlagSlotlessVersion)
		},
		set: func(o *Options, v string) error {
			if !ReleaseVersion(v) {
				return fmt.Errorf("%q is not a release version, want v<major>.<minor>.<patch> such as v1.2.0 (a slotless release's tag)", v)
			}
			o.Version = v
			return nil
		},
	},
}

// stackNameRE is a Pulumi stack name without '.', which also names tags (<stack>-v1.2.0) and
// environments (slotless-<stack>-release).
var stackNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,100}$`)

// ReleaseVersion reports whether v is a release's version, v<major>.<minor>.<patch> with an
// optional pre-release, as the release archives and CI references are named.
func ReleaseVersion(v string) bool { return semver.IsValid(v) && semver.Canonical(v) == v }

// Resolve turns the flags given (and, when ask is not nil, the answers to its prompts) into
// Options. Each input not given is asked for when ask is set, and takes its default otherwise;
// an input that has none is an *InputError naming its flag, as is every invalid value.
func Resolve(env Env, given Answers, ask *Prompter) (Options, error) {
	for flag := range given {
		if !slices.ContainsFunc(questions, func(q question) bool { return q.flag == flag }) {
			return Options{}, &InputError{Flag: flag, Err: errors.New("not an input of slotless init")}
		}
	}
	o := Options{Dir: env.Dir, Root: repoRoot(env.Dir)}
	// A project folder with a slotless Pulumi.yaml already (a second stack) keeps its name and
	// pinned version by default, so the shared files come out the same.
	existing, err := project.Load(env.Dir)
	if err != nil || existing.Runtime != project.Runtime {
		existing = project.File{}
	}
	for _, q := range questions {
		def, why := q.def(&o, env, existing)
		if v, ok := given[q.flag]; ok {
			if err := q.set(&o, strings.TrimSpace(v)); err != nil {
				return o, &InputError{Flag: q.flag, Err: err}
			}
			continue
		}
		if ask != nil {
			if err := ask.resolve(q, &o, def); err != nil {
				return o, err
			}
			continue
		}
		if def == "" && !q.optional {
			return o, &InputError{Flag: q.flag, Err: errors.New(why)}
		}
		if err := q.set(&o, def); err != nil {
			return o, &InputError{Flag: q.flag, Err: fmt.Errorf("the default %q: %w", def, err)}
		}
	}
	return o, nil
}

// checkBaseline is a config stack.Parse accepts, so that checking one key against it fails for
// that key alone.
var checkBaseline = map[string]string{"azure-native:location": DefaultLocation, "publisherEmail": "ops@example.com"}

// checkKey validates one stack config value with the program's own parser, so an input init
// accepts is one `pulumi up` and `slotless plan` accept, with their messages. It returns the
// parsed config, whose values are normalised (a location "West Europe" becomes westeurope).
func checkKey(key, value string, with map[string]string) (*stack.Config, error) {
	values := maps.Clone(checkBaseline)
	maps.Copy(values, with)
	values[key] = value
	c, err := stack.ParseAll(func(k string) (string, bool) {
		v, ok := values[k]
		return v, ok
	})
	if err == nil {
		return c, nil
	}
	var lines []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if rest, ok := strings.CutPrefix(l, key+":"); ok {
			lines = append(lines, strings.TrimSpace(rest))
		}
	}
	if len(lines) == 0 {
		return c, fmt.Errorf("%q with %v: %w", value, with, err)
	}
	return c, errors.New(strings.Join(lines, "; "))
}

// ProjectName makes a folder's name a Pulumi project name: every character Pulumi does not
// allow becomes '-', and a leading '.' or '-' is dropped. It is "" when nothing is left.
func ProjectName(folder string) string {
	name := strings.Map(func(r rune) rune {
		if r < 128 && (r == '_' || r == '.' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return r
		}
		return '-'
	}, folder)
	name = strings.TrimLeft(name, ".-")
	if len(name) > 100 {
		name = name[:100]
	}
	if !project.ValidName(name) {
		return ""
	}
	return name
}

// APIPathFor is the default apiPath of a project: its name with every character an API path
// does not allow made '-', at most 80 characters.
func APIPathFor(projectName string) string {
	p := strings.Map(func(r rune) rune {
		if r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, projectName)
	if len(p) > 80 {
		p = p[:80]
	}
	return p
}

// prefixFor derives the stack's resource name prefix from the project's name, so two teams'
// stacks named dev in one subscription do not both create slotless-dev-rg: lower-case letters
// and digits, starting with a letter, at most 12. It is "" (the program's default) when fewer
// than 3 are left.
func prefixFor(projectName string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(projectName) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' && b.Len() > 0 {
			b.WriteRune(r)
		}
	}
	p := b.String()
	if len(p) > 12 {
		p = p[:12]
	}
	if len(p) < 3 {
		return ""
	}
	return p
}

// repoRoot is the root of the git work tree that holds dir (the nearest folder, dir included,
// with a .git entry), where GitHub and Azure DevOps look for pipeline files; dir itself when
// there is none.
func repoRoot(dir string) string {
	for d := dir; ; {
		if _, err := os.Stat(filepath.Join(d, ".git")); err == nil {
			return d
		}
		parent := filepath.Dir(d)
		if parent == d {
			return dir
		}
		d = parent
	}
}
