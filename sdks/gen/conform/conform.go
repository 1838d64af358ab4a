// Package conform checks a Pulumi schema subset of azure-native against the TypeScript
// declarations published in the @pulumi/azure-native npm package of the same version: every
// resource, function, property, type, required flag, enum value and secret marking in the subset
// must be as published. It is a check against something this repository did not write.
package conform

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Property is the part of a schema property the check reads.
type Property struct {
	Type                 string               `json:"type,omitempty"`
	Ref                  string               `json:"$ref,omitempty"`
	Items                *Property            `json:"items,omitempty"`
	AdditionalProperties *Property            `json:"additionalProperties,omitempty"`
	OneOf                []Property           `json:"oneOf,omitempty"`
	Secret               bool                 `json:"secret,omitempty"`
	Properties           map[string]*Property `json:"-"`
}

// Object is a schema object: a resource, a function's inputs or outputs, or a type.
type Object struct {
	Type            string               `json:"type,omitempty"`
	Properties      map[string]*Property `json:"properties,omitempty"`
	Required        []string             `json:"required,omitempty"`
	InputProperties map[string]*Property `json:"inputProperties,omitempty"`
	RequiredInputs  []string             `json:"requiredInputs,omitempty"`
	Enum            []struct {
		Name  string `json:"name"`
		Value any    `json:"value"`
	} `json:"enum,omitempty"`
}

// Function is a schema function.
type Function struct {
	Inputs  *Object `json:"inputs,omitempty"`
	Outputs *Object `json:"outputs,omitempty"`
}

// Spec is the part of a package schema the check reads.
type Spec struct {
	Name     string `json:"name"`
	Version  string `json:"version"`
	Provider Object `json:"provider"`
	Config   struct {
		Variables map[string]*Property `json:"variables"`
	} `json:"config"`
	Types     map[string]*Object   `json:"types"`
	Resources map[string]*Object   `json:"resources"`
	Functions map[string]*Function `json:"functions"`
}

// CheckFile loads the schema at schemaPath and checks it against the package unpacked at npmDir.
// It returns how many properties it compared and one line per mismatch.
func CheckFile(schemaPath, npmDir string) (int, []string, error) {
	raw, err := os.ReadFile(schemaPath)
	if err != nil {
		return 0, nil, fmt.Errorf("read schema: %w", err)
	}
	var spec Spec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return 0, nil, fmt.Errorf("parse schema %s: %w", schemaPath, err)
	}
	return Check(&spec, npmDir)
}

// Check compares spec with the declarations of the package unpacked at npmDir.
func Check(spec *Spec, npmDir string) (int, []string, error) {
	d, err := newDecls(npmDir)
	if err != nil {
		return 0, nil, err
	}
	c := &checker{spec: spec, d: d, typeUses: map[string]map[bool]bool{}}
	if err := c.packageVersion(); err != nil {
		return 0, nil, err
	}
	for _, tok := range sortedKeys(spec.Resources) {
		c.resource(tok, spec.Resources[tok])
	}
	for _, tok := range sortedKeys(spec.Functions) {
		c.function(tok, spec.Functions[tok])
	}
	c.provider()
	c.types()
	sort.Strings(c.problems)
	return c.checked, c.problems, nil
}

type checker struct {
	spec     *Spec
	d        *decls
	checked  int
	problems []string
	// typeUses records, per type token, whether it was reached as an input (true) or output (false).
	typeUses map[string]map[bool]bool
}

func (c *checker) fail(path, format string, args ...any) {
	c.problems = append(c.problems, path+": "+fmt.Sprintf(format, args...))
}

func (c *checker) packageVersion() error {
	text, err := c.d.file("package.json")
	if err != nil {
		return fmt.Errorf("read package.json: %w", err)
	}
	var pj struct{ Name, Version string }
	if err := json.Unmarshal([]byte(text), &pj); err != nil {
		return fmt.Errorf("parse package.json: %w", err)
	}
	if pj.Version != c.spec.Version {
		c.fail("version", "schema says %s, the npm package is %s", c.spec.Version, pj.Version)
	}
	if c.spec.Name != "azure-native" {
		c.fail("name", "schema says %q, want azure-native", c.spec.Name)
	}
	return nil
}

// split turns "azure-native:web:WebApp" into module "web" and name "WebApp".
func split(tok string) (string, string, bool) {
	parts := strings.Split(tok, ":")
	if len(parts) != 3 || parts[0] != "azure-native" {
		return "", "", false
	}
	return parts[1], parts[2], true
}

func lowerFirst(s string) string { return strings.ToLower(s[:1]) + s[1:] }
func upperFirst(s string) string { return strings.ToUpper(s[:1]) + s[1:] }

func (c *checker) resource(tok string, r *Object) {
	mod, name, ok := split(tok)
	if !ok {
		c.fail(tok, "not an azure-native resource token")
		return
	}
	rel := filepath.Join(mod, lowerFirst(name)+".d.ts")
	text, err := c.d.file(rel)
	if err != nil {
		c.fail(tok, "no resource %s in the published package (%s)", name, rel)
		return
	}
	args, ok := block(text, "export interface "+name+"Args {")
	if !ok {
		c.fail(tok, "%s declares no %sArgs", rel, name)
		return
	}
	class, ok := block(text, "export declare class "+name+" extends pulumi.CustomResource {")
	if !ok {
		c.fail(tok, "%s declares no class %s", rel, name)
		return
	}
	c.compare(tok+".inputProperties", r.InputProperties, r.RequiredInputs, members(args), true, true)
	c.compare(tok+".properties", r.Properties, r.Required, members(class), false, true)
	c.secrets(tok, filepath.Join(mod, lowerFirst(name)+".js"), r)
}

// secrets compares secret markings with what the published resource code wraps in pulumi.secret
// or lists in additionalSecretOutputs.
func (c *checker) secrets(tok, rel string, r *Object) {
	js, err := c.d.file(rel)
	if err != nil {
		c.fail(tok, "no %s in the published package", rel)
		return
	}
	published := map[string]bool{}
	for _, m := range regexp.MustCompile(`pulumi\.secret\(args\.(\w+)\)`).FindAllStringSubmatch(js, -1) {
		published[m[1]] = true
	}
	if m := regexp.MustCompile(`additionalSecretOutputs: \[([^\]]*)\]`).FindStringSubmatch(js); m != nil {
		for _, q := range regexp.MustCompile(`"(\w+)"`).FindAllStringSubmatch(m[1], -1) {
			published[q[1]] = true
		}
	}
	for _, set := range []map[string]*Property{r.InputProperties, r.Properties} {
		for name, p := range set {
			if p.Secret != published[name] {
				c.fail(tok+"."+name, "secret is %v in the schema, %v in the published package", p.Secret, published[name])
			}
		}
	}
}

func (c *checker) function(tok string, f *Function) {
	mod, name, ok := split(tok)
	if !ok {
		c.fail(tok, "not an azure-native function token")
		return
	}
	rel := filepath.Join(mod, name+".d.ts")
	text, err := c.d.file(rel)
	if err != nil {
		c.fail(tok, "no function %s in the published package (%s)", name, rel)
		return
	}
	if f.Inputs != nil {
		args, ok := block(text, "export interface "+upperFirst(name)+"Args {")
		if !ok {
			c.fail(tok, "%s declares no %sArgs", rel, upperFirst(name))
		} else {
			c.compare(tok+".inputs", f.Inputs.Properties, f.Inputs.Required, members(args), true, false)
		}
	}
	if f.Outputs != nil {
		res, ok := block(text, "export interface "+upperFirst(name)+"Result {")
		if !ok {
			c.fail(tok, "%s declares no %sResult", rel, upperFirst(name))
		} else {
			c.compare(tok+".outputs", f.Outputs.Properties, f.Outputs.Required, members(res), false, false)
		}
	}
}

func (c *checker) provider() {
	text, err := c.d.file("provider.d.ts")
	if err != nil {
		c.fail("provider", "no provider.d.ts in the published package")
		return
	}
	args, _ := block(text, "export interface ProviderArgs {")
	c.compare("provider.inputProperties", c.spec.Provider.InputProperties, c.spec.Provider.RequiredInputs, members(args), true, true)
	c.secrets("provider", "provider.js", &c.spec.Provider)

	vars, err := c.d.file(filepath.Join("config", "vars.d.ts"))
	if err != nil {
		c.fail("config", "no config/vars.d.ts in the published package")
		return
	}
	declared := map[string]member{}
	for _, m := range regexp.MustCompile(`export declare const (\w+): (.*?);`).FindAllStringSubmatch(vars, -1) {
		t, undef := normalize(m[2])
		declared[m[1]] = member{optional: undef, typ: t}
	}
	c.compare("config.variables", c.spec.Config.Variables, nil, declared, false, false)
}

// compare checks each schema property against the declared members. input says whether this
// is an input position; wrapped says whether nested inputs are wrapped in pulumi.Input (false for
// invoke arguments and results, which are plain).
func (c *checker) compare(path string, props map[string]*Property, required []string, declared map[string]member, input, wrapped bool) {
	req := map[string]bool{}
	for _, r := range required {
		req[r] = true
		if _, ok := props[r]; !ok {
			c.fail(path+"."+r, "listed as required but not a property of the schema")
		}
	}
	for _, name := range sortedKeys(props) {
		c.checked++
		p := path + "." + name
		m, ok := declared[name]
		if !ok {
			c.fail(p, "not in the published declarations")
			continue
		}
		if m.optional == req[name] {
			c.fail(p, "required is %v in the schema, %v in the published declarations", req[name], !m.optional)
		}
		want := c.render(props[name], input, wrapped, true)
		if want != m.typ {
			c.fail(p, "type is %s in the schema, %s in the published declarations", want, m.typ)
		}
	}
}

// render spells a schema type the way the published declarations spell it.
func (c *checker) render(p *Property, input, wrapped, top bool) string {
	wrap := func(s string) string {
		if input && wrapped && !top {
			return "pulumi.Input<" + s + ">"
		}
		return s
	}
	switch {
	case len(p.OneOf) == 2 && p.OneOf[0].Type == "string" && p.OneOf[1].Ref != "":
		return wrap("string|" + c.ref(p.OneOf[1].Ref, input))
	case p.Ref == "pulumi.json#/Any":
		return wrap("any")
	case p.Ref != "":
		return wrap(c.ref(p.Ref, input))
	case p.Type == "array" && p.Items != nil:
		return wrap(c.render(p.Items, input, wrapped, false) + "[]")
	case p.Type == "object" && p.AdditionalProperties != nil:
		return wrap("{[key:string]:" + c.render(p.AdditionalProperties, input, wrapped, false) + "}")
	case p.Type == "integer", p.Type == "number":
		return wrap("number")
	case p.Type == "string", p.Type == "boolean":
		return wrap(p.Type)
	}
	return fmt.Sprintf("<unsupported %+v>", *p)
}

// ref spells a type reference and records the use, so the type is checked in that position.
func (c *checker) ref(ref string, input bool) string {
	tok := strings.TrimPrefix(ref, "#/types/")
	mod, name, ok := split(tok)
	if !ok {
		return "<bad ref " + ref + ">"
	}
	t, ok := c.spec.Types[tok]
	if !ok {
		return "<missing type " + tok + ">"
	}
	if len(t.Enum) > 0 {
		if c.typeUses[tok] == nil {
			c.typeUses[tok] = map[bool]bool{}
		}
		c.typeUses[tok][true] = true
		return "enums." + mod + "." + name
	}
	if c.typeUses[tok] == nil {
		c.typeUses[tok] = map[bool]bool{}
	}
	c.typeUses[tok][input] = true
	if input {
		return "inputs." + mod + "." + name + "Args"
	}
	return "outputs." + mod + "." + name
}

// types checks every type reached from a resource or function, in each position it was reached.
// Checking a type can reach further types, so it runs until nothing new is reached.
func (c *checker) types() {
	done := map[string]bool{}
	for {
		progressed := false
		for _, tok := range sortedKeys(c.typeUses) {
			for _, input := range []bool{true, false} {
				key := fmt.Sprintf("%s/%v", tok, input)
				if !c.typeUses[tok][input] || done[key] {
					continue
				}
				done[key] = true
				progressed = true
				c.typ(tok, c.spec.Types[tok], input)
			}
		}
		if !progressed {
			break
		}
	}
	for _, tok := range sortedKeys(c.spec.Types) {
		if c.typeUses[tok] == nil {
			c.fail(tok, "type is not used by any resource or function of the subset")
		}
	}
}

func (c *checker) typ(tok string, t *Object, input bool) {
	mod, name, _ := split(tok)
	if len(t.Enum) > 0 {
		values, err := c.d.enumValues(mod, name)
		if err != nil {
			c.fail(tok, "%v", err)
			return
		}
		for _, e := range t.Enum {
			c.checked++
			n := e.Name
			if n == "" {
				n = derivedEnumName(name, fmt.Sprint(e.Value))
			}
			if got, ok := values[n]; !ok || got != fmt.Sprint(e.Value) {
				c.fail(tok+"."+n, "enum value %v is not published (published: %v)", e.Value, values)
			}
		}
		return
	}
	file, iface := filepath.Join("types", "output.d.ts"), name
	if input {
		file, iface = filepath.Join("types", "input.d.ts"), name+"Args"
	}
	text, err := c.d.file(file)
	if err != nil {
		c.fail(tok, "read %s: %v", file, err)
		return
	}
	ns, ok := namespace(text, mod)
	if !ok {
		c.fail(tok, "%s has no namespace %s", file, mod)
		return
	}
	body, ok := block(ns, "interface "+iface+" {")
	if !ok {
		c.fail(tok, "%s declares no %s.%s", file, mod, iface)
		return
	}
	c.compare(tok, t.Properties, t.Required, members(body), input, true)
}

// derivedEnumName is the name the SDK generators give an enum value the schema leaves unnamed:
// the value with non-alphanumerics as "_", title-cased, prefixed by the type when it starts
// with a digit.
func derivedEnumName(typeName, value string) string {
	b := []rune(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(value, "_"))
	if len(b) == 0 {
		return typeName
	}
	if b[0] >= '0' && b[0] <= '9' {
		return typeName + "_" + string(b)
	}
	return strings.ToUpper(string(b[:1])) + string(b[1:])
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
