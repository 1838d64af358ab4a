package notify

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/slotless/slotless/stack"
)

// Payload renders e as kind's webhook expects it.
func Payload(kind stack.NotifyKind, e Event) ([]byte, error) {
	var doc any
	switch kind {
	case stack.NotifySlack:
		doc = slackMessage(e)
	case stack.NotifyTeams:
		doc = teamsMessage(e)
	case stack.NotifyJSON:
		doc = jsonMessage(e)
	default:
		return nil, fmt.Errorf("notify: kind %q: want one of slack, teams, json", kind)
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("notify: render %s: %w", kind, err)
	}
	return []byte(b.String()), nil
}

// fact is one labelled value of a message, the same in every chat format.
type fact struct{ name, value string }

// facts are what a message lists under its headline.
func facts(e Event) []fact {
	var fs []fact
	add := func(name, value string) {
		if value != "" {
			fs = append(fs, fact{name, value})
		}
	}
	add("Stack", strings.TrimPrefix(e.Project+"/"+e.Stack, "/"))
	add("Slot", e.Slot)
	add("Version", e.Version)
	if s := e.Step; s != nil {
		phase := "shifted, baking"
		if s.Phase == "passed" {
			phase = "bake passed"
		}
		add("Step", fmt.Sprintf("%d of %d: %d%% → %d%%, %s", s.Index, s.Of, s.From, s.To, phase))
	}
	if t := e.Traffic; t != nil {
		add("Traffic", fmt.Sprintf("green %d%% / blue %d%%", t.Green, t.Blue))
	}
	add("Reason", e.Reason)
	who := e.By
	if e.Actor != "" {
		who = strings.TrimSpace(fmt.Sprintf("%s, started by %s", e.By, e.Actor))
	}
	add("By", who)
	return fs
}

// Slack: an incoming webhook takes {"text", "blocks"}. With blocks, text is what notifications
// show (mobile notifications use it alone), so it carries the title and the headline; the blocks
// are a header (plain text, at most 150 characters), the headline, the facts as fields, and the
// link as context. Text in mrkdwn escapes &, < and >, which Slack reads as markup.
type slackText struct {
	Type  string `json:"type"`
	Text  string `json:"text"`
	Emoji bool   `json:"emoji,omitempty"`
}

type slackBlock struct {
	Type     string      `json:"type"`
	Text     *slackText  `json:"text,omitempty"`
	Fields   []slackText `json:"fields,omitempty"`
	Elements []slackText `json:"elements,omitempty"`
}

type slackPayload struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

// Slack's limits on a block's text: a header 150 characters, a section 3000, a field 2000, and
// at most 10 fields to a section.
const (
	slackHeaderMax  = 150
	slackSectionMax = 3000
	slackFieldMax   = 2000
	slackFieldsMax  = 10
)

func slackMessage(e Event) slackPayload {
	p := slackPayload{Text: truncate(slackEscape(e.Title+": "+e.Headline), slackSectionMax)}
	p.Blocks = append(p.Blocks,
		slackBlock{Type: "header", Text: &slackText{Type: "plain_text", Text: truncate(severityMark(e.Severity)+e.Title, slackHeaderMax), Emoji: true}},
		slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn", Text: truncate(slackEscape(e.Headline), slackSectionMax)}},
	)
	var fields []slackText
	for _, f := range facts(e) {
		if len(fields) == slackFieldsMax {
			break
		}
		fields = append(fields, slackText{Type: "mrkdwn", Text: truncate("*"+f.name+"*\n"+slackEscape(f.value), slackFieldMax)})
	}
	if len(fields) > 0 {
		p.Blocks = append(p.Blocks, slackBlock{Type: "section", Fields: fields})
	}
	ctx := fmt.Sprintf("slotless · %s · %s", e.Kind, e.At.UTC().Format(time.RFC3339))
	if e.Link != nil {
		ctx = fmt.Sprintf("<%s|%s> · %s", slackEscape(e.Link.URL), slackEscape(e.Link.Text), ctx)
	}
	p.Blocks = append(p.Blocks, slackBlock{Type: "context", Elements: []slackText{{Type: "mrkdwn", Text: ctx}}})
	return p
}

// slackEscape escapes the three characters Slack's mrkdwn reads as markup.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// severityMark starts a title with a sign of how it went, for a channel read at a glance.
func severityMark(s Severity) string {
	switch s {
	case SeveritySuccess:
		return "✅ "
	case SeverityWarning:
		return "⚠️ "
	case SeverityFailure:
		return "🚨 "
	}
	return ""
}

// Teams: a Workflows webhook ("Post to a channel when a webhook request is received") takes a
// message whose attachments are Adaptive Cards, and posts the card; Workflows do not take the
// retired Office 365 connectors' MessageCard. The card is version 1.2, the schema Microsoft's
// webhook example uses: a title, the headline, the facts, and a button to the run.
type teamsPayload struct {
	Type        string            `json:"type"`
	Attachments []teamsAttachment `json:"attachments"`
}

type teamsAttachment struct {
	ContentType string    `json:"contentType"`
	ContentURL  *string   `json:"contentUrl"`
	Content     teamsCard `json:"content"`
}

type teamsCard struct {
	Schema  string        `json:"$schema"`
	Type    string        `json:"type"`
	Version string        `json:"version"`
	Body    []any         `json:"body"`
	Actions []teamsAction `json:"actions,omitempty"`
}

type teamsTextBlock struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	Weight   string `json:"weight,omitempty"`
	Size     string `json:"size,omitempty"`
	Color    string `json:"color,omitempty"`
	IsSubtle bool   `json:"isSubtle,omitempty"`
	Wrap     bool   `json:"wrap"`
}

type teamsFactSet struct {
	Type  string      `json:"type"`
	Facts []teamsFact `json:"facts"`
}

type teamsFact struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

type teamsAction struct {
	Type  string `json:"type"`
	Title string `json:"title"`
	URL   string `json:"url"`
}

func teamsMessage(e Event) teamsPayload {
	card := teamsCard{Schema: "http://adaptivecards.io/schemas/adaptive-card.json", Type: "AdaptiveCard", Version: "1.2"}
	card.Body = append(card.Body,
		teamsTextBlock{Type: "TextBlock", Text: e.Title, Weight: "Bolder", Size: "Medium", Color: teamsColor(e.Severity), Wrap: true},
		teamsTextBlock{Type: "TextBlock", Text: e.Headline, Wrap: true},
	)
	var fs []teamsFact
	for _, f := range facts(e) {
		fs = append(fs, teamsFact{Title: f.name, Value: f.value})
	}
	if len(fs) > 0 {
		card.Body = append(card.Body, teamsFactSet{Type: "FactSet", Facts: fs})
	}
	card.Body = append(card.Body, teamsTextBlock{Type: "TextBlock", Text: fmt.Sprintf("slotless · %s · %s", e.Kind, e.At.UTC().Format(time.RFC3339)), Size: "Small", IsSubtle: true, Wrap: true})
	if e.Link != nil {
		card.Actions = []teamsAction{{Type: "Action.OpenUrl", Title: "Open " + e.Link.Text, URL: e.Link.URL}}
	}
	return teamsPayload{Type: "message", Attachments: []teamsAttachment{{ContentType: "application/vnd.microsoft.card.adaptive", Content: card}}}
}

// teamsColor is a TextBlock's colour for a severity (Adaptive Cards' Default, Good, Warning,
// Attention).
func teamsColor(s Severity) string {
	switch s {
	case SeveritySuccess:
		return "Good"
	case SeverityWarning:
		return "Warning"
	case SeverityFailure:
		return "Attention"
	}
	return "Default"
}

// JSONKind and JSONSchemaVersion name the json format's document, as a run's record is named
// (slotless.release): a receiver tells one from any other JSON, and knows which fields to
// expect. The version goes up when a field changes meaning or goes away; added fields keep it.
const (
	JSONKind          = "slotless.notification"
	JSONSchemaVersion = 1
)

// jsonPayload is the json format, documented in docs/releases.md#the-json-format.
type jsonPayload struct {
	Kind          string    `json:"kind"`
	SchemaVersion int       `json:"schemaVersion"`
	Event         EventKind `json:"event"`
	Severity      Severity  `json:"severity"`
	At            time.Time `json:"at"`
	Project       string    `json:"project,omitempty"`
	Stack         string    `json:"stack"`
	Slot          string    `json:"slot,omitempty"`
	Version       string    `json:"version,omitempty"`
	Title         string    `json:"title"`
	Headline      string    `json:"headline"`
	Outcome       string    `json:"outcome,omitempty"`
	Reason        string    `json:"reason,omitempty"`
	Step          *jsonStep `json:"step,omitempty"`
	Traffic       *Traffic  `json:"traffic,omitempty"`
	By            string    `json:"by,omitempty"`
	Actor         string    `json:"actor,omitempty"`
	Link          *Link     `json:"link,omitempty"`
}

type jsonStep struct {
	Index   int    `json:"index"`
	Of      int    `json:"of"`
	From    int    `json:"from"`
	To      int    `json:"to"`
	Phase   string `json:"phase"`
	Resumed bool   `json:"resumed,omitempty"`
}

func jsonMessage(e Event) jsonPayload {
	p := jsonPayload{
		Kind: JSONKind, SchemaVersion: JSONSchemaVersion, Event: e.Kind, Severity: e.Severity, At: e.At.UTC(),
		Project: e.Project, Stack: e.Stack, Slot: e.Slot, Version: e.Version, Title: e.Title, Headline: e.Headline,
		Outcome: e.Outcome, Reason: e.Reason, Traffic: e.Traffic, By: e.By, Actor: e.Actor, Link: e.Link,
	}
	if s := e.Step; s != nil {
		p.Step = &jsonStep{Index: s.Index, Of: s.Of, From: s.From, To: s.To, Phase: s.Phase, Resumed: s.Resumed}
	}
	return p
}

// truncate cuts s to at most n runes, ending with an ellipsis when cut.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
