package azurefake

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/structpb"
)

func newServer(t *testing.T) *Server {
	t.Helper()
	t.Setenv(CloudEnv, filepath.Join(t.TempDir(), "cloud.json"))
	s, err := NewServer(testSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func wire(t *testing.T, m map[string]any) *structpb.Struct {
	t.Helper()
	s, err := plugin.MarshalProperties(pm(m), marshal)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestConfigureSubscription: the subscription is azure-native:subscriptionId, else
// ARM_SUBSCRIPTION_ID, else the one `az login` selected; with none, Configure fails saying how
// to set one.
func TestConfigureSubscription(t *testing.T) {
	tests := []struct {
		name          string
		config        map[string]any
		env, fallback string
		want          string
	}{
		{"config", map[string]any{"subscriptionId": sub1}, sub2, sub2, sub1},
		{"ARM_SUBSCRIPTION_ID", nil, sub2, sub1, sub2},
		{"az login", nil, "", sub1, sub1},
		{"none", nil, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			t.Setenv("ARM_SUBSCRIPTION_ID", tt.env)
			t.Setenv(DefaultSubscriptionEnv, tt.fallback)
			_, err := s.Configure(context.Background(), &pulumirpc.ConfigureRequest{Args: wire(t, tt.config)})
			if tt.want == "" {
				if !errMatches(err, "no subscription: set azure-native:subscriptionId or ARM_SUBSCRIPTION_ID") {
					t.Errorf("got %v, want the no-subscription error", err)
				}
				return
			}
			if err != nil || s.fake.Subscription != tt.want {
				t.Errorf("got %q, %v; want %s", s.fake.Subscription, err, tt.want)
			}
		})
	}
}

// TestServerCheckAndDiff: a project autonaming pattern's proposed name is used for a resource
// without a name; Diff leaves out what ignoreChanges names, and replaces a generated name
// create-before-delete but an explicit one delete-before-replace.
func TestServerCheckAndDiff(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	const urn = "urn:pulumi:dev::slotless::slotless:stack:Colour$azure-native:web:WebApp::green-app"
	resp, err := s.Check(ctx, &pulumirpc.CheckRequest{Urn: urn, News: wire(t, map[string]any{"resourceGroupName": "rg"}), RandomSeed: []byte("seed"),
		Autonaming: &pulumirpc.CheckRequest_AutonamingOptions{ProposedName: "slotless-dev-green-app", Mode: pulumirpc.CheckRequest_AutonamingOptions_PROPOSE}})
	if err != nil {
		t.Fatal(err)
	}
	checked, _ := plugin.UnmarshalProperties(resp.GetInputs(), unmarshal)
	if checked["name"].StringValue() != "slotless-dev-green-app" {
		t.Errorf("proposed name: got %v, want slotless-dev-green-app", checked["name"])
	}

	const nvURN = "urn:pulumi:dev::slotless::azure-native:apimanagement:NamedValue::current-slot-name"
	old := map[string]any{"namedValueId": "current-slot-name", "displayName": "current-slot-name", "value": "green-backend", "resourceGroupName": "rg", "serviceName": "svc"}
	changed := map[string]any{"namedValueId": "current-slot-name", "displayName": "current-slot-name", "value": "blue-backend", "resourceGroupName": "rg", "serviceName": "svc"}
	for _, tt := range []struct {
		ignore []string
		want   pulumirpc.DiffResponse_DiffChanges
	}{{nil, pulumirpc.DiffResponse_DIFF_SOME}, {[]string{"value"}, pulumirpc.DiffResponse_DIFF_NONE}} {
		d, err := s.Diff(ctx, &pulumirpc.DiffRequest{Urn: nvURN, OldInputs: wire(t, old), News: wire(t, changed), IgnoreChanges: tt.ignore})
		if err != nil || d.GetChanges() != tt.want {
			t.Errorf("ignoreChanges %v: got %v, %v; want %v", tt.ignore, d.GetChanges(), err, tt.want)
		}
	}

	renamed := map[string]any{"resourceGroupName": "rg", "name": "green-app2"}
	for _, tt := range []struct {
		news                map[string]any
		deleteBeforeReplace bool
	}{
		{renamed, true},
		{map[string]any{"resourceGroupName": "rg", "name": "green-app2", createBeforeDeleteKey: true}, false},
	} {
		d, err := s.Diff(ctx, &pulumirpc.DiffRequest{Urn: urn, OldInputs: wire(t, map[string]any{"resourceGroupName": "rg", "name": "green-app1"}), News: wire(t, tt.news)})
		if err != nil {
			t.Fatal(err)
		}
		if len(d.GetReplaces()) != 1 || d.GetDeleteBeforeReplace() != tt.deleteBeforeReplace {
			t.Errorf("%v: got replaces %v deleteBeforeReplace %v, want [name] %v", tt.news, d.GetReplaces(), d.GetDeleteBeforeReplace(), tt.deleteBeforeReplace)
		}
	}
}
