package pin

import (
	"errors"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		name                      string
		running, pinned, recorded string
		wantErr                   string
		wantWarning               string
	}{
		{"pinned and recorded alike", "v1.2.0", "v1.2.0", "v1.2.0", "", ""},
		{"first deploy", "v1.2.0", "v1.2.0", "", "", ""},
		{"no pin", "v1.2.0", "", "v1.1.0", "", ""},
		{"an upgrade: the pin was raised", "v1.3.0", "v1.3.0", "v1.2.0", "", ""},
		{"older than the record", "v1.2.0", "v1.2.0", "v1.3.0", "the stack was last changed by slotless v1.3.0 (its output slotlessVersion), and this is slotless v1.2.0, which would undo what v1.3.0 changed: install slotless v1.3.0 and raise the pin in Pulumi.yaml (runtime.options.version, now v1.2.0)", ""},
		{"older than the record, no pin", "v1.2.0", "", "v1.3.0", "install slotless v1.3.0 (docs/install.md); a rollback works with any version", ""},
		{"newer than the pin", "v1.3.0", "v1.2.0", "v1.2.0", "Pulumi.yaml pins slotless v1.2.0 (runtime.options.version) and this is slotless v1.3.0: install v1.2.0", ""},
		{"older than the pin", "v1.1.0", "v1.2.0", "", "Pulumi.yaml pins slotless v1.2.0 (runtime.options.version) and this is slotless v1.1.0: install v1.2.0", ""},
		{"a pin that is no release", "v1.2.0", "latest", "", `runtime.options.version is "latest", not a slotless release`, ""},
		{"prerelease ordering", "v1.3.0-rc.1", "", "v1.3.0", "install slotless v1.3.0", ""},
		{"development build", "(devel) abc123", "v1.2.0", "v1.3.0", "", "this is a development build of slotless ((devel) abc123); Pulumi.yaml pins slotless v1.2.0"},
		{"record from a development build", "v1.2.0", "v1.2.0", "(devel) abc123", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			warnings, err := Check(tt.running, tt.pinned, tt.recorded)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("got %v, want no refusal", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("got %v, want a refusal containing %q", err, tt.wantErr)
			case err != nil && !errors.Is(err, ErrSkew):
				t.Errorf("%v does not wrap ErrSkew", err)
			}
			if got := strings.Join(warnings, "\n"); !strings.Contains(got, tt.wantWarning) || (tt.wantWarning == "" && got != "") {
				t.Errorf("warnings: got %q, want %q", got, tt.wantWarning)
			}
		})
	}
}

func TestRecord(t *testing.T) {
	tests := []struct{ running, recorded, want string }{
		{"v1.2.0", "", "v1.2.0"},
		{"v1.3.0", "v1.2.0", "v1.3.0"},
		{"v1.2.0", "v1.3.0", "v1.3.0"}, // a rollback under skew keeps the newer record
		{"(devel) abc", "v1.3.0", "v1.3.0"},
		{"(devel) abc", "", "(devel) abc"},
		{"v1.2.0", "(devel) abc", "v1.2.0"},
	}
	for _, tt := range tests {
		if got := Record(tt.running, tt.recorded); got != tt.want {
			t.Errorf("Record(%q, %q) = %q, want %q", tt.running, tt.recorded, got, tt.want)
		}
	}
}
