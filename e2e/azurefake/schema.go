package azurefake

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Schema is the part of a Pulumi package schema that Check validates inputs against: the
// resources' input properties and required inputs, the functions' inputs, and the object and
// enum types they refer to. It is read from sdks/azure-native/schema.json, the schema the
// program's SDK is generated from, so the stand-in and the SDK cannot disagree.
type Schema struct {
	Version   string                  `json:"version"`
	Resources map[string]ResourceSpec `json:"resources"`
	Functions map[string]FunctionSpec `json:"functions"`
	Types     map[string]TypeSpec     `json:"types"`
}

// ResourceSpec is one resource of the schema.
type ResourceSpec struct {
	InputProperties map[string]PropertySpec `json:"inputProperties"`
	RequiredInputs  []string                `json:"requiredInputs"`
	Properties      map[string]PropertySpec `json:"properties"`
}

// FunctionSpec is one function (invoke) of the schema.
type FunctionSpec struct {
	Inputs ObjectSpec `json:"inputs"`
}

// ObjectSpec is an object shape: its properties and which are required.
type ObjectSpec struct {
	Properties map[string]PropertySpec `json:"properties"`
	Required   []string                `json:"required"`
}

// TypeSpec is a named object or enum type.
type TypeSpec struct {
	Type       string                  `json:"type"`
	Properties map[string]PropertySpec `json:"properties"`
	Required   []string                `json:"required"`
	Enum       []struct {
		Value any `json:"value"`
	} `json:"enum"`
}

// PropertySpec is the type of one property.
type PropertySpec struct {
	Type                 string         `json:"type"`
	Ref                  string         `json:"$ref"`
	Items                *PropertySpec  `json:"items"`
	AdditionalProperties *PropertySpec  `json:"additionalProperties"`
	OneOf                []PropertySpec `json:"oneOf"`
}

// LoadSchema reads a package schema from a file.
func LoadSchema(path string) (*Schema, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read schema: %w", err)
	}
	var s Schema
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("parse schema %s: %w", path, err)
	}
	if len(s.Resources) == 0 {
		return nil, fmt.Errorf("schema %s declares no resources", path)
	}
	return &s, nil
}

// CheckResource validates a resource's inputs the way the provider's Check does: every
// property must be declared, of its declared type, with a declared enum value where the type is
// an enum, and every required input present. Each failure names the property path
// (siteConfig.appSettings[2].name). Unknown values (not yet known at preview) pass.
func (s *Schema) CheckResource(token string, inputs resource.PropertyMap) ([]string, error) {
	spec, ok := s.Resources[token]
	if !ok {
		return nil, fmt.Errorf("resource type %s not found", token)
	}
	return s.checkObject("", ObjectSpec{Properties: spec.InputProperties, Required: spec.RequiredInputs}, inputs, internalInputs), nil
}

// CheckFunction validates an invoke's arguments against the function's inputs.
func (s *Schema) CheckFunction(token string, args resource.PropertyMap) ([]string, error) {
	spec, ok := s.Functions[token]
	if !ok {
		return nil, fmt.Errorf("invoke type %s not found", token)
	}
	return s.checkObject("", spec.Inputs, args, nil), nil
}

// internalInputs are keys the provider itself adds to checked inputs (azure-native's Check adds
// azureApiVersion, and __createBeforeDelete for random names), so they are never the user's
// mistake.
var internalInputs = []string{"azureApiVersion", createBeforeDeleteKey}

func (s *Schema) checkObject(path string, obj ObjectSpec, values resource.PropertyMap, allowed []string) []string {
	var failures []string
	for _, name := range obj.Required {
		if v, ok := values[resource.PropertyKey(name)]; !ok || v.IsNull() {
			failures = append(failures, fmt.Sprintf("missing required property '%s'", join(path, name)))
		}
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, string(k))
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := values[resource.PropertyKey(k)]
		prop, ok := obj.Properties[k]
		if !ok {
			if slices.Contains(allowed, k) {
				continue
			}
			failures = append(failures, fmt.Sprintf("unknown property '%s'", join(path, k)))
			continue
		}
		failures = append(failures, s.checkValue(join(path, k), prop, v)...)
	}
	return failures
}

func (s *Schema) checkValue(path string, prop PropertySpec, v resource.PropertyValue) []string {
	if v.IsSecret() {
		v = v.SecretValue().Element
	}
	if v.IsComputed() || v.IsOutput() || v.IsNull() {
		return nil
	}
	if len(prop.OneOf) > 0 {
		// "string or enum": the value must be a string and, if the enum is declared, one of it.
		for _, alt := range prop.OneOf {
			if alt.Ref != "" {
				return s.checkValue(path, alt, v)
			}
		}
	}
	if prop.Ref != "" {
		if prop.Ref == "pulumi.json#/Any" {
			return nil
		}
		name := strings.TrimPrefix(prop.Ref, "#/types/")
		t, ok := s.Types[name]
		if !ok {
			return []string{fmt.Sprintf("'%s': schema type '%s' not found", path, name)}
		}
		if len(t.Enum) > 0 {
			if !v.IsString() {
				return []string{fmt.Sprintf("'%s' should be of type 'string' but got %s", path, kind(v))}
			}
			var allowed []string
			for _, e := range t.Enum {
				allowed = append(allowed, fmt.Sprint(e.Value))
				if fmt.Sprint(e.Value) == v.StringValue() {
					return nil
				}
			}
			return []string{fmt.Sprintf("'%s': %q is not an allowed value, want one of %s", path, v.StringValue(), strings.Join(allowed, ", "))}
		}
		if !v.IsObject() {
			return []string{fmt.Sprintf("'%s' should be of type 'object' but got %s", path, kind(v))}
		}
		return s.checkObject(path, ObjectSpec{Properties: t.Properties, Required: t.Required}, v.ObjectValue(), nil)
	}
	switch prop.Type {
	case "string":
		if !v.IsString() {
			return []string{fmt.Sprintf("'%s' should be of type 'string' but got %s", path, kind(v))}
		}
	case "boolean":
		if !v.IsBool() {
			return []string{fmt.Sprintf("'%s' should be of type 'boolean' but got %s", path, kind(v))}
		}
	case "integer", "number":
		if !v.IsNumber() {
			return []string{fmt.Sprintf("'%s' should be of type '%s' but got %s", path, prop.Type, kind(v))}
		}
		if _, frac := math.Modf(v.NumberValue()); prop.Type == "integer" && frac != 0 {
			return []string{fmt.Sprintf("'%s' must be an integer but got %v", path, v.NumberValue())}
		}
	case "array":
		if !v.IsArray() {
			return []string{fmt.Sprintf("'%s' should be of type 'array' but got %s", path, kind(v))}
		}
		var failures []string
		if prop.Items != nil {
			for i, item := range v.ArrayValue() {
				failures = append(failures, s.checkValue(fmt.Sprintf("%s[%d]", path, i), *prop.Items, item)...)
			}
		}
		return failures
	case "object":
		if !v.IsObject() {
			return []string{fmt.Sprintf("'%s' should be of type 'object' but got %s", path, kind(v))}
		}
		var failures []string
		if prop.AdditionalProperties != nil {
			obj := v.ObjectValue()
			for _, k := range obj.StableKeys() {
				failures = append(failures, s.checkValue(path+"."+string(k), *prop.AdditionalProperties, obj[k])...)
			}
		}
		return failures
	}
	return nil
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func kind(v resource.PropertyValue) string {
	switch {
	case v.IsString():
		return "a string"
	case v.IsNumber():
		return "a number"
	case v.IsBool():
		return "a boolean"
	case v.IsArray():
		return "an array"
	case v.IsObject():
		return "an object"
	}
	return string(v.TypeString())
}
