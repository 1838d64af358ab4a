package stack_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slotless/slotless/internal/gate"
	"github.com/slotless/slotless/stack"
)

// TestReleaseRoleReadsOnlyTheGatesTables: the release role may read the Log Analytics tables in
// stack.GateTables and no other, so those must be every table the metrics gate's query reads.
// The query (gate.BuildQuery, in each of its shapes) reads its first line's table and reaches no
// other: no union, join, lookup, cross-resource function or table() call, any of which would
// need the right to read another table, and would be refused on Azure with the narrowed role.
func TestReleaseRoleReadsOnlyTheGatesTables(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	base := gate.Query{CanaryApp: "app-blue", StableApp: "app-green", ServedFrom: t0, ArrivedFrom: t0.Add(time.Minute), ArrivedTo: t0.Add(6 * time.Minute), HealthPath: "/health"}
	withAll := base
	withAll.FailClientErrors = true
	withAll.Late = 2 * time.Minute
	withAll.Current = t0.Add(3 * time.Minute)
	withAll.Exclude = []gate.Span{{From: t0.Add(time.Minute), To: t0.Add(2 * time.Minute)}}
	reachesOther := regexp.MustCompile(`(?i)\b(union|join|lookup|workspace|app|resource|table|materialize|invoke)\s*\(|\b(union|join|lookup)\b`)
	for _, tt := range []struct {
		name string
		q    gate.Query
	}{{"the plainest window", base}, {"every option", withAll}} {
		t.Run(tt.name, func(t *testing.T) {
			kql := gate.BuildQuery(tt.q)
			source := strings.TrimSpace(strings.SplitN(kql, "\n", 2)[0])
			if !slices.Contains(stack.GateTables, source) {
				t.Errorf("the query reads %q, which the release role may not: add it to stack.GateTables\n%s", source, kql)
			}
			if m := reachesOther.FindString(kql); m != "" {
				t.Errorf("the query reaches another table through %q; the release role reads only %v\n%s", m, stack.GateTables, kql)
			}
		})
	}
	actions := stack.ReleaseActions(&stack.Config{})
	for _, table := range stack.GateTables {
		want := "Microsoft.OperationalInsights/workspaces/query/" + table + "/read"
		if !slices.Contains(actions, want) {
			t.Errorf("release actions %v lack %s", actions, want)
		}
	}
}
