package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slotless/slotless/internal/release"
)

func TestReleaseCommandsValidateInput(t *testing.T) {
	dir := project(t, stackYAML("slotless:blueWeight: 0"))
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"shift", "--dir", dir, "--stack", "ci", "--slot", "red", "--to", "10"}, 2, `--slot: "red" is not a slot, want green or blue`},
		{[]string{"shift", "--dir", dir, "--stack", "ci", "--slot", "blue"}, 2, "--to: -1 is out of range 0..100 (and required)"},
		{[]string{"shift", "--dir", dir, "--stack", "ci", "--slot", "blue", "--to", "101"}, 2, "out of range"},
		{[]string{"promote", "--dir", dir, "--stack", "ci", "--slot", "blue", "--write-only"}, 1, "blue gains 100% in one step"},
		{[]string{"shift", "--dir", dir, "--stack", "ci", "--slot", "blue", "--to", "10", "--write-only"}, 1, "no health gate is configured for blue"},
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
	if !strings.Contains(out.String(), "config: blueWeight 0 → 10") {
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

// fakeAuto stands in for the Automation API and records the calls in order.
type fakeAuto struct{ calls []string }

func (f *fakeAuto) GetConfig(_ context.Context, k string) (string, bool, error) {
	f.calls = append(f.calls, "get "+k)
	return "", false, nil
}

func (f *fakeAuto) SetConfig(_ context.Context, k, v string) error {
	f.calls = append(f.calls, "set "+k+"="+v)
	return nil
}

func (f *fakeAuto) Up(context.Context, io.Writer) (string, error) {
	f.calls = append(f.calls, "up")
	return "1 updated", nil
}

func TestPromoteRunsUpThroughTheStack(t *testing.T) {
	dir := project(t, stackYAML("slotless:blueWeight: 0", "slotless:maxStep: 100"))
	fake := &fakeAuto{}
	old := openStack
	openStack = func(context.Context, string, string) (release.Stack, error) { return fake, nil }
	defer func() { openStack = old }()
	var out, errb bytes.Buffer
	if code := run([]string{"promote", "--dir", dir, "--stack", "ci", "--slot", "blue", "--force"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if got := strings.Join(fake.calls, "; "); got != "get slotless:blueWeight; set slotless:blueWeight=100; get slotless:greenWeight; up" {
		t.Errorf("calls: got %s", got)
	}
}
