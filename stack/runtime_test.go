package stack

import (
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi-azure-native-sdk/web/v3"
)

func TestParseRuntime(t *testing.T) {
	tests := []struct {
		name string
		set  map[string]string
		want Runtime
		err  string
	}{
		{"the sample's default", nil, Runtime{"custom", "1.0"}, ""},
		{"a runtime at its Flex default", map[string]string{"functionRuntime": "node"}, Runtime{"node", "22"}, ""},
		{"a runtime and a version", map[string]string{"functionRuntime": "dotnet-isolated", "functionRuntimeVersion": "9.0"}, Runtime{"dotnet-isolated", "9.0"}, ""},
		{"python 3.13 (preview on Flex)", map[string]string{"functionRuntime": "python", "functionRuntimeVersion": "3.13"}, Runtime{"python", "3.13"}, ""},
		{"an unknown runtime", map[string]string{"functionRuntime": "ruby"}, Runtime{}, `functionRuntime: "ruby" is not valid, want one of dotnet-isolated, node, python, java, powershell, custom`},
		{"the in-process .NET model", map[string]string{"functionRuntime": "dotnet"}, Runtime{}, `functionRuntime: "dotnet" is not valid`},
		{"a version of another runtime", map[string]string{"functionRuntime": "java", "functionRuntimeVersion": "22"}, Runtime{}, `functionRuntimeVersion: "22" is not a Flex Consumption version of java, want one of 17, 21`},
		{"a version Flex does not offer", map[string]string{"functionRuntime": "node", "functionRuntimeVersion": "18"}, Runtime{}, `functionRuntimeVersion: "18" is not a Flex Consumption version of node, want one of 20, 22`},
		{"custom's only version", map[string]string{"functionRuntimeVersion": "2.0"}, Runtime{}, `functionRuntimeVersion: "2.0" is not a Flex Consumption version of custom, want one of 1.0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(source(tt.set))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want an error containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if c.Runtime != tt.want {
				t.Errorf("got %v, want %v", c.Runtime, tt.want)
			}
		})
	}
}

// TestRuntimeNamesAreTheSchemas: every name functionRuntime accepts is a value of azure-native's
// RuntimeName enum (from the 3.28.0 schema the SDK is generated from), and each has its Flex
// versions with a default among them.
func TestRuntimeNamesAreTheSchemas(t *testing.T) {
	schema := []string{string(web.RuntimeName_Dotnet_isolated), string(web.RuntimeNameNode), string(web.RuntimeNamePython),
		string(web.RuntimeNameJava), string(web.RuntimeNamePowershell), string(web.RuntimeNameCustom)}
	for _, n := range RuntimeNames {
		if !slices.Contains(schema, n) {
			t.Errorf("runtime %q: not a value of web.RuntimeName %v", n, schema)
		}
		f, ok := FlexRuntimes[n]
		if !ok || !slices.Contains(f.Versions, f.Default) {
			t.Errorf("runtime %q: got %+v, want versions with the default among them", n, f)
		}
	}
	if len(RuntimeNames) != len(schema) || len(FlexRuntimes) != len(schema) {
		t.Errorf("got %d names and %d runtimes, want the schema's %d", len(RuntimeNames), len(FlexRuntimes), len(schema))
	}
}
