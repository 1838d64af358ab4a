//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestACheckoutWhoseStackFileHasItsOwnSalt: a developer followed the README's deploy steps in
// their clone, so `pulumi stack init dev` wrote their passphrase's encryptionsalt into
// Pulumi.dev.yaml. Copied as it is, that file stops every engine scenario (the suite's own
// passphrase cannot open the salt); copied as the suite copies it, it works.
func TestACheckoutWhoseStackFileHasItsOwnSalt(t *testing.T) {
	parallel(t, 5*time.Second)
	dev := newUser(t, newCloud(t), "00000000-0000-0000-0000-00000000d0d0")
	dev.sh("PULUMI_CONFIG_PASSPHRASE='the developer''s own' pulumi stack init dev")
	salted, err := os.ReadFile(filepath.Join(dev.dir, "Pulumi.dev.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(salted), "encryptionsalt:") {
		t.Fatalf("pulumi stack init wrote no salt:\n%s", salted)
	}

	asIs := newUser(t, newCloud(t), "00000000-0000-0000-0000-00000000d0d1")
	if err := os.WriteFile(filepath.Join(asIs.dir, "Pulumi.dev.yaml"), salted, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := asIs.trySh("pulumi stack init dev && pulumi config set --secret pinToken abcdefghijklmnop0123"); err == nil || !strings.Contains(out, "passphrase") {
		t.Fatalf("the salted file copied as it is: got %v\n%s\nwant the passphrase refused (what the suite used to hit)", err, out)
	}

	cleaned, err := withoutSecretsProvider(salted)
	if err != nil {
		t.Fatal(err)
	}
	suite := newUser(t, newCloud(t), "00000000-0000-0000-0000-00000000d0d2")
	if err := os.WriteFile(filepath.Join(suite.dir, "Pulumi.dev.yaml"), cleaned, 0o644); err != nil {
		t.Fatal(err)
	}
	suite.sh("pulumi stack init dev && pulumi config set --secret pinToken abcdefghijklmnop0123")
	if got := strings.TrimSpace(suite.sh("pulumi config get blueWeight")); got != "0" {
		t.Errorf("blueWeight in the cleaned file: got %q, want the committed 0", got)
	}

	if _, err := withoutSecretsProvider([]byte("encryptionsalt: v1:abc\nconfig:\n  slotless:pinToken:\n    secure: v1:xyz\n")); err == nil || !strings.Contains(err.Error(), "slotless:pinToken") {
		t.Errorf("a file with secrets under its own salt: got %v, want them refused by key", err)
	}
}
