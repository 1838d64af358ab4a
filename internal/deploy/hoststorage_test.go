package deploy

import (
	"errors"
	"strings"
	"testing"

	"github.com/slotless/slotless/stack"
)

// TestCheckHostStorage: a slot listed in sharedHostStorage, by the stack file or by the deployed
// stack, is refused with an error naming the key, the slot, where it is listed and what to do;
// a slot listed nowhere is not, whatever the other slot's listing.
func TestCheckHostStorage(t *testing.T) {
	for _, tt := range []struct {
		name                 string
		configured, deployed []stack.Slot
		want                 string // "" when allowed
	}{
		{"listed nowhere", nil, nil, ""},
		{"only the other slot", []stack.Slot{stack.Green}, []stack.Slot{stack.Green}, ""},
		{"the stack file", []stack.Slot{stack.Blue}, nil, "sharedHostStorage: blue is listed (in the stack file Pulumi.prod.yaml), so its identity holds Storage Blob Data Owner on the whole shared account, where green's deployment package is too"},
		{"the deployed stack", nil, []stack.Slot{stack.Green, stack.Blue}, "(in the deployed stack prod)"},
		{"both", []stack.Slot{stack.Blue}, []stack.Slot{stack.Blue}, "(in the stack file Pulumi.prod.yaml and the deployed stack prod)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckHostStorage(stack.Blue, "prod", tt.configured, tt.deployed)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("got %v, want allowed", err)
				}
				return
			}
			var e *SharedHostStorageError
			if !errors.As(err, &e) || e.Slot != stack.Blue || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "take it out of sharedHostStorage in the stack file and run pulumi up, then deploy") {
				t.Fatalf("got %v, want a *SharedHostStorageError with %q and what to do", err, tt.want)
			}
		})
	}
}
