package watcher

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/slotless/slotless/stack"
)

// TestLoadNamesWhatIsMissing: a tick reads everything it judges by from its settings, and a
// setting or output the stack did not write is named, the history's URL among them (without it
// a tick has no lease, cursor or record).
func TestLoadNamesWhatIsMissing(t *testing.T) {
	outputs := map[string]any{
		stack.OutAPIURL: "https://apim.azure-api.net/slotless", stack.OutPoolID: "/subscriptions/s/resourceGroups/g/providers/Microsoft.ApiManagement/service/a/backends/green-blue-pool",
		stack.OutWorkspaceID: "w", stack.OutAppName(stack.Green): "green-app1", stack.OutAppName(stack.Blue): "blue-app1",
		stack.OutHistoryURL: "https://storage1.blob.core.windows.net/history",
	}
	env := func(drop string) func(string) string {
		outs := map[string]any{}
		for k, v := range outputs {
			if k != drop {
				outs[k] = v
			}
		}
		raw, _ := json.Marshal(outs)
		m := map[string]string{
			EnvStack: "dev", EnvProject: "slotless", EnvConfig: `{"azure-native:location":"westeurope","publisherEmail":"ops@example.com"}`,
			EnvPinToken: "0123456789abcdef0123", EnvOutputs: string(raw),
		}
		delete(m, drop)
		return func(k string) string { return m[k] }
	}
	tests := []struct {
		drop, want string
	}{
		{"", ""},
		{stack.OutHistoryURL, EnvOutputs + ": no " + stack.OutHistoryURL},
		{stack.OutPoolID, EnvOutputs + ": no " + stack.OutPoolID},
		{EnvPinToken, EnvPinToken + ": not set"},
		{EnvStack, EnvStack + ": not set"},
	}
	for _, tt := range tests {
		t.Run("without "+tt.drop, func(t *testing.T) {
			s, err := Load(env(tt.drop))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("got %v, want the settings read", err)
			case tt.want == "":
				if got, _ := s.Outputs[stack.OutHistoryURL].(string); got != outputs[stack.OutHistoryURL] {
					t.Errorf("history URL: got %q", got)
				}
			case err == nil || !strings.Contains(err.Error(), tt.want):
				t.Errorf("got %v, want an error naming %q", err, tt.want)
			}
		})
	}
}
