package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slotless/slotless/internal/rollout"
)

// engineRecord is the engine suite's record of a rolled-back release (make report-records).
var engineRecord = filepath.Join("..", "..", "internal", "report", "testdata", "aborted.json")

func TestReportWritesBothReports(t *testing.T) {
	dir := t.TempDir()
	html, md := filepath.Join(dir, "r.html"), filepath.Join(dir, "r.md")
	var out, errb bytes.Buffer
	if code := run([]string{"report", engineRecord, "--html", html, "--markdown", md, "--chart", "text"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	page, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	summary, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), `<svg id="traffic"`) || !strings.Contains(string(page), "was rolled back to 0%") {
		t.Errorf("HTML: got no traffic chart or headline")
	}
	if !strings.HasPrefix(string(summary), "## ❌ The release of blue 1.1.0 was rolled back") || strings.Contains(string(summary), "```mermaid") || !strings.Contains(string(summary), "▁") {
		t.Errorf("Markdown with --chart text: got\n%s", summary)
	}
	if out.Len() != 0 {
		t.Errorf("stdout: got %q, want nothing with both files named", out.String())
	}

	out.Reset()
	if code := run([]string{"report", engineRecord}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.HasPrefix(out.String(), "## ❌") || !strings.Contains(out.String(), "```mermaid") {
		t.Errorf("without --html or --markdown: got\n%s\nwant the Markdown on stdout", out.String())
	}
}

func TestReportRefusesBadRecords(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tt := range []struct {
		name, path, want string
	}{
		{"missing", filepath.Join(dir, "nope.json"), "no such file"},
		{"empty", write("empty.json", ""), "not a record slotless can report: the record is empty"},
		{"another tool's", write("other.json", `{"resources":[]}`), `it has no "kind": "slotless.release"`},
		{"newer", write("newer.json", `{"kind":"slotless.release","schemaVersion":9,"outcome":"complete"}`), fmt.Sprintf("written by a newer slotless (record schema version 9; this slotless reads up to %d): upgrade slotless", rollout.RecordSchemaVersion)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			html := filepath.Join(dir, tt.name+".html")
			var out, errb bytes.Buffer
			if code := run([]string{"report", tt.path, "--html", html}, &out, &errb); code != exitFailure {
				t.Fatalf("exit %d, want %d\n%s", code, exitFailure, errb.String())
			}
			if !strings.Contains(errb.String(), tt.want) {
				t.Errorf("stderr: got %q, want %q", errb.String(), tt.want)
			}
			if _, err := os.Stat(html); !os.IsNotExist(err) {
				t.Errorf("a report was written for a bad record")
			}
		})
	}
}

// TestReleaseReportDir: --report-dir leaves the record and both reports after a run, here a dry
// run that needs neither Azure nor Pulumi.
func TestReleaseReportDir(t *testing.T) {
	withoutPulumi(t)
	dir := project(t, stackYAML("slotless:blueWeight: 0"))
	reports := filepath.Join(t.TempDir(), "report-10")
	var out, errb bytes.Buffer
	if code := run([]string{"release", "--dir", dir, "--stack", "ci", "--slot", "blue", "--version", "1.1.0", "--dry-run", "--report-dir", reports}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for name, want := range map[string]string{
		"release.json": `"kind": "slotless.release"`,
		"release.html": "was a dry run: nothing moved.",
		"release.md":   "## ✅ The release of blue 1.1.0 was a dry run: nothing moved.",
	} {
		raw, err := os.ReadFile(filepath.Join(reports, name))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(raw), want) {
			t.Errorf("%s: got\n%s\nwant %q", name, raw, want)
		}
	}
	if !strings.Contains(out.String(), "report: "+filepath.Join(reports, "release.html")) {
		t.Errorf("progress: got\n%s\nwant the report's path", out.String())
	}
}
