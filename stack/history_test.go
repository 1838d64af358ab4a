package stack_test

import (
	"strings"
	"testing"

	"github.com/slotless/slotless/internal/plan"
	"github.com/slotless/slotless/stack"
)

// TestHistoryContainer: the stack keeps its history in a private container of the shared
// account, and the writers it grants there are the release identity and the watcher's, with
// Storage Blob Data Contributor scoped to that container alone; without releasePrincipalId and
// the watcher nobody is granted anything there, and no slot's identity ever is.
func TestHistoryContainer(t *testing.T) {
	const principal = "6f1f2a8e-3c1b-4b8e-9a51-2d7c4e0b9f10"
	// The mock's principal id of the watcher's identity (plan.Mocks).
	const watcher = "principal-id-of-watcher-identity"
	for _, tt := range []struct {
		name      string
		overrides map[string]string
		writers   []string
	}{
		{"no release identity, no watcher", map[string]string{"watcher": "false"}, nil},
		{"the release identity", map[string]string{"releasePrincipalId": principal, "watcher": "false"}, []string{principal}},
		{"the watcher", nil, []string{watcher}},
		{"both", map[string]string{"releasePrincipalId": principal}, []string{principal, watcher}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := runPlan(t, tt.overrides)
			c := plan.Flatten(find(t, p, "azure-native:storage:BlobContainer", "history").Inputs)
			if c["containerName"] != `"`+stack.HistoryContainerName+`"` || c["publicAccess"] != `"None"` {
				t.Fatalf("history container: got %v, want %q with no public access", c, stack.HistoryContainerName)
			}
			var writers []string
			for _, r := range p.Resources {
				if r.Type != "azure-native:authorization:RoleAssignment" {
					continue
				}
				in := plan.Flatten(r.Inputs)
				scope := strings.Trim(in["scope"], `"`)
				onHistory := strings.HasSuffix(scope, "/containers/"+stack.HistoryContainerName)
				if strings.HasPrefix(r.Name, "history-writer-") != onHistory {
					t.Errorf("%s scoped at %s: only the history's writers are assigned there, and only there", r.Name, scope)
				}
				if !onHistory {
					continue
				}
				if !strings.HasSuffix(strings.Trim(in["roleDefinitionId"], `"`), "/ba92f5b4-2d11-453d-a403-e96b0029c9fe") {
					t.Errorf("%s: role %s, want Storage Blob Data Contributor", r.Name, in["roleDefinitionId"])
				}
				who := strings.Trim(in["principalId"], `"`)
				if strings.HasPrefix(who, watcher) {
					who = watcher // and eight characters the mock adds
				}
				writers = append(writers, who)
			}
			if strings.Join(writers, ",") != strings.Join(tt.writers, ",") {
				t.Fatalf("the history's writers: got %v, want %v", writers, tt.writers)
			}
		})
	}
}
