package pipelines

import (
	"encoding/base64"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
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

// gitServer serves the bare repositories under dir over git's smart HTTP protocol (git
// http-backend, as a CGI program), and logs the Authorization header of every push request, so a
// test sees which token a push carried.
type gitServer struct {
	URL  string
	mu   sync.Mutex
	auth [][]string // the Authorization values of each receive-pack request
}

func serveGit(t *testing.T, dir string) *gitServer {
	t.Helper()
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Skipf("git --exec-path: %v", err)
	}
	backend := filepath.Join(strings.TrimSpace(string(out)), "git-http-backend")
	if _, err := os.Stat(backend); err != nil {
		t.Skipf("no git-http-backend (%v): the push's credentials can only be seen over HTTP", err)
	}
	s := &gitServer{}
	cgiHandler := &cgi.Handler{Path: backend, Root: "/git", Env: []string{"GIT_PROJECT_ROOT=" + dir, "GIT_HTTP_EXPORT_ALL=1"}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "git-receive-pack") || r.URL.Query().Get("service") == "git-receive-pack" {
			s.mu.Lock()
			s.auth = append(s.auth, r.Header.Values("Authorization"))
			s.mu.Unlock()
		}
		cgiHandler.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

func (s *gitServer) pushAuth() [][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.auth)
}

func basicToken(token string) string {
	return "basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:"+token))
}

// TestRecordTrafficOpensThePullRequestWithTheRecordToken: on GitHub, a pull request opened or
// pushed with the job's GITHUB_TOKEN starts no workflow, so required checks never report on it.
// With SLOTLESS_RECORD_TOKEN both the push of the record branch and gh carry that token (and the
// checkout's header is dropped, not sent alongside); without it they carry the job's token and
// the run warns that the checks will not run. The project sits below the repository's root and
// is not called slotless, as in a team's repository.
func TestRecordTrafficOpensThePullRequestWithTheRecordToken(t *testing.T) {
	tests := []struct {
		name        string
		recordToken string
		wantToken   string
		wantWarning bool
	}{
		{"record token", "record-token", "record-token", false},
		{"job token only", "", "job-token", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			env := append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t",
				"GIT_COMMITTER_EMAIL=t@example.com", "http_proxy=", "https_proxy=", "HTTP_PROXY=", "HTTPS_PROXY=", "GIT_TERMINAL_PROMPT=0")
			run := func(in string, args ...string) {
				t.Helper()
				cmd := exec.Command(args[0], args[1:]...)
				cmd.Dir, cmd.Env = in, env
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("%v: %v\n%s", args, err, out)
				}
			}
			origin := filepath.Join(dir, "origin.git")
			run(dir, "git", "init", "-q", "--bare", "-b", "main", origin)
			run(origin, "git", "config", "http.receivepack", "true")
			seed := filepath.Join(dir, "seed")
			run(dir, "git", "clone", "-q", origin, seed)
			if err := os.MkdirAll(filepath.Join(seed, "infra"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(seed, "infra", "Pulumi.dev.yaml"), []byte("config:\n  orders:blueWeight: 0\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			run(seed, "git", "add", ".")
			run(seed, "git", "commit", "-qm", "dev")
			run(seed, "git", "push", "-q", "origin", "HEAD:main")

			srv := serveGit(t, dir)
			clone := filepath.Join(dir, "checkout")
			run(dir, "git", "clone", "-q", srv.URL+"/git/origin.git", clone)
			// What actions/checkout leaves in the clone: the job's token as a header for the server.
			run(clone, "git", "config", "--local", "http."+srv.URL+"/.extraheader", "AUTHORIZATION: "+basicToken("job-token"))

			bin := filepath.Join(dir, "bin")
			ghLog := filepath.Join(dir, "gh.log")
			if err := os.MkdirAll(bin, 0o755); err != nil {
				t.Fatal(err)
			}
			for name, body := range map[string]string{
				"slotless": "#!/bin/sh\nsed -i 's/blueWeight: .*/blueWeight: 50/' Pulumi.dev.yaml\n",
				"gh":       "#!/bin/sh\necho \"GH_TOKEN=$GH_TOKEN $*\" >>" + ghLog + "\n",
			} {
				if err := os.WriteFile(filepath.Join(bin, name), []byte(body), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			script, err := filepath.Abs(filepath.Join(root, "scripts", "record-traffic.sh"))
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("bash", script, "dev", "main", "v1.1.0")
			cmd.Dir = filepath.Join(clone, "infra")
			cmd.Env = append(env, "PATH="+bin+":"+os.Getenv("PATH"), "GITHUB_ACTIONS=true", "TF_BUILD=",
				"GH_TOKEN=job-token", "SLOTLESS_RECORD_TOKEN="+tt.recordToken)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("record-traffic.sh: %v\n%s", err, out)
			}

			want := []string{basicToken(tt.wantToken)}
			pushes := srv.pushAuth()
			if len(pushes) == 0 {
				t.Fatalf("got no push to the server, want the record branch pushed\n%s", out)
			}
			for _, got := range pushes {
				if !slices.Equal(got, want) {
					t.Errorf("push Authorization: got %q, want only %q", got, want)
				}
			}
			calls, _ := os.ReadFile(ghLog)
			if !strings.Contains(string(calls), "GH_TOKEN="+tt.wantToken+" pr create --head slotless/record-traffic-dev --base main") {
				t.Errorf("gh calls: got\n%s\nwant pr create with GH_TOKEN=%s", calls, tt.wantToken)
			}
			if !strings.Contains(string(calls), "orders:blueWeight:50") {
				t.Errorf("gh calls: got\n%s\nwant the body to name the recorded weight orders:blueWeight:50", calls)
			}
			if got := strings.Contains(string(out), "::warning title=The traffic record's checks will not run::"); got != tt.wantWarning {
				t.Errorf("warning: got %v, want %v\n%s", got, tt.wantWarning, out)
			}
			if tt.recordToken != "" && strings.Count(string(out), tt.recordToken) != strings.Count(string(out), "::add-mask::"+tt.recordToken) {
				t.Errorf("the record token is printed outside its ::add-mask:: command:\n%s", out)
			}
			shown, err := exec.Command("git", "--git-dir", origin, "show", "slotless/record-traffic-dev:infra/Pulumi.dev.yaml").CombinedOutput()
			if err != nil || !strings.Contains(string(shown), "orders:blueWeight: 50") {
				t.Errorf("record branch: got %v %q, want infra/Pulumi.dev.yaml at blueWeight 50", err, shown)
			}
		})
	}
}
