package watcher

import (
	"strings"
	"testing"
	"time"

	"github.com/slotless/slotless/internal/history"
)

// TestLive: a heartbeat says whether the watcher runs (within StalePeriods of its period), and
// which slotless; a release deploys it when it never ran, stopped or runs another version.
func TestLive(t *testing.T) {
	now := time.Date(2026, 12, 7, 3, 30, 0, 0, time.UTC)
	beat := func(ago time.Duration, version string) history.Heartbeat {
		return history.Heartbeat{Version: version, At: now.Add(-ago), PeriodSeconds: 60, Outcome: "judged", Found: "nothing to watch: one slot carries all the traffic"}
	}
	tests := []struct {
		name   string
		h      history.Heartbeat
		found  bool
		deploy bool
		line   string
	}{
		{"never ran", history.Heartbeat{}, false, true, "it has never run"},
		{"ran a tick ago", beat(50*time.Second, "v1.2.3"), true, false, "watcher: last ran 50s ago (2026-12-07T03:29:10Z), version v1.2.3; found nothing to watch"},
		{"one late occurrence", beat(150*time.Second, "v1.2.3"), true, false, "last ran 2m30s ago"},
		{"down", beat(10*time.Minute, "v1.2.3"), true, true, "it has not run for 10 periods of 60s: it is down"},
		{"another version", beat(30*time.Second, "v1.2.2"), true, true, "version v1.2.2; found nothing to watch: one slot carries all the traffic; this slotless is v1.2.3: the next slotless release deploys it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := Live(tt.h, tt.found, now, "v1.2.3")
			if l.NeedsDeploy() != tt.deploy {
				t.Errorf("needs deploy: got %v, want %v", l.NeedsDeploy(), tt.deploy)
			}
			if !strings.Contains(l.String(), tt.line) {
				t.Errorf("line: got %q, want it to contain %q", l.String(), tt.line)
			}
		})
	}
}

// TestDecideDeploy: a release deploys the watcher when it never ran, stopped or runs another
// version, but not again while its own recent deploy's first tick is due.
func TestDecideDeploy(t *testing.T) {
	now := time.Date(2026, 12, 7, 3, 30, 0, 0, time.UTC)
	at := func(ago time.Duration, version string) history.Heartbeat {
		return history.Heartbeat{Version: version, At: now.Add(-ago), PeriodSeconds: 60}
	}
	none := history.Heartbeat{}
	tests := []struct {
		name     string
		h        history.Heartbeat
		found    bool
		dep      history.Heartbeat
		deployed bool
		deploy   bool
		line     string
	}{
		{"running its version", at(20*time.Second, "v2"), true, none, false, false, "last ran 20s ago"},
		{"never ran, never deployed", none, false, none, false, true, "deploying slotless v2 to it before the first shift"},
		{"never ran, deployed a minute ago", none, false, at(time.Minute, "v2"), true, false, "was deployed to it 1m0s ago, and its first tick is due"},
		{"never ran since a deploy long ago", none, false, at(time.Hour, "v2"), true, true, "deploying"},
		{"another version", at(20*time.Second, "v1"), true, none, false, true, "this slotless is v2"},
		{"another version, v2 deployed since", at(2*time.Minute, "v1"), true, at(time.Minute, "v2"), true, false, "its first tick is due"},
		{"another version ticked after the deploy", at(10*time.Second, "v1"), true, at(time.Minute, "v2"), true, true, "deploying"},
		{"down", at(time.Hour, "v2"), true, none, false, true, "it is down"},
		{"a deploy of another version", none, false, at(time.Minute, "v1"), true, true, "deploying"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			deploy, line := DecideDeploy(tt.h, tt.found, tt.dep, tt.deployed, now, "v2")
			if deploy != tt.deploy || !strings.Contains(line, tt.line) {
				t.Errorf("got %v %q; want %v and a line containing %q", deploy, line, tt.deploy, tt.line)
			}
		})
	}
}
