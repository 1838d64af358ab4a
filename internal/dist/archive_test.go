package dist

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var fixedTime = time.Date(2026, 11, 26, 10, 30, 0, 0, time.UTC)

// fixture writes the files of a small archive with modes and times unlike what the archive
// must record, so a test fails if any of them leaks through.
func fixture(t *testing.T) []Entry {
	t.Helper()
	dir := t.TempDir()
	write := func(name, text string, mode fs.FileMode) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil { // past the umask
			t.Fatal(err)
		}
		if err := os.Chtimes(path, time.Now(), time.Now()); err != nil {
			t.Fatal(err)
		}
		return path
	}
	return []Entry{
		{Name: "slotless", Mode: 0o755, Source: write("bin", "#!/bin/sh\necho binary\n", 0o700)},
		{Name: "pulumi-language-slotless", Mode: 0o755, Link: "slotless"},
		{Name: "ci/", Mode: 0o755},
		{Name: "ci/traffic-drift.sh", Mode: 0o755, Source: write("drift", "echo drift\n", 0o775)},
		{Name: "ci/gate-env.sh", Mode: 0o644, Source: write("gate", "export X=1\n", 0o600)},
	}
}

// wantOrder is the archive order of fixture: names sorted, the hard link last.
var wantOrder = []string{"ci/", "ci/gate-env.sh", "ci/traffic-drift.sh", "slotless", "pulumi-language-slotless"}

type writer func(io.Writer, []Entry, time.Time) error

func write(t *testing.T, w writer, entries []Entry, mtime time.Time) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := w(&b, entries, mtime); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestArchivesAreDeterministic writes each archive twice from the same inputs, the second time
// with the entries shuffled, the source files touched and re-moded, and the time in another
// zone: the bytes must not change.
func TestArchivesAreDeterministic(t *testing.T) {
	for _, c := range []struct {
		name string
		w    writer
	}{{"tar.gz", WriteTarGz}, {"zip", WriteZip}} {
		t.Run(c.name, func(t *testing.T) {
			entries := fixture(t)
			first := write(t, c.w, entries, fixedTime)
			shuffled := slices.Clone(entries)
			slices.Reverse(shuffled)
			for _, e := range shuffled {
				if e.Source != "" {
					if err := os.Chtimes(e.Source, time.Now().Add(time.Hour), time.Now().Add(time.Hour)); err != nil {
						t.Fatal(err)
					}
					if err := os.Chmod(e.Source, 0o777); err != nil {
						t.Fatal(err)
					}
				}
			}
			second := write(t, c.w, shuffled, fixedTime.In(time.FixedZone("UTC+5", 5*3600)))
			if !bytes.Equal(first, second) {
				t.Errorf("two writes of the same entries differ (%d and %d bytes)", len(first), len(second))
			}
			other := write(t, c.w, entries, fixedTime.Add(time.Second))
			if bytes.Equal(first, other) {
				t.Errorf("a different mtime gave the same bytes: the time is not recorded")
			}
		})
	}
}

func TestWriteTarGzContents(t *testing.T) {
	raw := write(t, WriteTarGz, fixture(t), fixedTime)
	gz, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if gz.Name != "" || !gz.ModTime.IsZero() || gz.Comment != "" || gz.OS != 255 {
		t.Errorf("gzip header: got name %q, time %v, comment %q, OS %d; want none, zero, none, 255", gz.Name, gz.ModTime, gz.Comment, gz.OS)
	}
	tr := tar.NewReader(gz)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "root" || h.Gname != "root" {
			t.Errorf("%s owner: got %d:%d %s:%s, want 0:0 root:root", h.Name, h.Uid, h.Gid, h.Uname, h.Gname)
		}
		if !h.ModTime.Equal(fixedTime) {
			t.Errorf("%s mtime: got %v, want %v", h.Name, h.ModTime, fixedTime)
		}
		if h.Format != tar.FormatUSTAR {
			t.Errorf("%s format: got %v, want ustar (no PAX records)", h.Name, h.Format)
		}
		want := map[string]struct {
			typ  byte
			mode int64
			body string
			link string
		}{
			"ci/":                      {tar.TypeDir, 0o755, "", ""},
			"ci/gate-env.sh":           {tar.TypeReg, 0o644, "export X=1\n", ""},
			"ci/traffic-drift.sh":      {tar.TypeReg, 0o755, "echo drift\n", ""},
			"slotless":                 {tar.TypeReg, 0o755, "#!/bin/sh\necho binary\n", ""},
			"pulumi-language-slotless": {tar.TypeLink, 0o755, "", "slotless"},
		}[h.Name]
		body, _ := io.ReadAll(tr)
		if h.Typeflag != want.typ || h.Mode != want.mode || string(body) != want.body || h.Linkname != want.link {
			t.Errorf("%s: got type %c mode %o body %q link %q, want %c %o %q %q", h.Name, h.Typeflag, h.Mode, body, h.Linkname, want.typ, want.mode, want.body, want.link)
		}
	}
	if !slices.Equal(names, wantOrder) {
		t.Errorf("order: got %v, want %v", names, wantOrder)
	}
}

func TestWriteZipContents(t *testing.T) {
	raw := write(t, WriteZip, fixture(t), fixedTime)
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		if !f.Modified.Equal(fixedTime) {
			t.Errorf("%s modified: got %v, want %v", f.Name, f.Modified, fixedTime)
		}
		want := map[string]struct {
			mode fs.FileMode
			body string
		}{
			"ci/":                 {fs.ModeDir | 0o755, ""},
			"ci/gate-env.sh":      {0o644, "export X=1\n"},
			"ci/traffic-drift.sh": {0o755, "echo drift\n"},
			"slotless":            {0o755, "#!/bin/sh\necho binary\n"},
			// zips have no hard links: the plugin name is a copy
			"pulumi-language-slotless": {0o755, "#!/bin/sh\necho binary\n"},
		}[f.Name]
		var body []byte
		if !f.Mode().IsDir() {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			body, _ = io.ReadAll(rc)
			rc.Close()
			if f.Method != zip.Deflate {
				t.Errorf("%s method: got %d, want deflate", f.Name, f.Method)
			}
		}
		if f.Mode() != want.mode || string(body) != want.body {
			t.Errorf("%s: got mode %v body %q, want %v %q", f.Name, f.Mode(), body, want.mode, want.body)
		}
	}
	if !slices.Equal(names, wantOrder) {
		t.Errorf("order: got %v, want %v", names, wantOrder)
	}
}

func TestArchivesRefuseBadEntries(t *testing.T) {
	src := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(src, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		entries []Entry
		want    string
	}{
		{"twice", []Entry{{Name: "a", Mode: 0o644, Source: src}, {Name: "a", Mode: 0o644, Source: src}}, "given twice"},
		{"absolute", []Entry{{Name: "/etc/a", Mode: 0o644, Source: src}}, "relative path"},
		{"escapes", []Entry{{Name: "../a", Mode: 0o644, Source: src}}, "relative path"},
		{"link to nothing", []Entry{{Name: "l", Mode: 0o755, Link: "missing"}}, "not a file of the archive"},
		{"link to a directory", []Entry{{Name: "d/", Mode: 0o755}, {Name: "l", Mode: 0o755, Link: "d/"}}, "not a file of the archive"},
		{"link to a link", []Entry{{Name: "a", Mode: 0o644, Source: src}, {Name: "l", Mode: 0o644, Link: "a"}, {Name: "m", Mode: 0o644, Link: "l"}}, "not a file of the archive"},
		{"no source", []Entry{{Name: "a", Mode: 0o644}}, "no source"},
		{"type bits", []Entry{{Name: "a", Mode: fs.ModeSymlink | 0o644, Source: src}}, "permission bits only"},
		{"missing file", []Entry{{Name: "a", Mode: 0o644, Source: src + "-gone"}}, "no such file"},
	}
	for _, c := range cases {
		for _, w := range []struct {
			name string
			w    writer
		}{{"tar.gz", WriteTarGz}, {"zip", WriteZip}} {
			t.Run(c.name+"/"+w.name, func(t *testing.T) {
				err := w.w(io.Discard, c.entries, fixedTime)
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Errorf("got %v, want an error with %q", err, c.want)
				}
			})
		}
	}
}
