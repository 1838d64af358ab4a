//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/slotless/slotless/internal/plan"
)

// exported is one resource of `pulumi stack export`.
type exported struct {
	URN    string         `json:"urn"`
	Type   string         `json:"type"`
	Custom bool           `json:"custom"`
	Inputs map[string]any `json:"inputs"`
}

// stackExport runs `pulumi stack export` as a user would and returns the stack's resources by
// type and logical name.
func (u *user) stackExport() map[string]exported {
	u.t.Helper()
	var doc struct {
		Deployment struct {
			Resources []exported `json:"resources"`
		} `json:"deployment"`
	}
	if err := json.Unmarshal([]byte(u.sh("pulumi stack export")), &doc); err != nil {
		u.t.Fatalf("pulumi stack export: %v", err)
	}
	out := map[string]exported{}
	for _, r := range doc.Deployment.Resources {
		out[r.Type+"::"+r.URN[strings.LastIndex(r.URN, "::")+2:]] = r
	}
	return out
}

// secretSig is the key Pulumi's state marks a secret value with.
const secretSig = "4dabf18193072939515e22adb298388d"

// plainSecrets replaces each secret of exported state with the offline plan's placeholder.
func plainSecrets(v any) any {
	switch t := v.(type) {
	case map[string]any:
		if _, ok := t[secretSig]; ok {
			return plan.SecretPlaceholder
		}
		out := map[string]any{}
		for k, e := range t {
			out[k] = plainSecrets(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = plainSecrets(e)
		}
		return out
	}
	return v
}

// providerKeys are inputs azure-native's Check adds to what the program registered: the API
// version of every resource, and the create-before-delete flag of a generated name.
var providerKeys = []string{"azureApiVersion", "__createBeforeDelete"}

// mockMarkers are parts of values the mock engine makes up for what only Azure computes: an
// identity's client and principal ids, a workspace's customer id and Application Insights'
// connection string. A planned
// value holding one cannot equal the deployed value. Secrets and unknowns show as placeholders.
var mockMarkers = []string{"client-id-of-", "principal-id-of-", "customer-id-of-", "InstrumentationKey=mock", plan.SecretPlaceholder, "[unknown]"}

// TestPlanAgreesWithEngine: `slotless plan --json` (plan.Run with plan.LoadConfig, the code the
// CLI runs) lists the resources and inputs the engine registered for the same config, after the
// README's deploy. The comparison rule:
//   - resources: the set of (type, logical name) is the same, leaving out what the engine adds
//     itself (the root stack and the default provider);
//   - inputs, per resource, flattened to paths (pool.services[1].weight): the paths are the
//     same, but for the keys azure-native's Check adds (azureApiVersion, __createBeforeDelete,
//     and the name input of a resource whose name it generates);
//   - values: equal, once the mock engine's stand-ins are replaced by the real ones: its
//     subscription by the user's and each generated name (plan.MockAutoName) by the name the
//     engine generated, and the time in the pool's record taken out of the engine's value. A
//     value still holding something the mocks make up for what only Azure
//     computes (mockMarkers) is not compared; a planned "[secret]" must be a secret in state.
func TestPlanAgreesWithEngine(t *testing.T) {
	parallel(t, 5*time.Second)
	// The suite's deployed dev stack is the README's deploy: the subject here is the plan, so it
	// is compared with that stack's state rather than a deploy of its own.
	u := deployed(t)

	cfg, err := plan.LoadConfig(u.dir, "dev")
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Run("dev", cfg)
	if err != nil {
		t.Fatal(err)
	}
	state := u.stackExport()
	for k, r := range state {
		if r.Type == "pulumi:pulumi:Stack" || strings.HasPrefix(r.Type, "pulumi:providers:") {
			delete(state, k)
		}
	}
	diffs, n := comparePlan(p, state, u.sub)
	if len(diffs) > 0 {
		t.Errorf("the plan and the engine disagree in %d places:\n%s", len(diffs), strings.Join(diffs, "\n"))
	}
	t.Logf("compared %d resources: %d input values equal, %d secret in both, %d made up by the mocks", len(state), n.equal, n.secret, n.invented)
	if len(state) < 30 || n.equal < 150 {
		t.Errorf("compared %d resources and %d values; want the whole stack (at least 30 resources, 150 values)", len(state), n.equal)
	}
}

// compared counts the values comparePlan compared, by how.
type compared struct{ equal, secret, invented int }

// comparePlan applies TestPlanAgreesWithEngine's rule and lists each disagreement.
func comparePlan(p *plan.Plan, state map[string]exported, sub string) ([]string, compared) {
	var diffs []string
	var n compared
	planned := map[string]plan.Resource{}
	for _, r := range p.Resources {
		planned[r.Type+"::"+r.Name] = r
	}
	var keys []string
	for k := range planned {
		keys = append(keys, k)
	}
	for k := range state {
		if _, ok := planned[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)

	// The mock engine's stand-ins, and what the engine has in their place.
	real := []string{plan.MockSubscription, sub}
	for _, k := range keys {
		r, ok := planned[k]
		s, deployed := state[k]
		if !ok || !deployed {
			continue
		}
		key := plan.NameKey(r.Type)
		if _, named := r.Inputs[key]; key != "" && !named {
			if name, _ := s.Inputs[key].(string); name != "" {
				real = append(real, plan.MockAutoName(r.Type, r.Name), name)
			}
		}
	}
	toReal := strings.NewReplacer(real...)

	for _, k := range keys {
		r, ok := planned[k]
		s, deployed := state[k]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s: registered by the engine, not in the plan", k))
			continue
		case !deployed:
			diffs = append(diffs, fmt.Sprintf("%s: in the plan, not registered by the engine", k))
			continue
		}
		want := plan.Flatten(r.Inputs)
		got := plan.Flatten(plainSecrets(s.Inputs).(map[string]any))
		for path := range got {
			top, _, _ := strings.Cut(strings.SplitN(path, "[", 2)[0], ".")
			_, planned := r.Inputs[top]
			if slices.Contains(providerKeys, top) || (top == plan.NameKey(r.Type) && !planned) {
				delete(got, path)
			}
		}
		var paths []string
		for path := range want {
			paths = append(paths, path)
		}
		for path := range got {
			if _, ok := want[path]; !ok {
				paths = append(paths, path)
			}
		}
		sort.Strings(paths)
		for _, path := range paths {
			w, inPlan := want[path]
			g, inState := got[path]
			switch {
			case !inPlan:
				diffs = append(diffs, fmt.Sprintf("%s: input %s = %s registered by the engine, not in the plan", k, path, g))
			case !inState:
				diffs = append(diffs, fmt.Sprintf("%s: input %s = %s in the plan, not registered by the engine", k, path, w))
			case w == `"`+plan.SecretPlaceholder+`"`:
				if g != w {
					diffs = append(diffs, fmt.Sprintf("%s: input %s is secret in the plan, %s in state", k, path, g))
				}
				n.secret++
			case invented(w):
				n.invented++
			case toReal.Replace(w) != recordTime.ReplaceAllString(g, ""):
				diffs = append(diffs, fmt.Sprintf("%s: input %s: plan %s, engine %s", k, path, toReal.Replace(w), g))
			default:
				n.equal++
			}
		}
	}
	return diffs, n
}

// recordTime is the time in the pool's record (stack.PoolRecord): the engine's run stamps it,
// the plan, which must be the same whenever it runs, leaves it out.
var recordTime = regexp.MustCompile(` at \d{4}-\d\d-\d\dT[^;\]]+`)

func invented(v string) bool {
	for _, m := range mockMarkers {
		if strings.Contains(v, m) {
			return true
		}
	}
	return false
}
