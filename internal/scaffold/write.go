package scaffold

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Outcome is what Write did, by path relative to the project folder.
type Outcome struct {
	// Wrote lists the files written.
	Wrote []string
	// Kept lists the files that were there already with exactly the content init would write,
	// such as Pulumi.yaml when a second stack is added.
	Kept []string
}

// Conflict is a file in the way: there, with other content than init would write.
type Conflict struct {
	Path   string
	Reason string
}

// ConflictError is init refusing to write because files are in the way. Nothing was written.
type ConflictError struct {
	Dir       string
	Conflicts []Conflict
}

func (e *ConflictError) Error() string {
	lines := []string{fmt.Sprintf("nothing written: %d file(s) in %s are in the way, and slotless init never overwrites one (move them, or pass other inputs):", len(e.Conflicts), e.Dir)}
	for _, c := range e.Conflicts {
		lines = append(lines, fmt.Sprintf("  %s: %s", c.Path, c.Reason))
	}
	return strings.Join(lines, "\n")
}

// Write writes files into the project folder dir, never overwriting one. Every target is
// checked first: one that exists with other content (or is a folder, or sits below a file) is
// a conflict, and any conflict writes nothing and returns a *ConflictError naming them all. A
// file that exists with exactly the content init would write is kept. Each file is written
// whole, through a temporary file in its folder, so a reader never sees half of one; folders
// are created as needed.
func Write(dir string, files []File) (Outcome, error) {
	var out Outcome
	var conflicts []Conflict
	var todo []File
	for _, f := range files {
		target := filepath.Join(dir, filepath.FromSlash(f.Path))
		info, err := os.Lstat(target)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			todo = append(todo, f)
		case errors.Is(err, syscall.ENOTDIR):
			conflicts = append(conflicts, Conflict{f.Path, "a folder on its path is a file"})
		case err != nil:
			conflicts = append(conflicts, Conflict{f.Path, err.Error()})
		case info.IsDir():
			conflicts = append(conflicts, Conflict{f.Path, "is a folder"})
		default:
			have, err := os.ReadFile(target)
			switch {
			case err != nil:
				conflicts = append(conflicts, Conflict{f.Path, err.Error()})
			case bytes.Equal(have, f.Content):
				out.Kept = append(out.Kept, f.Path)
			default:
				conflicts = append(conflicts, Conflict{f.Path, "exists with other content"})
			}
		}
	}
	if len(conflicts) > 0 {
		return Outcome{}, &ConflictError{Dir: dir, Conflicts: conflicts}
	}
	for _, f := range todo {
		if err := writeNew(filepath.Join(dir, filepath.FromSlash(f.Path)), f.Content); err != nil {
			return out, fmt.Errorf("write %s (after writing %d other file(s): %s): %w", f.Path, len(out.Wrote), strings.Join(out.Wrote, ", "), err)
		}
		out.Wrote = append(out.Wrote, f.Path)
	}
	return out, nil
}

// writeNew writes a file that must not exist yet: the content goes to a temporary file in the
// same folder, which is then linked to the target name. A link, unlike a rename, fails when
// the name was taken in the meantime, so even a file created after the check is not
// overwritten. Where the file system has no hard links, a rename does it.
func writeNew(target string, content []byte) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".slotless-init-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(content); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	err = os.Link(tmp.Name(), target)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("%s appeared while init was writing, and is left as it is", target)
	}
	if _, serr := os.Lstat(target); serr == nil {
		return fmt.Errorf("%s appeared while init was writing, and is left as it is", target)
	}
	return os.Rename(tmp.Name(), target)
}
