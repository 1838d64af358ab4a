package stack

import (
	"strings"
	"testing"
	"time"
)

// TestKeepWatcherRollback: a plain update whose config still has the weights the watcher
// rolled back from keeps the live weights and says how to catch up; anything else is left to
// the traffic guard's usual rules.
func TestKeepWatcherRollback(t *testing.T) {
	at := time.Date(2026, 12, 7, 3, 15, 0, 0, time.UTC)
	released := NextRecord(Weights{100, 0}, "", Weights{90, 10}, Mover{By: "slotless release", At: at})
	watched := NextRecord(Weights{90, 10}, released.String(), Weights{100, 0}, Mover{By: WatcherBy, At: at.Add(time.Hour)})
	at50 := NextRecord(Weights{90, 10}, released.String(), Weights{50, 50}, Mover{By: "slotless release", At: at})
	watched50 := NextRecord(Weights{50, 50}, at50.String(), Weights{100, 0}, Mover{By: WatcherBy, At: at.Add(time.Hour)})
	breakGlass := NextRecord(Weights{90, 10}, released.String(), Weights{100, 0}, Mover{By: "slotless rollback (break-glass, through ARM)", At: at})
	cases := []struct {
		name    string
		live    *LivePool
		w       Weights
		m       Mover
		want    Weights
		warning bool
	}{
		{"stale file after the watcher's rollback", &LivePool{Weights{100, 0}, watched.String()}, Weights{90, 10}, Mover{By: ByPulumiUp}, Weights{100, 0}, true},
		{"file up to date", &LivePool{Weights{100, 0}, watched.String()}, Weights{100, 0}, Mover{By: ByPulumiUp}, Weights{100, 0}, false},
		{"a weight the rollback did not supersede", &LivePool{Weights{100, 0}, watched.String()}, Weights{70, 30}, Mover{By: ByPulumiUp}, Weights{70, 30}, false},
		{"an older superseded weight", &LivePool{Weights{100, 0}, watched50.String()}, Weights{90, 10}, Mover{By: ByPulumiUp}, Weights{90, 10}, false},
		{"the weight just before the rollback", &LivePool{Weights{100, 0}, watched50.String()}, Weights{50, 50}, Mover{By: ByPulumiUp}, Weights{100, 0}, true},
		{"a slotless command", &LivePool{Weights{100, 0}, watched.String()}, Weights{90, 10}, Mover{By: "slotless shift"}, Weights{90, 10}, false},
		{"someone moved the pool after the watcher", &LivePool{Weights{80, 20}, watched.String()}, Weights{90, 10}, Mover{By: ByPulumiUp}, Weights{90, 10}, false},
		{"a break-glass rollback keeps today's rules", &LivePool{Weights{100, 0}, breakGlass.String()}, Weights{90, 10}, Mover{By: ByPulumiUp}, Weights{90, 10}, false},
		{"no pool yet", nil, Weights{90, 10}, Mover{By: ByPulumiUp}, Weights{90, 10}, false},
		{"no record", &LivePool{Weights{100, 0}, "hand-written"}, Weights{90, 10}, Mover{By: ByPulumiUp}, Weights{90, 10}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, warning := KeepWatcherRollback(c.live, c.w, c.m, "dev")
			if got != c.want || (warning != "") != c.warning {
				t.Fatalf("got %s, warning %q; want %s, warning %v", got, warning, c.want, c.warning)
			}
			if c.warning && !strings.Contains(warning, "slotless record --stack dev") {
				t.Errorf("warning %q does not say how to catch up", warning)
			}
			if c.warning {
				// The update then writes the live weights: no traffic moves, and the guard
				// keeps the watcher's record.
				desc, err := PoolDescription(c.live, got, c.m, "dev")
				if err != nil || desc != c.live.Description {
					t.Errorf("PoolDescription after keeping: %q, %v; want the record kept", desc, err)
				}
			}
		})
	}
	// Without the rule, the stale file is refused by the guard, as it was before the watcher.
	if _, err := PoolDescription(&LivePool{Weights{100, 0}, watched.String()}, Weights{90, 10}, Mover{By: ByPulumiUp}, "dev"); err == nil {
		t.Error("the traffic guard lets the stale weights through on its own; the rule above would be moot")
	}
}
