package stack

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
)

// notify is the list of incoming webhooks a release, a watch and a break-glass rollback tell what
// they did (internal/notify sends the messages). Each target is a webhook URL, a credential: a
// Slack or Teams webhook URL lets anyone who holds it post into the channel, so the stack file
// keeps it encrypted (`pulumi config set --secret --path 'notify[0].url' ...`) and nothing slotless
// writes or prints ever shows it.

// NotifyKind is the message format a webhook expects.
type NotifyKind string

// The formats of notify.
const (
	// NotifySlack is a Slack incoming webhook: {"text": ..., "blocks": [...]}.
	NotifySlack NotifyKind = "slack"
	// NotifyTeams is a Microsoft Teams Workflows webhook ("Post to a channel when a webhook
	// request is received"): a message with one Adaptive Card attachment.
	NotifyTeams NotifyKind = "teams"
	// NotifyJSON is slotless's own JSON document (kind slotless.notification), for any receiver.
	NotifyJSON NotifyKind = "json"
)

// NotifyKinds are the formats a target may have, in the order the messages name them.
var NotifyKinds = []NotifyKind{NotifySlack, NotifyTeams, NotifyJSON}

// MaxNotifyTargets bounds notify: every event is one request per target, sent while the release
// runs, and a channel's webhook rate limit (Teams: 4 a second) is per webhook, not per stack.
const MaxNotifyTargets = 10

// OfflineSecret is what the offline plan gives the program for a value it cannot decrypt
// (internal/plan's stand-in): a check of a secret's contents passes it, since only the program
// running under Pulumi sees the value.
const OfflineSecret = "offline-plan-stand-in-for-an-encrypted-value"

// NotifyTarget is one entry of notify.
type NotifyTarget struct {
	Kind NotifyKind
	// URL is the webhook's URL. It prints and marshals as [secret]; Reveal gives the value to the
	// one place that needs it, the request.
	URL SecretURL
}

// SecretURL is a webhook URL, which is a credential: it never prints or marshals as itself, so
// a %v of a config, an error or a record cannot leak it.
type SecretURL string

// String hides the URL.
func (SecretURL) String() string { return "[secret]" }

// GoString hides the URL from %#v too.
func (SecretURL) GoString() string { return `"[secret]"` }

// MarshalJSON hides the URL from JSON.
func (SecretURL) MarshalJSON() ([]byte, error) { return []byte(`"[secret]"`), nil }

// Reveal is the URL itself, for the request that posts to it.
func (u SecretURL) Reveal() string { return string(u) }

// NotifyAllowed says what notify accepts, for the Keys table and the errors.
const NotifyAllowed = `a JSON list of at most 10 targets, each {"kind": "slack", "teams" or "json", "url": the webhook's https URL set with --secret --path (http only to a loopback address)}`

// notifyFields are the fields a target may have.
var notifyFields = []string{"kind", "url"}

// notify parses the notify key: one error line per bad target field, never showing a URL.
func (p *parser) notify(key string) []NotifyTarget {
	raw, ok := p.src(key)
	if !ok || strings.TrimSpace(raw) == "" {
		return nil
	}
	targets, problems := ParseNotify(key, raw)
	for _, msg := range problems {
		p.failf("%s", msg)
	}
	if len(problems) > 0 {
		return nil
	}
	return targets
}

// ParseNotify validates the value of key (notify) as Pulumi hands it over: the JSON list, with
// every URL decrypted (pulumi up, or the CLI reading the stack's config with its secrets
// provider) or replaced by OfflineSecret (the offline plan). It returns one problem per bad
// field, naming key[index].field and what is allowed; a URL is never part of a problem, since a
// mistyped one is still a credential.
//
// A whole list set with --secret arrives as OfflineSecret offline: nothing can be checked
// then, and the program checks it when it runs.
func ParseNotify(key, raw string) ([]NotifyTarget, []string) {
	if raw == OfflineSecret {
		return nil, nil
	}
	var entries []json.RawMessage
	if err := json.Unmarshal([]byte(raw), &entries); err != nil {
		return nil, []string{fmt.Sprintf("%s: not a JSON list (%v); want %s", key, err, NotifyAllowed)}
	}
	if len(entries) > MaxNotifyTargets {
		return nil, []string{fmt.Sprintf("%s: %d targets, want at most %d", key, len(entries), MaxNotifyTargets)}
	}
	var (
		targets  []NotifyTarget
		problems []string
		// plain and encrypted count the URLs that arrived as themselves and as the offline
		// stand-in: offline, the first are in plain text in the stack file.
		plain, encrypted []int
	)
	for i, entry := range entries {
		at := fmt.Sprintf("%s[%d]", key, i)
		var fields map[string]any
		if err := json.Unmarshal(entry, &fields); err != nil || fields == nil {
			problems = append(problems, fmt.Sprintf("%s: is not an object, want {\"kind\": ..., \"url\": ...}", at))
			continue
		}
		var t NotifyTarget
		bad := false
		for _, name := range sortedKeys(fields) {
			if slices.Contains(notifyFields, name) {
				continue
			}
			bad = true
			if name == "actionGroup" {
				problems = append(problems, fmt.Sprintf("%s.actionGroup: not supported: Azure Monitor has no supported way to trigger an action group on demand (its test-notifications API sends sample alerts, for testing); point an alert rule at the action group instead (docs/releases.md#notifications)", at))
				continue
			}
			problems = append(problems, fmt.Sprintf("%s.%s: unknown field, want %s", at, name, strings.Join(notifyFields, " and ")))
		}
		switch kind := fields["kind"].(type) {
		case nil:
			bad = true
			problems = append(problems, fmt.Sprintf("%s.kind: is not set, want one of %s", at, joinKinds()))
		case string:
			if !slices.Contains(NotifyKinds, NotifyKind(kind)) {
				bad = true
				problems = append(problems, fmt.Sprintf("%s.kind: %q is not valid, want one of %s", at, kind, joinKinds()))
			}
			t.Kind = NotifyKind(kind)
		default:
			bad = true
			problems = append(problems, fmt.Sprintf("%s.kind: is a %s, want one of %s", at, jsonKind(kind), joinKinds()))
		}
		setURL := fmt.Sprintf("pulumi config set --secret --path '%s.url' <the webhook's URL>", at)
		switch u := fields["url"].(type) {
		case nil:
			bad = true
			problems = append(problems, fmt.Sprintf("%s.url: is not set; set it with %s", at, setURL))
		case string:
			t.URL = SecretURL(u)
			if u == OfflineSecret {
				encrypted = append(encrypted, i)
				break
			}
			plain = append(plain, i)
			if why := checkWebhookURL(u); why != "" {
				bad = true
				problems = append(problems, fmt.Sprintf("%s.url: the value (secret, %d characters) %s", at, len(u), why))
			}
		default:
			bad = true
			problems = append(problems, fmt.Sprintf("%s.url: is a %s, want the webhook's URL as a string, set with %s", at, jsonKind(u), setURL))
		}
		if !bad {
			targets = append(targets, t)
		}
	}
	if len(encrypted) > 0 {
		// Offline, an encrypted URL arrives as the stand-in and a plain one as itself; under
		// Pulumi every URL is decrypted and none is the stand-in.
		for _, i := range plain {
			problems = append(problems, fmt.Sprintf("%s[%d].url: is in plain text in the stack file; a webhook URL is a credential: encrypt it with pulumi config set --secret --path '%s[%d].url' <the webhook's URL>", key, i, key, i))
		}
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return targets, nil
}

// NotifySecretProblem is what the program says of a notify list whose URLs are not encrypted:
// Pulumi holds a key as a secret when any value in it was set with --secret, so secret is false
// only when every URL of the list is in plain text in the stack file.
func NotifySecretProblem(key string, targets []NotifyTarget, secret bool) string {
	if len(targets) == 0 || secret {
		return ""
	}
	return fmt.Sprintf("%s: the webhook URLs are in plain text in the stack file; a webhook URL is a credential: encrypt each with pulumi config set --secret --path '%s[0].url' <the webhook's URL>", key, key)
}

// checkWebhookURL says what is wrong with a webhook URL, without quoting it: https only, since
// the URL is the credential and travels in the request line; http only to a loopback address,
// where the request never leaves the machine (a local receiver, a test).
func checkWebhookURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "is not an absolute https URL"
	}
	if u.Scheme == "http" && !loopbackHost(u.Hostname()) {
		return "is an http URL to a host that is not a loopback address: want https, since the URL is the webhook's credential and http would send it in clear (http is allowed only to localhost, 127.0.0.0/8 or ::1, for a local receiver)"
	}
	return ""
}

// loopbackHost reports whether host never leaves the machine: localhost or a loopback address.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func joinKinds() string {
	parts := make([]string, len(NotifyKinds))
	for i, k := range NotifyKinds {
		parts[i] = string(k)
	}
	return strings.Join(parts, ", ")
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
