package dist

import (
	"archive/tar"
	"archive/zip"
	"cmp"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"
)

// Entry is one file, directory or hard link of an archive. Everything an archive records about
// it comes from the Entry and the archive's one modification time, never from the file system
// it was read from (owner, times, umask), so the same inputs give the same bytes on any machine.
type Entry struct {
	// Name is the slash-separated path in the archive; a directory's ends in '/'.
	Name string
	// Mode holds the permission bits: 0o755 for programs and directories, 0o644 otherwise.
	Mode fs.FileMode
	// Source is the file the content is read from; empty for a directory or a link.
	Source string
	// Link makes the entry a hard link to the entry of that name (tarballs), or a copy of it
	// (zips, which have no hard links).
	Link string
}

func (e Entry) dir() bool { return strings.HasSuffix(e.Name, "/") }

// ordered checks the entries and returns them in archive order: by name, hard links after
// every file (tar unpacks a link only to a file it has already written).
func ordered(entries []Entry) ([]Entry, error) {
	byName := map[string]Entry{}
	for _, e := range entries {
		if e.Name == "" || strings.HasPrefix(e.Name, "/") || strings.Contains(e.Name, "..") {
			return nil, fmt.Errorf("archive entry %q: want a relative path inside the archive", e.Name)
		}
		if _, dup := byName[e.Name]; dup {
			return nil, fmt.Errorf("archive entry %q: given twice", e.Name)
		}
		if e.Mode&^fs.ModePerm != 0 {
			return nil, fmt.Errorf("archive entry %q: mode %v: want permission bits only", e.Name, e.Mode)
		}
		byName[e.Name] = e
	}
	for _, e := range entries {
		if e.Link == "" {
			if !e.dir() && e.Source == "" {
				return nil, fmt.Errorf("archive entry %q: no source file", e.Name)
			}
			continue
		}
		t, ok := byName[e.Link]
		if !ok || t.dir() || t.Link != "" {
			return nil, fmt.Errorf("archive entry %q: links to %q, which is not a file of the archive", e.Name, e.Link)
		}
	}
	out := slices.Clone(entries)
	slices.SortFunc(out, func(a, b Entry) int {
		if la, lb := a.Link != "", b.Link != ""; la != lb {
			if la {
				return 1
			}
			return -1
		}
		return cmp.Compare(a.Name, b.Name)
	})
	return out, nil
}

// Owner is the user and group every tarball entry belongs to: root, numeric 0, as a package
// manager's files do. Unpacked by anyone else, tar gives the files to the user unpacking them.
const Owner = "root"

// WriteTarGz writes the entries as a gzip-compressed tarball (ustar) in archive order, every
// entry owned by root (0:0) and modified at mtime. The gzip header carries no file name and no
// time, so the bytes depend on the entries and mtime alone.
func WriteTarGz(w io.Writer, entries []Entry, mtime time.Time) error {
	list, err := ordered(entries)
	if err != nil {
		return err
	}
	// The default level: best compression saves under 1% of a binary for three times the time.
	gz, err := gzip.NewWriterLevel(w, gzip.DefaultCompression)
	if err != nil {
		return err
	}
	// The zero Header has no name, no comment and a zero MTIME; OS 255 is "unknown", which Go
	// writes whatever system it runs on.
	gz.Header = gzip.Header{OS: 255}
	tw := tar.NewWriter(gz)
	for _, e := range list {
		h := &tar.Header{
			Name:    e.Name,
			Mode:    int64(e.Mode),
			Uid:     0,
			Gid:     0,
			Uname:   Owner,
			Gname:   Owner,
			ModTime: mtime.UTC(),
			Format:  tar.FormatUSTAR,
		}
		switch {
		case e.dir():
			h.Typeflag = tar.TypeDir
		case e.Link != "":
			h.Typeflag = tar.TypeLink
			h.Linkname = e.Link
		default:
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag != tar.TypeReg {
			if err := tw.WriteHeader(h); err != nil {
				return fmt.Errorf("tar %s: %w", e.Name, err)
			}
			continue
		}
		if err := copyFile(e.Source, func(size int64) (io.Writer, error) {
			h.Size = size
			return tw, tw.WriteHeader(h)
		}); err != nil {
			return fmt.Errorf("tar %s: %w", e.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

// WriteZip writes the entries as a zip in archive order, each deflated, with Unix permission
// bits and mtime in both the MS-DOS field (as UTC, so the builder's time zone does not leak in)
// and the extended timestamp. A hard link becomes a second copy of its file.
func WriteZip(w io.Writer, entries []Entry, mtime time.Time) error {
	list, err := ordered(entries)
	if err != nil {
		return err
	}
	source := map[string]string{}
	for _, e := range list {
		source[e.Name] = e.Source
	}
	zw := zip.NewWriter(w)
	for _, e := range list {
		h := &zip.FileHeader{Name: e.Name, Modified: mtime.UTC(), Method: zip.Deflate}
		if e.dir() {
			h.Method = zip.Store
			h.SetMode(fs.ModeDir | e.Mode)
			if _, err := zw.CreateHeader(h); err != nil {
				return fmt.Errorf("zip %s: %w", e.Name, err)
			}
			continue
		}
		h.SetMode(e.Mode)
		src := e.Source
		if e.Link != "" {
			src = source[e.Link]
		}
		if err := copyFile(src, func(int64) (io.Writer, error) { return zw.CreateHeader(h) }); err != nil {
			return fmt.Errorf("zip %s: %w", e.Name, err)
		}
	}
	return zw.Close()
}

// copyFile streams a regular file into the writer open returns, given the file's size.
func copyFile(path string, open func(size int64) (io.Writer, error)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", path)
	}
	w, err := open(st.Size())
	if err != nil {
		return err
	}
	n, err := io.Copy(w, f)
	if err != nil {
		return err
	}
	if n != st.Size() {
		return errors.New(path + ": changed while it was archived")
	}
	return nil
}
