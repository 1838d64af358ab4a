package dist

import (
	"strings"
	"testing"
)

// TestSumFor: SHA256SUMS is read as install.sh reads it: the file in text or binary mode, the
// first line naming it; a file it does not list, or a line that is no SHA-256, is refused.
func TestSumFor(t *testing.T) {
	const a = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	const b = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
	sums := a + "  slotless_v1.0.0_linux_amd64.tar.gz\n" + b + " *install.sh\n" + a + "  slotless_v1.0.0_darwin_arm64.tar.gz\nnot-a-sum  broken.tar.gz\n"
	tests := []struct {
		name, file, want, err string
	}{
		{"text mode", "slotless_v1.0.0_linux_amd64.tar.gz", a, ""},
		{"binary mode", "install.sh", b, ""},
		{"not listed", "slotless_v1.0.0_windows_amd64.zip", "", "has no line for slotless_v1.0.0_windows_amd64.zip"},
		{"a prefix of a listed name", "slotless_v1.0.0_linux", "", "has no line"},
		{"not a SHA-256", "broken.tar.gz", "", "not a SHA-256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SumFor([]byte(sums), tt.file)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %q, %v; want an error containing %q", got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
