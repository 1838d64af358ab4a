package release

import (
	"fmt"
	"maps"
	"reflect"
	"slices"

	"github.com/slotless/slotless/internal/engine"
	"github.com/slotless/slotless/stack"
)

// AppChange is what a move of the weights does to one app's Flex always-ready count.
type AppChange struct {
	Slot     stack.Slot
	From, To int
}

func (c AppChange) String() string {
	return fmt.Sprintf("%s always-ready instances %d → %d", stack.AppResourceName(c.Slot), c.From, c.To)
}

// AlwaysReadyChanges lists the apps whose always-ready count a move from one weight to another
// changes, with alwaysReadyInstances n: none when n is 0 and for a step inside a release; the
// release slot's app at the first step (0 → n) and the slot left idle at the last step or a
// rollback (n → 0).
func AlwaysReadyChanges(from, to stack.Weights, n int) []AppChange {
	var out []AppChange
	for _, s := range stack.Slots {
		if a, b := from.AlwaysReady(s, n), to.AlwaysReady(s, n); a != b {
			out = append(out, AppChange{Slot: s, From: a, To: b})
		}
	}
	return out
}

// TrafficWith is the traffic rule of a move that changes these apps' always-ready counts:
// TrafficOnly, plus the update of each listed app whose planned inputs differ from its deployed
// ones in functionAppConfig.scaleAndConcurrency.alwaysReady alone, from exactly the listed count
// to the listed count. Anything else planned for an app (a pending change of its settings, a
// count the weights do not explain, an app the move does not touch) stays outside the traffic
// change, so a shift refuses it and a rollback leaves it for a later up.
func TrafficWith(changes []AppChange) func(engine.Step) bool {
	want := map[string]AppChange{}
	for _, c := range changes {
		want[stack.AppResourceName(c.Slot)] = c
	}
	return func(s engine.Step) bool {
		if TrafficOnly(s) {
			return true
		}
		c, ok := want[s.Name]
		if !ok || s.Type != "azure-native:web:WebApp" || s.Op != "update" {
			return false
		}
		for _, d := range s.Diffs {
			if d != "functionAppConfig" {
				return false
			}
		}
		if s.OldInputs == nil || s.NewInputs == nil {
			return false
		}
		oldRest, oldN, ok1 := splitAlwaysReady(s.OldInputs)
		newRest, newN, ok2 := splitAlwaysReady(s.NewInputs)
		return ok1 && ok2 && oldN == c.From && newN == c.To && reflect.DeepEqual(oldRest, newRest)
	}
}

// splitAlwaysReady returns an app's inputs without functionAppConfig.scaleAndConcurrency.
// alwaysReady, and the always-ready count of the http group in it (0 when there is no entry).
// ok is false when the entry has a shape the program never declares, such as another group.
func splitAlwaysReady(inputs map[string]any) (rest map[string]any, n int, ok bool) {
	rest = maps.Clone(inputs)
	fac, _ := rest["functionAppConfig"].(map[string]any)
	sc, _ := fac["scaleAndConcurrency"].(map[string]any)
	raw, has := sc["alwaysReady"]
	if !has {
		return rest, 0, true
	}
	fac, sc = maps.Clone(fac), maps.Clone(sc)
	delete(sc, "alwaysReady")
	fac["scaleAndConcurrency"] = sc
	rest["functionAppConfig"] = fac
	list, _ := raw.([]any)
	if len(list) != 1 {
		return rest, 0, false
	}
	entry, _ := list[0].(map[string]any)
	count, isNum := entry["instanceCount"].(float64)
	keys := slices.Sorted(maps.Keys(entry))
	if entry["name"] != stack.AlwaysReadyGroup || !isNum || count != float64(int(count)) || !slices.Equal(keys, []string{"instanceCount", "name"}) {
		return rest, 0, false
	}
	return rest, int(count), true
}
