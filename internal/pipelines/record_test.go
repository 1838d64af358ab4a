package pipelines

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// recordRepo is a remote with main holding the dev stack file at blueWeight 0, a clone of it
// as a pipeline checks out, and a PATH whose slotless records blue 50 (as `slotless record`
// would after a release) and whose gh logs its calls, with `pr list` answering openPR.
func recordRepo(t *testing.T, openPR string) (clone, binDir, ghLog string) {
	t.Helper()
	dir := t.TempDir()
	run := func(in string, args ...string) string {
		t.Helper()
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = in
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	origin := filepath.Join(dir, "origin.git")
	run(dir, "git", "init", "-q", "--bare", "-b", "main", origin)
	seed := filepath.Join(dir, "seed")
	run(dir, "git", "clone", "-q", origin, seed)
	if err := os.WriteFile(filepath.Join(seed, "Pulumi.dev.yaml"), []byte("config:\n  slotless:blueWeight: 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(seed, "git", "add", ".")
	run(seed, "git", "commit", "-qm", "dev")
	run(seed, "git", "push", "-q", "origin", "HEAD:main")
	clone = filepath.Join(dir, "checkout")
	run(dir, "git", "clone", "-q", origin, clone)

	binDir = filepath.Join(dir, "bin")
	ghLog = filepath.Join(dir, "gh.log")
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		t.Fatal(err)
	}
	scripts := map[string]string{
		"slotless": "#!/bin/sh\nsed -i 's/blueWeight: .*/blueWeight: 50/' Pulumi.dev.yaml\necho recorded\n",
		"gh":       "#!/bin/sh\necho \"$*\" >>" + ghLog + "\nif [ \"$1 $2\" = \"pr list\" ]; then echo '" + openPR + "'; fi\n",
	}
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(binDir, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return clone, binDir, ghLog
}

func runRecord(t *testing.T, clone, binDir string, env ...string) (string, error) {
	t.Helper()
	script, err := filepath.Abs(filepath.Join(root, "scripts", "record-traffic.sh"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", script, "dev", "main", "1.1.0")
	cmd.Dir = clone
	cmd.Env = append(os.Environ(), "PATH="+binDir+":"+os.Getenv("PATH"), "GITHUB_ACTIONS=true", "TF_BUILD=")
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func show(t *testing.T, clone, ref string) string {
	t.Helper()
	cmd := exec.Command("git", "show", ref+":Pulumi.dev.yaml")
	cmd.Dir = clone
	out, err := cmd.CombinedOutput()
	if err != nil {
		return ""
	}
	return string(out)
}

// TestRecordTrafficGoesThroughAPullRequest: the record step leaves main alone, puts the
// recorded weights on its own branch and opens a pull request into main, which a protected
// branch accepts; with one already open it updates that one; RECORD_VIA=push writes main.
func TestRecordTrafficGoesThroughAPullRequest(t *testing.T) {
	clone, bin, ghLog := recordRepo(t, "")
	out, err := runRecord(t, clone, bin)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	exec.Command("git", "-C", clone, "fetch", "-q", "origin").Run()
	if got := show(t, clone, "origin/main"); !strings.Contains(got, "blueWeight: 0") {
		t.Errorf("main: got %q, want it untouched", got)
	}
	if got := show(t, clone, "origin/slotless/record-traffic-dev"); !strings.Contains(got, "blueWeight: 50") {
		t.Errorf("record branch: got %q, want blueWeight 50", got)
	}
	calls, _ := os.ReadFile(ghLog)
	if !strings.Contains(string(calls), "pr create --head slotless/record-traffic-dev --base main") {
		t.Errorf("gh calls: got\n%s\nwant a pull request from the record branch into main", calls)
	}

	clone, bin, ghLog = recordRepo(t, "12")
	if out, err := runRecord(t, clone, bin); err != nil || !strings.Contains(out, "updated the open pull request") {
		t.Errorf("with a pull request open: got %v\n%s\nwant it updated", err, out)
	}
	if calls, _ := os.ReadFile(ghLog); strings.Contains(string(calls), "pr create") {
		t.Errorf("opened a second pull request: %s", calls)
	}

	clone, bin, _ = recordRepo(t, "")
	if out, err := runRecord(t, clone, bin, "RECORD_VIA=push"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	exec.Command("git", "-C", clone, "fetch", "-q", "origin").Run()
	if got := show(t, clone, "origin/main"); !strings.Contains(got, "blueWeight: 50") {
		t.Errorf("RECORD_VIA=push: main got %q, want blueWeight 50", got)
	}

	if out, err := runRecord(t, clone, bin, "RECORD_VIA=email"); err == nil || !strings.Contains(out, "want pr or push") {
		t.Errorf("RECORD_VIA=email: got %v\n%s\nwant a refusal naming the allowed values", err, out)
	}
}
