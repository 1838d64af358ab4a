package stack_test

import (
	"testing"

	"github.com/slotless/slotless/internal/plan"
	"github.com/slotless/slotless/stack"
)

// TestProviderVersion: every azure-native resource of the program registers with the provider
// version AzureNativeVersion names, so the language host asks the CLI for the provider the
// bindings were generated for.
func TestProviderVersion(t *testing.T) {
	m, err := plan.Execute("test", config(t, map[string]string{"releasePrincipalId": "00000000-0000-0000-0000-0000000000aa"}))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range m.Recorded {
		if !r.Custom {
			continue
		}
		n++
		if r.Version != stack.AzureNativeVersion {
			t.Errorf("%s %s registers with provider version %q, want %s", r.Type, r.Name, r.Version, stack.AzureNativeVersion)
		}
	}
	if n == 0 {
		t.Fatal("no resource registered")
	}
}
