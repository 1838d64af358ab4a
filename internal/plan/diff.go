package plan

import (
	"sort"
	"strings"
)

// ChangeKind says what happens to a resource between two plans.
type ChangeKind string

// The kinds of change.
const (
	Create ChangeKind = "create"
	Delete ChangeKind = "delete"
	Update ChangeKind = "update"
)

// PropertyChange is one input path whose value differs. An empty Before or After means absent.
type PropertyChange struct {
	Path   string `json:"path"`
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
}

// Change is one resource that differs between two plans.
type Change struct {
	Type       string           `json:"type"`
	Name       string           `json:"name"`
	Kind       ChangeKind       `json:"kind"`
	Properties []PropertyChange `json:"properties,omitempty"`
}

// Diff lists the resources whose inputs differ from before to after, as `pulumi up` would see
// them: inputs the after-plan marks ignoreChanges are left out, as the engine leaves them.
func Diff(before, after *Plan) []Change {
	key := func(r Resource) string { return r.Type + "\x00" + r.Name }
	old := map[string]Resource{}
	for _, r := range before.Resources {
		old[key(r)] = r
	}
	var changes []Change
	seen := map[string]bool{}
	for _, r := range after.Resources {
		k := key(r)
		seen[k] = true
		prev, ok := old[k]
		if !ok {
			changes = append(changes, Change{Type: r.Type, Name: r.Name, Kind: Create})
			continue
		}
		if props := diffInputs(prev.Inputs, r.Inputs, r.IgnoreChanges); len(props) > 0 {
			changes = append(changes, Change{Type: r.Type, Name: r.Name, Kind: Update, Properties: props})
		}
	}
	for _, r := range before.Resources {
		if !seen[key(r)] {
			changes = append(changes, Change{Type: r.Type, Name: r.Name, Kind: Delete})
		}
	}
	sort.Slice(changes, func(i, j int) bool {
		if changes[i].Type != changes[j].Type {
			return changes[i].Type < changes[j].Type
		}
		return changes[i].Name < changes[j].Name
	})
	return changes
}

func diffInputs(before, after map[string]any, ignore []string) []PropertyChange {
	b, a := Flatten(before), Flatten(after)
	paths := map[string]bool{}
	for p := range b {
		paths[p] = true
	}
	for p := range a {
		paths[p] = true
	}
	var out []PropertyChange
	for p := range paths {
		if ignored(p, ignore) || b[p] == a[p] {
			continue
		}
		out = append(out, PropertyChange{Path: p, Before: b[p], After: a[p]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// ignored matches a flattened path against ignoreChanges paths, which name a property or a
// prefix of one.
func ignored(path string, ignore []string) bool {
	for _, i := range ignore {
		if path == i || strings.HasPrefix(path, i+".") || strings.HasPrefix(path, i+"[") {
			return true
		}
	}
	return false
}
