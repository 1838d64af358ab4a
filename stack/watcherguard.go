package stack

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-azure-native-sdk/apimanagement/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// WatcherBy is who the pool's record names after the watcher rolled a canary back through ARM
// (PoolRecord.By). The watcher cannot write a stack file (it runs in Azure, far from the team's
// repository), so the stack file still holds the weight it rolled back from until someone runs
// slotless record.
const WatcherBy = "slotless watcher (through ARM)"

// KeepWatcherRollback decides the weights of a plain update after a watcher rollback. When
// the pool's record says the watcher set the live weights, the pool still has them, and this
// config's weights are exactly the ones that rollback superseded (the stack file still says
// where the canary stood when it failed), the update keeps the live weights, so it converges
// without moving traffic back onto the failing slot, and warns how to bring the stack file up
// to date. Anything else returns w and no warning, for the traffic guard's usual rules
// (PoolDescription) to decide.
func KeepWatcherRollback(live *LivePool, w Weights, m Mover, stackName string) (Weights, string) {
	if !m.PlainUpdate() || live == nil || live.Weights == w {
		return w, ""
	}
	rec, ok := ParsePoolRecord(live.Description)
	if !ok || rec.By != WatcherBy || rec.Weights != live.Weights || len(rec.Superseded) == 0 {
		return w, ""
	}
	if rec.Superseded[len(rec.Superseded)-1] != w.Blue {
		return w, ""
	}
	when := ""
	if !rec.At.IsZero() {
		when = " at " + rec.At.UTC().Format("2006-01-02T15:04:05Z")
	}
	return live.Weights, fmt.Sprintf("traffic guard: the watcher rolled the canary back to %s%s, and this stack config still has %s, the weights it rolled back from: this update keeps %s and moves no traffic. Bring the stack file up to date with slotless record --stack %s (then commit it)", live.Weights, when, w, live.Weights, stackName)
}

// keepWatcherRollback applies KeepWatcherRollback to cfg before anything is declared: it
// reads the pool the last update wrote (its poolId output) as API Management holds it now. A
// first deploy, a stack without that output or a read that fails leaves cfg as it is, and the
// traffic guard decides as before.
func keepWatcherRollback(ctx *pulumi.Context, cfg *Config, m Mover, last map[string]any) {
	if !m.PlainUpdate() {
		return
	}
	id, _ := last[OutPoolID].(string)
	group, service, backend, ok := splitBackendID(id)
	if !ok {
		return
	}
	got, err := apimanagement.LookupBackend(ctx, &apimanagement.LookupBackendArgs{BackendId: backend, ResourceGroupName: group, ServiceName: service})
	if err != nil {
		return
	}
	live := &LivePool{Weights: poolWeights(got)}
	if got.Description != nil {
		live.Description = *got.Description
	}
	w, warning := KeepWatcherRollback(live, cfg.Weights, m, ctx.Stack())
	if warning != "" {
		_ = ctx.Log.Warn(warning, nil)
		cfg.Weights = w
	}
}

// splitBackendID reads the group, service and backend id of an API Management backend's ARM
// id.
func splitBackendID(id string) (group, service, backend string, ok bool) {
	p := strings.Split(strings.Trim(id, "/"), "/")
	if len(p) != 10 || !strings.EqualFold(p[2], "resourceGroups") || !strings.EqualFold(p[8], "backends") {
		return "", "", "", false
	}
	return p[3], p[7], p[9], true
}
