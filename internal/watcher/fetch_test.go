package watcher

import (
	"archive/zip"
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/slotless/slotless/internal/dist"
	"github.com/slotless/slotless/internal/dist/disttest"
)

// TestFetchBinary: on a machine that is not linux/amd64 the package takes the release's
// linux/amd64 binary, as install.sh would: the archive made by the release's own archiver,
// served as the GitHub releases are, checked against SHA256SUMS; a mismatch, an archive the
// sums do not list, a missing release and a development build are refused.
func TestFetchBinary(t *testing.T) {
	const version = "v1.4.0"
	tests := []struct {
		name    string
		version string
		edit    func(t *testing.T, r *disttest.Release, archive string)
		want    string // an error containing this; "" for the binary
	}{
		{"the release's binary", version, nil, ""},
		{"a checksum mismatch", version, func(t *testing.T, r *disttest.Release, archive string) {
			f, err := os.OpenFile(r.Path(version, archive), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteString("tampered"); err != nil {
				t.Fatal(err)
			}
		}, "checksum mismatch"},
		{"an archive SHA256SUMS does not list", version, func(t *testing.T, r *disttest.Release, _ string) {
			r.WriteSums(t, version, dist.InstallerName)
		}, "has no line for slotless_v1.4.0_linux_amd64.tar.gz"},
		{"no such release", "v9.9.9", nil, "404"},
		{"a development build", "(devel) 1a2b3c4d5e6f", nil, "has no release"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := disttest.NewRelease(t)
			archive := r.Add(t, disttest.Fake{Version: version, Platform: LinuxAMD64})
			if tt.edit != nil {
				tt.edit(t, r, archive)
			}
			var progress strings.Builder
			path, err := FetchBinary(context.Background(), http.DefaultClient, r.URL(), tt.version, t.TempDir(), &progress)
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("got %v, want an error containing %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			// disttest's stand-in binary answers `version` for the archive's platform.
			if !strings.Contains(string(got), "slotless "+version+" (go-fake, linux/amd64)") {
				t.Errorf("the binary taken from the archive: got %q", got)
			}
			if fi, err := os.Stat(path); err != nil || fi.Mode().Perm()&0o100 == 0 {
				t.Errorf("the binary is not executable: %v %v", fi, err)
			}
			if !strings.Contains(progress.String(), r.URL()+"/"+version+"/"+archive) {
				t.Errorf("progress: got %q, want it to name the download", progress.String())
			}
		})
	}
}

// TestPackageFromAFetchedBinary: the package built around a fetched binary holds it as
// slotless, executable, beside host.json and the timer's function.json.
func TestPackageFromAFetchedBinary(t *testing.T) {
	r := disttest.NewRelease(t)
	r.Add(t, disttest.Fake{Version: "v1.4.0", Platform: LinuxAMD64})
	path, err := FetchBinary(context.Background(), http.DefaultClient, r.URL(), "v1.4.0", t.TempDir(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	zipPath := t.TempDir() + "/watcher.zip"
	f, err := os.Create(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := WritePackage(f, path); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	files := map[string]*zip.File{}
	for _, f := range zr.File {
		files[f.Name] = f
	}
	if f := files[BinaryName]; f == nil || f.Mode().Perm()&0o100 == 0 || files["host.json"] == nil || files[FunctionName+"/function.json"] == nil {
		t.Fatalf("package files: got %v, want an executable %s, host.json and %s/function.json", files, BinaryName, FunctionName)
	}
	rc, err := files[BinaryName].Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, _ := io.ReadAll(rc)
	if want, _ := os.ReadFile(path); string(got) != string(want) {
		t.Errorf("the package's binary is not the fetched one")
	}
}
