package pipelines

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// root is the repository root, seen from this package's directory.
var root = filepath.Join("..", "..")

func readFile(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatalf("read %s: %v", rel, err)
	}
	return b
}

func decode[T any](t *testing.T, rel string) *T {
	t.Helper()
	var v T
	if err := yaml.Unmarshal(readFile(t, rel), &v); err != nil {
		t.Fatalf("parse %s: %v", rel, err)
	}
	return &v
}

// stringList accepts both `key: a` and `key: [a, b]`, as dependsOn and needs do. An explicit
// `key: []` decodes to an empty, non-nil list, so it differs from an absent key (nil): a stage
// without dependsOn depends on the stage before it, one with `dependsOn: []` on none.
type stringList []string

func (l *stringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*l = stringList{n.Value}
		return nil
	}
	s := []string{}
	if err := n.Decode(&s); err != nil {
		return err
	}
	*l = s
	return nil
}

func (l stringList) has(s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}

// environment accepts `environment: name` and `environment: {name: ...}` in both CI systems.
type environment string

func (e *environment) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*e = environment(n.Value)
		return nil
	}
	var m struct {
		Name string `yaml:"name"`
	}
	if err := n.Decode(&m); err != nil {
		return err
	}
	*e = environment(m.Name)
	return nil
}

// forbidden are the marks of a client secret in a pipeline: federated sign-in never needs one.
var forbidden = []string{"clientSecret", "ARM_CLIENT_SECRET", "--password"}

func secretIn(text string) error {
	for _, f := range forbidden {
		if strings.Contains(text, f) {
			return fmt.Errorf("got %q in a step, want no client secret", f)
		}
	}
	return nil
}

// ciScripts is how a pipeline names a CI script: in the folder slotless installs them to
// ($SLOTLESS_CI on GitHub, the $(SLOTLESS_CI) macro on Azure DevOps), or, in this repository,
// scripts/.
const ciScripts = `(?:scripts|\$SLOTLESS_CI|\$\(SLOTLESS_CI\))/`

// ciScript matches a call of the CI script name.sh, however the pipeline names its folder.
func ciScript(name string) *regexp.Regexp {
	return regexp.MustCompile(ciScripts + regexp.QuoteMeta(name) + `\.sh\b`)
}

// needsPulumiToken matches a script that talks to Pulumi Cloud, directly or through a script.
// `slotless gate metrics` queries Application Insights only, so it is not one of them.
var needsPulumiToken = regexp.MustCompile(`\bpulumi (up|preview|config|stack)\b|\bslotless (shift|promote|rollback|release|watch|gate health)\b|` + ciScripts + `(release-target|record-traffic|traffic-drift|gate-env)\.sh`)

// changesTraffic matches a script that runs `pulumi up`, directly or through the CLI.
var changesTraffic = regexp.MustCompile(`\bslotless (shift|promote|rollback|release|watch)\b|\bpulumi (up|preview)\b`)

// indexOf returns the index of the first script containing every one of subs, or -1.
func indexOf(scripts []string, subs ...string) int {
outer:
	for i, s := range scripts {
		for _, sub := range subs {
			if !strings.Contains(s, sub) {
				continue outer
			}
		}
		return i
	}
	return -1
}

// choreography matches what a thin traffic stage leaves to slotless release: its own shifts,
// bakes and gates.
var choreography = regexp.MustCompile(`\bslotless (shift|promote|gate)\b|\bsleep\b`)

// gateEnv matches the sourcing of gate-env.sh, which exports the pinning token.
var gateEnv = regexp.MustCompile(`\. "?` + ciScripts + `gate-env\.sh`)

// checkThinStage asserts a traffic stage whose one release step is the given command: it
// reads the pinning token (gate-env.sh) and writes the --json record and the report
// (--report-dir), and no step of the
// stage shifts, sleeps or runs a gate itself, so the choreography lives in the CLI alone.
func checkThinStage(scripts []string, command string) error {
	release := -1
	for i, s := range scripts {
		if choreography.MatchString(s) {
			return fmt.Errorf("step %d: got %q, want the warm-up, shifts, bakes and gates left to slotless release", i+1, choreography.FindString(s))
		}
		if strings.Contains(s, "slotless release") {
			if release >= 0 {
				return fmt.Errorf("got slotless release in steps %d and %d, want one", release+1, i+1)
			}
			release = i
		}
	}
	if release < 0 || !strings.Contains(scripts[release], command) {
		return fmt.Errorf("got no step running %q, want one", command)
	}
	if !gateEnv.MatchString(scripts[release]) {
		return fmt.Errorf("step running %q: got no %s, want the pinning token read", command, gateEnv)
	}
	for _, want := range []string{"--json >", "--report-dir "} {
		if !strings.Contains(scripts[release], want) {
			return fmt.Errorf("step running %q: got no %q, want the record and the report written", command, want)
		}
	}
	return nil
}

// azCommandNames matches the name and resource-group arguments of an az command.
var azCommandNames = regexp.MustCompile(`(?:^|\s)(-g|-n|--name|--resource-group|--ids)\s+(\S+)`)

// checkAzArgsFromVariables asserts that az commands name resources only through variables,
// which the pipelines fill from stack outputs: a literal name is the seed's hard-coding defect.
func checkAzArgsFromVariables(script string) error {
	for _, line := range strings.Split(script, "\n") {
		if !strings.Contains(line, "az ") {
			continue
		}
		for _, m := range azCommandNames.FindAllStringSubmatch(line, -1) {
			if !strings.HasPrefix(m[2], `"$`) {
				return fmt.Errorf("got az %s %s, want a quoted variable from stack outputs", m[1], m[2])
			}
		}
	}
	return nil
}

func TestCheckAzArgsFromVariables(t *testing.T) {
	cases := []struct {
		script string
		ok     bool
	}{
		{`az functionapp deployment source config-zip -g "$RESOURCE_GROUP" -n "$IDLE_APP" --src x.zip`, true},
		{`az functionapp deployment source config-zip -g slotless-dev-rg -n "$IDLE_APP"`, false},
		{`az functionapp deployment source config-zip -g "$RG" -n slotless-blue`, false},
		{`echo no azure here -n literal`, true},
	}
	for _, c := range cases {
		err := checkAzArgsFromVariables(c.script)
		if got := err == nil; got != c.ok {
			t.Errorf("checkAzArgsFromVariables(%q): got ok=%v (%v), want ok=%v", c.script, got, err, c.ok)
		}
	}
}

func TestSecretIn(t *testing.T) {
	cases := []struct {
		text string
		ok   bool
	}{
		{"az login --service-principal -u x --password y", false},
		{"ARM_CLIENT_SECRET: $(secret)", false},
		{"clientSecret: abc", false},
		{"ARM_USE_OIDC: true", true},
	}
	for _, c := range cases {
		if got := secretIn(c.text) == nil; got != c.ok {
			t.Errorf("secretIn(%q): got ok=%v, want ok=%v", c.text, got, c.ok)
		}
	}
}

// reportDirOf is the --report-dir argument of a slotless release command.
func reportDirOf(script string) string {
	i := strings.Index(script, "--report-dir")
	if i < 0 {
		return ""
	}
	f := strings.Fields(script[i+len("--report-dir"):])
	if len(f) == 0 {
		return ""
	}
	return f[0]
}
