package stack

import (
	"strings"
	"testing"
)

// TestParseWatcherKeys: the watcher is on by default, turns off with false, and its schedule is
// six NCRONTAB fields firing at most 60 s apart; anything else names the key and what it allows.
func TestParseWatcherKeys(t *testing.T) {
	cases := []struct {
		name     string
		set      map[string]string
		on       bool
		schedule string
		err      string
	}{
		{"defaults", nil, true, DefaultWatcherSchedule, ""},
		{"off", map[string]string{"watcher": "false"}, false, DefaultWatcherSchedule, ""},
		{"every 30 s", map[string]string{"watcherSchedule": "*/30 * * * * *"}, true, "*/30 * * * * *", ""},
		{"spaces folded", map[string]string{"watcherSchedule": " 0  */1 * * * * "}, true, "0 */1 * * * *", ""},
		{"not a bool", map[string]string{"watcher": "yes"}, false, "", `watcher: "yes" is not valid, want true or false`},
		{"five fields", map[string]string{"watcherSchedule": "*/1 * * * *"}, false, "", `watcherSchedule: "*/1 * * * *" is not valid, want an NCRONTAB expression of six fields`},
		{"every two minutes", map[string]string{"watcherSchedule": "0 */2 * * * *"}, false, "", "this one leaves more than 60 s between some runs"},
		{"office hours only", map[string]string{"watcherSchedule": "0 * 9-17 * * *"}, false, "", "this one leaves more than 60 s between some runs"},
		{"bad field", map[string]string{"watcherSchedule": "0 */1 * * * Funday"}, false, "", `watcherSchedule: "0 */1 * * * Funday" is not valid`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Parse(source(c.set))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want it to contain %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Watcher != c.on || cfg.WatcherSchedule != c.schedule {
				t.Errorf("watcher %v %q, want %v %q", cfg.Watcher, cfg.WatcherSchedule, c.on, c.schedule)
			}
		})
	}
}
