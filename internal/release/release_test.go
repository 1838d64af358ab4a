package release

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

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

// fakeStack records the calls a shift makes, in order.
type fakeStack struct {
	config map[string]string
	calls  []string
	upErr  error
}

func (f *fakeStack) GetConfig(_ context.Context, key string) (string, bool, error) {
	f.calls = append(f.calls, "get "+key)
	v, ok := f.config[key]
	return v, ok, nil
}

func (f *fakeStack) SetConfig(_ context.Context, key, value string) error {
	f.calls = append(f.calls, "set "+key+"="+value)
	f.config[key] = value
	return nil
}

func (f *fakeStack) Up(context.Context, io.Writer) (string, error) {
	f.calls = append(f.calls, "up")
	return "1 updated", f.upErr
}

func TestShift(t *testing.T) {
	healthy := func(context.Context, stack.Slot) error { return nil }
	sick := func(context.Context, stack.Slot) error { return errors.New("wrong-version") }
	tests := []struct {
		name    string
		config  map[string]string
		req     ShiftRequest
		calls   []string
		blocked bool
	}{
		{"canary", map[string]string{}, ShiftRequest{Slot: stack.Blue, To: 10, MaxStep: 50, Health: healthy},
			[]string{"get slotless:blueWeight", "set slotless:blueWeight=10", "get slotless:greenWeight", "up"}, false},
		{"greenWeight kept in step", map[string]string{"slotless:blueWeight": "10", "slotless:greenWeight": "90"}, ShiftRequest{Slot: stack.Blue, To: 50, MaxStep: 50, Health: healthy},
			[]string{"get slotless:blueWeight", "set slotless:blueWeight=50", "get slotless:greenWeight", "set slotless:greenWeight=50", "up"}, false},
		{"jump blocked before any write", map[string]string{}, ShiftRequest{Slot: stack.Blue, To: 100, MaxStep: 50, Health: healthy},
			[]string{"get slotless:blueWeight"}, true},
		{"jump forced", map[string]string{}, ShiftRequest{Slot: stack.Blue, To: 100, MaxStep: 50, Force: true},
			[]string{"get slotless:blueWeight", "set slotless:blueWeight=100", "get slotless:greenWeight", "up"}, false},
		{"unhealthy slot blocked", map[string]string{}, ShiftRequest{Slot: stack.Blue, To: 10, MaxStep: 50, Health: sick},
			[]string{"get slotless:blueWeight"}, true},
		{"no gate configured blocks an advance", map[string]string{}, ShiftRequest{Slot: stack.Blue, To: 10, MaxStep: 50},
			[]string{"get slotless:blueWeight"}, true},
		{"rollback needs no gate and no step", map[string]string{"slotless:blueWeight": "90"}, ShiftRequest{Slot: stack.Blue, To: 0, MaxStep: 10, Health: sick,
			History: func() (stack.Slot, bool) { return stack.Green, true }},
			[]string{"get slotless:blueWeight", "set slotless:blueWeight=0", "get slotless:greenWeight", "up"}, false},
		{"write only", map[string]string{}, ShiftRequest{Slot: stack.Blue, To: 10, MaxStep: 50, Health: healthy, WriteOnly: true},
			[]string{"get slotless:blueWeight", "set slotless:blueWeight=10", "get slotless:greenWeight"}, false},
		{"promote green", map[string]string{"slotless:blueWeight": "100"}, ShiftRequest{Slot: stack.Green, To: 10, MaxStep: 50, Health: healthy},
			[]string{"get slotless:blueWeight", "set slotless:blueWeight=90", "get slotless:greenWeight", "up"}, false},
		{"nothing to do", map[string]string{"slotless:blueWeight": "10"}, ShiftRequest{Slot: stack.Blue, To: 10, MaxStep: 50},
			[]string{"get slotless:blueWeight"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &fakeStack{config: tt.config}
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
		})
	}
}

func TestShiftReportsUpFailureWithTheConfigChanged(t *testing.T) {
	st := &fakeStack{config: map[string]string{}, upErr: errors.New("engine failed")}
	_, err := Shift(context.Background(), st, ShiftRequest{Slot: stack.Blue, To: 10, MaxStep: 50, Force: true}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "the config is already changed") {
		t.Fatalf("got %v, want an error saying the config already changed", err)
	}
}

func TestFileStackKeepsCommentsAndOtherKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "Pulumi.dev.yaml")
	orig := "# traffic lives here\nconfig:\n  azure-native:location: westeurope # region\n  slotless:blueWeight: 0\n"
	if err := os.WriteFile(path, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	fs := FileStack{Path: path}
	if err := fs.SetConfig(context.Background(), "slotless:blueWeight", "10"); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	got := string(raw)
	for _, want := range []string{"# traffic lives here", "azure-native:location: westeurope # region", "slotless:blueWeight: 10"} {
		if !strings.Contains(got, want) {
			t.Errorf("got\n%s\nwant it to contain %q", got, want)
		}
	}
	if v, ok, _ := fs.GetConfig(context.Background(), "slotless:blueWeight"); !ok || v != "10" {
		t.Errorf("read back: got %q %v, want 10", v, ok)
	}
	if _, err := fs.Up(context.Background(), io.Discard); err == nil {
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
