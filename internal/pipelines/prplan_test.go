package pipelines

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestPRPlanScriptPlansTheStacksOfItsFolder runs scripts/pr-plan.sh as the plan workflow does, in
// the folder holding Pulumi.yaml, here below the repository's root as in a team's repository:
// the stack files changed in that folder are planned with the installed slotless (no go run),
// one changed elsewhere in the repository is not, and a failing plan fails the script after the
// whole comment is written.
func TestPRPlanScriptPlansTheStacksOfItsFolder(t *testing.T) {
	tests := []struct {
		name       string
		changed    []string // files the pull request changes, from the repository's root
		failStack  string   // the stack whose plan exits 3
		wantStacks []string
		wantStatus int
		wantText   string
	}{
		{"a stack of the folder", []string{"infra/Pulumi.prod.yaml", "Pulumi.other.yaml", "app/main.js"}, "", []string{"prod"}, 0, "## slotless plan"},
		{"two stacks, one broken", []string{"infra/Pulumi.dev.yaml", "infra/Pulumi.prod.yaml"}, "prod", []string{"dev", "prod"}, 1, "**Guard rail broken or plan failed** (exit 3)"},
		{"no stack of the folder", []string{"Pulumi.other.yaml", "infra/Pulumi.yaml", "infra/Pulumi.dev.deploy.yaml"}, "", nil, 0, "no traffic change"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := t.TempDir()
			git := func(args ...string) {
				t.Helper()
				cmd := exec.Command("git", args...)
				cmd.Dir = repo
				cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("git %v: %v\n%s", args, err, out)
				}
			}
			write := func(rel, body string) {
				t.Helper()
				p := filepath.Join(repo, rel)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			git("init", "-q", "-b", "main")
			write("infra/Pulumi.yaml", "name: orders\n")
			write("README.md", "base\n")
			git("add", ".")
			git("commit", "-qm", "base")
			git("checkout", "-qb", "change")
			for _, f := range tt.changed {
				write(f, "changed\n")
			}
			git("add", ".")
			git("commit", "-qm", "change")

			bin := t.TempDir()
			calls := filepath.Join(bin, "calls")
			fake := "#!/bin/sh\necho \"$*\" >>" + calls + "\nif [ \"$3\" = \"" + tt.failStack + "\" ]; then echo 'maxStep broken' >&2; exit 3; fi\necho \"plan of $3\"\n"
			if err := os.WriteFile(filepath.Join(bin, "slotless"), []byte(fake), 0o755); err != nil {
				t.Fatal(err)
			}
			script, err := filepath.Abs(filepath.Join(root, "scripts", "pr-plan.sh"))
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("bash", script, "main")
			cmd.Dir = filepath.Join(repo, "infra")
			cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
			out, err := cmd.Output()
			status := 0
			if ee, ok := err.(*exec.ExitError); ok {
				status = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if status != tt.wantStatus || !strings.Contains(string(out), tt.wantText) {
				t.Errorf("got exit %d and\n%s\nwant exit %d and %q", status, out, tt.wantStatus, tt.wantText)
			}
			raw, _ := os.ReadFile(calls)
			var planned []string
			for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
				if f := strings.Fields(l); len(f) >= 3 {
					planned = append(planned, f[2])
					if want := "plan --stack " + f[2] + " --against main --markdown"; l != want {
						t.Errorf("slotless %s: want slotless %s", l, want)
					}
				}
			}
			if !slices.Equal(planned, tt.wantStacks) {
				t.Errorf("planned stacks: got %v, want %v", planned, tt.wantStacks)
			}
		})
	}
}
