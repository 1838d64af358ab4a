package stack_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/slotless/slotless/internal/plan"
	"github.com/slotless/slotless/stack"
)

// TestWatcherIsDeclared: on by default, the watcher is a Flex app running the custom handler
// runtime with its own identity and host storage; its secrets are Pulumi secrets; its roles read
// and query, and write traffic on the pool and current-slot-name alone, never deploy or read a
// key; watcher false declares none of it.
func TestWatcherIsDeclared(t *testing.T) {
	const token = "0123456789abcdef0123"
	p := runPlan(t, map[string]string{"pinToken": token, "watcherSchedule": "*/20 * * * * *"})
	app := plan.Flatten(find(t, p, "azure-native:web:WebApp", "watcher-app").Inputs)
	for path, want := range map[string]string{
		"functionAppConfig.runtime.name": `"custom"`, "functionAppConfig.runtime.version": `"1.0"`,
		"functionAppConfig.scaleAndConcurrency.instanceMemoryMB": fmt.Sprint(stack.WatcherInstanceMemoryMB),
		"identity.type": `"UserAssigned"`, "httpsOnly": "true",
	} {
		if got := app[path]; got != want {
			t.Errorf("watcher app %s: got %s, want %s", path, got, want)
		}
	}
	settings := map[string]string{}
	for i := 0; ; i++ {
		name, ok := app[fmt.Sprintf("siteConfig.appSettings[%d].name", i)]
		if !ok {
			break
		}
		settings[strings.Trim(name, `"`)] = app[fmt.Sprintf("siteConfig.appSettings[%d].value", i)]
	}
	for _, k := range []string{stack.EnvWatcherConfig, stack.EnvWatcherOutputs, stack.EnvWatcherSchedule, stack.EnvWatcherPinToken, "AZURE_CLIENT_ID", "AzureWebJobsStorage__credential"} {
		if _, ok := settings[k]; !ok {
			t.Errorf("watcher app has no setting %s", k)
		}
	}
	// The history's URL among the outputs it judges by: its lease, cursor and records.
	var outs map[string]any
	if raw, err := strconv.Unquote(settings[stack.EnvWatcherOutputs]); err != nil || json.Unmarshal([]byte(raw), &outs) != nil {
		t.Errorf("outputs setting %s: want a JSON object", settings[stack.EnvWatcherOutputs])
	}
	account := strings.Trim(find(t, p, "azure-native:storage:BlobContainer", "history").Inputs["accountName"].(string), `"`)
	if got, want := outs[stack.OutHistoryURL], "https://"+account+".blob.core.windows.net/"+stack.HistoryContainerName; got != want {
		t.Errorf("outputs setting %s: got %v, want %s", stack.OutHistoryURL, got, want)
	}
	if got := settings[stack.EnvWatcherSchedule]; got != `"*/20 * * * * *"` {
		t.Errorf("schedule setting %s, want the config's", got)
	}
	for k, v := range settings {
		if strings.Contains(v, token) {
			t.Errorf("setting %s holds the pinning token in plain text", k)
		}
	}
	find(t, p, "azure-native:web:WebAppScmAllowed", "watcher-scm-basic-auth")
	for _, r := range p.Resources {
		if r.Type != "azure-native:authorization:RoleDefinition" || !strings.HasPrefix(r.Name, "watcher") {
			continue
		}
		flat := plan.Flatten(r.Inputs)
		for i := 0; ; i++ {
			a, ok := flat[fmt.Sprintf("permissions[0].actions[%d]", i)]
			if !ok {
				break
			}
			a = strings.Trim(a, `"`)
			if strings.Contains(a, "Microsoft.Web/") || strings.Contains(a, "listValue") || strings.Contains(a, "Microsoft.Authorization/") || strings.Contains(a, "*") {
				t.Errorf("%s action %s: the watcher never deploys, reads a key or changes roles", r.Name, a)
			}
			if strings.HasSuffix(a, "/write") && r.Name != "watcher-traffic-role" {
				t.Errorf("%s action %s: writes belong to the traffic role, assigned on the pool and current-slot-name alone", r.Name, a)
			}
		}
	}
	var traffic []string
	for _, r := range p.Resources {
		if r.Type == "azure-native:authorization:RoleAssignment" && strings.HasPrefix(r.Name, "watcher-traffic-") {
			traffic = append(traffic, r.Name)
		}
	}
	if strings.Join(traffic, ",") != "watcher-traffic-current,watcher-traffic-pool" {
		t.Errorf("watcher traffic assignments %v, want on current-slot-name and the pool only", traffic)
	}

	off := runPlan(t, map[string]string{"watcher": "false"})
	for _, r := range off.Resources {
		if strings.HasPrefix(r.Name, "watcher") {
			t.Errorf("watcher false still declares %s %s", r.Type, r.Name)
		}
	}
}

// TestWatcherHasASubscriptionKey: when the API requires a subscription key (the default), the
// watcher gets a subscription of its own, active, scoped to this API alone and without
// tracing, and its key, read with listSubscriptionSecrets, as a secret setting; without the
// requirement, or without the watcher, there is neither.
func TestWatcherHasASubscriptionKey(t *testing.T) {
	for _, tt := range []struct {
		name      string
		overrides map[string]string
		want      bool
	}{
		{"the default", nil, true},
		{"no key required", map[string]string{"subscriptionRequired": "false"}, false},
		{"no watcher", map[string]string{"watcher": "false"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := runPlan(t, tt.overrides)
			sub := p.Find("azure-native:apimanagement:Subscription", "watcher-subscription")
			if (sub != nil) != tt.want {
				t.Fatalf("watcher subscription declared: got %v, want %v", sub != nil, tt.want)
			}
			if !tt.want {
				return
			}
			api := plan.MockAutoName("azure-native:apimanagement:Api", "api")
			if id := strings.Trim(plan.Flatten(find(t, p, "azure-native:apimanagement:Api", "api").Inputs)["apiId"], `"`); id != "" {
				api = id
			}
			in := plan.Flatten(sub.Inputs)
			for path, want := range map[string]string{"scope": `"/apis/` + api + `"`, "state": `"active"`, "allowTracing": "false"} {
				if in[path] != want {
					t.Errorf("watcher subscription %s: got %s, want %s", path, in[path], want)
				}
			}
			app := plan.Flatten(find(t, p, "azure-native:web:WebApp", "watcher-app").Inputs)
			found := false
			for i := 0; ; i++ {
				name, ok := app[fmt.Sprintf("siteConfig.appSettings[%d].name", i)]
				if !ok {
					break
				}
				if name != `"`+stack.EnvWatcherSubscriptionKey+`"` {
					continue
				}
				found = true
				sid := plan.MockAutoName("azure-native:apimanagement:Subscription", "watcher-subscription")
				if v := app[fmt.Sprintf("siteConfig.appSettings[%d].value", i)]; strings.Contains(v, "mock-primary-key-of-"+sid) || v != `"[secret]"` {
					t.Errorf("the subscription key setting: got %s, want it a secret", v)
				}
			}
			if !found {
				t.Errorf("watcher app has no setting %s", stack.EnvWatcherSubscriptionKey)
			}
		})
	}
}

// TestWatcherReadsWhereTheStackIs: the watcher's reads and query are assigned where it reads,
// as the release role's are: the stack's group, a reused API Management service in another
// group (the pool and current-slot-name are there), and the team's telemetry outside the group
// (the metrics gate queries its workspace); each is an assignable scope of its roles.
func TestWatcherReadsWhereTheStackIs(t *testing.T) {
	group := "/subscriptions/" + plan.MockSubscription + "/resourceGroups/slotless-test-rg"
	shared := "/subscriptions/" + plan.MockSubscription + "/resourceGroups/shared-rg/providers/Microsoft.ApiManagement/service/shared-apim"
	for _, tt := range []struct {
		name      string
		overrides map[string]string
		want      map[string]string // assignment logical name -> scope
	}{
		{"own service", nil, map[string]string{"watcher-group": group}},
		{"reused service elsewhere", map[string]string{"apimName": "shared-apim", "apimResourceGroupName": "shared-rg", "publisherEmail": "<unset>"},
			map[string]string{"watcher-group": group, "watcher-service": shared}},
		{"reused service in the stack's group", map[string]string{"apimName": "shared-apim", "apimResourceGroupName": "slotless-test-rg", "publisherEmail": "<unset>"},
			map[string]string{"watcher-group": group}},
		{"the team's telemetry elsewhere", map[string]string{"appInsightsResourceId": teamComponent},
			map[string]string{"watcher-group": group, "watcher-telemetry-component": mockTeamComponent, "watcher-telemetry-workspace": mockTeamWorkspace}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := &plan.Mocks{}
			if err := runWith(t, m, tt.overrides); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, r := range m.Recorded {
				if r.Type == "azure-native:authorization:RoleAssignment" && strings.HasPrefix(r.Name, "watcher-") && !strings.HasPrefix(r.Name, "watcher-traffic-") && !strings.HasPrefix(r.Name, "watcher-host-") && r.Name != "watcher-deploy-blob-contributor" {
					got[r.Name] = strings.Trim(flatOf(&r)["scope"], `"`)
				}
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("the watcher's read assignments: got %v, want %v", got, tt.want)
			}
			role := flatOf(recorded(m, "azure-native:authorization:RoleDefinition", "watcher-role"))
			var assignable []string
			for i := 0; ; i++ {
				s, ok := role[fmt.Sprintf("assignableScopes[%d]", i)]
				if !ok {
					break
				}
				assignable = append(assignable, strings.Trim(s, `"`))
			}
			want := slices.Sorted(maps.Values(tt.want))
			if slices.Sort(assignable); !slices.Equal(assignable, want) {
				t.Errorf("the watcher role's assignable scopes: got %v, want %v", assignable, want)
			}
		})
	}
}
