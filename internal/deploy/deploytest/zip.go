// Package deploytest builds function app packages for tests.
package deploytest

import (
	"archive/zip"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// Zip writes a zip at path holding the given files, each a small JSON document (a host.json
// among them parses as one), and returns path. An empty path means app.zip in a fresh temporary
// folder.
func Zip(t testing.TB, path string, files ...string) string {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "app.zip")
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := zip.NewWriter(f)
	for _, name := range files {
		fw, err := w.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fw.Write([]byte(`{"version": "2.0"}`)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// ZipFiles writes a zip at path holding each file with the given content, and returns path. An
// empty path means app.zip in a fresh temporary folder.
func ZipFiles(t testing.TB, path string, files map[string]string) string {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "app.zip")
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := zip.NewWriter(f)
	for _, name := range slices.Sorted(maps.Keys(files)) {
		fw, err := w.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fw.Write([]byte(files[name])); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}
