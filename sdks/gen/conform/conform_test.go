package conform

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// npmDir returns the unpacked @pulumi/azure-native package that CI provides. In CI a missing
// package is a failure, not a skip, so the real check cannot silently stop running.
func npmDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("AZURE_NATIVE_NPM_DIR")
	if dir == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("AZURE_NATIVE_NPM_DIR is not set; .ci/run unpacks @pulumi/azure-native@3.28.0 and sets it")
		}
		t.Skip("AZURE_NATIVE_NPM_DIR not set: run `make conform` to fetch the published package")
	}
	return dir
}

func loadSchema(t *testing.T) *Spec {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "azure-native", "schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s Spec
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

func TestSchemaSubsetMatchesPublishedPackage(t *testing.T) {
	dir := npmDir(t)
	n, problems, err := Check(loadSchema(t), dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) > 0 {
		t.Fatalf("got %d mismatches, want 0:\n%s", len(problems), strings.Join(problems, "\n"))
	}
	if n < 100 {
		t.Fatalf("got %d properties compared, want the whole subset (at least 100)", n)
	}
}

// TestMutationsAreCaught edits the real schema in the ways a hand edit goes wrong and checks
// that each edit is reported with its property path.
func TestMutationsAreCaught(t *testing.T) {
	dir := npmDir(t)
	tests := []struct {
		name   string
		mutate func(s *Spec)
		want   string
	}{
		{"misspelt nested property", func(s *Spec) {
			item := s.Types["azure-native:apimanagement:BackendPoolItem"]
			item.Properties["wieght"] = item.Properties["weight"]
			delete(item.Properties, "weight")
		}, "azure-native:apimanagement:BackendPoolItem.wieght: not in the published declarations"},
		{"misspelt resource input", func(s *Spec) {
			r := s.Resources["azure-native:apimanagement:Backend"]
			r.InputProperties["circuitBreakr"] = r.InputProperties["circuitBreaker"]
			delete(r.InputProperties, "circuitBreaker")
		}, "azure-native:apimanagement:Backend.inputProperties.circuitBreakr: not in the published declarations"},
		{"required flag flipped", func(s *Spec) {
			r := s.Resources["azure-native:apimanagement:Backend"]
			r.RequiredInputs = append(r.RequiredInputs, "url")
		}, "azure-native:apimanagement:Backend.inputProperties.url: required is true in the schema, false"},
		{"wrong type", func(s *Spec) {
			s.Types["azure-native:web:FunctionsScaleAndConcurrency"].Properties["instanceMemoryMB"].Type = "string"
		}, "azure-native:web:FunctionsScaleAndConcurrency.instanceMemoryMB: type is string in the schema, number"},
		{"unknown enum value", func(s *Spec) {
			s.Types["azure-native:apimanagement:BackendType"].Enum[0].Value = "Singel"
		}, "azure-native:apimanagement:BackendType.Single: enum value Singel is not published"},
		{"secret dropped", func(s *Spec) {
			s.Provider.InputProperties["clientSecret"].Secret = false
		}, "provider.clientSecret: secret is false in the schema, true in the published package"},
		{"misspelt resource", func(s *Spec) {
			s.Resources["azure-native:apimanagement:Backends"] = s.Resources["azure-native:apimanagement:Backend"]
		}, "azure-native:apimanagement:Backends: no resource Backends in the published package"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := loadSchema(t)
			tt.mutate(s)
			_, problems, err := Check(s, dir)
			if err != nil {
				t.Fatal(err)
			}
			joined := strings.Join(problems, "\n")
			if !strings.Contains(joined, tt.want) {
				t.Fatalf("got problems:\n%s\nwant one containing %q", joined, tt.want)
			}
		})
	}
}

// TestParsesDeclarationShapes pins the parser on the shapes the published files use, with no
// package needed.
func TestParsesDeclarationShapes(t *testing.T) {
	body := `
    /**
     * A map; its value type has a semicolon inside braces.
     */
    tags?: pulumi.Input<{
        [key: string]: pulumi.Input<string>;
    } | undefined>;
    kind: pulumi.Input<string | enums.storage.Kind>;
    readonly weight: pulumi.Output<number | undefined>;
    services?: pulumi.Input<pulumi.Input<inputs.apimanagement.BackendPoolItemArgs>[] | undefined>;
`
	got := members(body)
	tests := []struct {
		name     string
		optional bool
		typ      string
	}{
		{"tags", true, "{[key:string]:pulumi.Input<string>}"},
		{"kind", false, "string|enums.storage.Kind"},
		{"weight", true, "number"},
		{"services", true, "pulumi.Input<inputs.apimanagement.BackendPoolItemArgs>[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ok := got[tt.name]
			if !ok {
				t.Fatalf("got members %v, want %s", got, tt.name)
			}
			if m.optional != tt.optional || m.typ != tt.typ {
				t.Fatalf("got %+v, want optional=%v typ=%s", m, tt.optional, tt.typ)
			}
		})
	}
}

func TestDerivedEnumName(t *testing.T) {
	tests := []struct{ typ, value, want string }{
		{"SupportedTlsVersions", "1.2", "SupportedTlsVersions_1_2"},
		{"PolicyContentFormat", "xml-link", "Xml_link"},
		{"BackendProtocol", "http", "Http"},
	}
	for _, tt := range tests {
		if got := derivedEnumName(tt.typ, tt.value); got != tt.want {
			t.Errorf("derivedEnumName(%s, %s): got %v, want %v", tt.typ, tt.value, got, tt.want)
		}
	}
}
