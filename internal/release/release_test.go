package release

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slotless/slotless/internal/engine"
	"github.com/slotless/slotless/stack"
)

func w(blue int) stack.Weights { return stack.Weights{Green: 100 - blue, Blue: blue} }

func TestClassify(t *testing.T) {
	tests := []struct {
		from, to int
		origin   stack.Slot
		kind     Kind
		step     int
		release  stack.Slot
	}{
		{0, 10, stack.Blue, Advance, 10, stack.Blue}, // from an idle slot the origin is the live one, whatever is passed
		{0, 100, stack.Green, Advance, 100, stack.Blue},
		{10, 50, stack.Green, Advance, 40, stack.Blue},
		{50, 0, stack.Green, Rollback, 50, stack.Blue},
		{90, 0, stack.Green, Rollback, 90, stack.Blue}, // a late rollback of blue's release
		{90, 100, stack.Green, Advance, 10, stack.Blue},
		{100, 90, stack.Green, Advance, 10, stack.Green}, // the next release goes back to green
		{60, 100, stack.Blue, Rollback, 40, stack.Green}, // green's release rolled back to blue
		{40, 40, stack.Green, NoMove, 0, stack.Blue},
	}
	for _, tt := range tests {
		m := Classify(w(tt.from), w(tt.to), tt.origin)
		t.Run(m.String(), func(t *testing.T) {
			if m.Kind != tt.kind || m.Step != tt.step || m.ReleaseSlot() != tt.release {
				t.Errorf("blue %d→%d origin %s: got %s step %d release %s, want %s step %d release %s",
					tt.from, tt.to, tt.origin, m.Kind, m.Step, m.ReleaseSlot(), tt.kind, tt.step, tt.release)
			}
		})
	}
}

func TestCheckStep(t *testing.T) {
	tests := []struct {
		from, to, max int
		origin        stack.Slot
		allowJump     bool
		blocked       bool
	}{
		{0, 10, 50, stack.Green, false, false},
		{0, 100, 50, stack.Green, false, true},
		{0, 100, 50, stack.Green, true, false},
		{0, 100, 100, stack.Green, false, false}, // pure blue/green
		{10, 60, 50, stack.Green, false, false},
		{10, 61, 50, stack.Green, false, true},
		{90, 0, 10, stack.Green, false, false}, // a rollback is never blocked
	}
	for _, tt := range tests {
		m := Classify(w(tt.from), w(tt.to), tt.origin)
		got := CheckStep(m, tt.max, tt.allowJump)
		if (len(got) > 0) != tt.blocked {
			t.Errorf("%d→%d max %d jump %v: got %v, want blocked=%v", tt.from, tt.to, tt.max, tt.allowJump, got, tt.blocked)
		}
		if len(got) > 0 && !strings.Contains(got[0].Message, "more than maxStep") {
			t.Errorf("message %q does not name maxStep", got[0].Message)
		}
	}
}

// fakeStack is a deployed stack: its outputs (deployed), its config file, and what a preview
// would show. It records the calls a shift makes, in order.
type fakeStack struct {
	deployed Deployed
	config   map[string]string
	// pending are planned steps besides the traffic the preview reports.
	pending    []engine.Step
	previewErr error
	// upErrs are returned by successive Up calls, then nil.
	upErrs  []error
	calls   []string
	targets [][]string
	// refreshErr is what Refresh returns.
	refreshErr error
}

func (f *fakeStack) Deployed(context.Context) (Deployed, error) {
	f.calls = append(f.calls, "deployed")
	return f.deployed, nil
}

func (f *fakeStack) GetConfig(_ context.Context, key string) (string, bool, error) {
	v, ok := f.config[key]
	return v, ok, nil
}

func (f *fakeStack) SetConfig(_ context.Context, key, value string) error {
	f.calls = append(f.calls, "set "+key+"="+value)
	f.config[key] = value
	return nil
}

func (f *fakeStack) RemoveConfig(_ context.Context, key string) error {
	f.calls = append(f.calls, "remove "+key)
	delete(f.config, key)
	return nil
}

func (f *fakeStack) Preview(context.Context, io.Writer) (engine.Changes, error) {
	f.calls = append(f.calls, "preview")
	steps := append([]engine.Step{{Op: "update", Type: "azure-native:apimanagement:Backend", Name: stack.PoolID, URN: f.URN("azure-native:apimanagement:Backend", stack.PoolID), Diffs: []string{"pool"}}}, f.pending...)
	return engine.Changes{Steps: steps}, f.previewErr
}

func (f *fakeStack) Up(_ context.Context, _ io.Writer, targets []string) (engine.Changes, error) {
	f.calls = append(f.calls, "up")
	f.targets = append(f.targets, targets)
	if len(f.upErrs) > 0 {
		err := f.upErrs[0]
		f.upErrs = f.upErrs[1:]
		return engine.Changes{}, err
	}
	return engine.Changes{Counts: map[string]int{"update": 1}}, nil
}

func (f *fakeStack) Refresh(_ context.Context, _ io.Writer, targets []string) error {
	f.calls = append(f.calls, "refresh")
	return f.refreshErr
}

func (f *fakeStack) URN(typ, name string) string {
	return "urn:pulumi:dev::slotless::" + typ + "::" + name
}

// deployedAt is a deployed stack at blue%, in a release that started from origin.
func deployedAt(blue int, origin stack.Slot) Deployed {
	return Deployed{Weights: w(blue), CurrentSlotName: origin.BackendID(), Source: "deployed"}
}

var appChange = engine.Step{Op: "update", Type: "azure-native:web:WebApp", Name: "blue-app", URN: "urn:pulumi:dev::slotless::slotless:stack:Colour$azure-native:web:WebApp::blue-app", Diffs: []string{"siteConfig"}}

func TestShift(t *testing.T) {
	healthy := func(context.Context, stack.Slot) error { return nil }
	sick := func(context.Context, stack.Slot) error { return errors.New("wrong-version") }
	traffic := []string{"urn:pulumi:dev::slotless::azure-native:apimanagement:Backend::green-blue-pool", "urn:pulumi:dev::slotless::azure-native:apimanagement:NamedValue::current-slot-name"}
	tests := []struct {
		name     string
		deployed Deployed
		config   map[string]string
		pending  []engine.Step
		req      ShiftRequest
		calls    []string
		targets  []string
		blocked  bool
	}{
		{"canary", deployedAt(0, stack.Green), map[string]string{}, nil, ShiftRequest{Slot: stack.Blue, To: 10, MaxStep: 50, Health: healthy},
			[]string{"deployed", "set blueWeight=10", "preview", "up"}, traffic, false},
		{"greenWeight kept in step", deployedAt(10, stack.Green), map[string]string{"blueWeight": "10", "greenWeight": "90"}, nil, ShiftRequest{Slot: stack.Blue, To: 50, MaxStep: 50, Health: healthy},
			[]string{"deployed", "set blueWeight=50", "set greenWeight=50", "preview", "up"}, traffic, false},
		{"jump blocked before any write", deployedAt(0, stack.Green), map[string]string{}, nil, ShiftRequest{Slot: stack.Blue, To: 100, MaxStep: 50, Health: healthy},
			[]string{"deployed"}, nil, true},
		// The local file says 50, but the deployed stack is at 0: the step is 100, not 50.
		{"stale stack file cannot shrink the step", deployedAt(0, stack.Green), map[string]string{"blueWeight": "50"}, nil, ShiftRequest{Slot: stack.Blue, To: 100, MaxStep: 50, Health: healthy},
			[]string{"deployed"}, nil, true},
		{"jump forced", deployedAt(0, stack.Green), map[string]string{}, nil, ShiftRequest{Slot: stack.Blue, To: 100, MaxStep: 50, Force: true},
			[]string{"deployed", "set blueWeight=100", "preview", "up"}, traffic, false},
		{"unhealthy slot blocked", deployedAt(0, stack.Green), map[string]string{}, nil, ShiftRequest{Slot: stack.Blue, To: 10, MaxStep: 50, Health: sick},
			[]string{"deployed"}, nil, true},
		{"no gate configured blocks an advance", deployedAt(0, stack.Green), map[string]string{}, nil, ShiftRequest{Slot: stack.Blue, To: 10, MaxStep: 50},
			[]string{"deployed"}, nil, true},
		{"other pending changes refuse a shift and put the config back", deployedAt(10, stack.Green), map[string]string{"blueWeight": "10"}, []engine.Step{appChange}, ShiftRequest{Slot: stack.Blue, To: 50, MaxStep: 50, Health: healthy},
			[]string{"deployed", "set blueWeight=50", "preview", "set blueWeight=10"}, nil, true},
		{"--allow-other-changes applies everything", deployedAt(10, stack.Green), map[string]string{"blueWeight": "10"}, []engine.Step{appChange}, ShiftRequest{Slot: stack.Blue, To: 50, MaxStep: 50, Health: healthy, AllowOtherChanges: true},
			[]string{"deployed", "set blueWeight=50", "preview", "up"}, nil, false},
		{"a rollback applies traffic alone past other changes", deployedAt(50, stack.Green), map[string]string{"blueWeight": "50"}, []engine.Step{appChange}, ShiftRequest{Slot: stack.Blue, To: 0, MaxStep: 1, Rollback: true},
			[]string{"deployed", "set blueWeight=0", "preview", "up"}, traffic, false},
		{"write only", deployedAt(0, stack.Green), map[string]string{}, nil, ShiftRequest{Slot: stack.Blue, To: 10, MaxStep: 50, Health: healthy, WriteOnly: true},
			[]string{"deployed", "set blueWeight=10"}, nil, false},
		{"next release goes to green", deployedAt(100, stack.Blue), map[string]string{"blueWeight": "100"}, nil, ShiftRequest{Slot: stack.Green, To: 10, MaxStep: 50, Health: healthy},
			[]string{"deployed", "set blueWeight=90", "preview", "up"}, traffic, false},
		{"nothing to do", deployedAt(10, stack.Green), map[string]string{"blueWeight": "10"}, nil, ShiftRequest{Slot: stack.Blue, To: 10, MaxStep: 50},
			[]string{"deployed"}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &fakeStack{deployed: tt.deployed, config: tt.config, pending: tt.pending}
			_, err := Shift(context.Background(), st, tt.req, io.Discard)
			if blocked := errors.Is(err, ErrBlocked); blocked != tt.blocked {
				t.Fatalf("got error %v, want blocked=%v", err, tt.blocked)
			}
			if !tt.blocked && err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if strings.Join(st.calls, "; ") != strings.Join(tt.calls, "; ") {
				t.Errorf("calls: got %v, want %v", st.calls, tt.calls)
			}
			if len(st.targets) > 0 && strings.Join(st.targets[0], " ") != strings.Join(tt.targets, " ") {
				t.Errorf("targets: got %v, want %v", st.targets[0], tt.targets)
			}
		})
	}
}

// TestRollbackIsNeverBlocked: from every weight a release can stand at, for releases that
// started from green and from blue, `rollback --slot <release slot>` applies, with the smallest
// maxStep, no health gate, and a preview that reports other pending changes.
func TestRollbackIsNeverBlocked(t *testing.T) {
	for _, origin := range stack.Slots {
		release := origin.Other()
		for _, share := range []int{1, 10, 50, 51, 99, 100} {
			t.Run(fmt.Sprintf("release of %s at %d%%", release, share), func(t *testing.T) {
				blue := share
				if release == stack.Green {
					blue = 100 - share
				}
				dep := deployedAt(blue, origin)
				if share == 100 {
					// After GA current-slot-name follows the release slot.
					dep.CurrentSlotName = release.BackendID()
				}
				st := &fakeStack{deployed: dep, config: map[string]string{"blueWeight": strconv.Itoa(blue)}, pending: []engine.Step{appChange}}
				_, err := Shift(context.Background(), st, ShiftRequest{Slot: release, To: 0, MaxStep: 1, Rollback: true}, io.Discard)
				if err != nil {
					t.Fatalf("got %v, want the rollback to apply", err)
				}
				if got, want := st.config["blueWeight"], strconv.Itoa(map[stack.Slot]int{stack.Blue: 0, stack.Green: 100}[release]); got != want {
					t.Errorf("blueWeight: got %s, want %s", got, want)
				}
				if len(st.targets) != 1 || len(st.targets[0]) != 2 {
					t.Errorf("targets: got %v, want the pool and current-slot-name alone", st.targets)
				}
			})
		}
	}
}

func TestRollbackWaitsOutAnotherUpdate(t *testing.T) {
	busy := errors.New("[409] Conflict: Another update is currently in progress.")
	old := IsConcurrentUpdate
	IsConcurrentUpdate = func(err error) bool { return errors.Is(err, busy) }
	t.Cleanup(func() { IsConcurrentUpdate = old })
	rollback := ShiftRequest{Slot: stack.Blue, To: 0, Rollback: true, Attempts: 3, Interval: time.Millisecond}

	st := &fakeStack{deployed: deployedAt(50, stack.Green), config: map[string]string{"blueWeight": "50"}, upErrs: []error{busy, busy}}
	if _, err := Shift(context.Background(), st, rollback, io.Discard); err != nil {
		t.Fatalf("got %v, want the rollback to apply on the third attempt", err)
	}
	if len(st.targets) != 3 {
		t.Errorf("got %d attempts, want 3", len(st.targets))
	}

	always := make([]error, DefaultRollbackAttempts+1)
	for i := range always {
		always[i] = busy
	}
	st = &fakeStack{deployed: deployedAt(50, stack.Green), config: map[string]string{"blueWeight": "50"}, upErrs: always}
	rollback.Attempts = 0
	if _, err := Shift(context.Background(), st, rollback, io.Discard); err == nil {
		t.Fatal("a rollback retried forever")
	}
	if len(st.targets) != DefaultRollbackAttempts {
		t.Errorf("got %d attempts, want the default bound %d", len(st.targets), DefaultRollbackAttempts)
	}

	// A shift does not wait: it fails at once and puts the config back.
	st = &fakeStack{deployed: deployedAt(10, stack.Green), config: map[string]string{"blueWeight": "10"}, upErrs: []error{busy}}
	_, err := Shift(context.Background(), st, ShiftRequest{Slot: stack.Blue, To: 50, MaxStep: 50, Force: true}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "run the shift again") {
		t.Fatalf("got %v, want a shift to fail fast and say to run it again", err)
	}
	if len(st.targets) != 1 || st.config["blueWeight"] != "10" {
		t.Errorf("got %d attempts and blueWeight %s, want 1 attempt and the config back at 10", len(st.targets), st.config["blueWeight"])
	}
}

func TestShiftReportsUpFailureWithTheConfigChanged(t *testing.T) {
	st := &fakeStack{deployed: deployedAt(0, stack.Green), config: map[string]string{}, upErrs: []error{errors.New("engine failed")}}
	_, err := Shift(context.Background(), st, ShiftRequest{Slot: stack.Blue, To: 10, MaxStep: 50, Force: true}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "the config is already changed") {
		t.Fatalf("got %v, want an error saying the config already changed", err)
	}
}

func TestDeployedFromOutputs(t *testing.T) {
	d, err := DeployedFromOutputs(map[string]any{"blueWeight": float64(50), "greenWeight": float64(50), "currentSlotName": "blue-backend"})
	if err != nil {
		t.Fatal(err)
	}
	if origin, _ := d.Origin(); d.Weights != w(50) || origin != stack.Blue {
		t.Errorf("got %v origin %s, want blue 50 from blue", d.Weights, origin)
	}
	if _, err := DeployedFromOutputs(map[string]any{}); err == nil || !strings.Contains(err.Error(), "not been deployed") {
		t.Errorf("got %v, want a never-deployed stack to say so", err)
	}
}

func TestFileStackKeepsCommentsAndOtherKeys(t *testing.T) {
	// A team's project: its keys are in its own namespace, and another project's are left alone.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), []byte("name: orders\nruntime: slotless\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "Pulumi.dev.yaml")
	orig := "# traffic lives here\nconfig:\n  azure-native:location: westeurope # region\n  orders:blueWeight: 0\n  slotless:blueWeight: 30\n"
	if err := os.WriteFile(path, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	fs := FileStack{Path: path}
	if err := fs.SetConfig(context.Background(), "blueWeight", "10"); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	got := string(raw)
	for _, want := range []string{"# traffic lives here", "azure-native:location: westeurope # region", "orders:blueWeight: 10", "slotless:blueWeight: 30"} {
		if !strings.Contains(got, want) {
			t.Errorf("got\n%s\nwant it to contain %q", got, want)
		}
	}
	if v, ok, _ := fs.GetConfig(context.Background(), "blueWeight"); !ok || v != "10" {
		t.Errorf("read back: got %q %v, want 10", v, ok)
	}
	if _, err := fs.Up(context.Background(), io.Discard, nil); err == nil {
		t.Error("a stack file applied itself")
	}
}

func TestOriginFromGit(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	dir := t.TempDir()
	run := func(args ...string) {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	commit := func(blue int) {
		body := "config:\n  slotless:blueWeight: " + strconv.Itoa(blue) + "\n"
		if err := os.WriteFile(filepath.Join(dir, "Pulumi.dev.yaml"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		run("add", ".")
		run("commit", "-q", "-m", "blue "+strconv.Itoa(blue))
	}
	run("init", "-q")
	if err := os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), []byte("name: slotless\nruntime: go\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// green's release from blue: blue 100 → 40 → 70 (more traffic back on blue, still green's release)
	commit(0)
	commit(100)
	commit(40)
	commit(70)
	got, ok := OriginFromGit(dir, "HEAD", "Pulumi.dev.yaml")
	if !ok || got != stack.Blue {
		t.Fatalf("got %v %v, want blue, the slot with all traffic when the release began", got, ok)
	}
	// With the history, 70 → 100 on blue is a rollback of green's release, not an advance.
	m := Classify(w(70), w(100), got)
	if m.Kind != Rollback {
		t.Errorf("got %s, want rollback", m.Kind)
	}
	if _, ok := OriginFromGit(dir, "HEAD", "Pulumi.nope.yaml"); ok {
		t.Error("got an origin for a file with no history")
	}
}

// TestShiftUnderVersionSkew: a stack last changed by slotless v1.3.0 takes no shift from v1.2.0
// (nothing written), nor from a v1.3.0 whose project pins v1.2.0; a rollback from v1.2.0 goes
// through; v1.3.0 shifts.
func TestShiftUnderVersionSkew(t *testing.T) {
	healthy := func(context.Context, stack.Slot) error { return nil }
	tests := []struct {
		name            string
		running, pinned string
		req             ShiftRequest
		wantErr         string
		wantBlueWeight  string
	}{
		{"older shift", "v1.2.0", "", ShiftRequest{Slot: stack.Blue, To: 50, MaxStep: 50, Health: healthy}, "install slotless v1.3.0", "10"},
		{"newer than the pin", "v1.3.0", "v1.2.0", ShiftRequest{Slot: stack.Blue, To: 50, MaxStep: 50, Health: healthy}, "Pulumi.yaml pins slotless v1.2.0", "10"},
		{"older rollback", "v1.2.0", "v1.2.0", ShiftRequest{Slot: stack.Blue, To: 0, Rollback: true}, "", "0"},
		{"same version", "v1.3.0", "v1.3.0", ShiftRequest{Slot: stack.Blue, To: 50, MaxStep: 50, Health: healthy}, "", "50"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dep := deployedAt(10, stack.Green)
			dep.Version = "v1.3.0"
			st := &fakeStack{deployed: dep, config: map[string]string{"blueWeight": "10"}}
			req := tt.req
			req.Running, req.Pinned = tt.running, tt.pinned
			_, err := Shift(context.Background(), st, req, io.Discard)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("got %v, want the move", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrBlocked)):
				t.Fatalf("got %v, want a guard-rail refusal containing %q", err, tt.wantErr)
			}
			if got := st.config["blueWeight"]; got != tt.wantBlueWeight {
				t.Errorf("blueWeight: got %s, want %s", got, tt.wantBlueWeight)
			}
		})
	}
}

// readerStack is a fakeStack that reads its config as AutoStack does, each look at it a CLI
// process: it records every look.
type readerStack struct{ *fakeStack }

func (r readerStack) GetConfig(ctx context.Context, key string) (string, bool, error) {
	r.calls = append(r.calls, "get "+key)
	return r.fakeStack.GetConfig(ctx, key)
}

func (r readerStack) GetConfigs(_ context.Context, keys ...string) (map[string]string, error) {
	r.calls = append(r.calls, "read config")
	out := map[string]string{}
	for _, k := range keys {
		if v, ok := r.config[k]; ok {
			out[k] = v
		}
	}
	return out, nil
}

// TestShiftReadsTheConfigOnce: a shift looks at the stack's config once for both weight keys,
// for its note on a stale file and for what a refused preview puts back.
func TestShiftReadsTheConfigOnce(t *testing.T) {
	healthy := func(context.Context, stack.Slot) error { return nil }
	tests := []struct {
		name    string
		config  map[string]string
		pending []engine.Step
		calls   []string
		after   map[string]string
	}{
		{"canary", map[string]string{}, nil, []string{"deployed", "read config", "set blueWeight=10", "preview", "up"}, map[string]string{"blueWeight": "10"}},
		{"both keys kept in step", map[string]string{"blueWeight": "0", "greenWeight": "100"}, nil,
			[]string{"deployed", "read config", "set blueWeight=10", "set greenWeight=90", "preview", "up"}, map[string]string{"blueWeight": "10", "greenWeight": "90"}},
		{"a refused preview puts back what was read", map[string]string{"greenWeight": "100"}, []engine.Step{appChange},
			[]string{"deployed", "read config", "set blueWeight=10", "set greenWeight=90", "preview", "remove blueWeight", "set greenWeight=100"}, map[string]string{"greenWeight": "100"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeStack{deployed: deployedAt(0, stack.Green), config: tt.config, pending: tt.pending}
			_, err := Shift(context.Background(), readerStack{f}, ShiftRequest{Slot: stack.Blue, To: 10, MaxStep: 50, Health: healthy}, io.Discard)
			if (err != nil) != (tt.pending != nil) {
				t.Fatalf("got %v, want an error only with other pending changes", err)
			}
			if !slices.Equal(f.calls, tt.calls) {
				t.Errorf("calls: got %v, want %v", f.calls, tt.calls)
			}
			if !maps.Equal(f.config, tt.after) {
				t.Errorf("config after: got %v, want %v", f.config, tt.after)
			}
		})
	}
}
