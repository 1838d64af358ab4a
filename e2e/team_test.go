//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slotless/slotless/internal/rollout"
	"github.com/slotless/slotless/stack"
)

// teamVersion is the slotless release a team repository pins and installs.
const teamVersion = "v0.9.0"

// newTeam is a platform team's repository: a folder outside this tree made by `slotless init`
// with the given flags, with no Go in it and no go on PATH. Its user runs the real pulumi CLI,
// which starts the program through the runtime the team's Pulumi.yaml names (slotless, found
// on PATH as pulumi-language-slotless), never through the Automation API's inline source.
func newTeam(t *testing.T, initFlags string) *user {
	t.Helper()
	u := &user{t: t, dir: t.TempDir(), backend: t.TempDir(), sub: deployedSub, cloud: newCloud(t), team: installed(t, teamVersion)}
	out := u.sh("slotless init " + initFlags)
	t.Log(out)
	if _, err := exec.LookPath("go"); err == nil {
		if p, err := lookPathIn("go", u.path()); err == nil {
			t.Fatalf("the team's PATH has go at %s", p)
		}
	}
	noGoFiles(t, u.dir)
	return u
}

// noGoFiles fails the test when dir holds a .go file or a go.mod: a team's repository holds its
// app, its stack files and a few lines of CI, and nothing of slotless's source.
func noGoFiles(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(path, ".go") || d.Name() == "go.mod") {
			t.Errorf("the team repository holds %s", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// lookPathIn is exec.LookPath over the given PATH.
func lookPathIn(file, path string) (string, error) {
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, file)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}

// withoutGo is PATH without the folders that hold a go executable.
func withoutGo(path string) string {
	var kept []string
	for _, dir := range filepath.SplitList(path) {
		if _, err := os.Stat(filepath.Join(dir, "go")); err == nil {
			continue
		}
		kept = append(kept, dir)
	}
	return strings.Join(kept, string(os.PathListSeparator))
}

// stackOutputs reads a stack's outputs as the team reads them: pulumi stack output --json.
func (u *user) stackOutputs(stackName string) map[string]any {
	u.t.Helper()
	raw := u.sh("pulumi stack output --json --stack " + stackName)
	var outs map[string]any
	if err := json.Unmarshal([]byte(raw[strings.Index(raw, "{"):]), &outs); err != nil {
		u.t.Fatalf("stack %s outputs: %v\n%s", stackName, err, raw)
	}
	return outs
}

// poolWeightsOf reads the weights of the pool with the given ARM id, as APIM holds them.
func (u *user) poolWeightsOf(poolID string) stack.Weights {
	u.t.Helper()
	c, err := u.cloud.Load()
	if err != nil {
		u.t.Fatal(err)
	}
	r, ok := c.Get(poolID)
	if !ok {
		u.t.Fatalf("no pool %s in the cloud", poolID)
	}
	var w stack.Weights
	pool, _ := r.Inputs["pool"].(map[string]any)
	services, _ := pool["services"].([]any)
	for _, s := range services {
		m := s.(map[string]any)
		slot, _ := stack.SlotOfBackendID(azurefakeName(m["id"].(string)))
		if slot == stack.Blue {
			w.Blue = int(m["weight"].(float64))
		} else {
			w.Green = int(m["weight"].(float64))
		}
	}
	return w
}

// teamServices are the gateway and the apps of one of the team's stacks, for its deploys and
// releases.
func teamServices(t *testing.T, u *user, stackName, apiPath string) (*services, map[string]any) {
	t.Helper()
	token := strings.TrimSpace(u.sh("pulumi config get pinToken --stack " + stackName))
	s := newServices(t, token)
	s.apiPath = apiPath
	outs := u.stackOutputs(stackName)
	s.cloud, s.sub, s.apps = &u.cloud, u.sub, map[string]string{}
	for _, slot := range stack.Slots {
		s.apps[string(slot)], _ = outs[stack.OutAppName(slot)].(string)
	}
	if u.arm != nil {
		// The release reads the live pool through the stand-in's Resource Manager, whose CA it
		// trusts beside the Log Analytics server's certificate.
		f, err := os.OpenFile(s.certFile, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.Write(u.arm.ca); err != nil {
			t.Fatal(err)
		}
	}
	return s, outs
}

// teamRelease is `slotless release` of blue to GA in the team's repository.
func (s *services) teamRelease(stackName, version, record string) string {
	return fmt.Sprintf(`env SLOTLESS_PIN_TOKEN=%s AZURE_TOKEN_CREDENTIALS=AzureCliCredential SSL_CERT_FILE=%s `+
		`ACTIONS_ID_TOKEN_REQUEST_URL= SYSTEM_OIDCREQUESTURI= PATH=%s:"$PATH" `+
		`slotless release --stack %s --slot blue --version %s --api-url %s/%s --logs-endpoint %s/v1 --json >%s`,
		s.pinToken, s.certFile, s.azDir, stackName, version, s.health.URL, s.apiPath, s.logs.URL, record)
}

// TestTeamRepository: a .NET-free, Go-free team repository made by slotless init for a Node
// app, released with nothing but the installed slotless and the pulumi CLI. pulumi preview
// and pulumi up run through the slotless runtime, slotless deploy takes the idle slot,
// slotless release walks it to GA, and the user's literal rollback works as written. A second
// stack in the same repository is deployed and released on its own.
func TestTeamRepository(t *testing.T) {
	parallel(t, 90*time.Second)
	const project = "orders"
	initFlags := func(stackName string) string {
		return "--project " + project + " --stack " + stackName + " --runtime node --runtime-version 22 --api-path " + project +
			" --ci github --location westeurope --publisher-email platform@orders.example --slotless-version " + teamVersion
	}
	u := newTeam(t, initFlags("dev"))
	for _, f := range []string{"Pulumi.yaml", "Pulumi.dev.yaml", ".github/workflows/slotless-dev.yml", ".github/workflows/slotless-plan.yml"} {
		if _, err := os.Stat(filepath.Join(u.dir, f)); err != nil {
			t.Errorf("slotless init wrote no %s", f)
		}
	}
	pinToken := "team-pin-token-0123456789abcdef"
	u.sh("pulumi stack init dev && pulumi config set --secret pinToken " + pinToken)
	// The offline plan works in the generated repository, in its own namespace.
	if out := u.sh("slotless plan --stack dev --set blueWeight=10"); !strings.Contains(out, "green 90% / blue 10%") {
		t.Errorf("slotless plan in the team repository:\n%s", out)
	}

	out := u.sh("pulumi preview")
	if !strings.Contains(out, "create") || !strings.Contains(out, "slotlessVersion") {
		t.Errorf("pulumi preview through the slotless runtime:\n%s", out)
	}
	out = u.sh("pulumi up")
	t.Log(out)
	outs := u.stackOutputs("dev")
	if outs[stack.OutSlotlessVersion] != teamVersion || outs[stack.OutLiveSlot] != "green" {
		t.Fatalf("after pulumi up: slotlessVersion %v, liveSlot %v; want %s and green", outs[stack.OutSlotlessVersion], outs[stack.OutLiveSlot], teamVersion)
	}
	if out := u.sh("pulumi up"); !strings.Contains(out, "unchanged") || strings.Contains(out, "updated") {
		t.Errorf("a second pulumi up changed something:\n%s", out)
	}
	poolID, _ := outs[stack.OutPoolID].(string)

	u.withARM()
	svc, _ := teamServices(t, u, "dev", project)
	pkg, _ := packageZip(t, "host.json", "package.json", "src/functions/health.js")
	deploy := fmt.Sprintf("env SLOTLESS_PIN_TOKEN=%s slotless deploy --stack dev --slot blue --package %s --version 1.1.0 --api-url %s/%s", pinToken, pkg, svc.health.URL, project)
	if out := u.sh(deploy); !strings.Contains(out, "status 4 Success") {
		t.Errorf("slotless deploy to the idle slot:\n%s", out)
	}
	u.sh("pulumi config set bakeMinutes 0")
	record := filepath.Join(t.TempDir(), "release.json")
	out = u.sh(svc.teamRelease("dev", "1.1.0", record))
	t.Log(out)
	if rec := readRecord(t, record); rec.Outcome != rollout.OutcomeComplete {
		t.Errorf("the dev release: got outcome %s, want complete", rec.Outcome)
	}
	if !strings.Contains(out, "live pool: green 100% / blue 0% through ARM") {
		t.Errorf("the release did not read the live pool through ARM:\n%s", out)
	}
	if w := u.poolWeightsOf(poolID); w.Blue != 100 {
		t.Fatalf("after slotless release: got %s, want blue 100", w)
	}

	// The user's literal rollback, as written.
	out = u.sh("pulumi config set blueWeight 0 && pulumi up")
	t.Log(out)
	if w := u.poolWeightsOf(poolID); w.Green != 100 {
		t.Errorf("after pulumi config set blueWeight 0 && pulumi up: got %s, want green 100", w)
	}

	// A second stack of the same repository, released on its own.
	out = u.sh("slotless init " + initFlags("prod"))
	if !strings.Contains(out, "Pulumi.prod.yaml") {
		t.Errorf("slotless init --stack prod:\n%s", out)
	}
	u.sh("pulumi stack init prod && pulumi config set --secret pinToken " + pinToken + " && pulumi config set bakeMinutes 0 && pulumi up")
	prodSvc, prodOuts := teamServices(t, u, "prod", project)
	prodPool, _ := prodOuts[stack.OutPoolID].(string)
	if prodPool == poolID {
		t.Fatalf("prod and dev share the pool %s", poolID)
	}
	out = u.sh(prodSvc.teamRelease("prod", "1.1.0", filepath.Join(t.TempDir(), "prod.json")))
	t.Log(out)
	if w := u.poolWeightsOf(prodPool); w.Blue != 100 {
		t.Errorf("prod after its release: got %s, want blue 100", w)
	}
	if w := u.poolWeightsOf(poolID); w.Green != 100 {
		t.Errorf("dev after prod's release: got %s, want green 100 as dev left it", w)
	}
	noGoFiles(t, u.dir)
}

// TestTeamVersionSkew: a team's stack last changed by slotless v0.9.0. An older slotless
// (v0.8.0, as a stale laptop or an old branch's CI installs) refuses pulumi up, whether the
// project pins the newer version or, on an old branch, its own; slotless shift refuses too
// (exit 3); slotless rollback works with any version, and leaves v0.9.0 recorded.
func TestTeamVersionSkew(t *testing.T) {
	parallel(t, 45*time.Second)
	u := newTeam(t, "--project orders --stack dev --runtime python --ci none --location westeurope --publisher-email p@orders.example --slotless-version "+teamVersion)
	u.sh("pulumi stack init dev && pulumi config set --secret pinToken team-pin-token-0123456789abcdef && pulumi up")
	u.withARM()
	u.sh("slotless shift --stack dev --slot blue --to 10 --force")

	u.team = installed(t, "v0.8.0")
	out, err := u.trySh("pulumi up")
	if err == nil || !strings.Contains(out, "Pulumi.yaml pins slotless v0.9.0 (runtime.options.version) and this is slotless v0.8.0: install v0.9.0") {
		t.Errorf("pulumi up with v0.8.0 in a project pinned to v0.9.0: got %v\n%s", err, out)
	}
	// An old branch, whose Pulumi.yaml still pins v0.8.0.
	u.sh(`sed -i 's/version: ` + teamVersion + `/version: v0.8.0/' Pulumi.yaml`)
	out, err = u.trySh("pulumi up")
	if err == nil || !strings.Contains(out, "the stack was last changed by slotless v0.9.0") {
		t.Errorf("pulumi up with v0.8.0 over a stack v0.9.0 changed: got %v\n%s", err, out)
	}
	out, err = u.trySh("slotless shift --stack dev --slot blue --to 50 --force")
	if exitCode(err) != 3 || !strings.Contains(out, "install slotless v0.9.0") {
		t.Errorf("slotless shift with v0.8.0: got exit %d, want 3\n%s", exitCode(err), out)
	}
	out, err = u.trySh("env SLOTLESS_PIN_TOKEN=team-pin-token-0123456789abcdef slotless release --stack dev --slot blue --version 1.1.0 --api-url https://gateway.invalid/orders")
	if exitCode(err) != 3 || !strings.Contains(out, "install slotless v0.9.0") {
		t.Errorf("slotless release with v0.8.0: got exit %d, want 3 before anything moves\n%s", exitCode(err), out)
	}
	out = u.sh("slotless rollback --stack dev --slot blue")
	t.Log(out)
	if w := u.weights(); w.Blue != 0 {
		t.Errorf("after the rollback with v0.8.0: got %s, want blue 0", w)
	}
	if v := u.stackOutputs("dev")[stack.OutSlotlessVersion]; v != teamVersion {
		t.Errorf("after the rollback with v0.8.0: slotlessVersion %v, want %s kept", v, teamVersion)
	}
}
