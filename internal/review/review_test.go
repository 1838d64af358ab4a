package review

import (
	"bytes"
	"strings"
	"testing"

	"github.com/slotless/slotless/internal/plan"
	"github.com/slotless/slotless/stack"
)

func planOf(blue int, resources ...plan.Resource) *plan.Plan {
	return &plan.Plan{Stack: "dev", Traffic: plan.Traffic{Green: 100 - blue, Blue: blue}, Resources: resources}
}

func app(name string, memory float64) plan.Resource {
	return plan.Resource{Type: "azure-native:web:WebApp", Name: name, Inputs: map[string]any{"memory": memory}}
}

// warm is an app with n always-ready instances, or none at 0, as the program declares it.
func warm(name string, n float64) plan.Resource {
	sc := map[string]any{"maximumInstanceCount": float64(100)}
	if n > 0 {
		sc["alwaysReady"] = []any{map[string]any{"name": "http", "instanceCount": n}}
	}
	return plan.Resource{Type: "azure-native:web:WebApp", Name: name, Inputs: map[string]any{"functionAppConfig": map[string]any{"scaleAndConcurrency": sc}}}
}

// settings is an app with one setting of the team's, as the program declares it.
func settings(name, value string) plan.Resource {
	return plan.Resource{Type: "azure-native:web:WebApp", Name: name, Inputs: map[string]any{"siteConfig": map[string]any{"appSettings": []any{map[string]any{"name": "Db", "value": value}}}}}
}

// runtime is an app running a language stack, as the program declares it.
func runtime(name, lang, version string) plan.Resource {
	rt := map[string]any{"name": lang, "version": version}
	return plan.Resource{Type: "azure-native:web:WebApp", Name: name, Inputs: map[string]any{"functionAppConfig": map[string]any{"runtime": rt}}}
}

func TestReview(t *testing.T) {
	tests := []struct {
		name       string
		base, head *plan.Plan
		opts       Options
		rules      []string
	}{
		{"small step", planOf(0), planOf(10), Options{MaxStep: 50}, nil},
		{"jump", planOf(0), planOf(100), Options{MaxStep: 50}, []string{"max-step"}},
		{"jump allowed", planOf(0), planOf(100), Options{MaxStep: 50, AllowJump: true}, nil},
		{"rollback", planOf(90), planOf(0), Options{MaxStep: 10, Origin: stack.Green}, nil},
		{"idle slot may change", planOf(0, app("blue-app", 1)), planOf(0, app("blue-app", 2)), Options{MaxStep: 50}, nil},
		// The app's configuration: held on the live slot, so no guard rail, but a note.
		{"live slot keeps its settings", planOf(0, settings("green-app", "a"), settings("blue-app", "a")), planOf(0, settings("green-app", "b"), settings("blue-app", "b")), Options{MaxStep: 50}, nil},
		{"settings of a slot gaining traffic", planOf(0, settings("blue-app", "a")), planOf(10, settings("blue-app", "b")), Options{MaxStep: 50}, []string{"live-slot-change"}},
		{"settings during a release", planOf(10, settings("green-app", "a"), settings("blue-app", "a")), planOf(10, settings("green-app", "b"), settings("blue-app", "b")), Options{MaxStep: 50}, []string{"live-slot-change", "live-slot-change"}},
		{"live slot may not change what is not held", planOf(0, app("green-app", 1)), planOf(0, app("green-app", 2)), Options{MaxStep: 50}, []string{"live-slot-change"}},
		{"slot gaining traffic may not", planOf(0, app("blue-app", 1)), planOf(10, app("blue-app", 2)), Options{MaxStep: 50}, []string{"live-slot-change"}},
		{"live change allowed", planOf(0, app("green-app", 1)), planOf(0, app("green-app", 2)), Options{MaxStep: 50, AllowLiveChange: true}, nil},
		// With alwaysReadyInstances set, the first and last steps of a release change an app's
		// always-ready count: part of the shift, not a change of a live app.
		{"always-ready count following a shift", planOf(0, warm("blue-app", 0)), planOf(10, warm("blue-app", 2)), Options{MaxStep: 50}, nil},
		{"always-ready count following GA", planOf(50, warm("green-app", 2)), planOf(100, warm("green-app", 0)), Options{MaxStep: 50}, nil},
		{"always-ready count changed without a shift", planOf(0, warm("green-app", 2)), planOf(0, warm("green-app", 4)), Options{MaxStep: 50}, []string{"live-slot-change"}},
		// functionRuntime changes both apps' configuration: the live one keeps its own (a note),
		// the idle one takes it.
		{"runtime change", planOf(0, runtime("green-app", "custom", "1.0"), runtime("blue-app", "custom", "1.0")),
			planOf(0, runtime("green-app", "node", "22"), runtime("blue-app", "node", "22")), Options{MaxStep: 50}, nil},
		{"always-ready count with another change", planOf(0, warm("blue-app", 0)), planOf(10, app("blue-app", 2)), Options{MaxStep: 50}, []string{"live-slot-change"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Review(tt.base, tt.head, tt.opts)
			var rules []string
			for _, f := range r.Findings {
				rules = append(rules, f.Rule)
			}
			if strings.Join(rules, ",") != strings.Join(tt.rules, ",") {
				t.Errorf("findings: got %v, want %v", rules, tt.rules)
			}
			if r.OK() != (len(tt.rules) == 0) {
				t.Errorf("OK: got %v with findings %v", r.OK(), rules)
			}
			if held := strings.Contains(tt.name, "keeps its settings") || tt.name == "runtime change"; held != (len(r.Notes) == 1) ||
				held && !strings.Contains(r.Notes[0], "green carries 100% of traffic, so it keeps its configuration until a release makes it idle; pulumi up gives the change") {
				t.Errorf("notes: got %q", r.Notes)
			}
			var md bytes.Buffer
			r.Markdown(&md)
			if tt.base.Traffic.Blue != tt.head.Traffic.Blue && !strings.Contains(md.String(), "blue ") {
				t.Errorf("markdown does not lead with the traffic change:\n%s", md.String())
			}
		})
	}
}
