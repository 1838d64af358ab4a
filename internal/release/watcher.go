package release

import (
	"maps"
	"reflect"

	"github.com/slotless/slotless/internal/engine"
	"github.com/slotless/slotless/stack"
)

// WatcherSettingsOnly reports whether a planned step is an update of the watcher's app whose
// inputs differ in siteConfig.appSettings alone. Those settings are the plan the watcher
// judges by (the plan keys of the stack config), the slotless version that wrote them and
// the notify targets, so any `pulumi config set` of a plan key, or a new slotless, changes
// them. A traffic change applies such an update after the traffic, whatever its traffic rule:
// the watcher's app carries no traffic, the release runs by that very config already, and a
// shift, release or rollback refused for it would block what a team does every day. Any
// other change of the watcher (its plan, identity, storage or scale) stays outside, as every
// other pending change does.
func WatcherSettingsOnly(s engine.Step) bool {
	if s.Name != stack.WatcherAppResource || s.Type != "azure-native:web:WebApp" || s.Op != "update" {
		return false
	}
	for _, d := range s.Diffs {
		if d != "siteConfig" {
			return false
		}
	}
	if s.OldInputs == nil || s.NewInputs == nil {
		return false
	}
	oldRest, ok1 := withoutAppSettings(s.OldInputs)
	newRest, ok2 := withoutAppSettings(s.NewInputs)
	return ok1 && ok2 && reflect.DeepEqual(oldRest, newRest)
}

// withoutAppSettings returns an app's inputs without siteConfig.appSettings; ok is false when
// siteConfig is not an object, a shape the program never declares.
func withoutAppSettings(inputs map[string]any) (map[string]any, bool) {
	rest := maps.Clone(inputs)
	raw, has := rest["siteConfig"]
	if !has {
		return rest, true
	}
	sc, ok := raw.(map[string]any)
	if !ok {
		return rest, false
	}
	sc = maps.Clone(sc)
	delete(sc, "appSettings")
	rest["siteConfig"] = sc
	return rest, true
}
