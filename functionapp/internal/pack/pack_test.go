package pack

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const goodHost = `{"version":"2.0","customHandler":{"description":{"defaultExecutablePath":"bin/handler"},"enableForwardingHttpRequest":true}}`

// tree writes files (path -> content) under a new temp dir.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, c := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestWrite(t *testing.T) {
	src := tree(t, map[string]string{
		"host.json":           goodHost,
		"b/function.json":     `{"bindings":[]}`,
		"a/function.json":     `{"bindings":[]}`,
		"notafunction/x.txt":  "ignored",
		"README.md":           "ignored",
		"build/handler-built": "\x7fELF...",
	})
	exe := filepath.Join(src, "build", "handler-built")

	var first, second bytes.Buffer
	names, err := Write(&first, src, exe)
	if err != nil {
		t.Fatalf("Write: got %v, want nil", err)
	}
	if _, err := Write(&second, src, exe); err != nil {
		t.Fatalf("second Write: got %v, want nil", err)
	}
	if !bytes.Equal(first.Bytes(), second.Bytes()) {
		t.Errorf("reproducible: got different bytes for the same inputs, want identical")
	}

	wantNames := []string{"host.json", "a/function.json", "b/function.json", "bin/handler"}
	if got, want := strings.Join(names, ","), strings.Join(wantNames, ","); got != want {
		t.Errorf("entries: got %v, want %v", got, want)
	}

	zr, err := zip.NewReader(bytes.NewReader(first.Bytes()), int64(first.Len()))
	if err != nil {
		t.Fatalf("open zip: got %v, want nil", err)
	}
	modes := map[string]os.FileMode{}
	for _, f := range zr.File {
		modes[f.Name] = f.Mode()
	}
	tests := []struct {
		name string
		want os.FileMode
	}{
		{"host.json", 0o644},
		{"a/function.json", 0o644},
		{"b/function.json", 0o644},
		{"bin/handler", 0o755},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := modes[tt.name]; got != tt.want {
				t.Errorf("mode: got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestWriteErrors(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		exe     string
		wantErr string
	}{
		{"no host.json", map[string]string{"f/function.json": "{}"}, "exe", "read host.json"},
		{"host.json not JSON", map[string]string{"host.json": "{", "f/function.json": "{}"}, "exe", "parse host.json"},
		{"no executable path", map[string]string{"host.json": `{"version":"2.0"}`, "f/function.json": "{}"}, "exe", "defaultExecutablePath is empty"},
		{"executable outside the package", map[string]string{
			"host.json":       `{"customHandler":{"description":{"defaultExecutablePath":"../app"}}}`,
			"f/function.json": "{}",
		}, "exe", "must be relative"},
		{"absolute executable", map[string]string{
			"host.json":       `{"customHandler":{"description":{"defaultExecutablePath":"/usr/bin/app"}}}`,
			"f/function.json": "{}",
		}, "exe", "must be relative"},
		{"no functions", map[string]string{"host.json": goodHost, "exe": "x"}, "exe", "no function folders"},
		{"function.json not JSON", map[string]string{"host.json": goodHost, "f/function.json": "{", "exe": "x"}, "exe", "not valid JSON"},
		{"missing executable", map[string]string{"host.json": goodHost, "f/function.json": "{}"}, "exe", "read "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := tree(t, tt.files)
			_, err := Write(&bytes.Buffer{}, src, filepath.Join(src, tt.exe))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error: got %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestWriteFileLeavesNoPartialZip(t *testing.T) {
	src := tree(t, map[string]string{"host.json": goodHost, "f/function.json": "{"})
	out := filepath.Join(t.TempDir(), "dist", "functionapp.zip")
	if _, err := WriteFile(out, src, filepath.Join(src, "missing")); err == nil {
		t.Fatalf("WriteFile: got nil, want an error")
	}
	entries, err := os.ReadDir(filepath.Dir(out))
	if err != nil {
		t.Fatalf("read output dir: got %v, want nil", err)
	}
	if len(entries) != 0 {
		t.Errorf("output dir: got %v, want empty", entries)
	}
}
