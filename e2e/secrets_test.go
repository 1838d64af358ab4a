//go:build e2e

package e2e

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slotless/slotless/stack"
)

// TestSecretsNeverInPlainText: after the README's deploy and a secret app setting, neither
// `pulumi stack export`, any raw file of the state backend (checkpoints, backups, history), the
// stack's outputs, a preview's log, the plan, status nor a --json record holds a function key,
// the pin token or the setting in plain text. The keys are read from the cloud (what the Functions hosts hold) and the
// token from the stack config, so the test looks for the real values, wherever the engine might
// have put them.
func TestSecretsNeverInPlainText(t *testing.T) {
	parallel(t, 30*time.Second)
	cloud := newCloud(t)
	u := newUser(t, cloud, subAlice)
	u.withWatcher()
	deploy(t, u)

	secrets := map[string]string{}
	c, err := cloud.Load()
	if err != nil {
		t.Fatal(err)
	}
	slots := u.appNames()
	for _, app := range c.ByType("azure-native:web:WebApp") {
		if slots[app.Name()] == "" {
			continue // the watcher's app: API Management holds no key of it
		}
		if app.FunctionKey == "" {
			t.Fatalf("app %s has no function key in the cloud", app.ID)
		}
		secrets["function key of "+app.Name()] = app.FunctionKey
	}
	if len(secrets) != 2 {
		t.Fatalf("got %d function keys, want 2 (green and blue)", len(secrets))
	}
	pin := strings.TrimSpace(u.sh("pulumi config get pinToken"))
	if len(pin) != 48 {
		t.Fatalf("pinToken is %q, want the README's 48 hex characters", pin)
	}
	secrets["pin token"] = pin

	// The values did reach Azure, as secret named values: the test is not vacuous.
	held := map[string]bool{}
	for _, nv := range c.ByType("azure-native:apimanagement:NamedValue") {
		held[nv.Secret] = nv.Secret != ""
	}
	for what, v := range secrets {
		if !held[v] {
			t.Errorf("the %s is not held by any secret named value in API Management", what)
		}
	}
	// The watcher's subscription key, which the program reads back from API Management and
	// writes as the watcher's app setting: it did reach the app.
	sub := u.watcherSubscriptionInCloud()
	if key := u.watcherSettingsInCloud()[stack.EnvWatcherSubscriptionKey]; sub.Secret == "" || key != sub.Secret {
		t.Errorf("the watcher's subscription key did not reach its app setting")
	}
	secrets["watcher's subscription key"] = sub.Secret

	// A team's secret app setting, set as docs/configuration.md says, beside a plain one. It
	// reaches the idle app (blue), and the plain one stays readable.
	const dbPassword = "db-password-3f9c1e7a5b"
	u.run("pulumi config set --secret --path appSettings.DbPassword " + dbPassword + " && pulumi config set --path appSettings.FeatureX on && pulumi up")
	secrets["secret app setting"] = dbPassword
	if c, err = cloud.Load(); err != nil {
		t.Fatal(err)
	}
	reached := false
	for _, app := range c.ByType("azure-native:web:WebApp") {
		sc, _ := app.Inputs["siteConfig"].(map[string]any)
		list, _ := sc["appSettings"].([]any)
		for _, e := range list {
			if m, _ := e.(map[string]any); m["name"] == "DbPassword" && m["value"] == dbPassword {
				reached = true
			}
		}
	}
	if !reached {
		t.Error("the secret app setting reached no app in the cloud")
	}

	export := u.sh("pulumi stack export")
	if !strings.Contains(export, `"ciphertext"`) {
		t.Errorf("pulumi stack export holds no ciphertext; the secrets are missing from state altogether")
	}
	for what, v := range secrets {
		if strings.Contains(export, v) {
			t.Errorf("pulumi stack export holds the %s in plain text", what)
		}
	}

	// What users and pipelines print: outputs, a preview's diff, the offline plan (text and
	// --json), status and a release's --json record. A command that cannot finish here (no
	// Azure behind status's gates) is searched all the same: its output is what a log keeps.
	for _, line := range []string{
		"pulumi stack output --json",
		"pulumi preview --diff",
		"slotless plan --stack dev",
		"slotless plan --stack dev --json",
		"slotless status --stack dev --json",
		"slotless release --stack dev --slot blue --version 1.1.0 --dry-run --json",
	} {
		out, _ := u.trySh(line)
		if len(out) < 100 {
			t.Errorf("%s printed %q: too little to search", line, out)
		}
		for what, v := range secrets {
			if strings.Contains(out, v) {
				t.Errorf("%s prints the %s in plain text", line, what)
			}
		}
	}

	files := 0
	err = filepath.WalkDir(u.backend, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := readState(path)
		if err != nil {
			return err
		}
		files++
		for what, v := range secrets {
			if bytes.Contains(raw, []byte(v)) {
				t.Errorf("%s holds the %s in plain text", strings.TrimPrefix(path, u.backend), what)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("searched pulumi stack export and %d backend files for %d secrets", files, len(secrets))
	if files < 3 {
		t.Errorf("read %d files under the backend, want the checkpoint, its backups and the history", files)
	}
}

// readState reads a backend file, unpacked when the backend stores it gzipped.
func readState(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil || !strings.HasSuffix(path, ".gz") {
		return raw, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}
