package scaffold

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// tree lists every file under dir with its content, for before/after comparisons.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			out[filepath.ToSlash(rel)+"/"] = ""
			return nil
		}
		raw, err := os.ReadFile(p)
		out[filepath.ToSlash(rel)] = string(raw)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestWriteNeverOverwrites(t *testing.T) {
	tests := []struct {
		name string
		// before are files in the folder before init, path to content; "DIR" makes a folder.
		before    map[string]string
		conflicts []string
		kept      []string
	}{
		{"an empty folder", nil, nil, nil},
		{"other files are left alone", map[string]string{"README.md": "# orders\n", "src/functions/orders.js": "x"}, nil, nil},
		{"a Pulumi.yaml of another project", map[string]string{"Pulumi.yaml": "name: other\nruntime: go\n"}, []string{"Pulumi.yaml: exists with other content"}, nil},
		{"every file in the way is named", map[string]string{"Pulumi.dev.yaml": "config: {}\n", "src/functions/health.js": "// mine\n", ".github/workflows/slotless-plan.yml": "name: mine\n"},
			[]string{"Pulumi.dev.yaml: exists with other content", ".github/workflows/slotless-plan.yml: exists with other content", "src/functions/health.js: exists with other content"}, nil},
		{"a folder where a file goes", map[string]string{"Pulumi.dev.yaml": "DIR"}, []string{"Pulumi.dev.yaml: is a folder"}, nil},
		{"a file where a folder goes", map[string]string{".github": "not a folder"}, []string{".github/workflows/slotless-dev.yml: a folder on its path is a file", ".github/workflows/slotless-plan.yml: a folder on its path is a file"}, nil},
		{"the same content is kept", map[string]string{"src/functions/health.js": "SAME"}, nil, []string{"src/functions/health.js"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := projectDir(t, "orders")
			o := options(t, dir, minimal)
			files, err := Render(o)
			if err != nil {
				t.Fatal(err)
			}
			for p, content := range tt.before {
				path := filepath.Join(dir, filepath.FromSlash(p))
				switch content {
				case "DIR":
					if err := os.MkdirAll(path, 0o755); err != nil {
						t.Fatal(err)
					}
				case "SAME":
					i := slices.IndexFunc(files, func(f File) bool { return f.Path == p })
					writeFile(t, path, string(files[i].Content))
				default:
					writeFile(t, path, content)
				}
			}
			before := tree(t, dir)

			out, err := Write(dir, files)
			if len(tt.conflicts) > 0 {
				var ce *ConflictError
				if !errors.As(err, &ce) {
					t.Fatalf("got %v, want a *ConflictError", err)
				}
				for _, want := range tt.conflicts {
					if !strings.Contains(err.Error(), "\n  "+want) {
						t.Errorf("got\n%v\nwant a line %q", err, want)
					}
				}
				if len(ce.Conflicts) != len(tt.conflicts) {
					t.Errorf("got %d conflicts, want %d: %v", len(ce.Conflicts), len(tt.conflicts), ce.Conflicts)
				}
				if after := tree(t, dir); !mapsEqual(before, after) {
					t.Errorf("files changed although init refused:\nbefore %v\nafter  %v", keys(before), keys(after))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(out.Kept, tt.kept) {
				t.Errorf("kept %v, want %v", out.Kept, tt.kept)
			}
			if len(out.Wrote)+len(out.Kept) != len(files) {
				t.Errorf("wrote %v and kept %v of %d files", out.Wrote, out.Kept, len(files))
			}
			after := tree(t, dir)
			for p, content := range before {
				if after[p] != content {
					t.Errorf("%s changed", p)
				}
			}
			for _, f := range files {
				if after[f.Path] != string(f.Content) {
					t.Errorf("%s: not written whole", f.Path)
				}
			}
			for p := range after {
				if strings.Contains(p, ".slotless-init-") {
					t.Errorf("a temporary file is left: %s", p)
				}
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestWriteNewRefusesAFileThatAppears: a file created after the check is not overwritten.
func TestWriteNewRefusesAFileThatAppears(t *testing.T) {
	target := filepath.Join(t.TempDir(), "Pulumi.yaml")
	writeFile(t, target, "mine\n")
	if err := writeNew(target, []byte("init's\n")); err == nil || !strings.Contains(err.Error(), "appeared while init was writing") {
		t.Errorf("got %v, want a refusal", err)
	}
	raw, _ := os.ReadFile(target)
	if string(raw) != "mine\n" {
		t.Errorf("the file became %q", raw)
	}
}

// TestSecondStack: init of a second stack in a repository init made adds that stack's files
// and keeps the shared ones, when the shared inputs agree; when they do not, it writes nothing.
func TestSecondStack(t *testing.T) {
	for _, ci := range CIs {
		t.Run(ci, func(t *testing.T) {
			dir := projectDir(t, "orders")
			if _, err := Init(options(t, dir, with(minimal, FlagCI, ci))); err != nil {
				t.Fatal(err)
			}
			before := tree(t, dir)

			// Another version pinned: Pulumi.yaml (and the plan caller) would differ.
			_, err := Init(options(t, dir, with(minimal, FlagCI, ci, FlagStack, "prod", FlagSlotlessVersion, "v1.3.0")))
			var ce *ConflictError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), "Pulumi.yaml: exists with other content") {
				t.Fatalf("another version: got %v, want Pulumi.yaml in the way", err)
			}
			if !mapsEqual(before, tree(t, dir)) {
				t.Fatal("files changed although init refused")
			}

			// The project's name and version come from its Pulumi.yaml, whatever this binary is.
			o, err := Resolve(Env{Dir: dir, BinaryVersion: "v9.9.9"}, with(minimal, FlagCI, ci, FlagStack, "prod", FlagRuntimeVersion, "20"), nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := Init(o)
			if err != nil {
				t.Fatal(err)
			}
			wantWrote := []string{"Pulumi.prod.yaml"}
			wantKept := []string{"Pulumi.yaml"}
			switch ci {
			case CIGitHub:
				wantWrote = append(wantWrote, ".github/workflows/slotless-prod.yml")
				wantKept = append(wantKept, ".github/workflows/slotless-plan.yml")
			case CIAzureDevOps:
				wantWrote = append(wantWrote, "azure-pipelines/slotless-prod-release.yml", "azure-pipelines/slotless-prod-watch.yml", "azure-pipelines/slotless-prod-infra.yml")
			}
			wantKept = append(wantKept, "src/functions/health.js")
			if !slices.Equal(res.Wrote, wantWrote) || !slices.Equal(res.Kept, wantKept) {
				t.Errorf("wrote %v, kept %v; want to write %v and keep %v", res.Wrote, res.Kept, wantWrote, wantKept)
			}
			after := tree(t, dir)
			for p, content := range before {
				if after[p] != content {
					t.Errorf("%s changed", p)
				}
			}
		})
	}
}
