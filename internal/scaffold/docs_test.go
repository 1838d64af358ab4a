package scaffold

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/slotless/slotless/stack"
)

var update = flag.Bool("update", false, "rewrite the docs' generated blocks from what init writes")

// docBlock is a fenced block the docs generate from init: a marker line `<!-- KIND: NAME -->`
// right before it.
var docBlock = regexp.MustCompile("(?s)<!-- (init|build|health): (\\S+) -->\n(```[a-z]*\n)(.*?)```\n")

// syncDocBlocks compares every marked block of a docs page with want(kind, name), or rewrites
// it with -update, and returns the markers it found.
func syncDocBlocks(t *testing.T, page string, want func(kind, name string) (string, error)) []string {
	t.Helper()
	path := filepath.Join("..", "..", "docs", page)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	var failed bool
	out := docBlock.ReplaceAllStringFunc(string(raw), func(block string) string {
		m := docBlock.FindStringSubmatch(block)
		kind, name, fence, have := m[1], m[2], m[3], m[4]
		found = append(found, kind+": "+name)
		w, err := want(kind, name)
		if err != nil {
			t.Errorf("%s: %s: %s: %v", page, kind, name, err)
			failed = true
			return block
		}
		if !strings.HasSuffix(w, "\n") {
			w += "\n"
		}
		if have != w {
			if !*update {
				t.Errorf("%s: the block of %s: %s differs from what init writes; run go test ./internal/scaffold -run TestDocs -update\ngot:\n%s\nwant:\n%s", page, kind, name, have, w)
			}
			failed = true
		}
		return fmt.Sprintf("<!-- %s: %s -->\n%s%s```\n", kind, name, fence, w)
	})
	if failed && *update {
		if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return found
}

// TestDocsShowWhatInitWrites keeps docs/team-repository.md's example equal to what init writes
// for the command it shows, and its default builds equal to DefaultBuild.
func TestDocsShowWhatInitWrites(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "docs", "team-repository.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := docBlock.FindAllStringSubmatch(string(raw), -1)
	i := slices.IndexFunc(m, func(b []string) bool { return b[1] == "init" && b[2] == "command" })
	if i < 0 {
		t.Fatal("docs/team-repository.md has no <!-- init: command --> block")
	}
	// The example runs in a folder named orders holding openapi.yaml, with slotless v1.2.0.
	args := strings.Fields(m[i][4])
	if len(args) < 2 || args[0] != "slotless" || args[1] != "init" || len(args)%2 != 0 {
		t.Fatalf("the example command %q is not slotless init with --flag value pairs", m[i][4])
	}
	given := Answers{}
	for j := 2; j < len(args); j += 2 {
		given[strings.TrimPrefix(args[j], "--")] = args[j+1]
	}
	dir := filepath.Join(t.TempDir(), "orders")
	writeFile(t, filepath.Join(dir, "openapi.yaml"), openAPIDoc)
	o, err := Resolve(Env{Dir: dir, BinaryVersion: "v1.2.0"}, given, nil)
	if err != nil {
		t.Fatal(err)
	}
	files, err := Render(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := Check(o, files); err != nil {
		t.Fatal(err)
	}
	found := syncDocBlocks(t, "team-repository.md", func(kind, name string) (string, error) {
		switch {
		case kind == "init" && name == "command":
			return m[i][4], nil
		case kind == "init" && name == "files":
			var paths []string
			for _, f := range files {
				paths = append(paths, f.Path)
			}
			return strings.Join(paths, "\n"), nil
		case kind == "init":
			for _, f := range files {
				if f.Path == name {
					return string(f.Content), nil
				}
			}
			return "", fmt.Errorf("init writes no %s for the example", name)
		case kind == "build":
			b := DefaultBuild(name, stack.FlexRuntimes[name].Default)
			if b.Command == "" {
				return "", fmt.Errorf("no runtime %s", name)
			}
			return b.Command, nil
		}
		return "", fmt.Errorf("not a block of this page")
	})
	for _, r := range Runtimes {
		if !slices.Contains(found, "build: "+r) {
			t.Errorf("docs/team-repository.md does not show the default build of %s", r)
		}
	}
}

// TestDocsShowTheHealthFunctions keeps docs/bring-your-own-app.md's health functions equal to
// the files init writes, every runtime's.
func TestDocsShowTheHealthFunctions(t *testing.T) {
	found := syncDocBlocks(t, "bring-your-own-app.md", func(kind, name string) (string, error) {
		runtime, p, ok := strings.Cut(name, "/")
		if kind != "health" || !ok {
			return "", fmt.Errorf("not a block of this page")
		}
		files, err := HealthFiles(runtime)
		if err != nil {
			return "", err
		}
		for _, f := range files {
			if f.Path == p {
				return string(f.Content), nil
			}
		}
		return "", fmt.Errorf("no %s in the health function of %s", p, runtime)
	})
	for _, r := range Runtimes {
		files, err := HealthFiles(r)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if !slices.Contains(found, "health: "+r+"/"+f.Path) {
				t.Errorf("docs/bring-your-own-app.md does not show %s of %s", f.Path, r)
			}
		}
	}
}
