package stack

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi-azure-native-sdk/web/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// keyMocks answers the two lookups of a function key: the named value APIM holds, and the
// host's keys, which fail hostFailures times before answering.
type keyMocks struct {
	mu         sync.Mutex
	namedValue error // nil: APIM holds "held-key"
	// heldTags are the held key's tags; none: written before tags were.
	heldTags     []string
	hostFailures int
	hostCalls    int
	// poolBlue, when set, is blue's weight in the pool API Management holds; else it has none.
	poolBlue *int
}

func (m *keyMocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	return args.Name + "-id", args.Inputs, nil
}

func (m *keyMocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch args.Token {
	case "azure-native:apimanagement:getNamedValue":
		if m.namedValue != nil {
			return nil, m.namedValue
		}
		out := map[string]any{"name": "green-function-key", "secret": true}
		if len(m.heldTags) > 0 {
			tags := make([]any, len(m.heldTags))
			for i, t := range m.heldTags {
				tags[i] = t
			}
			out["tags"] = tags
		}
		return resource.NewPropertyMapFromMap(out), nil
	case "azure-native:apimanagement:getBackend":
		if m.poolBlue == nil {
			return nil, errors.New(`Status=404 Code="ResourceNotFound" Message="backend not found"`)
		}
		return resource.NewPropertyMapFromMap(map[string]any{"name": "green-blue-pool", "pool": map[string]any{"services": []any{
			map[string]any{"id": "/x/backends/green-backend", "weight": float64(100 - *m.poolBlue), "priority": 1.0},
			map[string]any{"id": "/x/backends/blue-backend", "weight": float64(*m.poolBlue), "priority": 1.0},
		}}}), nil
	case "azure-native:apimanagement:listNamedValue":
		if m.namedValue != nil {
			return nil, m.namedValue
		}
		return resource.NewPropertyMapFromMap(map[string]any{"value": "held-key"}), nil
	case "azure-native:web:listWebAppHostKeys":
		m.hostCalls++
		if m.hostCalls <= m.hostFailures {
			return nil, errors.New(`Status=400 Code="BadRequest" Message="Encountered an error (ServiceUnavailable) from host runtime."`)
		}
		return resource.NewPropertyMapFromMap(map[string]any{"functionKeys": map[string]any{"default": "host-key"}}), nil
	}
	return nil, errors.New("unexpected call " + args.Token)
}

func TestFunctionKey(t *testing.T) {
	old := keyWait
	keyWait.Budget, keyWait.First, keyWait.Max = 200*time.Millisecond, 10*time.Millisecond, 20*time.Millisecond
	t.Cleanup(func() { keyWait = old })
	notFound := errors.New(`Status=404 Code="ResourceNotFound" Message="named value not found"`)
	tests := []struct {
		name         string
		namedValue   error
		hostFailures int
		want         string
		wantErr      string
		hostCalls    int
		heldTags     []string
		// hostStorage is where the app's host storage is under this update: "own" or "shared".
		hostStorage string
	}{
		{"APIM holds the key: the host is not asked", nil, 1000, "held-key", "", 0, nil, "shared"},
		{"APIM holds this app's key: the host is not asked", nil, 1000, "held-key", "", 0, []string{"app"}, "shared"},
		{"APIM holds this app's key from its own host storage: the host is not asked", nil, 1000, "held-key", "", 0, []string{"app", "host-own"}, "own"},
		{"APIM holds the key of a replaced app: the new app's host", nil, 0, "host-key", "", 1, []string{"app-that-was-replaced"}, "shared"},
		{"a key from before host tags, host storage moved to its own account: the host", nil, 0, "host-key", "", 1, []string{"app"}, "own"},
		{"a key from the shared account, host storage moved to its own: the host", nil, 0, "host-key", "", 1, []string{"app", "host-shared"}, "own"},
		{"a key from its own account, host storage moved back to the shared one: the host", nil, 0, "host-key", "", 1, []string{"app", "host-own"}, "shared"},
		{"first deploy: the host, after it starts", notFound, 2, "host-key", "", 3, nil, "own"},
		{"first deploy, host never starts: a bounded wait", notFound, 1000, "", "not ready after", -1, nil, "own"},
		{"APIM fails otherwise: no silent fallback to the host", errors.New("Status=500 Code=\"InternalServerError\""), 0, "", "read named value", 0, nil, "own"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &keyMocks{namedValue: tt.namedValue, hostFailures: tt.hostFailures, heldTags: tt.heldTags}
			var got string
			var gotErr error
			err := pulumi.RunErr(func(ctx *pulumi.Context) error {
				app, err := web.NewWebApp(ctx, "green-app", &web.WebAppArgs{Name: pulumi.String("app"), ResourceGroupName: pulumi.String("rg")})
				if err != nil {
					return err
				}
				c := &Colour{Slot: Green, App: app, HostStorage: pulumi.String(tt.hostStorage).ToStringOutput(), SharedStorage: pulumi.String("shared").ToStringOutput()}
				key := functionKey(ctx, c, pulumi.String("rg"), pulumi.String("rg"), pulumi.String("apim"), "green-function-key")
				// Exported, so the run fails when the lookup does.
				ctx.Export("key", key.ApplyT(func(k string) string { got = k; return k }))
				return nil
			}, pulumi.WithMocks("slotless", "test", m))
			gotErr = err
			switch {
			case tt.wantErr == "" && gotErr != nil:
				t.Fatalf("got error %v, want key %s", gotErr, tt.want)
			case tt.wantErr != "" && (gotErr == nil || !strings.Contains(gotErr.Error(), tt.wantErr)):
				t.Fatalf("got error %v, want one containing %q", gotErr, tt.wantErr)
			}
			if tt.wantErr == "" && got != tt.want {
				t.Errorf("key: got %q, want %q", got, tt.want)
			}
			if tt.hostCalls >= 0 && m.hostCalls != tt.hostCalls {
				t.Errorf("host calls: got %d, want %d", m.hostCalls, tt.hostCalls)
			}
		})
	}
}
