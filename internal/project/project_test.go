package project

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		want    File
		wantErr string
	}{
		{"this repository's", "name: slotless\nruntime: go\n", File{Name: "slotless", Runtime: "go"}, ""},
		{"a team's, pinned", "name: orders\nruntime:\n  name: slotless\n  options:\n    version: v1.2.0\n", File{Name: "orders", Runtime: "slotless", Version: "v1.2.0"}, ""},
		{"a team's, unpinned", "name: orders\nruntime:\n  name: slotless\n", File{Name: "orders", Runtime: "slotless"}, ""},
		{"no name", "runtime: slotless\n", File{}, "name: missing"},
		{"bad name", "name: my orders\nruntime: slotless\n", File{}, `name: "my orders" is not a Pulumi project name`},
		{"no runtime", "name: orders\n", File{}, "runtime: missing"},
		{"unquoted number", "name: orders\nruntime:\n  name: slotless\n  options:\n    version: 1.2\n", File{}, "runtime.options.version: 1.2 is not a version string"},
		{"not YAML", "name: [", File{}, "parse:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.yaml))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %+v, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "no Pulumi.yaml in "+dir) {
		t.Errorf("empty folder: got %v, want the missing file named", err)
	}
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte("name: orders\nruntime: slotless\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Load(dir)
	if err != nil || f.Name != "orders" || f.Path != filepath.Join(dir, FileName) {
		t.Errorf("got %+v, %v", f, err)
	}
}

// TestRepositoryProject: this repository's own Pulumi.yaml is the project slotless on the go
// runtime, which its developers run with go run.
func TestRepositoryProject(t *testing.T) {
	f, err := Load(filepath.Join("..", ".."))
	if err != nil || f.Name != "slotless" || f.Runtime != "go" {
		t.Errorf("got %+v, %v; want slotless on go", f, err)
	}
}
