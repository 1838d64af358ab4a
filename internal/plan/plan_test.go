package plan

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadConfigLayersDefaultsStackAndSet(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("Pulumi.yaml", "name: slotless\nruntime: go\nconfig:\n  blueWeight:\n    type: integer\n    default: 0\n  apiPath:\n    default: slotless\n  corsOrigins:\n    type: array\n")
	write("Pulumi.s.yaml", "config:\n  slotless:blueWeight: 10\n  azure-native:location: westeurope\n  slotless:corsOrigins:\n    - https://a.example.com\n  slotless:token:\n    secure: v1:xyz\n")
	cfg, err := LoadConfig(dir, "s")
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Set("apiPath=orders"); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ key, want string }{
		{"slotless:blueWeight", "10"},                         // the stack file beats the default
		{"slotless:apiPath", "orders"},                        // --set beats both
		{"azure-native:location", "westeurope"},               // other namespaces pass through
		{"slotless:corsOrigins", `["https://a.example.com"]`}, // lists reach the program as JSON
		{"slotless:token", SecretStandIn},                     // never decrypted
	}
	for _, tt := range tests {
		if got := cfg.Values[tt.key]; got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.key, got, tt.want)
		}
	}
	if len(cfg.Secrets) != 1 || cfg.Secrets[0] != "slotless:token" {
		t.Errorf("secrets: got %v, want [slotless:token]", cfg.Secrets)
	}
}

func TestDiff(t *testing.T) {
	res := func(name string, inputs map[string]any, ignore ...string) Resource {
		return Resource{Type: "t", Name: name, Inputs: inputs, IgnoreChanges: ignore}
	}
	before := &Plan{Resources: []Resource{
		res("same", map[string]any{"a": 1.0}),
		res("pool", map[string]any{"pool": map[string]any{"services": []any{map[string]any{"weight": 100.0}}}}),
		res("frozen", map[string]any{"value": "green-backend"}),
		res("gone", map[string]any{}),
	}}
	after := &Plan{Resources: []Resource{
		res("same", map[string]any{"a": 1.0}),
		res("pool", map[string]any{"pool": map[string]any{"services": []any{map[string]any{"weight": 90.0}}}}),
		res("frozen", map[string]any{"value": "blue-backend"}, "value"),
		res("new", map[string]any{}),
	}}
	got := Diff(before, after)
	want := []Change{
		{Type: "t", Name: "gone", Kind: Delete},
		{Type: "t", Name: "new", Kind: Create},
		{Type: "t", Name: "pool", Kind: Update, Properties: []PropertyChange{{Path: "pool.services[0].weight", Before: "100", After: "90"}}},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Name != want[i].Name || got[i].Kind != want[i].Kind || len(got[i].Properties) != len(want[i].Properties) {
			t.Errorf("change %d: got %+v, want %+v", i, got[i], want[i])
			continue
		}
		for j := range want[i].Properties {
			if got[i].Properties[j] != want[i].Properties[j] {
				t.Errorf("change %d property %d: got %+v, want %+v", i, j, got[i].Properties[j], want[i].Properties[j])
			}
		}
	}
}

func TestNearest(t *testing.T) {
	known := []string{"blueWeight", "greenWeight", "maxStep", "pinToken", "apiPath", "apimSku", "prefix"}
	tests := []struct {
		name, want string
		ok         bool
	}{
		{"bluWeight", "blueWeight", true},
		{"blueweight", "blueWeight", true}, // case alone is a typo
		{"greenWieght", "greenWeight", true},
		{"maxstep", "maxStep", true},
		{"apimSKU", "apimSku", true},
		{"pinTokn", "pinToken", true},
		{"region", "", false},
		{"x", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Nearest(tt.name, known)
			if ok != tt.ok || (ok && got != tt.want) {
				t.Errorf("Nearest(%q): got %q %v, want %q %v", tt.name, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestCheckKeysSuggestsTheNearestKey(t *testing.T) {
	tests := []struct {
		name    string
		keys    []string
		want    []string
		notWant []string
	}{
		{"misspelt", []string{"bluWeight"}, []string{"unknown config key bluWeight: did you mean blueWeight?"}, []string{"known keys:"}},
		{"two misspelt", []string{"bluWeight", "maxstep"}, []string{"bluWeight: did you mean blueWeight?", "maxstep: did you mean maxStep?"}, nil},
		{"nothing close", []string{"region"}, []string{"unknown config key region\n", "known keys: blueWeight, greenWeight"}, []string{"did you mean"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := StackConfig{Project: "slotless", Values: map[string]string{"slotless:blueWeight": "0", "azure-native:location": "westeurope"}}
			for _, k := range tt.keys {
				cfg.Values["slotless:"+k] = "1"
			}
			err := cfg.CheckKeys()
			if err == nil {
				t.Fatalf("got no error, want unknown keys %v", tt.keys)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got %q, want it to contain %q", err, w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(err.Error(), w) {
					t.Errorf("got %q, want no %q", err, w)
				}
			}
		})
	}
}

func TestUnknownStackListsTheStacks(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), []byte("name: orders\nruntime: slotless\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"Pulumi.dev.yaml", "Pulumi.staging.yaml", "Pulumi.dev.deploy.yaml"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("config: {}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err := LoadConfig(dir, "prod")
	var use *UnknownStackError
	if !errors.As(err, &use) {
		t.Fatalf("got %v, want an UnknownStackError", err)
	}
	if want := "stack \"prod\": no Pulumi.prod.yaml in " + dir + "; stacks here: dev, staging"; err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
	if _, err := LoadConfig(t.TempDir(), "dev"); err == nil || !strings.Contains(err.Error(), "no Pulumi.yaml in") {
		t.Errorf("no project: got %v, want the project file named", err)
	}
}

func TestFlattenLeavesNoEntryForAResourceWithoutInputs(t *testing.T) {
	if got := Flatten(map[string]any{}); len(got) != 0 {
		t.Errorf("empty inputs: got %v, want no entries", got)
	}
	got := Flatten(map[string]any{"tags": map[string]any{}, "ips": []any{}})
	if got["tags"] != "{}" || got["ips"] != "[]" || len(got) != 2 {
		t.Errorf("nested empties: got %v, want tags {} and ips []", got)
	}
}

// TestProjectNamespacesItsKeys: a team's project reads its keys under its own name, and a key of
// the program in another project's namespace (a stack file copied from this repository) is
// refused rather than ignored.
func TestProjectNamespacesItsKeys(t *testing.T) {
	tests := []struct {
		name    string
		values  map[string]string
		wantErr string
	}{
		{"own namespace", map[string]string{"orders:blueWeight": "10"}, ""},
		{"provider keys", map[string]string{"orders:blueWeight": "10", "azure-native:subscriptionId": "x"}, ""},
		{"copied from this repository", map[string]string{"slotless:blueWeight": "10"},
			"config key slotless:blueWeight: this project is named orders (Pulumi.yaml), so the program reads orders:blueWeight and ignores slotless:blueWeight"},
		{"unknown in own namespace", map[string]string{"orders:bluWeight": "10"}, "unknown config key bluWeight: did you mean blueWeight?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := StackConfig{Project: "orders", Values: map[string]string{"azure-native:location": "westeurope"}}
			for k, v := range tt.values {
				cfg.Values[k] = v
			}
			err := cfg.CheckKeys()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("got %v, want no error", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("got %v, want %q", err, tt.wantErr)
			}
		})
	}
	cfg := StackConfig{Project: "orders", Values: map[string]string{}}
	if err := cfg.Set("blueWeight=10"); err != nil || cfg.Values["orders:blueWeight"] != "10" {
		t.Errorf("--set blueWeight=10: got %v %v, want orders:blueWeight", cfg.Values, err)
	}
	if v, ok := cfg.Source()("blueWeight"); !ok || v != "10" {
		t.Errorf("Source: got %q %v, want the project's blueWeight", v, ok)
	}
}
