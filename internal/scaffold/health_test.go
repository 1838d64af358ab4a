package scaffold

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/slotless/slotless/internal/gate"
	"github.com/slotless/slotless/internal/gatewayauth"
)

// The health functions of node, python and java run here against stand-ins of their Functions
// libraries (testdata/health/<runtime>/stub), each served over HTTP by a small server that calls
// the registered trigger as the Functions host does. The repository's own health gate then
// judges the answers, so a template that drifts from the contract fails. .NET and PowerShell
// have no runtime on this machine; their templates follow the same contract and are compared
// with the docs' copies (TestDocsShowTheHealthFunctions).

// served is what a test server prints once it listens.
type served struct {
	Port          int
	Registrations []struct {
		Name, Route, AuthLevel string
		Methods                []string
	}
}

// startServer runs cmd until the test ends and returns what it printed on its first line.
func startServer(t *testing.T, cmd *exec.Cmd) served {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("%s: no first line (%v); stderr:\n%s", cmd.Args, err, stderr.String())
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	var s served
	if err := json.Unmarshal([]byte(line), &s); err != nil {
		t.Fatalf("%s printed %q: %v", cmd.Args, line, err)
	}
	return s
}

// healthRuntime prepares one runtime's health function in an app folder and serves it.
type healthRuntime struct {
	tool string
	// file is the health function's file the server loads.
	file string
	// setup runs once per test, and serve once per app folder.
	setup func(t *testing.T) (serve func(t *testing.T, app string) *exec.Cmd)
}

func testdata(t *testing.T, parts ...string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join(append([]string{"testdata", "health"}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var healthRuntimes = map[string]healthRuntime{
	"node": {tool: "node", file: "src/functions/health.js", setup: func(t *testing.T) func(*testing.T, string) *exec.Cmd {
		return func(t *testing.T, app string) *exec.Cmd {
			copyTree(t, testdata(t, "node", "stub"), filepath.Join(app, "node_modules"))
			return exec.Command("node", testdata(t, "node", "serve.js"), app, "src/functions/health.js")
		}
	}},
	"python": {tool: "python3", file: "health_blueprint.py", setup: func(t *testing.T) func(*testing.T, string) *exec.Cmd {
		return func(t *testing.T, app string) *exec.Cmd {
			return exec.Command("python3", testdata(t, "python", "serve.py"), app, "health_blueprint.py")
		}
	}},
	"java": {tool: "javac", file: "src/main/java/slotless/Health.java", setup: func(t *testing.T) func(*testing.T, string) *exec.Cmd {
		stubs, classes, build := javaClasses(t)
		// Each app folder gets the function's jar, as the Maven plugin stages it, next to its
		// VERSION.
		return func(t *testing.T, app string) *exec.Cmd {
			jar := filepath.Join(app, "orders-1.0.jar")
			run(t, "", nil, "jar", "--create", "--file", jar, "-C", classes, ".")
			return exec.Command("java", "-cp", strings.Join([]string{stubs, jar, build}, string(os.PathListSeparator)), "Serve", "slotless.Health")
		}
	}},
}

// javaBuild is the library stand-in, the health function and the server, compiled once per
// test run into a folder TestMain removes.
var javaBuild struct {
	once                  sync.Once
	dir                   string
	stubs, classes, serve string
	err                   error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if javaBuild.dir != "" {
		os.RemoveAll(javaBuild.dir)
	}
	os.Exit(code)
}

func javaClasses(t *testing.T) (stubs, classes, serve string) {
	t.Helper()
	javaBuild.once.Do(func() {
		dir, err := os.MkdirTemp("", "scaffold-java-")
		if err != nil {
			javaBuild.err = err
			return
		}
		javaBuild.dir = dir
		stubs, classes := filepath.Join(dir, "stubs"), filepath.Join(dir, "classes")
		var sources []string
		_ = filepath.WalkDir(filepath.Join("testdata", "health", "java", "stub"), func(p string, d os.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(p, ".java") {
				sources = append(sources, p)
			}
			return err
		})
		files, err := HealthFiles("java")
		if err != nil {
			javaBuild.err = err
			return
		}
		src := filepath.Join(dir, "Health.java")
		if err := os.WriteFile(src, files[0].Content, 0o644); err != nil {
			javaBuild.err = err
			return
		}
		for _, args := range [][]string{
			append([]string{"-d", stubs}, sources...),
			{"-cp", stubs, "-d", classes, src},
			{"-cp", stubs, "-d", dir, filepath.Join("testdata", "health", "java", "Serve.java")},
		} {
			if out, err := exec.Command("javac", args...).CombinedOutput(); err != nil {
				javaBuild.err = fmt.Errorf("javac %s: %w\n%s", strings.Join(args, " "), err, out)
				return
			}
		}
		javaBuild.stubs, javaBuild.classes, javaBuild.serve = stubs, classes, dir
	})
	if javaBuild.err != nil {
		t.Fatal(javaBuild.err)
	}
	return javaBuild.stubs, javaBuild.classes, javaBuild.serve
}

// run runs a command and fails the test with its output when it fails.
func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		writeFile(t, filepath.Join(to, rel), string(raw))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestHealthFunctionsAnswerTheContract serves each runnable runtime's health function with
// SLOT_NAME set and a VERSION stamped by the builds' own command, and judges it with the gate.
func TestHealthFunctionsAnswerTheContract(t *testing.T) {
	for _, runtime := range slices.Sorted(maps.Keys(healthRuntimes)) {
		hr := healthRuntimes[runtime]
		t.Run(runtime, func(t *testing.T) {
			if _, err := exec.LookPath(hr.tool); err != nil {
				t.Skipf("%s is not installed", hr.tool)
			}
			serve := hr.setup(t)
			files, err := HealthFiles(runtime)
			if err != nil {
				t.Fatal(err)
			}
			// "" is a package built without the stamp.
			for _, version := range []string{"v1.2.0", "run42.abc1234", ""} {
				t.Run("version "+version, func(t *testing.T) {
					app := t.TempDir()
					for _, f := range files {
						writeFile(t, filepath.Join(app, filepath.FromSlash(f.Path)), string(f.Content))
					}
					if version != "" {
						run(t, app, []string{"VERSION=" + version}, "sh", "-c", stampVersion("."))
					}
					cmd := serve(t, app)
					cmd.Env = append(os.Environ(), "SLOT_NAME=blue")
					s := startServer(t, cmd)
					if len(s.Registrations) != 1 {
						t.Fatalf("registered %+v, want one function", s.Registrations)
					}
					r := s.Registrations[0]
					if r.Name != "health" || r.Route != "health" || !slices.Equal(r.Methods, []string{"GET"}) || r.AuthLevel != "function" {
						t.Errorf("registered %+v, want health, route health, GET, authLevel function", r)
					}
					url := fmt.Sprintf("http://127.0.0.1:%d/api/health", s.Port)
					checkHealthAnswer(t, url, version)
				})
			}
		})
	}
}

// checkHealthAnswer reads the answer as it is, then as the gate judges it.
func checkHealthAnswer(t *testing.T, url, version string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("the body is not JSON: %v", err)
	}
	want := map[string]any{"status": "ok", "slot": "blue", "version": version, "clientPrincipalId": ""}
	if resp.StatusCode != 200 || fmt.Sprint(body) != fmt.Sprint(want) || resp.Header.Get("X-Slot") != "blue" ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("got HTTP %d %v, X-Slot %q, Content-Type %q; want 200 %v, X-Slot blue, application/json",
			resp.StatusCode, body, resp.Header.Get("X-Slot"), resp.Header.Get("Content-Type"), want)
	}

	ctx := context.Background()
	// App Service authentication sets X-MS-CLIENT-PRINCIPAL-ID on a request whose token it
	// validated; slotless gateway-auth reads it back from the answer.
	const principal = "0d7c2b1a-0000-4000-8000-000000000001"
	probe := gatewayauth.Probe{HealthURL: url, Headers: map[string]string{"X-MS-CLIENT-PRINCIPAL-ID": principal}}
	seen, err := probe.Ask(ctx, "blue")
	if err != nil {
		t.Fatal(err)
	}
	if err := seen.Judge(principal, "aud"); err != nil {
		t.Errorf("with the principal header: %v", err)
	}
	expect := version
	if expect == "" {
		expect = "v1.2.0"
	}
	// The gate asks with the marker a release adds to every request it sends (read as it is,
	// above, the answer is without it): the function must answer the same.
	a, err := gate.Probe(ctx, gate.HealthConfig{URL: gate.MarkProbe(url), Slot: "blue", ExpectVersion: expect})
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case version != "" && !a.Healthy:
		t.Errorf("the gate says %s: %s", a.Reason, a.Detail)
	case version == "" && (a.Reason != gate.ReasonWrongVersion || !strings.Contains(a.Detail, `body field "version" missing`)):
		t.Errorf("without VERSION the gate says %q: %s; want it to name the missing version", a.Reason, a.Detail)
	}
	if a, err := gate.Probe(ctx, gate.HealthConfig{URL: url, Slot: "green"}); err != nil || a.Reason != gate.ReasonWrongSlot {
		t.Errorf("as green: the gate says %q (%v), want %s", a.Reason, err, gate.ReasonWrongSlot)
	}
}
