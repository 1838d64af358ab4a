package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// stackYAML is a stack file with the given extra config lines.
func stackYAML(lines ...string) string {
	s := "config:\n  azure-native:location: westeurope\n  slotless:publisherEmail: ops@example.com\n"
	for _, l := range lines {
		s += "  " + l + "\n"
	}
	return s
}

func TestPlanAgainst(t *testing.T) {
	tests := []struct {
		name     string
		base     string
		head     string
		args     []string
		code     int
		move     string
		rules    []string
		changed  []string
		markdown []string
	}{
		{"canary", stackYAML("slotless:blueWeight: 0"), stackYAML("slotless:blueWeight: 10"), nil, 0,
			"advance: blue 0% → 10% (+10)", nil, []string{"green-blue-pool"}, []string{"blue 0% → 10%", "none broken"}},
		{"jump", stackYAML("slotless:blueWeight: 0"), stackYAML("slotless:blueWeight: 100"), nil, 3,
			"advance: blue 0% → 100% (+100)", []string{"max-step"}, []string{"green-blue-pool", "current-slot-name"}, []string{"❌", "max-step"}},
		{"jump allowed", stackYAML("slotless:blueWeight: 0"), stackYAML("slotless:blueWeight: 100"), []string{"--allow-jump"}, 0,
			"advance", nil, nil, nil},
		{"pure blue/green team", stackYAML("slotless:blueWeight: 0"), stackYAML("slotless:blueWeight: 100", "slotless:maxStep: 100"), nil, 0,
			"advance", nil, nil, nil},
		{"rollback is never blocked", stackYAML("slotless:blueWeight: 40"), stackYAML("slotless:blueWeight: 0", "slotless:maxStep: 10"), nil, 0,
			// maxStep is part of the plan the watcher judges by, so its app's settings change too.
			"rollback: blue 40% → 0%", nil, []string{"green-blue-pool", "watcher-app"}, nil},
		{"a new configuration: the live slot keeps its own", stackYAML("slotless:blueWeight: 0"), stackYAML("slotless:blueWeight: 0", "slotless:instanceMemoryMB: 4096"), nil, 0,
			"no traffic change", nil, []string{"blue-app", "green-app"}, []string{"none broken", "**Note:** green carries 100% of traffic, so it keeps its configuration until a release makes it idle"}},
		{"a new configuration with traffic onto its slot", stackYAML("slotless:blueWeight: 0"), stackYAML("slotless:blueWeight: 10", "slotless:appSettings:\n    FeatureX: \"on\""), nil, 3,
			"advance: blue 0% → 10% (+10)", []string{"live-slot-change"}, []string{"green-blue-pool", "blue-app", "green-app"}, []string{"live-slot-change", "in the change that moves traffic onto it"}},
		{"live change allowed", stackYAML("slotless:blueWeight: 0"), stackYAML("slotless:maxStep: 20", "slotless:instanceMemoryMB: 4096"), []string{"--allow-live-change"}, 0,
			"no traffic change", nil, nil, nil},
		{"no change", stackYAML(), stackYAML(), nil, 0, "no traffic change", nil, nil, []string{"no changes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := project(t, tt.head)
			base := filepath.Join(t.TempDir(), "base.yaml")
			if err := os.WriteFile(base, []byte(tt.base), 0o644); err != nil {
				t.Fatal(err)
			}
			args := append([]string{"plan", "--dir", dir, "--stack", "ci", "--against", base, "--json"}, tt.args...)
			var out, errb bytes.Buffer
			if code := run(args, &out, &errb); code != tt.code {
				t.Fatalf("exit code: got %d, want %d\nstdout %s\nstderr %s", code, tt.code, out.String(), errb.String())
			}
			var r struct {
				Move     string
				Changes  []struct{ Name string }
				Findings []struct{ Rule string }
			}
			if err := json.Unmarshal(out.Bytes(), &r); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, out.String())
			}
			if !strings.Contains(r.Move, tt.move) {
				t.Errorf("move: got %q, want %q", r.Move, tt.move)
			}
			var rules, changed []string
			for _, f := range r.Findings {
				rules = append(rules, f.Rule)
			}
			for _, c := range r.Changes {
				changed = append(changed, c.Name)
			}
			if tt.rules != nil && strings.Join(rules, ",") != strings.Join(tt.rules, ",") {
				t.Errorf("findings: got %v, want %v", rules, tt.rules)
			}
			if tt.rules == nil && len(rules) > 0 {
				t.Errorf("findings: got %v, want none", rules)
			}
			if tt.changed != nil && strings.Join(changed, ",") != strings.Join(tt.changed, ",") {
				t.Errorf("changed: got %v, want %v", changed, tt.changed)
			}
			if tt.markdown == nil {
				return
			}
			out.Reset()
			run(append([]string{"plan", "--dir", dir, "--stack", "ci", "--against", base, "--markdown"}, tt.args...), &out, &errb)
			for _, want := range tt.markdown {
				if !strings.Contains(out.String(), want) {
					t.Errorf("markdown: got\n%s\nwant it to contain %q", out.String(), want)
				}
			}
		})
	}
}

func TestPlanAgainstBadRef(t *testing.T) {
	dir := project(t, stackYAML())
	var out, errb bytes.Buffer
	if code := run([]string{"plan", "--dir", dir, "--stack", "ci", "--against", "no-such-ref"}, &out, &errb); code != 1 {
		t.Fatalf("got exit %d, want 1", code)
	}
	if !strings.Contains(errb.String(), `--against "no-such-ref" is neither a file nor a git revision`) {
		t.Errorf("got %q, want a message naming the ref", errb.String())
	}
}

// TestPlanAgainstGitRevisionReadsTheReleaseOrigin: at blue 90% a file alone cannot tell whether
// blue or green is being released; the stack file's history can, so 90 → 0 is a rollback.
func TestPlanAgainstGitRevisionReadsTheReleaseOrigin(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	dir := project(t, stackYAML("slotless:blueWeight: 0"))
	git := func(args ...string) {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	write := func(body string) {
		if err := os.WriteFile(filepath.Join(dir, "Pulumi.ci.yaml"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git("init", "-q")
	for _, blue := range []string{"0", "50", "90"} {
		write(stackYAML("slotless:blueWeight: "+blue, "slotless:maxStep: 50"))
		git("add", ".")
		git("commit", "-q", "-m", "blue "+blue)
	}
	write(stackYAML("slotless:blueWeight: 0", "slotless:maxStep: 50"))
	var out, errb bytes.Buffer
	if code := run([]string{"plan", "--dir", dir, "--stack", "ci", "--against", "HEAD"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d, want 0 for a rollback\n%s%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "rollback: blue 90% → 0%, back towards green") {
		t.Errorf("got\n%s\nwant a rollback back towards green", out.String())
	}
}
