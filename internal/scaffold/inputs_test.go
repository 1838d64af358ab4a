package scaffold

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// minimal are the inputs that have no default.
var minimal = Answers{FlagRuntime: "node", FlagPublisherEmail: "ops@example.com"}

func with(base Answers, kv ...string) Answers {
	out := Answers{}
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func without(base Answers, keys ...string) Answers {
	out := with(base)
	for _, k := range keys {
		delete(out, k)
	}
	return out
}

// projectDir is a project folder named name, with an OpenAPI document and a file that is not
// one.
func projectDir(t *testing.T, name string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(filepath.Join(dir, "api"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "api", "openapi.yaml"), openAPIDoc)
	writeFile(t, filepath.Join(dir, "notes.yaml"), "just: notes\n")
	return dir
}

const openAPIDoc = `openapi: 3.0.3
info:
  title: orders
  version: "1"
paths:
  /orders:
    get:
      operationId: listOrders
      responses:
        "200":
          description: the orders
`

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestResolveDefaults(t *testing.T) {
	dir := projectDir(t, "Orders API")
	o, err := Resolve(Env{Dir: dir, BinaryVersion: "v1.4.0"}, minimal, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Options{
		Dir: dir, Root: dir,
		Project: "Orders-API", Stack: "dev", Runtime: "node", RuntimeVersion: "22",
		APIPath: "Orders-API", BuildCommand: DefaultBuild("node", "22").Command, Package: "app.zip",
		CI: "github", Location: "westeurope", PublisherEmail: "ops@example.com", Version: "v1.4.0",
	}
	if o != want {
		t.Errorf("got  %+v\nwant %+v", o, want)
	}
}

func TestResolveFlags(t *testing.T) {
	dir := projectDir(t, "orders")
	tests := []struct {
		name  string
		given Answers
		check func(Options) string
	}{
		{"runtime version default follows the runtime", with(minimal, FlagRuntime, "dotnet-isolated"), func(o Options) string {
			return o.RuntimeVersion + " " + o.BuildCommand
		}},
		{"location normalised as the program does", with(minimal, FlagLocation, "West Europe"), func(o Options) string { return o.Location }},
		{"api spec, slashes kept", with(minimal, FlagAPISpec, "api/openapi.yaml"), func(o Options) string { return o.APISpec }},
		{"no api spec", with(minimal, FlagAPISpec, ""), func(o Options) string { return "[" + o.APISpec + "]" }},
		{"api path follows the project", with(minimal, FlagProject, "billing.v2"), func(o Options) string { return o.APIPath }},
		{"version given", with(minimal, FlagSlotlessVersion, "v2.0.0-rc.1"), func(o Options) string { return o.Version }},
	}
	want := []string{
		"8.0 " + DefaultBuild("dotnet-isolated", "8.0").Command,
		"westeurope",
		"api/openapi.yaml",
		"[]",
		"billing-v2",
		"v2.0.0-rc.1",
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := Resolve(Env{Dir: dir, BinaryVersion: "v1.4.0"}, tt.given, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.check(o); got != want[i] {
				t.Errorf("got %q, want %q", got, want[i])
			}
		})
	}
}

func TestResolveRefusesBadInputs(t *testing.T) {
	dir := projectDir(t, "orders")
	tests := []struct {
		name    string
		dir     string
		version string
		given   Answers
		flag    string
		want    string
	}{
		{"no runtime", dir, "v1.0.0", without(minimal, FlagRuntime), FlagRuntime, "required, want one of dotnet-isolated, node, python, java, powershell"},
		{"unknown runtime", dir, "v1.0.0", with(minimal, FlagRuntime, "ruby"), FlagRuntime, `"ruby" is not a runtime init knows, want one of dotnet-isolated, node, python, java, powershell`},
		{"custom is the sample's", dir, "v1.0.0", with(minimal, FlagRuntime, "custom"), FlagRuntime, `"custom" is not a runtime init knows`},
		{"runtime version", dir, "v1.0.0", with(minimal, FlagRuntimeVersion, "18"), FlagRuntimeVersion, `"18" is not a Flex Consumption version of node, want one of 20, 22`},
		{"no publisher e-mail", dir, "v1.0.0", without(minimal, FlagPublisherEmail), FlagPublisherEmail, "required: the stack creates an API Management service"},
		{"bad publisher e-mail", dir, "v1.0.0", with(minimal, FlagPublisherEmail, "Ops <ops@example.com>"), FlagPublisherEmail, "want an e-mail address such as ops@example.com"},
		{"project name", dir, "v1.0.0", with(minimal, FlagProject, "-orders"), FlagProject, `"-orders" is not a Pulumi project name`},
		{"folder makes no project name", projectDir(t, "---"), "v1.0.0", minimal, FlagProject, `required: the folder name "---" makes no Pulumi project name`},
		{"stack with a dot", dir, "v1.0.0", with(minimal, FlagStack, "prod.eu"), FlagStack, `"prod.eu" is not a stack name`},
		{"api path", dir, "v1.0.0", with(minimal, FlagAPIPath, "/orders/"), FlagAPIPath, `"/orders/" is not valid, want 1..80 of letters`},
		{"api spec missing", dir, "v1.0.0", with(minimal, FlagAPISpec, "api/nope.yaml"), FlagAPISpec, "api/nope.yaml: no such file in the project folder"},
		{"api spec not a document", dir, "v1.0.0", with(minimal, FlagAPISpec, "notes.yaml"), FlagAPISpec, "notes.yaml: openapi \"\": want an OpenAPI 3.0 document"},
		{"api spec not yaml or json", dir, "v1.0.0", with(minimal, FlagAPISpec, "api/openapi.txt"), FlagAPISpec, "ending in .yaml, .yml or .json"},
		{"api spec absolute", dir, "v1.0.0", with(minimal, FlagAPISpec, filepath.Join(dir, "api", "openapi.yaml")), FlagAPISpec, "is absolute; want a path relative to the project folder"},
		{"ci", dir, "v1.0.0", with(minimal, FlagCI, "jenkins"), FlagCI, `"jenkins" is not one of github, azure-devops, none`},
		{"location", dir, "v1.0.0", with(minimal, FlagLocation, "west europe!"), FlagLocation, "want an Azure region name such as westeurope"},
		{"empty build command", dir, "v1.0.0", with(minimal, FlagBuildCommand, " "), FlagBuildCommand, "empty; want a shell command"},
		{"absolute package", dir, "v1.0.0", with(minimal, FlagPackage, "/tmp/app.zip"), FlagPackage, "relative to the project folder"},
		{"development build", dir, "(devel) 0123456789ab", minimal, FlagSlotlessVersion, `this slotless is a development build, "(devel) 0123456789ab", not a release`},
		{"version without v", dir, "v1.0.0", with(minimal, FlagSlotlessVersion, "1.2.0"), FlagSlotlessVersion, `"1.2.0" is not a release version, want v<major>.<minor>.<patch>`},
		{"short version", dir, "v1.0.0", with(minimal, FlagSlotlessVersion, "v1.2"), FlagSlotlessVersion, `"v1.2" is not a release version`},
		{"unknown input", dir, "v1.0.0", with(minimal, "colour", "blue"), "colour", "not an input of slotless init"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Resolve(Env{Dir: tt.dir, BinaryVersion: tt.version}, tt.given, nil)
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("got %v, want an *InputError", err)
			}
			if ie.Flag != tt.flag || !strings.Contains(err.Error(), "--"+tt.flag+": ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %q (flag %s), want --%s: ...%s...", err, ie.Flag, tt.flag, tt.want)
			}
		})
	}
}

// TestResolveKeepsAnExistingProject: a second stack in a project folder takes the project's
// name and pinned version from its Pulumi.yaml, so the shared files come out the same.
func TestResolveKeepsAnExistingProject(t *testing.T) {
	dir := projectDir(t, "checkout")
	writeFile(t, filepath.Join(dir, "Pulumi.yaml"), "name: orders\nruntime:\n  name: slotless\n  options:\n    version: v1.1.0\n")
	o, err := Resolve(Env{Dir: dir, BinaryVersion: "v1.4.0"}, with(minimal, FlagStack, "prod"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.Project != "orders" || o.Version != "v1.1.0" || o.APIPath != "orders" {
		t.Errorf("got project %q, version %q, api path %q; want orders, v1.1.0, orders", o.Project, o.Version, o.APIPath)
	}
}

// TestRepoRoot: the CI callers go to the root of the git work tree that holds the project.
func TestRepoRoot(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	infra := filepath.Join(root, "services", "orders")
	if err := os.MkdirAll(infra, 0o755); err != nil {
		t.Fatal(err)
	}
	o, err := Resolve(Env{Dir: infra, BinaryVersion: "v1.0.0"}, minimal, nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.Root != root || o.WorkDir() != "services/orders" {
		t.Errorf("got root %s, work dir %s; want %s, services/orders", o.Root, o.WorkDir(), root)
	}
	if o, _ := Resolve(Env{Dir: root, BinaryVersion: "v1.0.0"}, minimal, nil); o.WorkDir() != "." {
		t.Errorf("at the root: got work dir %q, want .", o.WorkDir())
	}
}

func TestPrompts(t *testing.T) {
	dir := projectDir(t, "orders")
	tests := []struct {
		name    string
		given   Answers
		answers string
		want    func(Options) bool
		// prompts are texts the questions must have shown, in order.
		prompts []string
		err     string
	}{
		{
			name:  "defaults taken with empty answers, the rest typed",
			given: Answers{},
			// project, stack, runtime, version, api path, api spec, build, package, ci, location, e-mail, slotless version
			answers: "\n\npython\n\n\n\n\n\n\n\nops@example.com\nv1.2.0\n",
			want: func(o Options) bool {
				return o.Project == "orders" && o.Stack == "dev" && o.Runtime == "python" && o.RuntimeVersion == "3.12" &&
					o.BuildCommand == DefaultBuild("python", "3.12").Command && o.PublisherEmail == "ops@example.com" && o.Version == "v1.2.0"
			},
			prompts: []string{
				"Pulumi project name [orders]: ",
				"Stack [dev]: ",
				"Functions runtime (dotnet-isolated, node, python, java, powershell): ",
				"Runtime version (3.10, 3.11, 3.12, 3.13) [3.12]: ",
				"API path under the gateway [orders]: ",
				"OpenAPI document, relative to the project folder (empty for none: every route passes through): ",
				"CI (github, azure-devops, none) [github]: ",
				"API Management publisher e-mail: ",
				"slotless version to pin: ",
			},
		},
		{
			name:    "flags are not asked; a bad answer is asked again with the reason",
			given:   Answers{FlagProject: "billing", FlagStack: "prod", FlagBuildCommand: "make zip", FlagPackage: "out/app.zip", FlagCI: "none", FlagLocation: "northeurope", FlagSlotlessVersion: "v1.0.0"},
			answers: "ruby\n\njava\n21\nbilling/v1\napi/nope.yaml\napi/openapi.yaml\nnot-an-address\nops@example.com\n",
			want: func(o Options) bool {
				return o.Project == "billing" && o.Runtime == "java" && o.RuntimeVersion == "21" && o.APIPath == "billing/v1" &&
					o.APISpec == "api/openapi.yaml" && o.BuildCommand == "make zip" && o.PublisherEmail == "ops@example.com"
			},
			prompts: []string{
				"Functions runtime (dotnet-isolated, node, python, java, powershell): ",
				`  "ruby" is not a runtime init knows`,
				"  a value is required (or pass --runtime)",
				"Runtime version (17, 21) [17]: ",
				"  api/nope.yaml: no such file in the project folder",
				"API Management publisher e-mail: ",
				`  "not-an-address" is not valid, want an e-mail address`,
			},
		},
		{
			name:    "the input ends before an answer",
			given:   Answers{FlagRuntime: "node"},
			answers: "\n\n",
			err:     "--runtime-version: no answer to \"Runtime version\"",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			o, err := Resolve(Env{Dir: dir, BinaryVersion: "(devel)"}, tt.given, NewPrompter(strings.NewReader(tt.answers), &out))
			if tt.err != "" {
				// Two answers cover the project and the stack; the runtime is given; the
				// runtime version finds the end of the input.
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\nprompts:\n%s", err, out.String())
			}
			if !tt.want(o) {
				t.Errorf("got %+v", o)
			}
			rest := out.String()
			for _, p := range tt.prompts {
				i := strings.Index(rest, p)
				if i < 0 {
					t.Fatalf("prompts: want %q next in\n%s", p, out.String())
				}
				rest = rest[i+len(p):]
			}
			for _, q := range questions {
				if _, given := tt.given[q.flag]; given && strings.Contains(out.String(), q.prompt) {
					t.Errorf("prompts: --%s was given and asked anyway", q.flag)
				}
			}
		})
	}
}

func TestNames(t *testing.T) {
	tests := []struct{ in, project, apiPath, prefix string }{
		{"orders", "orders", "orders", "orders"},
		{"Orders API", "Orders-API", "Orders-API", "ordersapi"},
		{".hidden", "hidden", "hidden", "hidden"},
		{"2fa-service", "2fa-service", "2fa-service", "faservice"},
		{"billing.v2", "billing.v2", "billing-v2", "billingv2"},
		{"a", "a", "a", ""},
		{"München", "M-nchen", "M-nchen", "mnchen"},
		{"a-very-long-project-name", "a-very-long-project-name", "a-very-long-project-name", "averylongpro"},
	}
	for _, tt := range tests {
		p := ProjectName(tt.in)
		if p != tt.project || APIPathFor(p) != tt.apiPath || prefixFor(p) != tt.prefix {
			t.Errorf("%q: got project %q, api path %q, prefix %q; want %q, %q, %q", tt.in, p, APIPathFor(p), prefixFor(p), tt.project, tt.apiPath, tt.prefix)
		}
	}
}
