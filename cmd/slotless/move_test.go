package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/slotless/slotless/internal/engine"
	"github.com/slotless/slotless/internal/release"
	"github.com/slotless/slotless/stack"
)

func TestReleaseCommandsValidateInput(t *testing.T) {
	dir := project(t, stackYAML("slotless:blueWeight: 0"))
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"shift", "--dir", dir, "--stack", "ci", "--slot", "red", "--to", "10"}, 2, `--slot: "red" is not a slot, want green or blue`},
		{[]string{"shift", "--dir", dir, "--stack", "ci", "--slot", "blue"}, 2, "--to: required"},
		{[]string{"shift", "--dir", dir, "--stack", "ci", "--slot", "blue", "--to", "101"}, 2, "--to: 101 is out of range 0..100"},
		{[]string{"shift", "--dir", dir, "--stack", "ci", "--slot", "blue", "--to", "-1"}, 2, "--to: -1 is out of range 0..100"},
		{[]string{"shift", "--dir", dir, "--stack", "prod", "--slot", "blue", "--to", "10"}, 2, "stacks here: ci"},
		{[]string{"promote", "--dir", dir, "--stack", "ci", "--slot", "blue", "--to", "100"}, 2, "unknown flag: --to"},
		{[]string{"promote", "--dir", dir, "--stack", "ci", "--slot", "blue", "--write-only"}, 3, "blue gains 100% in one step"},
		{[]string{"shift", "--dir", dir, "--stack", "ci", "--slot", "blue", "--to", "10", "--write-only"}, 3, "no health gate is configured for blue"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args[:1], " ")+" "+tt.want, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(tt.args, &out, &errb); code != tt.code {
				t.Fatalf("exit: got %d, want %d (%s)", code, tt.code, errb.String())
			}
			if !strings.Contains(errb.String(), tt.want) {
				t.Errorf("stderr: got %q, want %q", errb.String(), tt.want)
			}
		})
	}
}

func TestWriteOnlyShiftEditsTheStackFile(t *testing.T) {
	dir := project(t, stackYAML("slotless:blueWeight: 0"))
	var out, errb bytes.Buffer
	if code := run([]string{"shift", "--dir", dir, "--stack", "ci", "--slot", "blue", "--to", "10", "--write-only", "--force"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "Pulumi.ci.yaml"))
	if !strings.Contains(string(raw), "slotless:blueWeight: 10") {
		t.Errorf("stack file: got\n%s\nwant blueWeight 10", raw)
	}
	if !strings.Contains(out.String(), "config: blueWeight 10") {
		t.Errorf("output: got %q, want it to say what changed", out.String())
	}
	// A rollback with write-only needs no gate and no force.
	out.Reset()
	if code := run([]string{"rollback", "--dir", dir, "--stack", "ci", "--slot", "blue", "--write-only"}, &out, &errb); code != 0 {
		t.Fatalf("rollback exit %d: %s", code, errb.String())
	}
	raw, _ = os.ReadFile(filepath.Join(dir, "Pulumi.ci.yaml"))
	if !strings.Contains(string(raw), "slotless:blueWeight: 0") {
		t.Errorf("after rollback: got\n%s\nwant blueWeight 0", raw)
	}
}

// fakeAuto stands in for the in-process engine: a stack deployed at blue 0, whose preview
// shows the traffic change alone. It records the calls in order.
type fakeAuto struct{ calls []string }

func (f *fakeAuto) Deployed(context.Context) (release.Deployed, error) {
	f.calls = append(f.calls, "deployed")
	return release.Deployed{Weights: stack.Weights{Green: 100}, CurrentSlotName: "green-backend", Source: "deployed"}, nil
}

func (f *fakeAuto) GetConfig(_ context.Context, k string) (string, bool, error) {
	return "", false, nil
}

func (f *fakeAuto) SetConfig(_ context.Context, k, v string) error {
	f.calls = append(f.calls, "set "+k+"="+v)
	return nil
}

func (f *fakeAuto) RemoveConfig(_ context.Context, k string) error {
	f.calls = append(f.calls, "remove "+k)
	return nil
}

func (f *fakeAuto) Preview(context.Context, io.Writer) (engine.Changes, error) {
	f.calls = append(f.calls, "preview")
	return engine.Changes{Steps: []engine.Step{{Op: "update", Name: stack.PoolID}}}, nil
}

func (f *fakeAuto) Up(_ context.Context, _ io.Writer, targets []string) (engine.Changes, error) {
	f.calls = append(f.calls, fmt.Sprintf("up %d targets", len(targets)))
	return engine.Changes{Counts: map[string]int{"update": 1}}, nil
}

func (f *fakeAuto) URN(typ, name string) string { return typ + "::" + name }

func (f *fakeAuto) Refresh(context.Context, io.Writer, []string) error { return nil }

func TestPromoteRunsUpThroughTheStack(t *testing.T) {
	dir := project(t, stackYAML("slotless:blueWeight: 0", "slotless:maxStep: 100"))
	fake := &fakeAuto{}
	d := realDeps()
	d.openStack = func(context.Context, string, string, string) (release.Stack, error) { return fake, nil }
	var out, errb bytes.Buffer
	if code := runWith(d, []string{"promote", "--dir", dir, "--stack", "ci", "--slot", "blue", "--force"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if got := strings.Join(fake.calls, "; "); got != "deployed; set blueWeight=100; preview; up 2 targets" {
		t.Errorf("calls: got %s", got)
	}
}

// TestShiftHealthGateSendsWhatGateHealthSends: through APIM the shift's health gate pins the
// request and never sends the function key; only a direct --url gets the key. A gate that
// does not pass blocks the advance with exit code 3, before anything is written.
func TestShiftHealthGateSendsWhatGateHealthSends(t *testing.T) {
	const fnKey, token = "fk-SECRET", "pin-0123456789abcdef"
	tests := []struct {
		name        string
		target      func(srv string) []string
		wantHeaders map[string]string // "" means must be absent
	}{
		{"through APIM", func(srv string) []string { return []string{"--api-url", srv + "/orders"} },
			map[string]string{"X-Slotless-Slot": "blue", "X-Slotless-Token": token, "X-Functions-Key": ""}},
		{"api url from the environment", func(srv string) []string { t.Setenv(envAPIURL, srv+"/orders"); return nil },
			map[string]string{"X-Slotless-Slot": "blue", "X-Slotless-Token": token, "X-Functions-Key": ""}},
		{"direct url", func(srv string) []string { return []string{"--url", srv + "/orders/health"} },
			map[string]string{"X-Slotless-Slot": "", "X-Slotless-Token": "", "X-Functions-Key": fnKey}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(envFunctionKey, fnKey)
			t.Setenv(envPinToken, token)
			t.Setenv(envAPIURL, "")
			var seen http.Header
			var hits atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if hits.Add(1) == 1 {
					seen = r.Header.Clone()
				}
				if r.URL.Path != "/orders/health" {
					http.NotFound(w, r)
					return
				}
				// The wrong slot answers, so the gate cannot pass.
				w.Header().Set("X-Slot", "green")
				fmt.Fprint(w, `{"status":"ok","slot":"green","version":"1.0.0","checks":{}}`)
			}))
			t.Cleanup(srv.Close)
			dir := project(t, stackYAML("slotless:blueWeight: 0"))
			fake := &fakeAuto{}
			d := realDeps()
			d.openStack = func(context.Context, string, string, string) (release.Stack, error) { return fake, nil }

			args := append([]string{"shift", "--dir", dir, "--stack", "ci", "--slot", "blue", "--to", "10", "--health-timeout", "300ms"}, tt.target(srv.URL)...)
			var out, errb bytes.Buffer
			if code := runWith(d, args, &out, &errb); code != 3 {
				t.Fatalf("exit %d, want 3 (blocked)\n%s%s", code, out.String(), errb.String())
			}
			if !strings.Contains(errb.String(), "wrong-slot") {
				t.Errorf("stderr: got %q, want the gate's reason", errb.String())
			}
			if hits.Load() == 0 {
				t.Fatal("the health target got no request")
			}
			for h, want := range tt.wantHeaders {
				if got := seen.Get(h); got != want {
					t.Errorf("header %s: got %q, want %q", h, got, want)
				}
			}
			for _, c := range fake.calls {
				if strings.HasPrefix(c, "set") || strings.HasPrefix(c, "up") {
					t.Errorf("a blocked shift called %s", c)
				}
			}
			if strings.Contains(out.String()+errb.String(), fnKey) || strings.Contains(out.String()+errb.String(), token) {
				t.Error("a secret leaked into the output")
			}
		})
	}
}
