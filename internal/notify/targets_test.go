package notify

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/slotless/slotless/stack"
)

// decrypted is a stack's config as `pulumi config --show-secrets` gives it.
type decrypted struct {
	value         string
	secret, found bool
	err           error
}

func (d decrypted) DecryptedConfig(_ context.Context, key string) (string, bool, bool, error) {
	if key != ConfigKey {
		return "", false, false, errors.New("asked for " + key)
	}
	return d.value, d.secret, d.found, d.err
}

func TestTargets(t *testing.T) {
	const hook = "https://hooks.slack.com/services/T0/B0/SECRETSECRET"
	for _, tt := range []struct {
		name    string
		cfg     decrypted
		want    []stack.NotifyTarget
		wantErr string
	}{
		{"not set: nobody to tell", decrypted{}, nil, ""},
		{"set with --secret --path", decrypted{value: `[{"kind": "slack", "url": "` + hook + `"}]`, secret: true, found: true},
			[]stack.NotifyTarget{{Kind: stack.NotifySlack, URL: hook}}, ""},
		{"in plain text: refused, not posted", decrypted{value: `[{"kind": "slack", "url": "` + hook + `"}]`, found: true}, nil,
			"notify: the webhook URLs are in plain text in the stack file"},
		{"invalid: refused with every reason", decrypted{value: `[{"kind": "irc", "url": "` + hook + `"}, {"kind": "json", "url": "http://example.com/SECRETSECRET"}]`, secret: true, found: true}, nil,
			`notify[0].kind: "irc" is not valid, want one of slack, teams, json; notify[1].url: the value (secret, 31 characters) is an http URL to a host that is not a loopback address`},
		{"the config cannot be read", decrypted{err: errors.New("error: could not decrypt: incorrect passphrase")}, nil, "could not decrypt: incorrect passphrase"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Targets(context.Background(), tt.cfg)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrNoTargets) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want ErrNoTargets saying %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "SECRET") {
					t.Errorf("the error quotes a URL: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d targets, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if got[i].Kind != tt.want[i].Kind || got[i].URL.Reveal() != tt.want[i].URL.Reveal() {
					t.Errorf("target %d: got %s, want %s", i, got[i].Kind, tt.want[i].Kind)
				}
			}
		})
	}
}
