//go:build e2e

// Package e2e is the engine suite: the flows users run (the README's deploy, a shift, a
// rollback, a preview) through the real Pulumi CLI and engine, with the program hosted
// in-process by the Automation API and the azure-native provider played by the stand-in in
// e2e/azurefake. Run it with `make e2e`.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/slotless/slotless/e2e/azurefake"
	"github.com/slotless/slotless/internal/engine"
)

var (
	repoRoot   string
	pulumiRoot string // holds bin/pulumi
	pulumiHome string // PULUMI_HOME with the stand-in installed
	// slotlessBin holds the slotless binary built from this tree.
	slotlessBin string
	// suiteTmp is the suite's own temporary folder, removed when it ends: the binaries, the
	// stand-in's PULUMI_HOME and the deployed stack every scenario copies.
	suiteTmp string
)

func TestMain(m *testing.M) {
	code, err := setup(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	// go test runs a package's tests in its folder; the suite is e2e/ of the repository.
	wd, err := os.Getwd()
	if err != nil {
		return 0, err
	}
	repoRoot = filepath.Dir(wd)
	pulumiRoot = os.Getenv("SLOTLESS_PULUMI_ROOT")
	if pulumiRoot == "" {
		pulumiRoot = filepath.Join(repoRoot, ".cache")
	}
	if _, err := os.Stat(filepath.Join(pulumiRoot, "bin", "pulumi")); err != nil {
		return 0, fmt.Errorf("no pulumi CLI at %s/bin/pulumi: run make engine", pulumiRoot)
	}
	tmp, err := os.MkdirTemp("", "slotless-e2e-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	suiteTmp = tmp

	// The stand-in's plugin archive: the binary and the schema it validates against.
	pluginDir := filepath.Join(tmp, "plugin")
	build := exec.Command("go", "build", "-o", filepath.Join(pluginDir, "pulumi-resource-azure-native"), "./e2e/azurefake/cmd/pulumi-resource-azure-native")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("build the stand-in provider: %v\n%s", err, out)
	}
	schema, err := os.ReadFile(filepath.Join(repoRoot, "sdks", "azure-native", "schema.json"))
	if err != nil {
		return 0, err
	}
	if err := os.WriteFile(filepath.Join(pluginDir, "schema.json"), schema, 0o644); err != nil {
		return 0, err
	}
	tgz := filepath.Join(tmp, "azure-native-3.28.0.tgz")
	if out, err := exec.Command("tar", "czf", tgz, "-C", pluginDir, ".").CombinedOutput(); err != nil {
		return 0, fmt.Errorf("pack the stand-in: %v\n%s", err, out)
	}
	// The slotless CLI, as a release stage runs it: a binary, no Go toolchain at run time.
	slotlessBin = filepath.Join(tmp, "bin")
	build = exec.Command("go", "build", "-o", filepath.Join(slotlessBin, "slotless"), "./cmd/slotless")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("build slotless: %v\n%s", err, out)
	}
	pulumiHome = filepath.Join(tmp, "home")
	install := exec.Command(filepath.Join(pulumiRoot, "bin", "pulumi"), "plugin", "install", "resource", azurefake.Name, azurefake.Version, "-f", tgz)
	install.Env = append(os.Environ(), "PULUMI_HOME="+pulumiHome, "PULUMI_SKIP_UPDATE_CHECK=true")
	if out, err := install.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("pulumi plugin install: %v\n%s", err, out)
	}
	return m.Run(), nil
}

// user is one person with a laptop: a subscription, a backend, and a copy of the project.
type user struct {
	t       testing.TB
	dir     string // the project copy
	backend string
	sub     string
	cloud   azurefake.Store
	// arm, once withARM has started it, is the Resource Manager the user's commands reach.
	arm *armFacade
	// clientID, when set, is the identity the user's Pulumi runs sign in with (ARM_CLIENT_ID),
	// which the stand-in authorizes by its role assignments when the cloud knows it.
	clientID string
	// team, when set, makes the user a platform team: the folder holding the slotless release
	// it installed (slotless and pulumi-language-slotless), first on a PATH without go, and
	// pulumi finds the slotless runtime there, as on the team's machines.
	team string
}

// newUser copies the committed Pulumi.yaml and Pulumi.dev.yaml into a fresh folder, as a clone
// would have them, with its own file backend, in the given cloud.
func newUser(t testing.TB, cloud azurefake.Store, sub string) *user {
	t.Helper()
	u := &user{t: t, dir: t.TempDir(), backend: t.TempDir(), sub: sub, cloud: cloud}
	for _, f := range []string{"Pulumi.yaml", "Pulumi.dev.yaml"} {
		raw, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "Pulumi.dev.yaml" {
			if raw, err = withoutSecretsProvider(raw); err != nil {
				t.Fatal(err)
			}
			// The watcher is on by default, and it costs every deploy an app, its storage
			// and seven role assignments, and every release its deployment: more than a quarter of
			// the suite's CPU when every scenario had it, which make test's five minutes cannot
			// carry. So a scenario runs without it unless it is about the watcher or about what
			// a team's default stack holds: those call withWatcher (the team repository's
			// stack file, written by slotless init, has it as a team gets it).
			raw = append(raw, []byte("  slotless:watcher: false\n")...)
		}
		if err := os.WriteFile(filepath.Join(u.dir, f), raw, 0o644); err != nil {
			t.Fatal(err)
		}
		if f == "Pulumi.dev.yaml" {
			copyAPISpec(t, raw, u.dir)
		}
	}
	return u
}

// copyAPISpec copies the OpenAPI document the stack file names (apiSpec) into the project
// copy, at the same relative path, as a clone has it.
func copyAPISpec(t testing.TB, stackFile []byte, dir string) {
	t.Helper()
	var file struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(stackFile, &file); err != nil {
		t.Fatal(err)
	}
	spec, _ := file.Config["slotless:apiSpec"].(string)
	if spec == "" {
		return
	}
	raw, err := os.ReadFile(filepath.Join(repoRoot, spec))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, spec)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, spec), raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

// secretsProviderKeys are what `pulumi stack init` writes into a stack file for its own
// secrets provider: the passphrase salt, another provider, its encrypted data key. A clone
// whose developer ran `pulumi stack init dev` carries their salt, which no other passphrase
// opens, so each test user starts from the stack file without them, as a fresh clone does.
var secretsProviderKeys = []string{"encryptionsalt", "secretsprovider", "encryptedkey"}

// withoutSecretsProvider returns a stack file without secretsProviderKeys, its config as it
// was. Config values encrypted under that provider cannot be read without it either, so they
// are refused with the key named.
func withoutSecretsProvider(raw []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("parse the stack file: %w", err)
	}
	if doc.Kind == 0 || !slices.ContainsFunc(doc.Content[0].Content, func(n *yaml.Node) bool { return slices.Contains(secretsProviderKeys, n.Value) }) {
		return raw, nil
	}
	root := doc.Content[0]
	var kept []*yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if slices.Contains(secretsProviderKeys, root.Content[i].Value) {
			continue
		}
		kept = append(kept, root.Content[i], root.Content[i+1])
	}
	root.Content = kept
	if enc := secureKeys(root); len(enc) > 0 {
		return nil, fmt.Errorf("the stack file holds secrets encrypted for its own secrets provider (%s): the engine suite cannot read them", strings.Join(enc, ", "))
	}
	return yaml.Marshal(&doc)
}

// secureKeys lists the config keys whose values are encrypted (`secure:`).
func secureKeys(root *yaml.Node) []string {
	var keys []string
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != "config" {
			continue
		}
		cfg := root.Content[i+1]
		for j := 0; j+1 < len(cfg.Content); j += 2 {
			v := cfg.Content[j+1]
			if v.Kind == yaml.MappingNode && len(v.Content) > 0 && v.Content[0].Value == "secure" {
				keys = append(keys, cfg.Content[j].Value)
			}
		}
	}
	return keys
}

// newCloud is an empty Azure for one test.
func newCloud(t testing.TB) azurefake.Store {
	return azurefake.Store{Path: filepath.Join(t.TempDir(), "cloud.json")}
}

// env is what every pulumi process of this user sees: a passphrase-secured file backend, the
// stand-in's PULUMI_HOME, and the cloud; the subscription is the one `az login` would select.
func (u *user) env() map[string]string {
	env := map[string]string{
		"PULUMI_HOME":                                 pulumiHome,
		"PULUMI_BACKEND_URL":                          "file://" + u.backend,
		"PULUMI_CONFIG_PASSPHRASE":                    "correct horse battery staple",
		"PULUMI_SKIP_UPDATE_CHECK":                    "true",
		"PULUMI_IGNORE_AMBIENT_PLUGINS":               "true",
		"PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
		azurefake.CloudEnv:                            u.cloud.Path,
		azurefake.DefaultSubscriptionEnv:              u.sub,
	}
	if u.arm != nil {
		for k, v := range u.arm.env() {
			env[k] = v
		}
	}
	if u.clientID != "" {
		env["ARM_CLIENT_ID"] = u.clientID
	}
	if u.team != "" {
		// The runtime is a language plugin on PATH, which ambient plugins are; a team's pulumi
		// up answers its confirmation as CI does (PULUMI_SKIP_CONFIRMATIONS is the CLI's own
		// equivalent of --yes), so `pulumi up` runs as written.
		delete(env, "PULUMI_IGNORE_AMBIENT_PLUGINS")
		env["PULUMI_SKIP_CONFIRMATIONS"] = "true"
	}
	return env
}

// sh runs a command line as the user types it, in the project copy, with the pulumi CLI first
// on PATH. It returns the combined output and fails the test on a non-zero exit.
func (u *user) sh(line string) string {
	u.t.Helper()
	out, err := u.trySh(line)
	if err != nil {
		u.t.Fatalf("%s: %v\n%s", line, err, out)
	}
	return out
}

func (u *user) trySh(line string) (string, error) {
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", line)
	cmd.Dir = u.dir
	cmd.Env = os.Environ()
	for k, v := range u.env() {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, "PATH="+u.path())
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	return b.String(), err
}

// path is the user's PATH: the pulumi CLI and slotless first, then the signed-in az CLI when
// the user has the ARM facade.
func (u *user) path() string {
	p := filepath.Join(pulumiRoot, "bin") + ":" + slotlessBin + ":" + os.Getenv("PATH")
	if u.team != "" {
		p = u.team + ":" + filepath.Join(pulumiRoot, "bin") + ":" + withoutGo(os.Getenv("PATH"))
	}
	if u.arm != nil {
		p = u.arm.azDir + ":" + p
	}
	return p
}

// exitCode is a command's exit status: 0 for success, -1 when it did not run.
func exitCode(err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	return -1
}

// stack opens the user's stack through the same engine path slotless shift uses, once for each
// folder, stack and environment: opening runs `pulumi stack select`, a CLI process, and the
// suite's CPU is the CLI's.
func (u *user) stack(name string) *engine.Stack {
	u.t.Helper()
	env := u.env()
	key := []string{u.dir, name}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		key = append(key, k+"="+env[k])
	}
	if s, ok := openStacks.Load(strings.Join(key, "\x00")); ok {
		return s.(*engine.Stack)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := engine.Open(ctx, engine.Options{Dir: u.dir, Stack: name, Env: env, PulumiRoot: pulumiRoot})
	if err != nil {
		u.t.Fatal(err)
	}
	openStacks.Store(strings.Join(key, "\x00"), s)
	return s
}

// openStacks are the stacks user.stack opened, by folder, stack and environment.
var openStacks sync.Map

// up is `pulumi up` on a stack: the engine, with the program in-process.
func (u *user) up(name string) engine.Changes {
	u.t.Helper()
	ch, out, err := u.tryUp(name)
	if err != nil {
		u.t.Fatalf("pulumi up %s: %v\n%s", name, err, out)
	}
	return ch
}

func (u *user) tryUp(name string) (engine.Changes, string, error) {
	var b bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	ch, err := u.stack(name).Up(ctx, io.MultiWriter(&b, testWriter{u.t}))
	return ch, b.String(), err
}

// preview is `pulumi preview` on a stack.
func (u *user) preview(name string) engine.Changes {
	u.t.Helper()
	var b bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	ch, err := u.stack(name).Preview(ctx, io.MultiWriter(&b, testWriter{u.t}))
	if err != nil {
		u.t.Fatalf("pulumi preview %s: %v\n%s", name, err, b.String())
	}
	return ch
}

// run runs one line of a README or of a user's shell: `pulumi up` goes to the engine with the
// program in-process (the Go language plugin is not available here), every other command runs
// as written. Lines joined by && run in order and stop at the first failure.
func (u *user) run(line string) engine.Changes {
	u.t.Helper()
	var last engine.Changes
	for _, part := range strings.Split(line, "&&") {
		part = strings.TrimSpace(part)
		if part == "pulumi up" || strings.HasPrefix(part, "pulumi up ") {
			last = u.up("dev")
			continue
		}
		u.sh(part)
	}
	return last
}

// testWriter streams engine progress into the test log, line by line.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if strings.TrimSpace(l) != "" {
			w.t.Log(l)
		}
	}
	return len(p), nil
}

// calls returns the cloud's recorded calls.
func (u *user) calls() []azurefake.Call {
	u.t.Helper()
	c, err := u.cloud.Load()
	if err != nil {
		u.t.Fatal(err)
	}
	return c.Calls
}

// withWatcher gives a user's stack the watcher as a team's stack has it by default, before
// its deploy (or, on a deployed stack, with the update that follows): an edit of the stack
// file, which exists before the stack does, or pulumi config set once the file is Pulumi's.
func (u *user) withWatcher() {
	u.t.Helper()
	file := filepath.Join(u.dir, "Pulumi.dev.yaml")
	raw, err := os.ReadFile(file)
	if err != nil {
		u.t.Fatal(err)
	}
	off := []byte("  slotless:watcher: false\n")
	if !bytes.Contains(raw, off) {
		// A deployed stack's file, rewritten by pulumi config set since.
		u.sh("pulumi config set watcher true")
		return
	}
	if err := os.WriteFile(file, bytes.Replace(raw, off, nil, 1), 0o644); err != nil {
		u.t.Fatal(err)
	}
}
