package stack

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// secretHook stands for a real webhook URL: whatever the error, it must never be quoted.
const secretHook = "https://hooks.slack.com/services/T000/B000/SECRETSECRETSECRET"

func TestParseNotify(t *testing.T) {
	many := make([]string, MaxNotifyTargets+1)
	for i := range many {
		many[i] = `{"kind": "json", "url": "https://example.com/hook"}`
	}
	tests := []struct {
		name    string
		raw     string
		want    []NotifyTarget
		wantErr []string
	}{
		{"unset", "", nil, nil},
		{"one of each kind, decrypted as pulumi up and the CLI see them", `[{"kind": "slack", "url": "` + secretHook + `"}, {"kind": "teams", "url": "https://prod-01.westeurope.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?sig=SECRET"}, {"kind": "json", "url": "https://ops.example.com/slotless"}]`,
			[]NotifyTarget{{NotifySlack, secretHook}, {NotifyTeams, "https://prod-01.westeurope.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?sig=SECRET"}, {NotifyJSON, "https://ops.example.com/slotless"}}, nil},
		{"offline: every URL encrypted", `[{"kind": "slack", "url": "` + OfflineSecret + `"}]`, []NotifyTarget{{NotifySlack, OfflineSecret}}, nil},
		{"offline: the whole list encrypted", OfflineSecret, nil, nil},
		{"http to a loopback address, for a local receiver", `[{"kind": "json", "url": "http://127.0.0.1:8080/hook"}, {"kind": "json", "url": "http://localhost/hook"}, {"kind": "json", "url": "http://[::1]:9/hook"}]`,
			[]NotifyTarget{{NotifyJSON, "http://127.0.0.1:8080/hook"}, {NotifyJSON, "http://localhost/hook"}, {NotifyJSON, "http://[::1]:9/hook"}}, nil},
		{"an unknown kind names the index and the kinds", `[{"kind": "slack", "url": "` + secretHook + `"}, {"kind": "discord", "url": "` + secretHook + `"}]`, nil,
			[]string{`notify[1].kind: "discord" is not valid, want one of slack, teams, json`}},
		{"no kind", `[{"url": "` + secretHook + `"}]`, nil, []string{"notify[0].kind: is not set, want one of slack, teams, json"}},
		{"a kind that is not a string", `[{"kind": 3, "url": "` + secretHook + `"}]`, nil, []string{"notify[0].kind: is a float64, want one of slack, teams, json"}},
		{"no url says how to set it", `[{"kind": "teams"}]`, nil, []string{"notify[0].url: is not set; set it with pulumi config set --secret --path 'notify[0].url' <the webhook's URL>"}},
		{"http to another host", `[{"kind": "slack", "url": "http://hooks.slack.com/services/T000/B000/SECRETSECRETSECRET"}]`, nil,
			[]string{"notify[0].url: the value (secret, 60 characters) is an http URL to a host that is not a loopback address: want https"}},
		{"not a URL", `[{"kind": "slack", "url": "hooks.slack.com/SECRETSECRETSECRET"}]`, nil, []string{"notify[0].url: the value (secret, 34 characters) is not an absolute https URL"}},
		{"another scheme", `[{"kind": "slack", "url": "ftp://hooks.slack.com/SECRETSECRETSECRET"}]`, nil, []string{"notify[0].url: the value (secret, 40 characters) is not an absolute https URL"}},
		{"offline: a URL in plain text beside encrypted ones", `[{"kind": "slack", "url": "` + OfflineSecret + `"}, {"kind": "teams", "url": "` + secretHook + `"}]`, nil,
			[]string{"notify[1].url: is in plain text in the stack file; a webhook URL is a credential: encrypt it with pulumi config set --secret --path 'notify[1].url' <the webhook's URL>"}},
		{"an unknown field", `[{"kind": "json", "url": "` + secretHook + `", "channel": "#ops"}]`, nil, []string{"notify[0].channel: unknown field, want kind and url"}},
		{"an action group says why there is none", `[{"kind": "json", "url": "` + secretHook + `", "actionGroup": "/subscriptions/x/resourceGroups/y/providers/Microsoft.Insights/actionGroups/oncall"}]`, nil,
			[]string{"notify[0].actionGroup: not supported: Azure Monitor has no supported way to trigger an action group on demand"}},
		{"more than ten", "[" + strings.Join(many, ",") + "]", nil, []string{"notify: 11 targets, want at most 10"}},
		{"not a list", `{"kind": "slack"}`, nil, []string{"notify: not a JSON list"}},
		{"an entry that is not an object", `["` + secretHook + `"]`, nil, []string{`notify[0]: is not an object, want {"kind": ..., "url": ...}`}},
		{"every bad field of every target, one line each", `[{"kind": "irc"}, {"url": 7}]`, nil, []string{
			`notify[0].kind: "irc" is not valid`, "notify[0].url: is not set", "notify[1].kind: is not set", "notify[1].url: is a float64, want the webhook's URL as a string"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := map[string]string{}
			if tt.raw != "" {
				set["notify"] = tt.raw
			}
			c, err := Parse(source(set))
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("got %v, want errors", c.Notify)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error\n%v\nwant it to contain %q", err, w)
					}
				}
				if n := strings.Count(err.Error(), "\n") + 1; n != len(tt.wantErr) {
					t.Errorf("got %d lines, want one per bad field (%d):\n%v", n, len(tt.wantErr), err)
				}
				if strings.Contains(err.Error(), "SECRET") {
					t.Errorf("the error quotes a webhook URL:\n%v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Notify) != len(tt.want) {
				t.Fatalf("got %d targets, want %d", len(c.Notify), len(tt.want))
			}
			for i, w := range tt.want {
				if c.Notify[i].Kind != w.Kind || c.Notify[i].URL.Reveal() != w.URL.Reveal() {
					t.Errorf("target %d: got %s %q, want %s %q", i, c.Notify[i].Kind, c.Notify[i].URL.Reveal(), w.Kind, w.URL.Reveal())
				}
			}
		})
	}
}

// TestSecretURLNeverShows: a config printed with %v or %+v, or marshalled, shows no webhook URL.
func TestSecretURLNeverShows(t *testing.T) {
	targets := []NotifyTarget{{NotifySlack, secretHook}}
	raw, err := json.Marshal(targets)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{fmt.Sprint(targets), fmt.Sprintf("%+v", targets), fmt.Sprintf("%#v", targets), string(raw)} {
		if strings.Contains(s, "SECRET") || !strings.Contains(s, "[secret]") {
			t.Errorf("got %s, want the URL shown as [secret]", s)
		}
	}
}

func TestNotifySecretProblem(t *testing.T) {
	one := []NotifyTarget{{NotifyJSON, "https://example.com/hook"}}
	tests := []struct {
		name    string
		targets []NotifyTarget
		secret  bool
		want    string
	}{
		{"no targets", nil, false, ""},
		{"encrypted", one, true, ""},
		{"every URL in plain text", one, false, "notify: the webhook URLs are in plain text in the stack file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NotifySecretProblem("notify", tt.targets, tt.secret)
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
