package pipelines

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPublishReport runs scripts/publish-report.sh as each CI system would after a release:
// GitHub gets release.md in its job summary; Azure Pipelines gets a text-chart summary from
// slotless report and the logging command that attaches it; a folder without a report warns
// and does not fail the (already failed) job.
func TestPublishReport(t *testing.T) {
	script, err := filepath.Abs(filepath.Join(root, "scripts", "publish-report.sh"))
	if err != nil {
		t.Fatal(err)
	}
	withReport := func(t *testing.T) string {
		dir := t.TempDir()
		for name, body := range map[string]string{"release.json": "{}", "release.md": "## ❌ rolled back\n```mermaid\n```\n", "release.html": "<html>"} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	// slotless stands in for the CLI: it logs its arguments and writes the Markdown it is asked for.
	bin := t.TempDir()
	calls := filepath.Join(bin, "calls")
	fake := "#!/bin/sh\necho \"$*\" >>" + calls + "\nwhile [ $# -gt 0 ]; do [ \"$1\" = --markdown ] && echo '## text chart' >\"$2\"; shift; done\n"
	if err := os.WriteFile(filepath.Join(bin, "slotless"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(t *testing.T, dir string, env ...string) string {
		cmd := exec.Command("bash", script, dir)
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "GITHUB_ACTIONS=", "GITHUB_STEP_SUMMARY=", "TF_BUILD=")
		cmd.Env = append(cmd.Env, env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("publish-report.sh: %v\n%s", err, out)
		}
		return string(out)
	}

	t.Run("GitHub", func(t *testing.T) {
		dir := withReport(t)
		summary := filepath.Join(t.TempDir(), "summary")
		if err := os.WriteFile(summary, []byte("earlier step\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		run(t, dir, "GITHUB_ACTIONS=true", "GITHUB_STEP_SUMMARY="+summary)
		got, _ := os.ReadFile(summary)
		if want := "earlier step\n## ❌ rolled back\n```mermaid\n```\n"; string(got) != want {
			t.Errorf("job summary: got %q, want %q (appended, with the Mermaid chart)", got, want)
		}
	})
	t.Run("Azure Pipelines", func(t *testing.T) {
		dir := withReport(t)
		out := run(t, dir, "TF_BUILD=True")
		got, _ := os.ReadFile(calls)
		if want := "report " + dir + "/release.json --markdown " + dir + "/summary.md --chart text\n"; string(got) != want {
			t.Errorf("slotless: got %q, want %q", got, want)
		}
		if !strings.Contains(out, "##vso[task.uploadsummary]"+dir+"/summary.md\n") {
			t.Errorf("output: got %q, want the uploadsummary logging command for %s/summary.md", out, dir)
		}
	})
	t.Run("no report", func(t *testing.T) {
		out := run(t, t.TempDir(), "GITHUB_ACTIONS=true", "GITHUB_STEP_SUMMARY="+filepath.Join(t.TempDir(), "s"))
		if !strings.Contains(out, "holds no report: the release stopped before its run") {
			t.Errorf("output: got %q, want a warning that names why", out)
		}
	})
}
