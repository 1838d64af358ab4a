package engine

import (
	"context"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
)

// fakeCLI is the pulumi CLI as the workspace runs it: it records each command line and answers
// `stack output --json` with outputs. Its Version is not needed here.
type fakeCLI struct {
	auto.PulumiCommand
	outputs string
	ran     *[]string
}

func (f fakeCLI) Run(_ context.Context, _ string, _ io.Reader, _, _ []io.Writer, env []string, args ...string) (string, string, int, error) {
	*f.ran = append(*f.ran, strings.Join(args, " "))
	if slices.Equal(args[:2], []string{"stack", "output"}) {
		return f.outputs, "", 0, nil
	}
	return "[]", "", 0, nil
}

// fakeWorkspace is a local workspace with the fake CLI; what a test does not set panics.
type fakeWorkspace struct {
	auto.Workspace
	cli fakeCLI
}

func (w fakeWorkspace) PulumiCommand() auto.PulumiCommand { return w.cli }
func (fakeWorkspace) PulumiHome() string                  { return "/home/pulumi" }
func (fakeWorkspace) GetEnvVars() map[string]string {
	return map[string]string{"PULUMI_CONFIG_PASSPHRASE": "x"}
}
func (fakeWorkspace) WorkDir() string { return "/project" }

// TestMaskedOutputs: outputs are read with one masked `stack output --json`, never with
// --show-secrets; a secret reads as the sentinel, marked secret; after an update nobody reads
// the result of, neither outputs nor history are read at all.
func TestMaskedOutputs(t *testing.T) {
	const outputs = `{"apiUrl": "https://apim.example.net/slotless", "blueWeight": 10, "pinToken": "[secret]", "apps": {"green": "func-1", "key": "[secret]"}}`
	tests := []struct {
		name    string
		ctx     context.Context
		want    auto.OutputMap
		history string
		ran     []string
	}{
		{"a read", context.Background(), auto.OutputMap{
			"apiUrl":     {Value: "https://apim.example.net/slotless"},
			"blueWeight": {Value: float64(10)},
			"pinToken":   {Value: "[secret]", Secret: true},
			"apps":       {Value: map[string]any{"green": "func-1", "key": "[secret]"}, Secret: true},
		}, "[]", []string{"stack output --json --stack dev", "stack history --json --stack dev"}},
		{"after an update", withoutReadBack(context.Background()), auto.OutputMap{}, "[]", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ran []string
			w := maskedOutputs{fakeWorkspace{cli: fakeCLI{outputs: outputs, ran: &ran}}}
			got, err := w.StackOutputs(tt.ctx, "dev")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("outputs: got %v, want %v", got, tt.want)
			}
			history, _, _, err := w.PulumiCommand().Run(tt.ctx, "/project", nil, nil, nil, nil, "stack", "history", "--json", "--stack", "dev")
			if err != nil || history != tt.history {
				t.Errorf("history: got %q, %v; want %q", history, err, tt.history)
			}
			if !slices.Equal(ran, tt.ran) {
				t.Errorf("commands: got %q, want %q", ran, tt.ran)
			}
		})
	}
}
