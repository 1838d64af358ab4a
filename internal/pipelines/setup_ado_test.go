package pipelines

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/slotless/slotless/internal/dist/disttest"
)

const adoSetup = "pipelines/azure-devops/templates/setup-slotless.yml"

// adoTemplate is a steps template with its parameters.
type adoTemplate struct {
	Parameters []struct {
		Name    string  `yaml:"name"`
		Type    string  `yaml:"type"`
		Default *string `yaml:"default"`
	} `yaml:"parameters"`
	Steps []adoStep `yaml:"steps"`
}

// cacheTask is the template's Cache@2 step; nil when there is none.
func (tpl *adoTemplate) cacheTask() adoStep {
	for _, s := range tpl.Steps {
		if s["task"] == "Cache@2" {
			return s
		}
	}
	return nil
}

func checkADOSetup(tpl *adoTemplate) error {
	var params []string
	for _, p := range tpl.Parameters {
		params = append(params, p.Name)
		if p.Type != "string" || p.Default == nil {
			return fmt.Errorf("parameter %s: got type %q, default %v, want an optional string", p.Name, p.Type, p.Default)
		}
		if p.Name == "version" && *p.Default != "" {
			return fmt.Errorf("parameter version default: got %q, want '' (the version Pulumi.yaml pins)", *p.Default)
		}
	}
	if want := []string{"version", "workingDirectory"}; !slices.Equal(params, want) {
		return fmt.Errorf("parameters: got %v, want %v", params, want)
	}
	if len(tpl.Steps) == 0 {
		return errors.New("steps: got none")
	}
	first := tpl.Steps[0]
	if first.env("VERSION") != "${{ parameters.version }}" || first["workingDirectory"] != "${{ parameters.workingDirectory }}" || !strings.Contains(first.script(), "Pulumi.yaml") {
		return fmt.Errorf("first step: got %q, want the version from parameters.version, else read from Pulumi.yaml in parameters.workingDirectory", first["displayName"])
	}
	cache := tpl.cacheTask()
	if cache == nil {
		return errors.New("got no Cache@2 step, want the install cached")
	}
	key, _ := cache.input("key").(string)
	segments := strings.Split(key, "|")
	for _, seg := range segments {
		seg = strings.TrimSpace(seg)
		if len(seg) < 2 || seg[0] != '"' || seg[len(seg)-1] != '"' {
			return fmt.Errorf("Cache@2 key segment %s: want it double-quoted, or a segment with a '.' (v1.2.0) is hashed as a file path", seg)
		}
	}
	for _, want := range []string{"$(SLOTLESS_VERSION)", "$(Agent.OS)", "$(Agent.OSArchitecture)"} {
		if !strings.Contains(key, want) {
			return fmt.Errorf("Cache@2 key %q: want %s in it", key, want)
		}
	}
	hitVar, _ := cache.input("cacheHitVar").(string)
	if hitVar == "" || cache.input("path") != "$(SLOTLESS_HOME)" {
		return fmt.Errorf("Cache@2: got path %v, cacheHitVar %q, want $(SLOTLESS_HOME) and a hit variable", cache.input("path"), hitVar)
	}
	var install, path bool
	for _, s := range tpl.Steps {
		sc := s.script()
		if buildsSlotless.MatchString(sc) {
			return fmt.Errorf("step %q: got %q, want slotless installed, never built", s["displayName"], buildsSlotless.FindString(sc))
		}
		if strings.Contains(sc, `bash "$tmp/install.sh"`) {
			install = true
			cond, _ := s["condition"].(string)
			if !strings.Contains(cond, "ne(variables."+hitVar+", 'true')") {
				return fmt.Errorf("install step condition: got %q, want it to skip on a cache hit", cond)
			}
			for _, want := range []string{`"$url/install.sh"`, `"$url/SHA256SUMS"`, "SLOTLESS_DOWNLOAD_URL", `"$got" != "$want"`} {
				if !strings.Contains(sc, want) {
					return fmt.Errorf("install step: got no %s, want install.sh of the version's release checked against its SHA256SUMS", want)
				}
			}
		}
		if strings.Contains(sc, "##vso[task.prependpath]") && strings.Contains(sc, "variable=SLOTLESS_CI]") && s["condition"] == nil {
			path = true
		}
	}
	if !install || !path {
		return fmt.Errorf("got install step %v and PATH step %v, want install.sh run on a miss and, always, slotless prepended to PATH and SLOTLESS_CI set", install, path)
	}
	return nil
}

func TestAzureDevOpsSetupSlotless(t *testing.T) {
	if err := checkADOSetup(decode[adoTemplate](t, adoSetup)); err != nil {
		t.Error(err)
	}
	breaks := []struct {
		name   string
		break_ func(*adoTemplate)
	}{
		{"no version parameter", func(tpl *adoTemplate) { tpl.Parameters = tpl.Parameters[1:] }},
		{"version required", func(tpl *adoTemplate) { tpl.Parameters[0].Default = nil }},
		{"unquoted version in the key", func(tpl *adoTemplate) {
			asMap(tpl.cacheTask()["inputs"])["key"] = `"slotless" | $(SLOTLESS_VERSION) | "$(Agent.OS)" | "$(Agent.OSArchitecture)"`
		}},
		{"key without the OS", func(tpl *adoTemplate) {
			asMap(tpl.cacheTask()["inputs"])["key"] = `"slotless" | "$(SLOTLESS_VERSION)"`
		}},
		{"no cache", func(tpl *adoTemplate) {
			tpl.Steps = slices.DeleteFunc(tpl.Steps, func(s adoStep) bool { return s["task"] == "Cache@2" })
		}},
		{"install on a hit too", func(tpl *adoTemplate) {
			for _, s := range tpl.Steps {
				if strings.Contains(s.script(), "install.sh") {
					delete(s, "condition")
				}
			}
		}},
		{"install.sh not checked", func(tpl *adoTemplate) {
			for _, s := range tpl.Steps {
				if strings.Contains(s.script(), `bash "$tmp/install.sh"`) {
					s["bash"] = strings.ReplaceAll(s.script(), `"$got" != "$want"`, "false")
				}
			}
		}},
		{"slotless built", func(tpl *adoTemplate) {
			tpl.Steps = append(tpl.Steps, adoStep{"bash": "go build ./cmd/slotless"})
		}},
	}
	for _, b := range breaks {
		t.Run(b.name, func(t *testing.T) {
			tpl := decode[adoTemplate](t, adoSetup)
			b.break_(tpl)
			if err := checkADOSetup(tpl); err == nil {
				t.Errorf("after breaking: got nil, want an error")
			}
		})
	}
}

// adoSetupRun is one run of the template's steps on this machine, the way an agent runs them:
// ${{ parameters }} filled in, $(macros) expanded from the pipeline's variables, conditions
// evaluated, each bash step a `bash --noprofile --norc` script with the step's env and every
// variable mapped to the environment, and ##vso commands read from its output. Cache@2 is the
// one step not run: the run says whether it hit.
type adoSetupRun struct {
	params    map[string]string
	workspace string
	tools     string
	cacheHit  bool
	env       []string
}

type adoSetupResult struct {
	vars      map[string]string
	prepend   []string
	cacheKey  string
	cachePath string
	installed bool
}

var (
	templateExpr = regexp.MustCompile(`\$\{\{\s*parameters\.([A-Za-z0-9_]+)\s*\}\}`)
	macro        = regexp.MustCompile(`\$\(([A-Za-z0-9_.]+)\)`)
	vso          = regexp.MustCompile(`##vso\[task\.(setvariable variable=([A-Za-z0-9_.]+)|prependpath)\](.*)`)
)

func runADOSetup(t *testing.T, tpl *adoTemplate, run adoSetupRun) (adoSetupResult, error) {
	t.Helper()
	_, arch := runnerNames()
	agentOS := map[string]string{"linux": "Linux", "darwin": "Darwin", "windows": "Windows_NT"}[runtimeGOOS()]
	vars := map[string]string{
		"System.DefaultWorkingDirectory": run.workspace,
		"Agent.ToolsDirectory":           run.tools,
		"Agent.OS":                       agentOS,
		"Agent.OSArchitecture":           arch,
	}
	params := map[string]string{}
	for _, p := range tpl.Parameters {
		v, ok := run.params[p.Name]
		if !ok && p.Default != nil {
			v = *p.Default
		}
		params[p.Name] = v
	}
	// fill applies template expressions (at compile time), then macros (at run time); a macro
	// of no variable is left as Azure Pipelines leaves it, and fails the step that reads it.
	fill := func(v any) string {
		s, _ := v.(string)
		s = templateExpr.ReplaceAllStringFunc(s, func(m string) string { return params[templateExpr.FindStringSubmatch(m)[1]] })
		return macro.ReplaceAllStringFunc(s, func(m string) string {
			if v, ok := vars[macro.FindStringSubmatch(m)[1]]; ok {
				return v
			}
			return m
		})
	}
	res := adoSetupResult{vars: vars}
	tmp := t.TempDir()
	failed := false
	for i, s := range tpl.Steps {
		cond, _ := s["condition"].(string)
		runs, err := adoCondition(cond, vars, failed)
		if err != nil {
			return res, fmt.Errorf("step %d condition %q: %w", i+1, cond, err)
		}
		if !runs {
			continue
		}
		if s["task"] == "Cache@2" {
			res.cacheKey, res.cachePath = fill(s.input("key")), fill(s.input("path"))
			hitVar, _ := s.input("cacheHitVar").(string)
			vars[hitVar] = fmt.Sprint(run.cacheHit)
			continue
		}
		sc, ok := s["bash"].(string)
		if !ok {
			return res, fmt.Errorf("step %d: %v not modelled", i+1, s)
		}
		script := filepath.Join(tmp, fmt.Sprintf("step%d.sh", i+1))
		if err := os.WriteFile(script, []byte(sc), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("bash", "--noprofile", "--norc", script)
		cmd.Dir = run.workspace
		if wd := fill(s["workingDirectory"]); wd != "" {
			cmd.Dir = wd
			if !filepath.IsAbs(wd) {
				cmd.Dir = filepath.Join(run.workspace, wd)
			}
		}
		cmd.Env = append(os.Environ(), run.env...)
		for k, v := range vars { // every variable reaches scripts as NAME_IN_CAPITALS
			cmd.Env = append(cmd.Env, strings.ToUpper(strings.ReplaceAll(k, ".", "_"))+"="+v)
		}
		for k, v := range asMap(s["env"]) {
			filled := fill(v)
			if macro.MatchString(filled) {
				return res, fmt.Errorf("step %d env %s: %q names no variable set by then", i+1, k, filled)
			}
			cmd.Env = append(cmd.Env, k+"="+filled)
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			return res, fmt.Errorf("step %d (%s): %v\n%s", i+1, s["displayName"], err, out)
		}
		if strings.Contains(sc, `bash "$tmp/install.sh"`) {
			res.installed = true
		}
		for _, line := range strings.Split(string(out), "\n") {
			if m := vso.FindStringSubmatch(line); m != nil {
				if m[2] != "" {
					vars[m[2]] = m[3]
				} else {
					res.prepend = append(res.prepend, m[3])
				}
			}
		}
	}
	return res, nil
}

func runtimeGOOS() string { return disttest.Host().OS }

// adoCondition evaluates the condition expressions the template uses: and, or, not, eq, ne
// (case-insensitive, as Azure Pipelines compares), succeeded, failed, always, 'literals' and
// variables.NAME. Anything else fails rather than guessing.
func adoCondition(expr string, vars map[string]string, failed bool) (bool, error) {
	if strings.TrimSpace(expr) == "" {
		return !failed, nil
	}
	p := &adoExpr{src: expr, vars: vars, failed: failed}
	v, err := p.value()
	if err != nil {
		return false, err
	}
	p.space()
	if p.pos != len(p.src) {
		return false, fmt.Errorf("unexpected %q", p.src[p.pos:])
	}
	return v == "true", nil
}

type adoExpr struct {
	src    string
	pos    int
	vars   map[string]string
	failed bool
}

func (p *adoExpr) space() {
	for p.pos < len(p.src) && p.src[p.pos] == ' ' {
		p.pos++
	}
}

func (p *adoExpr) value() (string, error) {
	p.space()
	if p.pos < len(p.src) && p.src[p.pos] == '\'' {
		end := strings.IndexByte(p.src[p.pos+1:], '\'')
		if end < 0 {
			return "", errors.New("unterminated string")
		}
		s := p.src[p.pos+1 : p.pos+1+end]
		p.pos += end + 2
		return s, nil
	}
	start := p.pos
	for p.pos < len(p.src) && (unicode.IsLetter(rune(p.src[p.pos])) || unicode.IsDigit(rune(p.src[p.pos])) || strings.ContainsRune("._", rune(p.src[p.pos]))) {
		p.pos++
	}
	name := p.src[start:p.pos]
	if name == "" {
		return "", fmt.Errorf("want a value at %d", start)
	}
	if v, ok := strings.CutPrefix(name, "variables."); ok {
		return p.vars[v], nil
	}
	p.space()
	if p.pos >= len(p.src) || p.src[p.pos] != '(' {
		return "", fmt.Errorf("%s: not modelled", name)
	}
	p.pos++
	var args []string
	for {
		p.space()
		if p.pos < len(p.src) && p.src[p.pos] == ')' {
			p.pos++
			break
		}
		a, err := p.value()
		if err != nil {
			return "", err
		}
		args = append(args, a)
		p.space()
		if p.pos < len(p.src) && p.src[p.pos] == ',' {
			p.pos++
		}
	}
	b := func(v bool) (string, error) { return fmt.Sprint(v), nil }
	switch strings.ToLower(name) {
	case "succeeded":
		return b(!p.failed)
	case "failed":
		return b(p.failed)
	case "always":
		return b(true)
	case "and":
		return b(!slices.ContainsFunc(args, func(a string) bool { return a != "true" }))
	case "or":
		return b(slices.Contains(args, "true"))
	case "not":
		return b(len(args) == 1 && args[0] != "true")
	case "eq", "ne":
		if len(args) != 2 {
			return "", fmt.Errorf("%s: got %d arguments, want 2", name, len(args))
		}
		return b(strings.EqualFold(args[0], args[1]) == (strings.ToLower(name) == "eq"))
	}
	return "", fmt.Errorf("function %s: not modelled", name)
}

func TestADOCondition(t *testing.T) {
	vars := map[string]string{"HIT": "true", "MISS": "false"}
	cases := []struct {
		expr   string
		failed bool
		want   bool
	}{
		{"", false, true},
		{"", true, false},
		{"and(succeeded(), ne(variables.HIT, 'true'))", false, false},
		{"and(succeeded(), ne(variables.MISS, 'true'))", false, true},
		{"and(succeeded(), ne(variables.UNSET, 'true'))", false, true},
		{"and(succeeded(), ne(variables.MISS, 'true'))", true, false},
		{"eq(variables.HIT, 'True')", false, true},
		{"or(failed(), not(always()))", false, false},
	}
	for _, c := range cases {
		got, err := adoCondition(c.expr, vars, c.failed)
		if err != nil || got != c.want {
			t.Errorf("adoCondition(%q, failed=%v): got %v, %v, want %v", c.expr, c.failed, got, err, c.want)
		}
	}
	if _, err := adoCondition("in(variables.HIT, 'a')", vars, false); err == nil {
		t.Errorf("an unmodelled function: got nil, want an error")
	}
}

// TestAzureDevOpsSetupSlotlessRuns runs the template's steps against fake releases, as
// TestSetupActionInstalls runs the GitHub action's.
func TestAzureDevOpsSetupSlotlessRuns(t *testing.T) {
	for _, tool := range []string{"bash", "tar", "curl", "sha256sum"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	_, arch := runnerNames()
	tpl := decode[adoTemplate](t, adoSetup)
	cases := []struct {
		name     string
		setup    func(t *testing.T, r *disttest.Release, workspace, tools string)
		params   map[string]string
		cacheHit bool
		wantErr  string
	}{
		{"version parameter, cache miss", func(t *testing.T, r *disttest.Release, _, _ string) {
			r.Add(t, disttest.Fake{Version: "v1.2.0"})
		}, map[string]string{"version": "v1.2.0"}, false, ""},
		{"pinned in workingDirectory's Pulumi.yaml", func(t *testing.T, r *disttest.Release, ws, _ string) {
			r.Add(t, disttest.Fake{Version: "v1.2.0"})
			os.MkdirAll(filepath.Join(ws, "infra"), 0o755)
			disttest.PulumiYAML(t, filepath.Join(ws, "infra"), "v1.2.0")
		}, map[string]string{"workingDirectory": "infra"}, false, ""},
		{"pinned in the default working directory", func(t *testing.T, r *disttest.Release, ws, _ string) {
			r.Add(t, disttest.Fake{Version: "v1.2.0"})
			disttest.PulumiYAML(t, ws, "v1.2.0")
		}, nil, false, ""},
		{"cache hit: nothing downloaded", func(t *testing.T, _ *disttest.Release, _, tools string) {
			other := disttest.NewRelease(t)
			other.Add(t, disttest.Fake{Version: "v1.2.0"})
			installFrom(t, other, "v1.2.0", filepath.Join(tools, "slotless", "v1.2.0", arch))
		}, map[string]string{"version": "v1.2.0"}, true, ""},
		{"cache hit with another version's binary", func(t *testing.T, r *disttest.Release, _, tools string) {
			r.Add(t, disttest.Fake{Version: "v1.1.0"})
			installFrom(t, r, "v1.1.0", filepath.Join(tools, "slotless", "v1.2.0", arch))
		}, map[string]string{"version": "v1.2.0"}, true, `says "slotless v1.1.0`},
		{"no pin", func(t *testing.T, _ *disttest.Release, ws, _ string) {
			disttest.PulumiYAML(t, ws, "")
		}, nil, false, "Pulumi.yaml has no runtime.options.version"},
		{"not semver", func(*testing.T, *disttest.Release, string, string) {}, map[string]string{"version": "1.2.0"}, false, `version "1.2.0" is not v<semver>`},
		{"tampered install.sh", func(t *testing.T, r *disttest.Release, _, _ string) {
			r.Add(t, disttest.Fake{Version: "v1.2.0"})
			os.WriteFile(r.Path("v1.2.0", "install.sh"), []byte("echo pwned\n"), 0o755)
		}, map[string]string{"version": "v1.2.0"}, false, "refusing to run it"},
		{"tampered archive", func(t *testing.T, r *disttest.Release, _, _ string) {
			name := r.Add(t, disttest.Fake{Version: "v1.2.0"})
			f, _ := os.OpenFile(r.Path("v1.2.0", name), os.O_APPEND|os.O_WRONLY, 0)
			f.Write([]byte("x"))
			f.Close()
		}, map[string]string{"version": "v1.2.0"}, false, "checksum mismatch"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := disttest.NewRelease(t)
			ws, tools := t.TempDir(), t.TempDir()
			c.setup(t, r, ws, tools)
			res, err := runADOSetup(t, tpl, adoSetupRun{params: c.params, workspace: ws, tools: tools, cacheHit: c.cacheHit, env: []string{"SLOTLESS_DOWNLOAD_URL=" + r.URL()}})
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Errorf("got %v, want a failure with %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			dest := filepath.Join(tools, "slotless", "v1.2.0", arch)
			if res.vars["SLOTLESS_VERSION"] != "v1.2.0" || res.vars["SLOTLESS_CI"] != filepath.Join(dest, "ci") {
				t.Errorf("variables: got %v, want SLOTLESS_VERSION v1.2.0 and SLOTLESS_CI %s/ci", res.vars, dest)
			}
			if !slices.Equal(res.prepend, []string{filepath.Join(dest, "bin")}) {
				t.Errorf("prependpath: got %v, want [%s/bin]", res.prepend, dest)
			}
			if want := `"slotless" | "v1.2.0" | "` + res.vars["Agent.OS"] + `" | "` + arch + `"`; res.cacheKey != want || res.cachePath != dest {
				t.Errorf("Cache@2: got key %q path %q, want %q and %q", res.cacheKey, res.cachePath, want, dest)
			}
			if res.installed == c.cacheHit {
				t.Errorf("install step ran: %v on a cache hit of %v", res.installed, c.cacheHit)
			}
		})
	}
}
